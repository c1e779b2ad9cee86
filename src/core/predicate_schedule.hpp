// When can a segment predicate's result change with no new data? Windows
// ("count(purchase within 30 days)") change when a day with events leaves
// the window; comparisons with now() ("last_seen() > now() - 7 days",
// "signup_at < now() - 30 days") change when now() passes the other side.
// The worker re-evaluates a profile at that time instead of rescanning
// every profile every minute.
#pragma once

#include <optional>

#include "predicate.hpp"
#include "predicate_eval.hpp"

namespace customer_profile::core {

// The earliest instant after context.now at which some time-dependent term
// of the tree can take another value (so the predicate may change), or
// nullopt when none can. Conservative: the result may still be the same
// then, never different earlier. in_segment() is not followed (the glue
// schedules each segment's own predicate); a where-filtered window uses the
// days of all events of its type.
std::optional<Micros> next_change(const PredicateNode& tree, const EvaluationContext& context);

}  // namespace customer_profile::core
