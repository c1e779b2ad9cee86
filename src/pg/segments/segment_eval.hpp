// One profile's facts for segment evaluation, and evaluating a predicate on
// them (in_segment() through the stored definitions; where-filtered counts
// from the person's events). Used by the live functions and by streaming.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
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
    std::optional<bool> known;  // nullopt: looked up when a predicate asks
    // When set, used instead of traits / behavior (read from stored bytes on
    // first use).
    std::function<const core::Trait*(const std::string&)> trait_source;
    std::function<const core::Behavior*()> behavior_source;
    // When set, answers consent(purpose) instead of a query per purpose.
    std::function<std::optional<bool>(const std::string&)> consent_source;
    // When set, answers in_cluster() instead of a query.
    std::function<std::optional<int>()> cluster_source;
};

// The live profile (following merges); nullopt when unknown. fresh_snapshot
// sees this transaction's own writes so far. Inside SPI.
// known_ids (sorted), when given, says which profiles are known instead of
// one query per profile.
std::optional<ProfileFacts> load_profile_facts(std::int64_t profile_id, bool fresh_snapshot,
                                               const std::vector<std::int64_t>* known_ids = nullptr);

// Inside SPI (or, when the predicate reads neither known/anonymous, other
// segments nor filtered counts, outside it).
// fresh_snapshot: read this transaction's own writes (not in parallel mode).
bool profile_matches(const ProfileFacts& facts, const core::PredicateNode& tree, bool fresh_snapshot = true);

// Several predicates on one profile (a stream's segments), sharing the
// evaluation context and what it looks up (known, consents, other segments,
// scores) between them.
class ProfileEvaluation {
public:
    ProfileEvaluation(const ProfileFacts& facts, bool fresh_snapshot = true);
    ~ProfileEvaluation();
    bool matches(const core::PredicateNode& tree);
    std::optional<core::Micros> next_change(const core::PredicateNode& tree);

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

// When the predicate's result can next change with no new data (see
// core::next_change), at the transaction's time.
std::optional<core::Micros> profile_next_change(const ProfileFacts& facts, const core::PredicateNode& tree);

// Whether a profile holds an identifier of a known namespace. Inside SPI.
bool profile_is_known(std::int64_t profile_id, bool fresh_snapshot);

// The profile's latest statement on a consent purpose (nullopt: never
// stated). Inside SPI.
std::optional<bool> profile_consent(std::int64_t profile_id, const std::string& purpose, bool fresh_snapshot);

// The cluster profile_cluster() put the profile in (nullopt: none). Inside SPI.
std::optional<int> profile_cluster_of(std::int64_t profile_id, bool fresh_snapshot);

}  // namespace customer_profile::pg
