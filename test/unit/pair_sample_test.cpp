// The blocked-pair sample of match_estimate: a small group gives all its
// pairs, a large one a band with weights that add up to its pairs, a pair
// given twice is one pair, the sample is the lowest hashes whatever the
// order of the groups, and weighted counts over the sample estimate counts
// over all the groups' pairs.
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <numeric>
#include <random>
#include <set>

#include "core/error.hpp"
#include "core/pair_sample.hpp"

namespace cp = customer_profile::core;

namespace {

std::vector<std::int64_t> range(std::int64_t from, std::int64_t n) {
    std::vector<std::int64_t> ids(static_cast<std::size_t>(n));
    std::iota(ids.begin(), ids.end(), from);
    return ids;
}

}  // namespace

TEST(PairSample, SmallGroupGivesEveryPairWithWeightOne) {
    cp::PairSampler s(1000, false, 10);
    s.add_group(range(1, 21));  // 20 others each: within 2 * band
    auto sample = s.sample();
    EXPECT_EQ(sample.size(), 210u);
    EXPECT_DOUBLE_EQ(s.pairs_given(), 210);
    EXPECT_DOUBLE_EQ(s.pairs_in_groups(), 210);
    std::set<std::pair<std::int64_t, std::int64_t>> seen;
    for (const auto& p : sample) {
        EXPECT_LT(p.a, p.b);
        EXPECT_DOUBLE_EQ(p.weight, 1);
        seen.insert({p.a, p.b});
    }
    EXPECT_EQ(seen.size(), 210u);
}

TEST(PairSample, LargeGroupGivesABandWhoseWeightsAddUpToItsPairs) {
    cp::PairSampler s(100000, false, 10);
    s.add_group(range(1000, 999));
    auto sample = s.sample();
    ASSERT_EQ(sample.size(), 9990u);  // 999 records * 10
    EXPECT_DOUBLE_EQ(s.pairs_given(), 9990);
    EXPECT_DOUBLE_EQ(s.pairs_in_groups(), 999.0 * 998 / 2);
    double total = 0;
    std::map<std::int64_t, int> per_record;
    std::set<std::pair<std::int64_t, std::int64_t>> seen;
    for (const auto& p : sample) {
        total += p.weight;
        ++per_record[p.a];
        ++per_record[p.b];
        seen.insert({p.a, p.b});
    }
    EXPECT_EQ(seen.size(), 9990u);
    EXPECT_NEAR(total, 999.0 * 998 / 2, 1e-6);
    ASSERT_EQ(per_record.size(), 999u);
    for (const auto& [id, n] : per_record) EXPECT_EQ(n, 20) << id;  // the band after it and the band before it
}

TEST(PairSample, BandDoesNotFollowTheIds) {
    cp::PairSampler s(100000, false, 2);
    s.add_group(range(1, 500));
    int neighbours = 0;
    for (const auto& p : s.sample()) neighbours += (p.b - p.a <= 2);
    EXPECT_LT(neighbours, 50);  // of 1,000 pairs; by id order all would be
}

TEST(PairSample, APairGivenTwiceIsOnePairWithItsLeastWeight) {
    cp::PairSampler s(100000, true, 10);
    std::vector<std::int64_t> big = range(1, 100);
    s.add_group(big);
    s.add_group(big);  // the same records under a second key: the same pairs
    ASSERT_DOUBLE_EQ(s.pairs_given(), 1000);
    cp::SampledPair banded = s.sample().front();
    s.add_group({banded.b, banded.a});  // one of the band's pairs, also a group of two
    EXPECT_DOUBLE_EQ(s.pairs_in_groups(), 2 * 4950.0 + 1);
    EXPECT_DOUBLE_EQ(s.pairs_given(), 1000);
    std::set<std::pair<std::int64_t, std::int64_t>> seen;
    for (const auto& p : s.sample()) {
        EXPECT_TRUE(seen.insert({p.a, p.b}).second);
        EXPECT_DOUBLE_EQ(p.weight, p.a == banded.a && p.b == banded.b ? 1 : 99.0 / 20);
    }
    EXPECT_EQ(seen.size(), 1000u);
}

TEST(PairSample, SampleIsTheLowestHashesWhateverTheOrder) {
    std::vector<std::vector<std::int64_t>> groups;
    for (std::int64_t g = 0; g < 3000; ++g) groups.push_back({3 * g, 3 * g + 1, 3 * g + 2});
    // Reference: every pair's hash, sorted here.
    std::vector<std::pair<std::uint64_t, std::pair<std::int64_t, std::int64_t>>> all;
    for (const auto& g : groups)
        for (std::size_t i = 0; i < g.size(); ++i)
            for (std::size_t j = i + 1; j < g.size(); ++j) all.push_back({cp::pair_hash(g[i], g[j]), {g[i], g[j]}});
    std::sort(all.begin(), all.end());
    cp::PairSampler forward(500, false), backward(500, false);
    for (const auto& g : groups) forward.add_group(g);
    for (auto it = groups.rbegin(); it != groups.rend(); ++it) {
        std::vector<std::int64_t> reversed(it->rbegin(), it->rend());
        backward.add_group(reversed);
    }
    auto a = forward.sample(), b = backward.sample();
    ASSERT_EQ(a.size(), 500u);
    ASSERT_EQ(b.size(), 500u);
    for (std::size_t i = 0; i < 500; ++i) {
        EXPECT_EQ(a[i].a, all[i].second.first);
        EXPECT_EQ(a[i].b, all[i].second.second);
        EXPECT_EQ(b[i].a, a[i].a);
        EXPECT_EQ(b[i].b, a[i].b);
    }
    EXPECT_DOUBLE_EQ(forward.pairs_given(), 9000);
}

TEST(PairSample, DistinctPairsAreEstimatedWhenTheyRepeat) {
    cp::PairSampler s(2000, true);
    for (std::int64_t g = 0; g < 50000; ++g) {
        s.add_group({2 * g, 2 * g + 1});
        if (g % 2 == 0) s.add_group({2 * g, 2 * g + 1});  // half of the pairs twice
    }
    EXPECT_NEAR(s.pairs_given(), 50000, 50000 * 0.08);  // 1 / sqrt(2000) is 2.2 %
}

TEST(PairSample, WeightedCountsEstimateCountsOverAllPairs) {
    // 400 groups of 200 records; in each, records 2i and 2i+1 are one person
    // (100 true pairs a group, 40,000 in all) among 19,900 pairs.
    cp::PairSampler s(1000000, false, 10);
    std::set<std::pair<std::int64_t, std::int64_t>> truth;
    for (std::int64_t g = 0; g < 400; ++g) {
        std::vector<std::int64_t> ids = range(g * 1000, 200);
        for (std::int64_t i = 0; i < 100; ++i) truth.insert({g * 1000 + 2 * i, g * 1000 + 2 * i + 1});
        s.add_group(ids);
    }
    auto sample = s.sample();
    double estimate = 0, pairs = 0;
    for (const auto& p : sample) {
        pairs += p.weight;
        if (truth.count({p.a, p.b})) estimate += p.weight;
    }
    double scale = s.pairs_given() / static_cast<double>(sample.size());
    EXPECT_NEAR(pairs * scale, 400 * 19900.0, 1);
    EXPECT_NEAR(estimate * scale, 40000, 40000 * 0.1);
}

TEST(PairSample, RefusesAnEmptyCapacityOrBand) {
    EXPECT_THROW(cp::PairSampler(0, false), cp::Error);
    EXPECT_THROW(cp::PairSampler(10, false, 0), cp::Error);
}
