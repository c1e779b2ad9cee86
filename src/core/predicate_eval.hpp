// Evaluating a segment predicate on one profile's traits and behavior, with
// SQL's three-valued logic: a missing trait or a comparison between
// different types is unknown, NOT unknown is unknown, and a profile is a
// member only when the predicate is true. What the profile alone cannot
// answer (membership in another segment, counts filtered on event
// properties) is asked through callbacks that the glue implements.
#pragma once

#include "like_match.hpp"

#include <functional>
#include <optional>
#include <string>

#include "behavior.hpp"
#include "predicate.hpp"
#include "profile.hpp"

namespace customer_profile::core {

enum class Truth : std::uint8_t { false_, true_, unknown };

struct EvaluationContext {
    const Profile* traits = nullptr;     // nullptr: no traits
    const Behavior* behavior = nullptr;  // nullptr: no events
    // When set, asked instead of traits / behavior: the glue then reads a
    // trait or the behavior summary from the stored bytes only when the
    // evaluation gets that far (AND and OR stop early).
    std::function<const Trait*(const std::string&)> trait_lookup;
    std::function<const Behavior*()> behavior_lookup;
    bool known = false;  // holds an identifier of a known namespace
    // When set, asked instead of `known` (the glue looks it up only when a
    // predicate needs it).
    std::function<bool()> known_lookup;
    Micros now = 0;  // the transaction's time
    // Polled by loops whose length a user controls (LIKE over a long text).
    CancelCheck cancel = nullptr;
    // consent(purpose): the latest statement (nullopt: never stated, which
    // is not consent); unknown when not set.
    std::function<std::optional<bool>(const std::string&)> consent;
    // in_cluster(n): the person's cluster from profile_cluster() (nullopt:
    // none); unknown when not set.
    std::function<std::optional<int>()> cluster;
    // in_segment('name'); unknown when not set.
    std::function<bool(const std::string&)> in_segment;
    // count/sum with a where filter, over [first_day, today] (first_day is
    // nullopt for all time); unknown when not set.
    std::function<double(const Operand&, std::optional<Day>)> filtered_aggregate;
    // count/sum between two instants that the daily buckets cannot answer
    // (a where filter, or an end that is not a UTC midnight): over the
    // stored events in [operand.from, operand.to); unknown when not set.
    std::function<double(const Operand&)> range_aggregate;
    // today('zone') + days: the instant the local day starts, for a zone
    // other than UTC (nullopt: unknown zone); unknown when not set.
    std::function<std::optional<Micros>(const std::string& zone, std::int64_t days)> day_start;
};

Truth evaluate(const PredicateNode& node, const EvaluationContext& context);
// The trait / behavior of the context (through the lookups when set).
const Trait* context_trait(const EvaluationContext& context, const std::string& name);
const Behavior* context_behavior(const EvaluationContext& context);
// What one operand evaluates to (a null value when unknown).
TraitValue operand_value(const Operand& operand, const EvaluationContext& context);
inline bool matches(const PredicateNode& node, const EvaluationContext& context) {
    return evaluate(node, context) == Truth::true_;
}

// First day of a window of `within` ending today (whole UTC days).
Day window_first_day(Micros now, Micros within);

// The start of today + days (a calendar day) in the zone of a today
// operand: computed here for UTC (an empty zone, "UTC", "Etc/UTC"), asked of
// context.day_start otherwise.
std::optional<Micros> today_start(const Operand& today, const EvaluationContext& context, std::int64_t extra_days = 0);

// The great-circle distance in kilometres between two points (haversine,
// mean Earth radius 6371.0088 km), as segment_explain's SQL computes it.
double distance_km(double lat1, double lon1, double lat2, double lon2);

}  // namespace customer_profile::core
