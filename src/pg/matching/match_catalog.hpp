// Per-backend cache of the match rules (customer_profile.match_rule),
// invalidated like the other catalogs: the table's statement trigger sends a
// relcache invalidation and the callback marks the cache stale. A rule's
// definition is parsed once per load, not per record.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/match_rule.hpp"
#include "pg/infra/pg_headers.hpp"

namespace customer_profile::pg {

struct MatchRuleEntry {
    std::int32_t rule_id = 0;
    std::string name;
    std::vector<std::int32_t> namespaces;    // whose identifiers are records
    std::vector<std::int32_t> deduplicates;  // caps lifted for this rule's links
    core::MatchRule rule;
    int max_candidates = 200;
    bool enabled = true;

    bool covers(std::int32_t namespace_id) const;
};

struct MatchCatalog {
    bool installed = false;  // false before version 1.6 (no match_rule table)
    Oid relid = InvalidOid, namespace_relid = InvalidOid;
    std::vector<MatchRuleEntry> rules;

    const MatchRuleEntry* find(const std::string& name) const;
};

const MatchCatalog& match_catalog();
void match_catalog_invalidate(Datum arg, Oid relid);

// The rule, or Error(undefined_object).
const MatchRuleEntry& match_rule_or_throw(const MatchCatalog& catalog, const std::string& name);

}  // namespace customer_profile::pg
