// One profile's facts for segment evaluation, and evaluating a predicate on
// them (in_segment() through the stored definitions; where-filtered counts
// from the person's events). Used by the live functions and by streaming.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "core/behavior.hpp"
#include "core/predicate.hpp"
#include "core/profile.hpp"

namespace customer_profile::pg {

struct ProfileFacts {
    std::int64_t profile_id = 0;
    core::Profile traits;
    core::Behavior behavior;
    bool known = false;
};

// The live profile (following merges); nullopt when unknown. fresh_snapshot
// sees this transaction's own writes so far. Inside SPI.
// known_ids (sorted), when given, says which profiles are known instead of
// one query per profile.
std::optional<ProfileFacts> load_profile_facts(std::int64_t profile_id, bool fresh_snapshot,
                                               const std::vector<std::int64_t>* known_ids = nullptr);

// Inside SPI.
bool profile_matches(const ProfileFacts& facts, const core::PredicateNode& tree);

}  // namespace customer_profile::pg
