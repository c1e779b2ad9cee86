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
//   key "\x1e" + 16 hex    a behavior key (below)
//
// Behavior keys come from the stored generated column
// unified_profile.behavior_keys: per event type one bigint (two for a type
// counted twice, below), the 32-bit FNV-1a hash of the type and the block of
// 8 days holding its last event (or its last daily bucket, if later), or a
// marker for days before 2000 or after 2358. An event that leaves it as it was keeps the profile's update HOT. The
// index expression expands each into the blocks of 2^3, 2^7, 2^11 and 2^15
// days holding that day (or one "before" or "after" key), each the hash, the
// level (4 bits) and the block (28 bits). "The last event of type t is on or
// after day d" is then an OR of at most 50 keys, whatever the dates stored
// (GIN's scan does work per key for every candidate: keep the OR short); a
// hash collision only adds candidates.
//
// A type whose daily buckets count two events or more has a second value,
// the same for the name "\x02" + type and the latest day from which its
// buckets count two: `count(t within N days) >= k` for k >= 2 needs that day
// in the window, which few profiles have when most see one such event in it.
//
// Keys are stored in indexes: their form never changes without a rebuild of
// the index in the update script.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "behavior.hpp"
#include "predicate.hpp"
#include "profile.hpp"

namespace customer_profile::core {

// Sorted, unique: the values stored in unified_profile.behavior_keys (one
// or two per event type).
std::vector<std::int64_t> behavior_index_keys(const Behavior& behavior);

// A behavior key among the index keys: "\x1e" and 16 hex digits (a trait
// key equal to one only adds candidates).
std::string behavior_key_text(std::int64_t key);

// Sorted, unique: the keys of the traits and of the stored behavior values.
std::vector<std::string> profile_index_keys(const Profile& profile,
                                            const std::vector<std::int64_t>& behavior_keys = {});

// A conjunction of clauses, each a disjunction of keys: every profile the
// predicate can match at `now` carries at least one key of every clause.
// nullopt when the predicate gives no such condition (it may match a
// profile without any key, as NOT can). Names for which `computed` is true
// (scores) are not stored traits and give no condition. Behavior conditions:
// a count or sum (without a where filter) that cannot hold without an event
// of its type (in its window), and last_seen(type) after now() or a
// timestamp.
using KeyClauses = std::vector<std::vector<std::string>>;
std::optional<KeyClauses> candidate_clauses(const PredicateNode& predicate, Micros now,
                                            const std::function<bool(const std::string&)>& computed = {});

}  // namespace customer_profile::core
