// Index-driven segment refresh: the keys a profile is indexed under (a GIN
// index on unified_profile over _profile_index_keys(data)), and for a
// predicate the keys a matching profile must carry, so that a refresh reads
// the candidates the index picks instead of every profile.
//
//   key "name"             the trait has a non-null value (has(), IS NOT NULL)
//   key "name\x1fvalue"    the trait is (or, for text[], contains) this text,
//                          number (shortest form, 0 for -0) or boolean;
//                          texts over 128 bytes by a 64-bit FNV-1a hash
//
// Keys are stored in indexes: their form never changes without a rebuild of
// the index in the update script.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "predicate.hpp"
#include "profile.hpp"

namespace customer_profile::core {

// Sorted, unique.
std::vector<std::string> profile_index_keys(const Profile& profile);

// A conjunction of clauses, each a disjunction of keys: every profile the
// predicate can match carries at least one key of every clause. nullopt
// when the predicate gives no such condition (it may match a profile
// without any key, as NOT or an OR with a behavior condition can).
// Names for which `computed` is true (scores) are not stored traits and
// give no condition.
using KeyClauses = std::vector<std::vector<std::string>>;
std::optional<KeyClauses> candidate_clauses(const PredicateNode& predicate,
                                            const std::function<bool(const std::string&)>& computed = {});

}  // namespace customer_profile::core
