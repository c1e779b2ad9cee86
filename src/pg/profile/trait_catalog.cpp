// Loading and caching trait definitions.
#include "pg/infra/catalog_cache.hpp"
#include "pg/profile/trait_catalog.hpp"

#include <memory>

#include "pg/infra/boundary.hpp"
#include "pg/infra/spi_util.hpp"

namespace customer_profile::pg {
namespace {

std::unique_ptr<TraitCatalog> cached;
bool stale = true;

CachedPlan definitions_plan{"SELECT name, type, policy, source_order FROM customer_profile.trait_definition", 0, {}};

std::unique_ptr<TraitCatalog> load() {
    auto catalog = std::make_unique<TraitCatalog>();
    Oid relid = InvalidOid;
    pg_guard([&] {
        relid = RangeVarGetRelid(
            makeRangeVar(const_cast<char*>("customer_profile"), const_cast<char*>("trait_definition"), -1), NoLock,
            true);
    });
    if (!OidIsValid(relid)) return catalog;  // extension version 1.0
    catalog->installed = true;
    catalog->definition_relid = relid;
    TraitCatalog* c = catalog.get();
    pg_guard([&] {
        auto rel = [](const char* name) {
            return RangeVarGetRelid(makeRangeVar(const_cast<char*>("customer_profile"), const_cast<char*>(name), -1),
                                    NoLock, false);
        };
        c->identity_relid = rel("identity");
        c->identity_profile_index = rel("identity_profile_idx");
        c->observation_relid = rel("trait_observation");
        c->observation_pkey = rel("trait_observation_pkey");
        c->profile_type = GetSysCacheOid2(TYPENAMENSP, Anum_pg_type_oid, CStringGetDatum("profile"),
                                          ObjectIdGetDatum(get_namespace_oid("customer_profile", false)));
        c->write_plan.argtypes[1] = c->profile_type;
        c->identity_id_attr = get_attnum(c->identity_relid, "identity_id");
        c->obs_trait = get_attnum(c->observation_relid, "trait");
        c->obs_source = get_attnum(c->observation_relid, "source");
        c->obs_value_type = get_attnum(c->observation_relid, "value_type");
        c->obs_value = get_attnum(c->observation_relid, "value");
        c->obs_observed_at = get_attnum(c->observation_relid, "observed_at");
        c->obs_recorded_at = get_attnum(c->observation_relid, "recorded_at");
    });
    spi_connect();
    std::uint64_t n = spi_run(definitions_plan, nullptr, nullptr, true);
    for (std::uint64_t row = 0; row < n; ++row) {
        core::TraitDefinition def;
        def.name = spi_bytes(row, 1);
        def.type = core::trait_type_from_name(spi_bytes(row, 2));
        def.policy = core::merge_policy_from_name(spi_bytes(row, 3));
        def.source_order = spi_text_array(row, 4);
        catalog->definitions[def.name] = std::move(def);
    }
    spi_finish();
    return catalog;
}

}  // namespace

TraitCatalog::~TraitCatalog() {
    // Retired catalogs are freed after the outermost call or at transaction
    // end, so the plan is not executing; at backend exit there is nothing to free.
    if (write_plan.plan && write_plan.executing == 0 && !proc_exit_inprogress) SPI_freeplan(write_plan.plan);
}

core::TraitDefinition TraitCatalog::definition(const std::string& name) const {
    auto it = definitions.find(name);
    if (it != definitions.end()) return it->second;
    core::TraitDefinition def;
    def.name = name;
    return def;
}

const TraitCatalog& trait_catalog() {
    if (stale || !cached) {
        retire(cached);  // a caller may still read the old one
        stale = false;
        cached = load();
    }
    return *cached;
}

void trait_catalog_invalidate(Datum, Oid relid) {
    // Also reload when the extension is created or updated (relid unknown yet).
    if (relid == InvalidOid || !cached || !cached->installed || relid == cached->definition_relid) stale = true;
}

}  // namespace customer_profile::pg
