#include <gtest/gtest.h>

#include <cmath>

#include "core/error.hpp"
#include "core/kmeans.hpp"

using namespace customer_profile::core;

namespace {

// `groups` blobs of `per_group` points in `dims` dimensions, centers 10
// apart, spread 1 (normal, Box-Muller); labels are the planted groups.
Points planted(std::size_t groups, std::size_t per_group, std::size_t dims, std::uint64_t seed,
               std::vector<std::uint32_t>& labels) {
    SeededRandom random(seed);
    Points p;
    p.dims = dims;
    for (std::size_t g = 0; g < groups; ++g)
        for (std::size_t i = 0; i < per_group; ++i) {
            for (std::size_t d = 0; d < dims; ++d) {
                double u1 = random.uniform() + 1e-12, u2 = random.uniform();
                double normal = std::sqrt(-2 * std::log(u1)) * std::cos(6.283185307179586 * u2);
                double center = (d % groups == g) ? 10.0 : 0.0;
                p.values.push_back(static_cast<float>(center + normal));
            }
            labels.push_back(static_cast<std::uint32_t>(g));
            ++p.rows;
        }
    return p;
}

}  // namespace

TEST(KMeans, RecoversPlantedGroups) {
    std::vector<std::uint32_t> truth;
    Points p = planted(5, 200, 8, 42, truth);
    KMeansResult r = kmeans(p, 5, 1);
    EXPECT_GE(adjusted_rand_index(truth, r.assignment), 0.99);
    ASSERT_EQ(r.sizes.size(), 5u);
    for (auto s : r.sizes) EXPECT_EQ(s, 200u);
    EXPECT_LT(r.iterations, kMaxKMeansIterations);
}

TEST(KMeans, SameSeedSameClustersAnotherSeedStillGood) {
    std::vector<std::uint32_t> truth;
    Points p = planted(4, 100, 6, 7, truth);
    KMeansResult a = kmeans(p, 4, 123), b = kmeans(p, 4, 123), c = kmeans(p, 4, 999);
    EXPECT_EQ(a.assignment, b.assignment);
    EXPECT_EQ(a.centroids, b.centroids);
    EXPECT_GE(adjusted_rand_index(truth, c.assignment), 0.99);
}

TEST(KMeans, EveryClusterKeepsAMemberAndBadKIsRefused) {
    Points p;
    p.dims = 1;
    p.rows = 6;
    p.values = {1, 1, 1, 1, 1, 5};  // two distinct values, three clusters
    KMeansResult r = kmeans(p, 3, 5);
    for (auto s : r.sizes) EXPECT_GE(s, 1u);
    EXPECT_THROW(kmeans(p, 0, 1), Error);
    EXPECT_THROW(kmeans(p, 7, 1), Error);
    Points none;
    none.rows = 3;
    EXPECT_THROW(kmeans(none, 1, 1), Error);
}

TEST(KMeans, AdjustedRandIndex) {
    std::vector<std::uint32_t> a = {0, 0, 1, 1, 2, 2}, renamed = {5, 5, 3, 3, 9, 9}, mixed = {0, 1, 0, 1, 0, 1};
    EXPECT_DOUBLE_EQ(adjusted_rand_index(a, renamed), 1.0);
    EXPECT_LT(adjusted_rand_index(a, mixed), 0.1);
    EXPECT_THROW(adjusted_rand_index(a, {0, 1}), Error);
}

TEST(KMeans, SeededRandomIsPortable) {
    SeededRandom r(1);
    // splitmix64's published first output for seed 1.
    EXPECT_EQ(r.next(), 0x910A2DEC89025CC1ULL);
    double u = r.uniform();
    EXPECT_GE(u, 0.0);
    EXPECT_LT(u, 1.0);
}

TEST(KMeans, NearestKKeepsTheClosestInOrder) {
    NearestK top(3);
    const double distances[] = {5, 1, 9, 3, 1, 7};
    for (int i = 0; i < 6; ++i) top.offer(i + 10, distances[i]);
    auto best = top.sorted();
    ASSERT_EQ(best.size(), 3u);
    EXPECT_EQ(best[0].id, 11);  // distance 1, smaller id first
    EXPECT_EQ(best[1].id, 14);
    EXPECT_EQ(best[2].id, 13);
    NearestK none(0);
    none.offer(1, 1);
    EXPECT_TRUE(none.sorted().empty());
}

TEST(KMeans, ListsAreProbedNearestFirst) {
    std::vector<double> centroids = {0, 0, 10, 10, 3, 3};
    float query[2] = {9, 9};
    EXPECT_EQ(lists_by_distance(centroids, 2, query), std::vector<std::uint32_t>({1, 2, 0}));
}

TEST(KMeans, RestartsKeepTheBestRun) {
    std::vector<std::uint32_t> truth;
    Points p = planted(10, 60, 20, 3, truth);
    for (std::uint64_t seed = 1; seed <= 5; ++seed) {
        KMeansResult several = kmeans(p, 10, seed, nullptr, kMaxKMeansIterations, 4);
        EXPECT_GE(adjusted_rand_index(truth, several.assignment), 0.99) << "seed " << seed;
        EXPECT_TRUE(several.converged);
    }
}
