// Per-backend cache of trait definitions (customer_profile.trait_definition),
// invalidated like the identity catalog: a statement trigger on the table
// sends a relcache invalidation, the callback marks the cache stale.
// `installed` is false while the database still runs extension version 1.0
// (no trait tables): callers then skip trait work.
#pragma once

#include <map>
#include <string>

#include "core/trait_policy.hpp"
#include "pg/infra/pg_headers.hpp"
#include "pg/infra/spi_util.hpp"

namespace customer_profile::pg {

struct TraitCatalog {
    bool installed = false;
    std::map<std::string, core::TraitDefinition> definitions;
    Oid definition_relid = InvalidOid;
    // For direct index reads of a profile's observations (see profile_recompute).
    Oid identity_relid = InvalidOid, identity_profile_index = InvalidOid;
    Oid observation_relid = InvalidOid, observation_pkey = InvalidOid;
    Oid profile_type = InvalidOid;  // customer_profile.profile
    // UPDATE unified_profile SET data = $2, $2 typed by profile_type (set when the catalog loads).
    mutable CachedPlan write_plan{
        "UPDATE customer_profile.unified_profile SET data = $2, updated_at = now() WHERE profile_id = $1",
        2,
        {INT8OID, InvalidOid},
        nullptr,
        0,
        Replan::as_tables_grow};
    AttrNumber identity_id_attr = 0, obs_trait = 0, obs_source = 0, obs_value_type = 0, obs_value = 0,
               obs_observed_at = 0, obs_recorded_at = 0;

    TraitCatalog() = default;
    TraitCatalog(const TraitCatalog&) = delete;
    TraitCatalog& operator=(const TraitCatalog&) = delete;
    // Frees the kept write plan: a catalog is reloaded at every trait_define
    // and extension change, and each reload would otherwise leave one plan
    // behind for the life of the backend.
    ~TraitCatalog();

    // The declared definition, or the default for undeclared traits
    // (policy latest, type inferred).
    core::TraitDefinition definition(const std::string& name) const;
};

const TraitCatalog& trait_catalog();
void trait_catalog_invalidate(Datum arg, Oid relid);

}  // namespace customer_profile::pg
