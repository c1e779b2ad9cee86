// Per-backend cache of trait definitions (customer_profile.trait_definition),
// invalidated like the identity catalog: a statement trigger on the table
// sends a relcache invalidation, the callback marks the cache stale.
// `installed` is false while the database still runs extension version 1.0
// (no trait tables): callers then skip trait work.
#pragma once

#include <map>
#include <string>

#include "core/trait_policy.hpp"
#include "pg_headers.hpp"

namespace customer_profile::pg {

struct TraitCatalog {
    bool installed = false;
    std::map<std::string, core::TraitDefinition> definitions;
    Oid definition_relid = InvalidOid;

    // The declared definition, or the default for undeclared traits
    // (policy latest, type inferred).
    core::TraitDefinition definition(const std::string& name) const;
};

const TraitCatalog& trait_catalog();
void trait_catalog_invalidate(Datum arg, Oid relid);

}  // namespace customer_profile::pg
