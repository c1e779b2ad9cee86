// Loading, caching and hashing for identity namespaces.
#include "pg/infra/catalog_cache.hpp"
#include "pg/identity/identity_catalog.hpp"

#include "pg/infra/boundary.hpp"
#include "pg/infra/owner_context.hpp"
#include "pg/infra/sha256.hpp"
#include "pg/infra/spi_util.hpp"

namespace customer_profile::pg {
namespace {

std::unique_ptr<IdentityCatalog> cached;
bool stale = true;

CachedPlan namespaces_plan{
    "SELECT namespace_id, name, normalizer, is_known, priority, coalesce(max_per_profile, 0), "
    "keep_raw, blocked_values, blocked_patterns FROM customer_profile.namespace ORDER BY namespace_id",
    0,
    {}};
CachedPlan settings_plan{
    "SELECT salt, max_identities_per_profile, default_phone_region, "
    "'customer_profile.namespace'::regclass::oid, 'customer_profile.settings'::regclass::oid, "
    "'customer_profile.identity'::regclass::oid, 'customer_profile.unified_profile_profile_id_seq'::regclass::oid, "
    "'customer_profile.identity_value_hash_key'::regclass::oid, "
    "'customer_profile.unified_profile'::regclass::oid, 'customer_profile.unified_profile_pkey'::regclass::oid "
    "FROM customer_profile.settings",
    0,
    {}};

std::unique_ptr<IdentityCatalog> load() {
    auto catalog = std::make_unique<IdentityCatalog>();
    spi_connect();
    // As the owner of customer_profile.settings: the salt is needed to hash
    // any identifier, yet no role but the owner may read it (with the salt,
    // a stored hash could be reversed by guessing).
    AsTableOwner as_owner("settings");
    if (spi_run(settings_plan, nullptr, nullptr, true) != 1)
        throw core::Error(core::ErrorCode::internal, "customer_profile.settings must hold exactly one row");
    catalog->salt = spi_bytes(0, 1);
    catalog->max_identities_per_profile = spi_int4(0, 2);
    catalog->options.default_phone_region = spi_bytes(0, 3);
    catalog->namespace_relid = static_cast<Oid>(spi_int4(0, 4));
    catalog->settings_relid = static_cast<Oid>(spi_int4(0, 5));
    catalog->identity_relid = static_cast<Oid>(spi_int4(0, 6));
    catalog->profile_seq_relid = static_cast<Oid>(spi_int4(0, 7));
    catalog->identity_hash_index_relid = static_cast<Oid>(spi_int4(0, 8));
    catalog->profile_relid = static_cast<Oid>(spi_int4(0, 9));
    catalog->profile_pkey_relid = static_cast<Oid>(spi_int4(0, 10));
    IdentityCatalog* c = catalog.get();
    pg_guard([&] {
        c->attr_identity_id = get_attnum(c->identity_relid, "identity_id");
        c->attr_profile_id = get_attnum(c->identity_relid, "profile_id");
        c->attr_last_seen = get_attnum(c->identity_relid, "last_seen");
        c->attr_profile_data = get_attnum(c->profile_relid, "data");
        c->attr_profile_behavior = get_attnum(c->profile_relid, "behavior");
    });
    if (c->attr_identity_id == InvalidAttrNumber || c->attr_profile_id == InvalidAttrNumber ||
        c->attr_last_seen == InvalidAttrNumber)
        throw core::Error(core::ErrorCode::internal, "customer_profile.identity lacks an expected column");
    std::uint64_t n = spi_run(namespaces_plan, nullptr, nullptr, true);
    for (std::uint64_t row = 0; row < n; ++row) {
        NamespaceConfig ns;
        ns.id = spi_int4(row, 1);
        ns.name = spi_bytes(row, 2);
        ns.normalizer = core::normalizer_from_name(spi_bytes(row, 3));
        ns.is_known = spi_bool(row, 4);
        ns.priority = spi_int4(row, 5);
        ns.max_per_profile = spi_int4(row, 6);
        ns.keep_raw = spi_bool(row, 7);
        ns.blocklist = core::Blocklist(spi_text_array(row, 8), spi_text_array(row, 9));
        catalog->namespaces.push_back(std::move(ns));
    }
    spi_finish();
    return catalog;
}

}  // namespace

const NamespaceConfig* IdentityCatalog::find(std::string_view name) const {
    for (const auto& ns : namespaces)
        if (ns.name == name) return &ns;
    return nullptr;
}

const NamespaceConfig* IdentityCatalog::by_id(std::int32_t id) const {
    for (const auto& ns : namespaces)
        if (ns.id == id) return &ns;
    return nullptr;
}

const IdentityCatalog& identity_catalog() {
    if (stale || !cached) {
        retire(cached);  // a caller may still read the old one
        stale = false;   // an invalidation arriving during load sets it again
        cached = load();
    }
    return *cached;
}

void take_identity_gate() {
    Oid relid = identity_catalog().identity_relid;
    pg_guard([&] { LockRelationOid(relid, RowExclusiveLock); });
}

void identity_catalog_invalidate(Datum, Oid relid) {
    // unified_profile too: updating to 1.1 adds its data column.
    if (relid == InvalidOid || (cached && (relid == cached->namespace_relid || relid == cached->settings_relid ||
                                           relid == cached->profile_relid)))
        stale = true;
}

const NamespaceConfig& namespace_or_throw(const IdentityCatalog& catalog, std::string_view name) {
    const NamespaceConfig* ns = catalog.find(name);
    if (ns == nullptr)
        throw core::Error(core::ErrorCode::undefined_object, "unknown identity namespace \"" + std::string(name) + "\"",
                          {}, "Create it with customer_profile.identity_namespace_create().");
    return *ns;
}

std::string identity_hash(const IdentityCatalog& catalog, const NamespaceConfig& ns, const std::string& normalized) {
    static const char separator = 0;
    return sha256({catalog.salt, ns.name, std::string_view(&separator, 1), normalized});
}

}  // namespace customer_profile::pg
