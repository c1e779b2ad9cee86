// Behavior summary: order independence (late, shuffled and merged events give
// one answer), window arithmetic on daily buckets, the horizon, the binary
// form's round trip and strict rejection, and event validation.
#include <gtest/gtest.h>

#include <algorithm>
#include <random>

#include "core/behavior.hpp"
#include "core/behavior_codec.hpp"
#include "core/error.hpp"
#include "core/event_input.hpp"

using namespace customer_profile::core;

namespace {

constexpr Micros kDay = kMicrosPerDay;
const Micros kNow = parse_timestamp("2026-11-29T12:00:00Z");

EventFact fact(std::string type, Micros at, std::vector<std::pair<std::string, double>> measures = {}) {
    return EventFact{std::move(type), at, std::move(measures)};
}

std::vector<EventFact> random_events(std::mt19937& rng, int n) {
    std::uniform_int_distribution<int> type(0, 2), day(0, 500), cents(0, 100000);
    const char* types[] = {"purchase", "page_view", "email_open"};
    std::vector<EventFact> events;
    for (int i = 0; i < n; ++i) {
        int t = type(rng);
        std::vector<std::pair<std::string, double>> m;
        if (t == 0) m = {{"revenue", cents(rng) / 4.0}, {"items", 1}};
        events.push_back(fact(types[t], kNow - day(rng) * kDay - cents(rng), m));
    }
    return events;
}

}  // namespace

TEST(Behavior, DayOfFloorsBefore2000) {
    EXPECT_EQ(day_of(0), 0);
    EXPECT_EQ(day_of(kDay - 1), 0);
    EXPECT_EQ(day_of(-1), -1);
    EXPECT_EQ(day_of(-kDay), -1);
    EXPECT_EQ(day_of(-kDay - 1), -2);
}

TEST(Behavior, CountsSumsFirstLastAndWindows) {
    Behavior b;
    Day oldest = oldest_kept_day(kNow, 400);
    add_event(b, fact("purchase", kNow - 40 * kDay, {{"revenue", 10}}), oldest);
    add_event(b, fact("purchase", kNow - 5 * kDay, {{"revenue", 2.5}}), oldest);
    add_event(b, fact("purchase", kNow - 5 * kDay + 1, {}), oldest);  // no revenue property
    add_event(b, fact("page_view", kNow), oldest);
    const EventSummary* p = b.find("purchase");
    ASSERT_NE(p, nullptr);
    EXPECT_EQ(p->count, 3);
    EXPECT_EQ(p->first_at, kNow - 40 * kDay);
    EXPECT_EQ(p->last_at, kNow - 5 * kDay + 1);
    EXPECT_EQ(p->buckets.size(), 2u);
    Day today = day_of(kNow);
    EXPECT_EQ(count_since(*p, today - 29), 2);
    EXPECT_EQ(count_since(*p, today - 89), 3);
    EXPECT_DOUBLE_EQ(sum_since(*p, "revenue", today - 29), 2.5);
    EXPECT_DOUBLE_EQ(sum_since(*p, "revenue", today - 89), 12.5);
    EXPECT_DOUBLE_EQ(sum_since(*p, "discount", today - 89), 0);
    EXPECT_EQ(p->totals, std::vector<double>({12.5}));
    EXPECT_EQ(b.find("signup"), nullptr);
    EXPECT_EQ(*last_seen(b), kNow);
    EXPECT_FALSE(last_seen(Behavior{}).has_value());
}

TEST(Behavior, MeasureAppearingLaterIsZeroInOlderBuckets) {
    Behavior b;
    add_event(b, fact("purchase", kNow - 3 * kDay), 0);
    add_event(b, fact("purchase", kNow, {{"revenue", 7}}), 0);
    add_event(b, fact("purchase", kNow - kDay, {{"items", 2}}), 0);
    const EventSummary& p = *b.find("purchase");
    EXPECT_EQ(p.measures, std::vector<std::string>({"items", "revenue"}));
    for (const auto& bucket : p.buckets) EXPECT_EQ(bucket.sums.size(), 2u);
    EXPECT_DOUBLE_EQ(sum_since(p, "revenue", day_of(kNow - 3 * kDay)), 7);
    EXPECT_DOUBLE_EQ(sum_since(p, "items", day_of(kNow - 3 * kDay)), 2);
}

TEST(Behavior, OrderOfEventsDoesNotMatter) {
    std::mt19937 rng(42);
    auto events = random_events(rng, 2000);
    Day oldest = oldest_kept_day(kNow, 400);
    Behavior in_order;
    for (const auto& e : events) add_event(in_order, e, oldest);
    for (int round = 0; round < 5; ++round) {
        std::shuffle(events.begin(), events.end(), rng);
        Behavior shuffled;
        for (const auto& e : events) add_event(shuffled, e, oldest);
        // Sums of doubles depend on order only in their last bits; the values
        // here are multiples of 1/4, which add exactly.
        EXPECT_EQ(shuffled, in_order);
    }
}

TEST(Behavior, MergingTwoProfilesEqualsOneProfileWithAllEvents) {
    std::mt19937 rng(7);
    auto events = random_events(rng, 1000);
    Day oldest = oldest_kept_day(kNow, 400);
    Behavior all, left, right;
    for (std::size_t i = 0; i < events.size(); ++i) {
        add_event(all, events[i], oldest);
        add_event(i % 3 == 0 ? left : right, events[i], oldest);
    }
    merge_behavior(left, right, oldest);
    EXPECT_EQ(left, all);
    Behavior empty;
    merge_behavior(empty, all, oldest);
    EXPECT_EQ(empty, all);
}

