// Trait recomputation: observations -> core merge policies -> unified_profile.data.
#include "pg/profile/profile_recompute.hpp"

#include <algorithm>
#include <map>

#include "pg/infra/boundary.hpp"
#include "core/profile_codec.hpp"
#include "core/profile_json.hpp"
#include "core/trait_policy.hpp"
#include "pg/identity/identity_catalog.hpp"
#include "pg/identity/identity_lookup.hpp"
#include "pg/infra/index_probe.hpp"
#include "pg/profile/profile_datum.hpp"
#include "pg/segments/segment_stream.hpp"
#include "pg/infra/spi_util.hpp"
#include "pg/profile/trait_catalog.hpp"

namespace customer_profile::pg {
namespace {

// Reads a profile's observations with direct index scans (identity by
// profile_id, then trait_observation by identity_id): the plan never depends
// on table statistics, which are stale while observations are pouring in.
std::vector<core::Trait> read_observations(const TraitCatalog& c, std::int64_t profile_id,
                                           const std::vector<std::string>* only) {
    struct Row {
        std::string trait, source, type, value;
        TimestampTz observed_at;
    };
    std::vector<Row> rows;
    std::vector<std::int64_t> identities;
    pg_guard([&] {
        Snapshot snapshot = probe_snapshot(true);  // see this transaction's own writes
        IndexProbe by_profile = index_probe_open(c.identity_relid, c.identity_profile_index, snapshot);
        index_probe(by_profile, F_INT8EQ, Int64GetDatum(profile_id), [&](TupleTableSlot* slot) {
            bool isnull = false;
            identities.push_back(DatumGetInt64(slot_getattr(slot, c.identity_id_attr, &isnull)));
        });
        index_probe_close(by_profile);
        IndexProbe observations = index_probe_open(c.observation_relid, c.observation_pkey, snapshot);
        for (std::int64_t id : identities)
            index_probe(observations, F_INT8EQ, Int64GetDatum(id), [&](TupleTableSlot* slot) {
                bool isnull = false;
                Row& r = rows.emplace_back();  // owned outside the guarded lambda
                text* trait = DatumGetTextPP(slot_getattr(slot, c.obs_trait, &isnull));
                r.trait.assign(VARDATA_ANY(trait), VARSIZE_ANY_EXHDR(trait));
                text* source = DatumGetTextPP(slot_getattr(slot, c.obs_source, &isnull));
                r.source.assign(VARDATA_ANY(source), VARSIZE_ANY_EXHDR(source));
                text* type = DatumGetTextPP(slot_getattr(slot, c.obs_value_type, &isnull));
                r.type.assign(VARDATA_ANY(type), VARSIZE_ANY_EXHDR(type));
                Jsonb* value = DatumGetJsonbP(slot_getattr(slot, c.obs_value, &isnull));
                r.value.assign(JsonbToCString(nullptr, &value->root, VARSIZE(value)));
                r.observed_at = DatumGetTimestampTz(slot_getattr(slot, c.obs_observed_at, &isnull));
            });
        index_probe_close(observations);
        UnregisterSnapshot(snapshot);
    });
    std::vector<core::Trait> out;
    for (auto& r : rows) {
        if (only && std::find(only->begin(), only->end(), r.trait) == only->end()) continue;
        core::Trait t;
        t.name = std::move(r.trait);
        t.source = std::move(r.source);
        t.value = core::parse_trait_value(r.value, core::trait_type_from_name(r.type), t.name);
        t.observed_at = r.observed_at;
        out.push_back(std::move(t));
    }
    return out;
}

// The write plan is typed by the profile type's OID, so it lives with the
// trait catalog and is prepared again whenever the catalog reloads.
void write_profile_data(const TraitCatalog& catalog, std::int64_t profile_id, Datum data) {
    Datum args[2] = {Int64GetDatum(profile_id), data};
    spi_run(catalog.write_plan, args, nullptr, false);
}

CachedPlan lock_profile_plan{"SELECT 1 FROM customer_profile.unified_profile WHERE profile_id = $1 FOR UPDATE",
                             1,
                             {INT8OID},
                             nullptr,
                             0,
                             Replan::as_tables_grow};

}  // namespace

void recompute_profile_traits(std::int64_t profile_id, const std::vector<std::string>* only) {
    take_identity_gate();  // before the profile lock (a no-op when the caller took it)
    const TraitCatalog& catalog = trait_catalog();
    if (!catalog.installed) return;
    // Lock the profile row first, then read: two sessions observing different
    // identities of one profile must not each write a fold that lacks the
    // other's observation (the second waits here, then reads both).
    {
        spi_connect();
        Datum args[1] = {Int64GetDatum(profile_id)};
        spi_run(lock_profile_plan, args, nullptr, false);
        spi_finish();
    }
    std::map<std::string, std::vector<core::Trait>> by_trait;
    for (auto& t : read_observations(catalog, profile_id, only)) by_trait[t.name].push_back(std::move(t));
    core::Profile profile;
    if (only) {
        Datum current = fetch_profile_data(identity_catalog(), profile_id, true);
        if (current != (Datum)0) {
            std::string_view bytes(VARDATA_ANY(DatumGetPointer(current)), VARSIZE_ANY_EXHDR(DatumGetPointer(current)));
            profile = core::decode_profile(bytes);
        }
        for (const auto& name : *only) {
            auto it = std::find_if(profile.traits.begin(), profile.traits.end(),
                                   [&](const core::Trait& t) { return t.name == name; });
            if (it != profile.traits.end()) profile.traits.erase(it);
        }
    }
    for (auto& [name, observations] : by_trait)
        if (auto merged = core::merge_observations(std::move(observations), catalog.definition(name)))
            profile.put(std::move(*merged));
    Datum data = profile_datum(core::encode_profile(profile));
    spi_connect();
    write_profile_data(catalog, profile_id, data);
    ProfileChange change;
    change.profiles.push_back(profile_id);
    if (only)
        change.traits = *only;
    else
        change.everything = true;  // a merge or split: identities changed too
    std::sort(change.traits.begin(), change.traits.end());
    stream_segments(change);
    spi_finish();
}

}  // namespace customer_profile::pg
