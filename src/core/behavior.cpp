// Behavior summary arithmetic (see behavior.hpp).
#include "behavior.hpp"

#include <algorithm>
#include <limits>

#include "error.hpp"

namespace customer_profile::core {
namespace {

EventSummary& summary_for(Behavior& b, const std::string& event_type) {
    auto it = std::lower_bound(b.types.begin(), b.types.end(), event_type,
                               [](const EventSummary& s, const std::string& t) { return s.event_type < t; });
    if (it != b.types.end() && it->event_type == event_type) return *it;
    if (b.types.size() >= kMaxEventTypesPerProfile)
        throw Error(ErrorCode::limit_exceeded,
                    "a profile can summarize at most " + std::to_string(kMaxEventTypesPerProfile) + " event types");
    EventSummary s;
    s.event_type = event_type;
    return *b.types.insert(it, std::move(s));
}

// Inserts a measure (with zeros everywhere) when new.
void ensure_measure(EventSummary& s, const std::string& name) {
    auto it = std::lower_bound(s.measures.begin(), s.measures.end(), name);
    std::size_t at = static_cast<std::size_t>(it - s.measures.begin());
    if (it != s.measures.end() && *it == name) return;
    if (s.measures.size() >= kMaxMeasuresPerType)
        throw Error(ErrorCode::limit_exceeded,
                    "an event type can carry at most " + std::to_string(kMaxMeasuresPerType) + " measures");
    s.measures.insert(it, name);
    s.totals.insert(s.totals.begin() + static_cast<std::ptrdiff_t>(at), 0.0);
    for (auto& bucket : s.buckets) bucket.sums.insert(bucket.sums.begin() + static_cast<std::ptrdiff_t>(at), 0.0);
}

// Slots of the given measures, after inserting all of them: an insertion
// shifts the slots of the measures after it.
template <class Names>
std::vector<std::size_t> measure_slots(EventSummary& s, const Names& names) {
    for (const std::string& name : names) ensure_measure(s, name);
    std::vector<std::size_t> slots;
    for (const std::string& name : names) slots.push_back(static_cast<std::size_t>(s.measure_index(name)));
    return slots;
}

DayBucket& bucket_for(EventSummary& s, Day day) {
    auto it =
        std::lower_bound(s.buckets.begin(), s.buckets.end(), day, [](const DayBucket& b, Day d) { return b.day < d; });
    if (it != s.buckets.end() && it->day == day) return *it;
    DayBucket b;
    b.day = day;
    b.sums.assign(s.measures.size(), 0.0);
    return *s.buckets.insert(it, std::move(b));
}

void absorb_times(EventSummary& s, std::int64_t count, Micros first, Micros last) {
    if (s.count == 0) {
        s.first_at = first;
        s.last_at = last;
    } else {
        s.first_at = std::min(s.first_at, first);
        s.last_at = std::max(s.last_at, last);
    }
    s.count += count;
}

}  // namespace

Day day_of(Micros t) {
    Micros d = t / kMicrosPerDay;
    if (t % kMicrosPerDay < 0) --d;  // floor, also before 2000
    return static_cast<Day>(d);
}

int EventSummary::measure_index(std::string_view name) const {
    auto it = std::lower_bound(measures.begin(), measures.end(), name,
                               [](const std::string& m, std::string_view n) { return m < n; });
    return it != measures.end() && *it == name ? static_cast<int>(it - measures.begin()) : -1;
}

const EventSummary* Behavior::find(std::string_view event_type) const {
    auto it = std::lower_bound(types.begin(), types.end(), event_type,
                               [](const EventSummary& s, std::string_view t) { return s.event_type < t; });
    return it != types.end() && it->event_type == event_type ? &*it : nullptr;
}

void add_event(Behavior& behavior, const EventFact& event, Day oldest_day) {
    EventSummary& s = summary_for(behavior, event.event_type);
    std::vector<std::string> names;
    for (const auto& m : event.measures) names.push_back(m.first);
    std::vector<std::size_t> slots = measure_slots(s, names);
    absorb_times(s, 1, event.occurred_at, event.occurred_at);
    for (std::size_t i = 0; i < slots.size(); ++i) s.totals[slots[i]] += event.measures[i].second;
    Day day = day_of(event.occurred_at);
    if (day < oldest_day) return;
    DayBucket& b = bucket_for(s, day);
    b.count += 1;
    for (std::size_t i = 0; i < slots.size(); ++i) b.sums[slots[i]] += event.measures[i].second;
}

void merge_behavior(Behavior& into, const Behavior& from, Day oldest_day) {
    for (const EventSummary& other : from.types) {
        EventSummary& s = summary_for(into, other.event_type);
        std::vector<std::size_t> slots = measure_slots(s, other.measures);
        absorb_times(s, other.count, other.first_at, other.last_at);
        for (std::size_t i = 0; i < slots.size(); ++i) s.totals[slots[i]] += other.totals[i];
        for (const DayBucket& ob : other.buckets) {
            if (ob.day < oldest_day) continue;
            DayBucket& b = bucket_for(s, ob.day);
            b.count += ob.count;
            for (std::size_t i = 0; i < slots.size(); ++i) b.sums[slots[i]] += ob.sums[i];
        }
    }
    prune_buckets(into, oldest_day);
}

void prune_buckets(Behavior& behavior, Day oldest_day) {
    for (auto& s : behavior.types) {
        auto keep = std::lower_bound(s.buckets.begin(), s.buckets.end(), oldest_day,
                                     [](const DayBucket& b, Day d) { return b.day < d; });
        s.buckets.erase(s.buckets.begin(), keep);
    }
}

namespace {

// The first bucket on or after a day (buckets are sorted by day): a window
// of 30 days reads 30 buckets at most, not the whole horizon, which matters
// when a stream evaluates a hundred segments per event.
std::vector<DayBucket>::const_iterator first_bucket(const EventSummary& summary, Day day) {
    return std::lower_bound(summary.buckets.begin(), summary.buckets.end(), day,
                            [](const DayBucket& b, Day d) { return b.day < d; });
}

}  // namespace

std::int64_t count_between_days(const EventSummary& summary, Day first_day, Day end_day) {
    std::int64_t n = 0;
    for (auto b = first_bucket(summary, first_day); b != summary.buckets.end() && b->day < end_day; ++b) n += b->count;
    return n;
}

double sum_between_days(const EventSummary& summary, std::string_view measure, Day first_day, Day end_day) {
    int at = summary.measure_index(measure);
    if (at < 0) return 0;
    double total = 0;
    for (auto b = first_bucket(summary, first_day); b != summary.buckets.end() && b->day < end_day; ++b)
        total += b->sums[static_cast<std::size_t>(at)];
    return total;
}

std::int64_t count_since(const EventSummary& summary, Day first_day) {
    return count_between_days(summary, first_day, std::numeric_limits<Day>::max());
}

double sum_since(const EventSummary& summary, std::string_view measure, Day first_day) {
    return sum_between_days(summary, measure, first_day, std::numeric_limits<Day>::max());
}

std::optional<Micros> last_seen(const Behavior& behavior) {
    std::optional<Micros> last;
    for (const auto& s : behavior.types)
        if (s.count > 0 && (!last || s.last_at > *last)) last = s.last_at;
    return last;
}

}  // namespace customer_profile::core
