// Trait merge policies: each rule, null handling, and independence from the
// order observations arrive in.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <random>

#include "core/trait_policy.hpp"

using namespace customer_profile::core;

namespace {

Trait obs(const std::string& source, Micros at, TraitValue v) {
    Trait t;
    t.name = "x";
    t.source = source;
    t.observed_at = at;
    t.value = std::move(v);
    return t;
}
TraitValue num(double d) {
    TraitValue v;
    v.type = TraitType::number;
    v.number = d;
    return v;
}
TraitValue txt(const std::string& s) {
    TraitValue v;
    v.type = TraitType::text;
    v.text = s;
    return v;
}
TraitValue arr(std::vector<std::string> items) {
    TraitValue v;
    v.type = TraitType::text_array;
    v.array = std::move(items);
    return v;
}
TraitDefinition def(MergePolicy p, std::optional<TraitType> type = std::nullopt, std::vector<std::string> order = {}) {
    TraitDefinition d;
    d.name = "x";
    d.type = type;
    d.policy = p;
    d.source_order = std::move(order);
    return d;
}

// Every permutation of the observations must give the same merged trait.
Trait merged_in_every_order(std::vector<Trait> observations, const TraitDefinition& d) {
    std::sort(observations.begin(), observations.end(),
              [](const Trait& a, const Trait& b) { return a.source < b.source; });
    std::optional<Trait> first = merge_observations(observations, d);
    EXPECT_TRUE(first.has_value());
    std::mt19937 rng(3);
    for (int i = 0; i < 20; ++i) {
        std::shuffle(observations.begin(), observations.end(), rng);
        EXPECT_EQ(merge_observations(observations, d), first);
    }
    return *first;
}

}  // namespace

TEST(TraitPolicy, LatestWinsEvenWhenItArrivesFirst) {
    Trait t =
        merged_in_every_order({obs("web", 300, txt("new")), obs("crm", 100, txt("old")), obs("app", 200, txt("mid"))},
                              def(MergePolicy::latest));
    EXPECT_EQ(t.value.text, "new");
    EXPECT_EQ(t.source, "web");
    EXPECT_EQ(t.observed_at, 300);
}

TEST(TraitPolicy, TiesAreBrokenDeterministically) {
    Trait t = merged_in_every_order({obs("web", 100, txt("a")), obs("crm", 100, txt("b"))}, def(MergePolicy::latest));
    EXPECT_EQ(t.source, "web");
}

TEST(TraitPolicy, Earliest) {
    EXPECT_EQ(
        merged_in_every_order({obs("web", 300, txt("new")), obs("crm", 100, txt("first"))}, def(MergePolicy::earliest))
            .value.text,
        "first");
}

TEST(TraitPolicy, SourcePriorityThenLatest) {
    auto d = def(MergePolicy::source_priority, TraitType::text, {"crm", "support", "web"});
    Trait t = merged_in_every_order({obs("web", 900, txt("web")), obs("support", 500, txt("support")),
                                     obs("crm", 100, txt("crm-old")), obs("crm", 200, txt("crm-new"))},
                                    d);
    EXPECT_EQ(t.value.text, "crm-new");
    EXPECT_EQ(merged_in_every_order({obs("web", 900, txt("web")), obs("mobile", 950, txt("unlisted"))}, d).value.text,
              "web")
        << "unlisted sources rank last";
}

TEST(TraitPolicy, MaxMinIgnoreNullsAndKeepProvenance) {
    std::vector<Trait> o{obs("a", 1, num(5)), obs("b", 2, num(50)), obs("c", 3, TraitValue{}), obs("d", 4, num(-2))};
    Trait mx = merged_in_every_order(o, def(MergePolicy::max, TraitType::number));
    EXPECT_EQ(mx.value.number, 50);
    EXPECT_EQ(mx.source, "b");
    EXPECT_EQ(merged_in_every_order(o, def(MergePolicy::min, TraitType::number)).value.number, -2);
    Trait only_null = merged_in_every_order({obs("a", 1, TraitValue{})}, def(MergePolicy::max, TraitType::number));
    EXPECT_EQ(only_null.value.type, TraitType::null);
}

