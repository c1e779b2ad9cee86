// ISO 8601 text for timestamps stored as microseconds since 2000-01-01 UTC
// (PostgreSQL's TimestampTz epoch), independent of any session setting.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "error.hpp"

namespace customer_profile::core {

using Micros = std::int64_t;

// The text form covers years 0001-9999; values outside are refused.
constexpr Micros kMinTimestamp = -63082281600LL * 1000000;  // 0001-01-01T00:00:00Z
constexpr Micros kMaxTimestamp = 252455615999999999LL;      // 9999-12-31T23:59:59.999999Z
inline bool timestamp_in_range(Micros t) {
    return t >= kMinTimestamp && t <= kMaxTimestamp;
}

// "2026-01-02T03:04:05.123456Z" (always UTC, always six fractional digits).
std::string format_timestamp(Micros t);

// Accepts YYYY-MM-DD[T| ]HH:MM:SS[.f{1,6}](Z|+HH[:MM]|-HH[:MM]) for years
// 0001-9999; throws Error(invalid_text) otherwise.
Micros parse_timestamp(std::string_view text);

// An event property declared as a timestamp (event_property_define): the
// form above, or without a zone (UTC), or a date alone (its midnight UTC),
// as applications send them; nullopt for anything else.
std::optional<Micros> parse_property_timestamp(std::string_view text);

}  // namespace customer_profile::core
