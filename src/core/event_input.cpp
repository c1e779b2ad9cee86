// Event validation (see event_input.hpp).
#include "event_input.hpp"

#include <cmath>

#include "error.hpp"
#include "profile.hpp"

namespace customer_profile::core {
namespace {

bool has_control(std::string_view s) {
    for (unsigned char c : s)
        if (c < 0x20 || c == 0x7F) return true;
    return false;
}

}  // namespace

void check_event_type(std::string_view event_type) {
    if (event_type.empty()) throw Error(ErrorCode::invalid_parameter, "event type is empty");
    if (event_type.size() > kMaxEventTypeBytes)
        throw Error(ErrorCode::value_too_long,
                    "event type is longer than " + std::to_string(kMaxEventTypeBytes) + " bytes");
    if (!valid_utf8(event_type) || has_control(event_type))
        throw Error(ErrorCode::invalid_parameter, "event type contains invalid UTF-8 or control characters");
}

void check_event_id(std::string_view event_id) {
    if (event_id.empty()) throw Error(ErrorCode::invalid_parameter, "event_id is empty");
    if (event_id.size() > kMaxEventIdBytes)
        throw Error(ErrorCode::value_too_long,
                    "event_id is longer than " + std::to_string(kMaxEventIdBytes) + " bytes");
    if (!valid_utf8(event_id) || has_control(event_id))
        throw Error(ErrorCode::invalid_parameter, "event_id contains invalid UTF-8 or control characters");
}

Micros parse_event_time(std::string_view text) {
    try {
        return parse_timestamp(text);
    } catch (const Error& e) {
        throw Error(ErrorCode::invalid_text, std::string("malformed occurred_at: ") + e.what());
    }
}

Day oldest_kept_day(Micros now, int horizon_days) {
    return day_of(now) - horizon_days + 1;
}

void check_event_time(Micros occurred_at, Micros now, int horizon_days) {
    if (!timestamp_in_range(occurred_at)) throw Error(ErrorCode::invalid_parameter, "occurred_at is out of range");
    if (day_of(occurred_at) < oldest_kept_day(now, horizon_days))
        throw Error(ErrorCode::invalid_parameter,
                    "occurred_at is older than the behavior horizon of " + std::to_string(horizon_days) + " days",
                    "occurred_at is " + format_timestamp(occurred_at) + ".",
                    "Raise customer_profile.behavior_horizon to keep older events.");
    if (occurred_at > now + kMaxFutureSkew)
        throw Error(ErrorCode::invalid_parameter, "occurred_at is more than one day in the future",
                    "occurred_at is " + format_timestamp(occurred_at) + ".");
}

void check_measure_value(std::string_view measure, double value) {
    if (!std::isfinite(value) || std::fabs(value) > kMaxMeasureMagnitude)
        throw Error(ErrorCode::invalid_parameter,
                    "property \"" + std::string(measure) + "\" must be a number of magnitude at most 1e18");
}

}  // namespace customer_profile::core
