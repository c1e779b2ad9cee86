// Binary behavior codec (see behavior_codec.hpp for the layout).
#include "behavior_codec.hpp"

#include <algorithm>

#include <cmath>

#include "binary_io.hpp"
#include "profile.hpp"

namespace customer_profile::core {

std::string encode_behavior(const Behavior& behavior) {
    Writer w;
    w.u8(kBehaviorFormatVersion);
    w.var(behavior.types.size());
    for (const auto& s : behavior.types) {
        w.bytes(s.event_type);
        w.var(static_cast<std::uint64_t>(s.count));
        w.zvar(s.first_at);
        w.zvar(s.last_at);
        w.var(s.measures.size());
        for (std::size_t i = 0; i < s.measures.size(); ++i) {
            w.bytes(s.measures[i]);
            w.f64(s.totals[i]);
        }
        w.var(s.buckets.size());
        for (std::size_t i = 0; i < s.buckets.size(); ++i) {
            const DayBucket& b = s.buckets[i];
            if (i == 0)
                w.zvar(b.day);
            else
                w.var(static_cast<std::uint64_t>(b.day - s.buckets[i - 1].day));
            w.var(static_cast<std::uint64_t>(b.count));
            for (double sum : b.sums) w.f64(sum);
        }
    }
    return w.take();
}

namespace {

// Reads past the rest of one summary (after its event type) without keeping it.
void skip_summary(Reader& r) {
    r.var();   // count
    r.zvar();  // first_at
    r.zvar();  // last_at
    std::uint64_t nmeasures = r.var();
    if (nmeasures > kMaxMeasuresPerType) r.fail("too many measures");
    for (std::uint64_t m = 0; m < nmeasures; ++m) {
        r.bytes(kMaxMeasureNameBytes);
        r.f64();
    }
    std::uint64_t nbuckets = r.var();
    if (nbuckets > static_cast<std::uint64_t>(kMaxHorizonDays) + 1) r.fail("too many daily buckets");
    for (std::uint64_t i = 0; i < nbuckets; ++i) {
        if (i == 0)
            r.zvar();
        else
            r.var();
        r.var();
        for (std::uint64_t m = 0; m < nmeasures; ++m) r.f64();
    }
}

Behavior decode(std::string_view bytes, const std::vector<std::string>* only_types) {
    Reader r(bytes, "behavior summary");
    std::uint8_t version = r.u8();
    if (version != kBehaviorFormatVersion) r.fail("unknown format version " + std::to_string(version));
    std::uint64_t ntypes = r.var();
    if (ntypes > kMaxEventTypesPerProfile) r.fail("too many event types");
    Behavior b;
    b.types.reserve(ntypes);
    for (std::uint64_t t = 0; t < ntypes; ++t) {
        EventSummary s;
        s.event_type.assign(r.bytes(kMaxEventTypeBytes));
        if (only_types != nullptr && !std::binary_search(only_types->begin(), only_types->end(), s.event_type)) {
            skip_summary(r);
            continue;
        }
        if (s.event_type.empty() || !valid_utf8(s.event_type)) r.fail("invalid event type");
        if (!b.types.empty() && !(b.types.back().event_type < s.event_type))
            r.fail("event types out of order or repeated");
        std::uint64_t count = r.var();
        if (count == 0 || count > static_cast<std::uint64_t>(INT64_MAX)) r.fail("invalid event count");
        s.count = static_cast<std::int64_t>(count);
        s.first_at = r.zvar();
        s.last_at = r.zvar();
        if (!timestamp_in_range(s.first_at) || !timestamp_in_range(s.last_at) || s.first_at > s.last_at)
            r.fail("invalid first/last time");
        std::uint64_t nmeasures = r.var();
        if (nmeasures > kMaxMeasuresPerType) r.fail("too many measures");
        for (std::uint64_t m = 0; m < nmeasures; ++m) {
            std::string name(r.bytes(kMaxMeasureNameBytes));
            if (name.empty() || (!s.measures.empty() && !(s.measures.back() < name)))
                r.fail("measure names empty, out of order or repeated");
            double total = r.f64();
            if (!std::isfinite(total)) r.fail("non-finite total");
            s.measures.push_back(std::move(name));
            s.totals.push_back(total);
        }
        std::uint64_t nbuckets = r.var();
        if (nbuckets > static_cast<std::uint64_t>(kMaxHorizonDays) + 1) r.fail("too many daily buckets");
        std::uint64_t bucketed = 0;
        for (std::uint64_t i = 0; i < nbuckets; ++i) {
            DayBucket bucket;
            if (i == 0) {
                std::int64_t day = r.zvar();
                if (day < day_of(kMinTimestamp) || day > day_of(kMaxTimestamp)) r.fail("bucket day out of range");
                bucket.day = static_cast<Day>(day);
            } else {
                std::uint64_t gap = r.var();
                if (gap == 0 || gap > static_cast<std::uint64_t>(day_of(kMaxTimestamp) - s.buckets.back().day))
                    r.fail("bucket days out of order");
                bucket.day = s.buckets.back().day + static_cast<Day>(gap);
            }
            std::uint64_t n = r.var();
            if (n == 0 || n > count - bucketed) r.fail("bucket counts exceed the total");
            bucketed += n;
            bucket.count = static_cast<std::int64_t>(n);
            for (std::uint64_t m = 0; m < nmeasures; ++m) {
                double sum = r.f64();
                if (!std::isfinite(sum)) r.fail("non-finite bucket sum");
                bucket.sums.push_back(sum);
            }
            s.buckets.push_back(std::move(bucket));
        }
        b.types.push_back(std::move(s));
    }
    if (!r.done()) r.fail("trailing bytes");
    return b;
}

}  // namespace

Behavior decode_behavior(std::string_view bytes) {
    return decode(bytes, nullptr);
}

Behavior decode_behavior_types(std::string_view bytes, const std::vector<std::string>& event_types) {
    return decode(bytes, &event_types);
}

}  // namespace customer_profile::core
