// Checks an incoming event before anything is stored: event type, time
// (parsed here from inbox text, so a malformed row is refused on its own and
// a COPY of many rows never fails for one), window of accepted times, event
// id and measure values. Every refusal is an Error whose message becomes the
// dead-letter reason (inbox) or the ERROR text (track()).
#pragma once

#include <string_view>

#include "behavior.hpp"
#include "timestamp_text.hpp"

namespace customer_profile::core {

constexpr std::size_t kMaxEventIdBytes = 200;
// An event's properties are a small description, not a payload store: a
// bigger document is refused (stored events are read back by filtered
// counts and subject access).
constexpr std::size_t kMaxEventPropertiesBytes = 262144;
// Clocks disagree; an event stamped further ahead than this is refused.
constexpr Micros kMaxFutureSkew = kMicrosPerDay;

void check_event_type(std::string_view event_type);
void check_event_id(std::string_view event_id);
// Inbox text: ISO 8601 with an explicit offset or Z (see timestamp_text).
Micros parse_event_time(std::string_view text);
// Refuses times before the horizon's first day (they would be dropped by
// retention, and their ids could no longer be deduplicated) or too far ahead.
void check_event_time(Micros occurred_at, Micros now, int horizon_days);
void check_measure_value(std::string_view measure, double value);

// First day inside the horizon that ends today.
Day oldest_kept_day(Micros now, int horizon_days);

}  // namespace customer_profile::core
