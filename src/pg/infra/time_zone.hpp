// Calendar days in a time zone, for the predicate language's today('zone'):
// computed with PostgreSQL's own functions, the ones segment_explain's SQL
// calls ((date_trunc('day', now() AT TIME ZONE zone) + interval 'N days') AT
// TIME ZONE zone), so both give the same instant, daylight saving included.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include "core/timestamp_text.hpp"

namespace customer_profile::pg {

// Whether PostgreSQL knows the zone by this name (the tz database).
bool time_zone_known(const std::string& zone);

// The instant the local day (the day of `now` in the zone, plus days)
// begins; nullopt for an unknown zone.
std::optional<core::Micros> local_day_start(const std::string& zone, core::Micros now, std::int64_t days);

// EvaluationContext::day_start for an evaluation at `now`.
std::function<std::optional<core::Micros>(const std::string&, std::int64_t)> day_start_at(core::Micros now);

}  // namespace customer_profile::pg
