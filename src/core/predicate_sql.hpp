// What a predicate means, for people who want to check it: the equivalent
// SQL condition over customer_profile.profiles (alias p) and the extension's
// behavior functions, and the parsed tree as JSON.
#pragma once

#include <string>

#include "predicate.hpp"
#include "predicate_check.hpp"

namespace customer_profile::core {

// A boolean SQL expression; run as
//   SELECT p.profile_id FROM customer_profile.profiles p WHERE <it>
// It reads values as the evaluator does: a text[] trait (declared, or
// undeclared and holding a JSON array) compared with = / <> / IN tests
// containment; a declared event property goes through
// customer_profile._event_property(), which converts as the evaluator does;
// ILIKE compares under COLLATE "und-x-icu" (Unicode lower case). The schema
// gives the declared types; without one every trait may hold an array.
std::string predicate_sql(const PredicateNode& node, const PredicateSchema& schema = {});

// {"and": [...]}, {"compare": {"op": ">=", "left": {...}, "right": {...}}}, ...
std::string predicate_tree_json(const PredicateNode& node);

}  // namespace customer_profile::core