TEST(TraitPolicy, SumAddsEverySourceAndIdentity) {
    Trait t = merged_in_every_order({obs("crm", 1, num(100)), obs("web", 5, num(0.5)), obs("pos", 3, num(-10))},
                                    def(MergePolicy::sum, TraitType::number));
    EXPECT_DOUBLE_EQ(t.value.number, 90.5);
    EXPECT_EQ(t.observed_at, 5);
    EXPECT_EQ(t.source, "web");
}

TEST(TraitPolicy, UnionIsASortedSet) {
    Trait t = merged_in_every_order(
        {obs("crm", 1, arr({"b", "a"})), obs("web", 2, arr({"c", "a"})), obs("x", 3, TraitValue{})},
        def(MergePolicy::union_set, TraitType::text_array));
    EXPECT_EQ(t.value.array, (std::vector<std::string>{"a", "b", "c"}));
}

TEST(TraitPolicy, NoObservationsNoTrait) {
    EXPECT_FALSE(merge_observations({}, def(MergePolicy::latest)).has_value());
}

TEST(TraitPolicy, ObservationsAreCheckedAgainstTheDefinition) {
    auto number_trait = def(MergePolicy::latest, TraitType::number);
    EXPECT_THROW(check_observation(obs("crm", 1, txt("12")), number_trait), Error);
    EXPECT_NO_THROW(check_observation(obs("crm", 1, TraitValue{}), number_trait)) << "null is allowed for any type";
    Trait coerced = check_observation(obs("crm", 1, txt("vip")), def(MergePolicy::union_set, TraitType::text_array));
    EXPECT_EQ(coerced.value.type, TraitType::text_array);
    EXPECT_EQ(coerced.value.array, (std::vector<std::string>{"vip"}));
    EXPECT_NO_THROW(check_observation(obs("crm", 1, txt("anything")), def(MergePolicy::latest)));
}

TEST(TraitPolicy, DefinitionsMustBeCoherent) {
    EXPECT_THROW(validate_definition(def(MergePolicy::sum, TraitType::text)), Error);
    EXPECT_THROW(validate_definition(def(MergePolicy::max, TraitType::boolean)), Error);
    EXPECT_THROW(validate_definition(def(MergePolicy::union_set, TraitType::text)), Error);
    EXPECT_THROW(validate_definition(def(MergePolicy::source_priority, TraitType::text)), Error);
    EXPECT_THROW(validate_definition(def(MergePolicy::latest, TraitType::text, {"crm"})), Error);
    EXPECT_THROW(validate_definition(def(MergePolicy::latest, TraitType::null)), Error);
    EXPECT_NO_THROW(validate_definition(def(MergePolicy::source_priority, TraitType::text, {"crm", "web"})));
    EXPECT_THROW(merge_policy_from_name("average"), Error);
    EXPECT_EQ(merge_policy_from_name("union"), MergePolicy::union_set);
}

// Issue 13, defect 5: a sum must stay finite, or the profile can no longer be
// read (and pg_dump of the database fails).
TEST(TraitPolicy, SumRefusesValuesThatCouldOverflow) {
    auto d = def(MergePolicy::sum, TraitType::number);
    try {
        check_observation(obs("crm", 1, num(1.7e308)), d);
        FAIL() << "1.7e308 was accepted for a sum trait";
    } catch (const Error& e) {
        EXPECT_EQ(e.code(), ErrorCode::out_of_range);
    }
    EXPECT_NO_THROW(check_observation(obs("crm", 1, num(-1e18)), d));
    EXPECT_THROW(check_observation(obs("crm", 1, num(-1.0000001e18)), d), Error);
    // Other policies keep any finite number.
    EXPECT_NO_THROW(check_observation(obs("crm", 1, num(1.7e308)), def(MergePolicy::max, TraitType::number)));
}

TEST(TraitPolicy, SumOfUncheckedObservationsSaturates) {
    // Observations stored before the bound existed are folded without overflow.
    auto merged = merge_observations({obs("a", 1, num(1.7e308)), obs("b", 2, num(1.7e308)), obs("c", 3, num(5))},
                                     def(MergePolicy::sum, TraitType::number));
    ASSERT_TRUE(merged);
    EXPECT_TRUE(std::isfinite(merged->value.number));
    EXPECT_EQ(merged->value.number, std::numeric_limits<double>::max());
}
