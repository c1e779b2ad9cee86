// Guard-railed merge planning.
#include <gtest/gtest.h>

#include "core/merge_planner.hpp"

using namespace customer_profile::core;

namespace {
constexpr std::int32_t CRM = 1, EMAIL = 2, COOKIE = 5;
MergeInput base() {
    MergeInput in;
    in.namespace_caps = {{CRM, 1}, {EMAIL, 10}, {COOKIE, 0}};
    in.max_identities_per_profile = 500;
    return in;
}
}  // namespace

TEST(MergePlanner, AllNewMakesOneProfileWithAStar) {
    MergeInput in = base();
    in.identities = {{EMAIL, 80, 0}, {COOKIE, 20, 0}, {CRM, 100, 0}};
    MergePlan plan = plan_merge(in);
    EXPECT_EQ(plan.survivor, 0);
    EXPECT_EQ(plan.attach.size(), 3u);
    EXPECT_EQ(plan.anchor, 2) << "the strongest identity anchors the links";
    EXPECT_EQ(plan.linked.size(), 2u);
    EXPECT_TRUE(plan.refusals.empty());
}

TEST(MergePlanner, MergesIntoTheStrongestProfile) {
    MergeInput in = base();
    in.identities = {{COOKIE, 20, 11}, {EMAIL, 80, 12}};
    in.profiles = {{11, {{COOKIE, 3}}, 20}, {12, {{EMAIL, 1}, {CRM, 1}}, 100}};
    MergePlan plan = plan_merge(in);
    EXPECT_EQ(plan.survivor, 12);
    EXPECT_EQ(plan.merged_profiles, (std::vector<std::int64_t>{11}));
    EXPECT_EQ(plan.linked.size(), 1u);
}

TEST(MergePlanner, NamespaceCapRefusesTheMergeAndKeepsBothProfiles) {
    MergeInput in = base();
    in.identities = {{CRM, 100, 21}, {EMAIL, 80, 22}};
    in.profiles = {{21, {{CRM, 1}}, 100}, {22, {{CRM, 1}, {EMAIL, 1}}, 100}};
    MergePlan plan = plan_merge(in);
    EXPECT_EQ(plan.survivor, 22) << "same priority: the larger profile is stronger";
    EXPECT_TRUE(plan.merged_profiles.empty());
    ASSERT_EQ(plan.refusals.size(), 1u);
    EXPECT_EQ(plan.refusals[0].rule, RefusalRule::namespace_cap);
    EXPECT_EQ(plan.refusals[0].namespace_id, CRM);
    EXPECT_EQ(plan.refusals[0].refused_profile_id, 21);
    EXPECT_TRUE(plan.linked.empty()) << "no evidence is stored for a refused link";
}

TEST(MergePlanner, NewIdentityOverCapGetsItsOwnProfile) {
    MergeInput in = base();
    in.identities = {{CRM, 100, 0}, {EMAIL, 80, 31}};
    in.profiles = {{31, {{CRM, 1}, {EMAIL, 1}}, 100}};
    MergePlan plan = plan_merge(in);
    EXPECT_EQ(plan.survivor, 31);
    EXPECT_EQ(plan.own_profile, (std::vector<int>{0}));
    EXPECT_TRUE(plan.attach.empty());
    ASSERT_EQ(plan.refusals.size(), 1u);
    EXPECT_EQ(plan.refusals[0].refused_identity, 0);
}

TEST(MergePlanner, TwoNewIdsOfACappedNamespaceKeepTheStrongerFirst) {
    MergeInput in = base();
    in.identities = {{COOKIE, 20, 0}, {CRM, 100, 0}, {CRM, 100, 0}};
    MergePlan plan = plan_merge(in);
    EXPECT_EQ(plan.attach, (std::vector<int>{1, 0}));
    EXPECT_EQ(plan.own_profile, (std::vector<int>{2}));
}

TEST(MergePlanner, HardCapLimitsProfileSize) {
    MergeInput in = base();
    in.max_identities_per_profile = 3;
    in.identities = {{COOKIE, 20, 41}, {COOKIE, 20, 42}, {COOKIE, 20, 0}};
    in.profiles = {{41, {{COOKIE, 2}}, 20}, {42, {{COOKIE, 2}}, 20}};
    MergePlan plan = plan_merge(in);
    EXPECT_EQ(plan.survivor, 41);
    EXPECT_TRUE(plan.merged_profiles.empty());
    EXPECT_EQ(plan.attach.size(), 1u);
    ASSERT_EQ(plan.refusals.size(), 1u);
    EXPECT_EQ(plan.refusals[0].rule, RefusalRule::profile_identity_cap);
}

TEST(MergePlanner, RejectsInconsistentInput) {
    MergeInput in = base();
    in.identities = {{COOKIE, 20, 99}};
    EXPECT_THROW(plan_merge(in), std::exception);
}
