// Trait merge policies: how the observations of one trait, from several
// identities and sources, fold into the value a profile shows. Every fold
// is order-independent, so observations arriving late or out of order give
// the same result, and a merge or split recomputes from observations alone.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "profile.hpp"

namespace customer_profile::core {

enum class MergePolicy { latest, earliest, source_priority, max, min, sum, union_set };

const char* merge_policy_name(MergePolicy p);
// Throws Error(invalid_parameter) listing the valid names.
MergePolicy merge_policy_from_name(std::string_view name);

struct TraitDefinition {
    std::string name;
    std::optional<TraitType> type;  // nullopt: undeclared, type inferred per observation
    MergePolicy policy = MergePolicy::latest;
    std::vector<std::string> source_order;  // source_priority: strongest first
};

// Refuses a definition whose policy cannot work on its type (sum of text...).
void validate_definition(const TraitDefinition& def);

constexpr double kMaxSummableMagnitude = 1e18;  // as event measures (behavior.hpp)

// Checks an observation against its definition and returns the form to
// store (a text observed for a union trait becomes a one-element array).
// Throws Error(invalid_parameter) naming the trait on a type mismatch.
// A number observed for a sum trait must be at most kMaxSummableMagnitude in
// magnitude (Error(out_of_range), 22003), so that a sum of any number of
// observations stays finite: a profile must always be readable and dumpable.
Trait check_observation(Trait observation, const TraitDefinition& def);

// Folds the stored observations of one trait; nullopt when there are none.
// The result's source and observed_at are those of the observation that
// decided it (for sum and union: the latest contributing one).
std::optional<Trait> merge_observations(std::vector<Trait> observations, const TraitDefinition& def);

}  // namespace customer_profile::core
