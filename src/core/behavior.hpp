// A profile's behavior summary as plain C++ values: per event type, the total
// count, first and last time, totals of the declared numeric properties
// ("measures", e.g. revenue) and daily buckets for a bounded horizon, so that
// "purchases in the last 30 days" is answered without reading events.
//
// Every operation is commutative and associative (counts and sums add, first
// is a minimum, last a maximum): events applied late, out of order or by
// several workers give the same summary, and two profiles' summaries merge
// by the same rule. Stored by behavior_codec.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "timestamp_text.hpp"

namespace customer_profile::core {

// Days since 2000-01-01 UTC (the day of a Micros timestamp).
using Day = std::int32_t;
constexpr Micros kMicrosPerDay = INT64_C(86400000000);
Day day_of(Micros t);

// Limits checked on input and by the decoder.
constexpr std::size_t kMaxEventTypeBytes = 200;
constexpr std::size_t kMaxMeasureNameBytes = 63;
constexpr std::size_t kMaxEventTypesPerProfile = 1000;
constexpr std::size_t kMaxMeasuresPerType = 32;
constexpr int kMaxHorizonDays = 3660;
constexpr double kMaxMeasureMagnitude = 1e18;

struct DayBucket {
    Day day = 0;
    std::int64_t count = 0;
    std::vector<double> sums;  // aligned with EventSummary::measures
    bool operator==(const DayBucket& o) const { return day == o.day && count == o.count && sums == o.sums; }
};

struct EventSummary {
    std::string event_type;
    std::int64_t count = 0;
    Micros first_at = 0, last_at = 0;
    std::vector<std::string> measures;  // sorted, unique
    std::vector<double> totals;         // aligned with measures
    std::vector<DayBucket> buckets;     // sorted by day, unique

    bool operator==(const EventSummary& o) const {
        return event_type == o.event_type && count == o.count && first_at == o.first_at && last_at == o.last_at &&
               measures == o.measures && totals == o.totals && buckets == o.buckets;
    }
    // Index of a measure, or -1.
    int measure_index(std::string_view name) const;
};

struct Behavior {
    std::vector<EventSummary> types;  // sorted by event_type, unique
    bool operator==(const Behavior& o) const { return types == o.types; }
    const EventSummary* find(std::string_view event_type) const;
};

// One event as the summary sees it: measures are the declared numeric
// properties the event carried.
struct EventFact {
    std::string event_type;
    Micros occurred_at = 0;
    std::vector<std::pair<std::string, double>> measures;
};

// Adds one event; it gets a daily bucket only when its day >= oldest_day.
// Throws Error(limit_exceeded) past the per-profile limits.
void add_event(Behavior& behavior, const EventFact& event, Day oldest_day);

// Adds `from` into `into` (profiles merging); buckets before oldest_day dropped.
void merge_behavior(Behavior& into, const Behavior& from, Day oldest_day);

// Drops buckets before oldest_day (the horizon slid).
void prune_buckets(Behavior& behavior, Day oldest_day);

// Events of one type on days >= first_day (by their buckets).
std::int64_t count_since(const EventSummary& summary, Day first_day);
// Count and sum of a measure on days in [first_day, end_day).
std::int64_t count_between_days(const EventSummary& summary, Day first_day, Day end_day);
double sum_between_days(const EventSummary& summary, std::string_view measure, Day first_day, Day end_day);
// Sum of a measure on days >= first_day; 0 when the measure never appeared.
double sum_since(const EventSummary& summary, std::string_view measure, Day first_day);
// Latest occurrence over all types, nullopt without events.
std::optional<Micros> last_seen(const Behavior& behavior);

}  // namespace customer_profile::core
