// What a predicate means, for people who want to check it: the equivalent
// SQL condition over customer_profile.profiles (alias p) and the extension's
// behavior functions, and the parsed tree as JSON.
#pragma once

#include <string>

#include "predicate.hpp"

namespace customer_profile::core {

// A boolean SQL expression; run as
//   SELECT p.profile_id FROM customer_profile.profiles p WHERE <it>
std::string predicate_sql(const PredicateNode& node);

// {"and": [...]}, {"compare": {"op": ">=", "left": {...}, "right": {...}}}, ...
std::string predicate_tree_json(const PredicateNode& node);

}  // namespace customer_profile::core
