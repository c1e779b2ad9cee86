// next_change(): the result of a predicate never changes before the
// computed time (checked by evaluating at many instants in between), and for
// single-term predicates it does change right at that time.
#include <gtest/gtest.h>

#include "core/predicate_parser.hpp"
#include "core/predicate_schedule.hpp"

using namespace customer_profile::core;

namespace {

const Micros kNow = parse_timestamp("2026-11-29T12:00:00Z");
constexpr Micros kDay = kMicrosPerDay;
const Micros kMidnight = static_cast<Micros>(day_of(kNow)) * kDay;

class PredicateSchedule : public ::testing::Test {
protected:
    void SetUp() override {
        Trait signup;
        signup.name = "signup_at";
        signup.value.type = TraitType::timestamp;
        signup.value.timestamp = kNow - 25 * kDay - 3600000000LL;  // 25 days and 1 hour ago
        signup.source = "crm";
        profile.put(signup);
        Day oldest = day_of(kNow) - 399;
        add_event(behavior, EventFact{"purchase", kNow - 3 * kDay, {{"revenue", 60}}}, oldest);
        add_event(behavior, EventFact{"purchase", kNow - 20 * kDay, {{"revenue", 50}}}, oldest);
        add_event(behavior, EventFact{"purchase", kNow - 80 * kDay, {{"revenue", 40}}}, oldest);
        add_event(behavior, EventFact{"page_view", kNow - 2 * kDay, {}}, oldest);
    }

    EvaluationContext at(Micros now) const {
        EvaluationContext c;
        c.traits = &profile;
        c.behavior = &behavior;
        c.now = now;
        return c;
    }

    std::optional<Micros> next(const std::string& text) const { return next_change(parse_predicate(text), at(kNow)); }

    // Same result at every hour until the change, and one microsecond before it.
    void expect_stable_until(const std::string& text, Micros until) const {
        PredicateNode tree = parse_predicate(text);
        Truth first = evaluate(tree, at(kNow));
        for (Micros t = kNow; t < until; t += 3600000000LL)
            EXPECT_EQ(evaluate(tree, at(t)), first) << text << " at " << t;
        EXPECT_EQ(evaluate(tree, at(until - 1)), first) << text;
    }

    Profile profile;
    Behavior behavior;
};

}  // namespace

TEST_F(PredicateSchedule, TimeFreePredicatesNeverChange) {
    EXPECT_FALSE(next("signup_at > timestamp '2020-01-01T00:00:00Z'"));
    EXPECT_FALSE(next("count(purchase) >= 2"));
    EXPECT_FALSE(next("last_seen() > timestamp '2020-01-01T00:00:00Z'"));
    EXPECT_FALSE(next("count(refund within 30 days) > 0"));  // no such events: stays 0
}

TEST_F(PredicateSchedule, WindowChangesWhenItsOldestDayLeaves) {
    // Purchases 3 and 20 days ago are in a 30-day window; the one 20 days ago
    // leaves at the start of day +10.
    auto t = next("count(purchase within 30 days) >= 2");
    ASSERT_TRUE(t);
    EXPECT_EQ(*t, kMidnight + 10 * kDay);
    expect_stable_until("count(purchase within 30 days) >= 2", *t);
    EXPECT_FALSE(evaluate(parse_predicate("count(purchase within 30 days) >= 2"), at(*t)) == Truth::true_);
    // A sum window and a filtered window are scheduled the same way.
    EXPECT_EQ(next("sum(purchase.revenue within 90 days) > 100"), kMidnight + 10 * kDay);
    EXPECT_EQ(next("count(purchase where revenue > 55 within 30 days) > 0"), kMidnight + 10 * kDay);
    EXPECT_EQ(next("count(page_view within 7 days) > 0"), kMidnight + 5 * kDay);
}

TEST_F(PredicateSchedule, NowComparisonsChangeWhenNowPassesTheOtherSide) {
    // signed up 25 days and 1 hour ago: "older than 30 days" becomes true
    // 4 days 23 hours from now.
    auto t = next("signup_at < now() - 30 days");
    ASSERT_TRUE(t);
    EXPECT_EQ(*t, kNow + 5 * kDay - 3600000000LL);
    expect_stable_until("signup_at < now() - 30 days", *t);
    EXPECT_EQ(evaluate(parse_predicate("signup_at <= now() - 30 days"), at(*t)), Truth::true_);
    // The strict form flips a microsecond later, which a re-evaluation at *t schedules.
    EXPECT_EQ(evaluate(parse_predicate("signup_at < now() - 30 days"), at(*t)), Truth::false_);
    EXPECT_EQ(next_change(parse_predicate("signup_at < now() - 30 days"), at(*t)), *t + 1);
    EXPECT_EQ(evaluate(parse_predicate("signup_at < now() - 30 days"), at(*t + 1)), Truth::true_);
    // last_seen of any type was 2 days ago: "seen in the last 7 days" ends in 5 days.
    auto seen = next("last_seen() > now() - 7 days");
    ASSERT_TRUE(seen);
    EXPECT_EQ(*seen, kNow + 5 * kDay);
    expect_stable_until("last_seen() > now() - 7 days", *seen);
    EXPECT_EQ(evaluate(parse_predicate("last_seen() > now() - 7 days"), at(*seen)), Truth::false_);
    // Both bounds of a BETWEEN count; a time already passed does not.
    EXPECT_EQ(next("signup_at BETWEEN now() - 30 days AND now() - 26 days"), kNow + 3600000000LL * 23);
    EXPECT_FALSE(next("signup_at < now() - 10 days"));
}

TEST_F(PredicateSchedule, TheEarliestTermWinsWhateverTheLogic) {
    std::string text =
        "(count(purchase within 30 days) >= 2 AND NOT signup_at < now() - 30 days) OR "
        "last_seen(page_view) > now() - 3 days";
    auto t = next(text);
    ASSERT_TRUE(t);
    EXPECT_EQ(*t, kNow + 1 * kDay);  // page_view 2 days ago leaves "3 days" first
    expect_stable_until(text, *t);
}

TEST(PredicateDependencies, TimeAndFilterFlags) {
    EXPECT_TRUE(predicate_dependencies(parse_predicate("count(purchase within 30 days) > 1")).time);
    EXPECT_TRUE(predicate_dependencies(parse_predicate("signup_at < now() - 1 day")).time);
    EXPECT_FALSE(predicate_dependencies(parse_predicate("count(purchase) > 1 AND tier = 'gold'")).time);
    EXPECT_TRUE(predicate_dependencies(parse_predicate("count(purchase where revenue > 5) > 1")).filtered);
    EXPECT_FALSE(predicate_dependencies(parse_predicate("count(purchase) > 1")).filtered);
}
