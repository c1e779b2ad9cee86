// Loading and caching match rules.
#include "pg/matching/match_catalog.hpp"

#include <algorithm>

#include "pg/identity/identity_catalog.hpp"
#include "pg/infra/boundary.hpp"
#include "pg/infra/catalog_cache.hpp"
#include "pg/infra/spi_util.hpp"

namespace customer_profile::pg {
namespace {

std::unique_ptr<MatchCatalog> cached;
bool stale = true;

CachedPlan rules_plan{
    "SELECT rule_id, name, namespaces, fields::text, blocking::text, link_threshold, review_threshold, "
    "parameters::text, deduplicates, max_candidates, enabled FROM customer_profile.match_rule ORDER BY rule_id",
    0,
    {}};

std::vector<std::int32_t> namespace_ids(const IdentityCatalog& identities, const std::vector<std::string>& names) {
    std::vector<std::int32_t> ids;
    for (const auto& n : names)
        if (const NamespaceConfig* ns = identities.find(n)) ids.push_back(ns->id);
    std::sort(ids.begin(), ids.end());
    return ids;
}

std::unique_ptr<MatchCatalog> load() {
    auto catalog = std::make_unique<MatchCatalog>();
    Oid relid = InvalidOid;
    pg_guard([&] {
        relid = RangeVarGetRelid(
            makeRangeVar(const_cast<char*>("customer_profile"), const_cast<char*>("match_rule"), -1), NoLock, true);
    });
    if (!OidIsValid(relid)) return catalog;
    catalog->installed = true;
    catalog->relid = relid;
    const IdentityCatalog& identities = identity_catalog();
    catalog->namespace_relid = identities.namespace_relid;
    spi_connect();
    std::uint64_t n = spi_run(rules_plan, nullptr, nullptr, true);
    for (std::uint64_t row = 0; row < n; ++row) {
        MatchRuleEntry e;
        e.rule_id = spi_int4(row, 1);
        e.name = spi_bytes(row, 2);
        e.namespaces = namespace_ids(identities, spi_text_array(row, 3));
        e.rule = core::parse_match_rule(spi_bytes(row, 4), spi_bytes(row, 5), spi_float8(row, 6), spi_float8(row, 7));
        if (!spi_isnull(row, 8))
            e.rule.parameters = core::parse_match_parameters(spi_bytes(row, 8), e.rule.level_counts());
        e.deduplicates = namespace_ids(identities, spi_text_array(row, 9));
        e.max_candidates = spi_int4(row, 10);
        e.enabled = spi_bool(row, 11);
        catalog->rules.push_back(std::move(e));
    }
    spi_finish();
    return catalog;
}

}  // namespace

bool MatchRuleEntry::covers(std::int32_t namespace_id) const {
    return std::binary_search(namespaces.begin(), namespaces.end(), namespace_id);
}

const MatchRuleEntry* MatchCatalog::find(const std::string& name) const {
    for (const auto& r : rules)
        if (r.name == name) return &r;
    return nullptr;
}

const MatchCatalog& match_catalog() {
    if (stale || !cached) {
        retire(cached);  // a caller may still read the old one
        stale = false;
        cached = load();
    }
    return *cached;
}

void match_catalog_invalidate(Datum, Oid relid) {
    // A namespace renamed or dropped changes the ids the rules hold, too.
    if (relid == InvalidOid || !cached || !cached->installed || relid == cached->relid ||
        relid == cached->namespace_relid)
        stale = true;
}

const MatchRuleEntry& match_rule_or_throw(const MatchCatalog& catalog, const std::string& name) {
    const MatchRuleEntry* r = catalog.find(name);
    if (r == nullptr) throw core::Error(core::ErrorCode::undefined_object, "unknown match rule \"" + name + "\"");
    return *r;
}

}  // namespace customer_profile::pg
