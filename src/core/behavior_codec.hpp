// The stored (binary) form of a behavior summary, kept in
// unified_profile.behavior. Layout, format version 1 (integers as in
// binary_io.hpp):
//
//   u8 version (= 1) | var type_count | summary*             (event types strictly increasing)
//   summary: var len + event_type | var count | zvar first_at | zvar last_at
//            | var measure_count | (var len + name | f64 total)*      (names strictly increasing)
//            | var bucket_count | bucket*                            (days strictly increasing)
//   bucket:  zvar day (first) or var gap > 0 (others) | var count | f64 sum * measure_count
//
// The decoder accepts exactly this and the limits of behavior.hpp, and
// checks the summary's own consistency (first <= last, bucket counts within
// the total, finite sums).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "behavior.hpp"

namespace customer_profile::core {

constexpr std::uint8_t kBehaviorFormatVersion = 1;

std::string encode_behavior(const Behavior& behavior);

// Throws Error(invalid_text) describing the first problem.
Behavior decode_behavior(std::string_view bytes);

// Only the summaries of these event types (sorted): what one predicate
// reads, without building the others (they are read past, less strictly).
Behavior decode_behavior_types(std::string_view bytes, const std::vector<std::string>& event_types);

}  // namespace customer_profile::core
