// Scores (score_define): named sums of points, one per rule (a predicate)
// that holds for a person. A score reads as a number trait in predicates,
// computed when it is read, so it is as current as the rules' data on every
// path; what a predicate reading a score depends on includes what its rules
// read, so streaming re-evaluates it as for any segment.
#pragma once

#include <map>
#include <string>
#include <utility>
#include <vector>

#include "core/predicate.hpp"
#include "pg/infra/pg_headers.hpp"

namespace customer_profile::pg {

struct ScoreDef {
    std::string name;
    std::vector<std::pair<core::PredicateNode, double>> rules;
    core::PredicateDeps deps;  // of all its rules
};

struct ScoreCatalog {
    Oid relid = InvalidOid;  // customer_profile.score (1.6), InvalidOid before
    std::map<std::string, ScoreDef> scores;
    const ScoreDef* find(const std::string& name) const {
        auto it = scores.find(name);
        return it == scores.end() ? nullptr : &it->second;
    }
};

// Loaded on first use and after score_define / score_drop (the table's
// invalidation); connects to SPI itself.
const ScoreCatalog& score_catalog();
void score_catalog_invalidate(Datum arg, Oid relid);

// deps plus what the rules of the scores it reads depend on.
core::PredicateDeps with_score_dependencies(core::PredicateDeps deps, const ScoreCatalog& catalog);

}  // namespace customer_profile::pg
