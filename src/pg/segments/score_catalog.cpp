// The score catalog (see score_catalog.hpp).
#include "pg/segments/score_catalog.hpp"

#include <algorithm>
#include <memory>

#include "core/predicate_codec.hpp"
#include "pg/infra/boundary.hpp"
#include "pg/infra/catalog_cache.hpp"
#include "pg/infra/spi_util.hpp"

namespace customer_profile::pg {
namespace {

std::unique_ptr<ScoreCatalog> cached;
bool stale = true;

CachedPlan rules_plan{
    "SELECT s.name, customer_profile.segment_predicate_send(r.predicate), s.points[r.n] "
    "FROM customer_profile.score s, unnest(s.predicates) WITH ORDINALITY AS r(predicate, n) ORDER BY s.name, r.n",
    0,
    {}};

void merge(std::vector<std::string>& into, const std::vector<std::string>& from) {
    into.insert(into.end(), from.begin(), from.end());
    std::sort(into.begin(), into.end());
    into.erase(std::unique(into.begin(), into.end()), into.end());
}

}  // namespace

const ScoreCatalog& score_catalog() {
    if (!stale && cached) return *cached;
    retire(cached);
    stale = false;
    auto c = std::make_unique<ScoreCatalog>();
    pg_guard([&] {
        c->relid = RangeVarGetRelid(makeRangeVar(const_cast<char*>("customer_profile"), const_cast<char*>("score"), -1),
                                    NoLock, true);
    });
    if (OidIsValid(c->relid)) {
        spi_connect();
        std::uint64_t n = spi_run(rules_plan, nullptr, nullptr, true);
        for (std::uint64_t row = 0; row < n; ++row) {
            ScoreDef& def = c->scores[spi_bytes(row, 1)];
            def.name = spi_bytes(row, 1);
            core::PredicateNode rule = core::cheapest_first(core::decode_predicate(spi_bytes(row, 2)));
            core::PredicateDeps d = core::predicate_dependencies(rule);
            merge(def.deps.traits, d.traits);
            merge(def.deps.event_types, d.event_types);
            merge(def.deps.consents, d.consents);
            def.deps.any_event |= d.any_event;
            def.deps.known |= d.known;
            def.deps.time |= d.time;
            def.deps.filtered |= d.filtered;
            def.deps.clusters |= d.clusters;
            def.rules.emplace_back(std::move(rule), spi_float8(row, 3));
        }
        spi_finish();
    }
    cached = std::move(c);
    return *cached;
}

void score_catalog_invalidate(Datum, Oid relid) {
    if (relid == InvalidOid || !cached || relid == cached->relid || !OidIsValid(cached->relid)) stale = true;
}

core::PredicateDeps with_score_dependencies(core::PredicateDeps deps, const ScoreCatalog& catalog) {
    if (catalog.scores.empty()) return deps;
    std::vector<std::string> traits = deps.traits;
    for (const auto& name : traits)
        if (const ScoreDef* s = catalog.find(name)) {
            merge(deps.traits, s->deps.traits);
            merge(deps.event_types, s->deps.event_types);
            merge(deps.consents, s->deps.consents);
            deps.any_event |= s->deps.any_event;
            deps.known |= s->deps.known;
            deps.time |= s->deps.time;
            deps.filtered |= s->deps.filtered;
            deps.clusters |= s->deps.clusters;
        }
    return deps;
}

}  // namespace customer_profile::pg
