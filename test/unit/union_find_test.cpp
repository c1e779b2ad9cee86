// Union-find, connected components, stable profile assignment, link paths.
#include <gtest/gtest.h>

#include <map>
#include <random>
#include <set>

#include "core/identity_path.hpp"
#include "core/profile_assignment.hpp"
#include "core/union_find.hpp"

using namespace customer_profile::core;

TEST(UnionFind, UnitesAndFinds) {
    UnionFind uf(5);
    EXPECT_TRUE(uf.unite(0, 1));
    EXPECT_TRUE(uf.unite(3, 4));
    EXPECT_FALSE(uf.unite(1, 0));
    EXPECT_EQ(uf.find(0), uf.find(1));
    EXPECT_NE(uf.find(1), uf.find(3));
    EXPECT_EQ(uf.size_of(4), 2u);
}

TEST(ConnectedComponents, LabelIsSmallestMember) {
    auto labels = connected_components(6, {{5, 3}, {3, 4}, {1, 2}});
    EXPECT_EQ(labels, (std::vector<std::uint32_t>{0, 1, 1, 3, 3, 3}));
}

TEST(ConnectedComponents, RejectsEdgesOutsideTheGraph) {
    EXPECT_THROW(connected_components(2, {{0, 2}}), Error);
}

TEST(ConnectedComponents, StopsWhenCanceled) {
    std::vector<Edge> edges(200000, {0, 1});
    EXPECT_THROW(connected_components(2, edges, [] { return true; }), Error);
}

// Reference: BFS labelling; compared on random graphs.
TEST(ConnectedComponents, MatchesBreadthFirstSearchOnRandomGraphs) {
    std::mt19937 rng(7);
    for (int round = 0; round < 20; ++round) {
        std::uint32_t n = 1 + rng() % 300;
        std::vector<Edge> edges;
        for (std::uint32_t i = 0; i < n / 2 + rng() % n; ++i) edges.emplace_back(rng() % n, rng() % n);
        auto labels = connected_components(n, edges);
        std::vector<std::vector<std::uint32_t>> adj(n);
        for (auto [a, b] : edges) {
            adj[a].push_back(b);
            adj[b].push_back(a);
        }
        std::vector<std::uint32_t> ref(n, UINT32_MAX);
        for (std::uint32_t s = 0; s < n; ++s) {
            if (ref[s] != UINT32_MAX) continue;
            std::vector<std::uint32_t> stack{s};
            ref[s] = s;
            while (!stack.empty()) {
                auto v = stack.back();
                stack.pop_back();
                for (auto w : adj[v])
                    if (ref[w] == UINT32_MAX) {
                        ref[w] = s;
                        stack.push_back(w);
                    }
            }
        }
        EXPECT_EQ(labels, ref) << "round " << round;
    }
}

TEST(ProfileAssignment, KeepsPluralityIdsAndCreatesForTheRest) {
    // Two components; both were mostly profile 7 before: only one may keep it.
    std::vector<std::uint32_t> labels{0, 0, 0, 3, 3};
    std::vector<std::int64_t> current{7, 7, 9, 7, 7};
    std::vector<std::int32_t> strength(5, 0);
    auto owner = assign_component_profiles(labels, current, strength);
    EXPECT_EQ(owner[0], 7);  // 0's component: tie on count 2 vs 2, lower label wins
    EXPECT_EQ(owner[1], 7);
    EXPECT_EQ(owner[2], 7);
    EXPECT_EQ(owner[3], -4);  // needs a new profile (9 is not in its component)
    EXPECT_EQ(owner[4], -4);
}

TEST(ProfileAssignment, StrongestIdentityKeepsTheIdOnSplit) {
    // One profile splits: the crm side (strength 100) keeps the id though smaller.
    std::vector<std::uint32_t> labels{0, 1, 1, 1};
    std::vector<std::int64_t> current{5, 5, 5, 5};
    std::vector<std::int32_t> strength{100, 20, 20, 20};
    auto owner = assign_component_profiles(labels, current, strength);
    EXPECT_EQ(owner[0], 5);
    EXPECT_EQ(owner[1], -2);
}

TEST(LinkPath, FindsShortestChain) {
    std::vector<Link> links{{1, 2, 10}, {2, 3, 11}, {3, 4, 12}, {1, 4, 13}, {4, 5, 14}};
    EXPECT_EQ(shortest_link_path(links, 1, 5), (std::vector<std::int64_t>{13, 14}));
    EXPECT_EQ(shortest_link_path(links, 3, 1).size(), 2u);
    EXPECT_TRUE(identities_connected(links, 2, 5));
    EXPECT_FALSE(identities_connected(links, 2, 99));
    EXPECT_TRUE(shortest_link_path(links, 2, 99).empty());
    EXPECT_TRUE(identities_connected(links, 7, 7));
}