TEST(Behavior, HorizonKeepsTotalsButDropsOldBuckets) {
    Behavior b;
    add_event(b, fact("login", kNow - 10 * kDay), oldest_kept_day(kNow, 400));
    add_event(b, fact("login", kNow), oldest_kept_day(kNow, 400));
    prune_buckets(b, oldest_kept_day(kNow, 5));
    const EventSummary& s = *b.find("login");
    EXPECT_EQ(s.count, 2);
    EXPECT_EQ(s.buckets.size(), 1u);
    EXPECT_EQ(count_since(s, day_of(kNow) - 100), 1);
}

TEST(Behavior, LimitsRefuseTooManyTypesAndMeasures) {
    Behavior b;
    for (std::size_t i = 0; i < kMaxEventTypesPerProfile; ++i) add_event(b, fact("t" + std::to_string(i), kNow), 0);
    EXPECT_THROW(add_event(b, fact("one_more", kNow), 0), Error);
    std::vector<std::pair<std::string, double>> many;
    for (std::size_t i = 0; i <= kMaxMeasuresPerType; ++i) many.emplace_back("m" + std::to_string(i + 100), 1);
    Behavior c;
    EXPECT_THROW(add_event(c, fact("x", kNow, many), 0), Error);
}

TEST(BehaviorCodec, RoundTripsRandomSummaries) {
    std::mt19937 rng(3);
    for (int round = 0; round < 20; ++round) {
        Behavior b;
        for (const auto& e : random_events(rng, 300)) add_event(b, e, oldest_kept_day(kNow, 400));
        std::string bytes = encode_behavior(b);
        EXPECT_EQ(decode_behavior(bytes), b);
        // Only some types: exactly those summaries, the others read past.
        ASSERT_GE(b.types.size(), 2u);
        std::vector<std::string> wanted = {b.types.back().event_type, "~absent"};
        std::sort(wanted.begin(), wanted.end());
        Behavior subset = decode_behavior_types(bytes, wanted);
        ASSERT_EQ(subset.types.size(), 1u);
        EXPECT_EQ(subset.types.front(), b.types.back());
    }
    EXPECT_EQ(decode_behavior(encode_behavior(Behavior{})), Behavior{});
}

TEST(BehaviorCodec, RejectsEveryTruncationAndCorruption) {
    Behavior b;
    add_event(b, fact("purchase", kNow - 3 * kDay, {{"revenue", 5}}), 0);
    add_event(b, fact("purchase", kNow, {{"revenue", 1}}), 0);
    add_event(b, fact("visit", kNow), 0);
    std::string bytes = encode_behavior(b);
    for (std::size_t n = 0; n < bytes.size(); ++n) EXPECT_THROW(decode_behavior(bytes.substr(0, n)), Error) << n;
    EXPECT_THROW(decode_behavior(bytes + "x"), Error);
    std::string wrong_version = bytes;
    wrong_version[0] = 9;
    EXPECT_THROW(decode_behavior(wrong_version), Error);
    // Every single-byte change either decodes to a consistent summary or is
    // refused; never a crash (run under the sanitizers in the fuzz build).
    for (std::size_t i = 1; i < bytes.size(); ++i) {
        std::string flipped = bytes;
        flipped[i] = static_cast<char>(flipped[i] ^ 0x5A);
        try {
            Behavior d = decode_behavior(flipped);
            EXPECT_EQ(decode_behavior(encode_behavior(d)), d);
        } catch (const Error&) {
        }
    }
}

TEST(BehaviorCodec, RejectsInconsistentSummaries) {
    Behavior b;
    add_event(b, fact("visit", kNow), 0);
    b.types[0].buckets[0].count = 2;  // more in a bucket than in total
    EXPECT_THROW(decode_behavior(encode_behavior(b)), Error);
    Behavior c;
    add_event(c, fact("visit", kNow), 0);
    c.types[0].first_at = kNow + 1;  // first after last
    EXPECT_THROW(decode_behavior(encode_behavior(c)), Error);
}

TEST(EventInput, ChecksTypeIdTimeAndMeasures) {
    EXPECT_NO_THROW(check_event_type("purchase"));
    EXPECT_THROW(check_event_type(""), Error);
    EXPECT_THROW(check_event_type(std::string(201, 'x')), Error);
    EXPECT_THROW(check_event_type("a\nb"), Error);
    EXPECT_THROW(check_event_type("\xff"), Error);
    EXPECT_NO_THROW(check_event_id("order-17"));
    EXPECT_THROW(check_event_id(""), Error);
    EXPECT_THROW(check_event_id(std::string(201, 'x')), Error);

    EXPECT_EQ(parse_event_time("2026-11-29 12:00:00+00"), kNow);
    EXPECT_EQ(parse_event_time("2026-11-29T13:00:00+01:00"), kNow);
    EXPECT_THROW(parse_event_time("yesterday"), Error);
    EXPECT_THROW(parse_event_time("2026-11-29 12:00:00"), Error);  // no zone
    EXPECT_THROW(parse_event_time("2026-02-30T00:00:00Z"), Error);

    EXPECT_NO_THROW(check_event_time(kNow - 399 * kDay, kNow, 400));
    EXPECT_THROW(check_event_time(kNow - 401 * kDay, kNow, 400), Error);
    EXPECT_NO_THROW(check_event_time(kNow + kDay - 1, kNow, 400));
    EXPECT_THROW(check_event_time(kNow + kDay + 1, kNow, 400), Error);

    EXPECT_NO_THROW(check_measure_value("revenue", -12.5));
    EXPECT_THROW(check_measure_value("revenue", 1e19), Error);
    EXPECT_THROW(check_measure_value("revenue", std::nan("")), Error);
}
