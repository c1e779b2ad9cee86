// Google Benchmark programs for the pure core: the pieces on the hot paths of
// identity_components()/identity_rebuild() and resolve_identity().
//   build/core/core_bench
#include <benchmark/benchmark.h>

#include <random>

#include "core/blocklist.hpp"
#include "core/identity_normalize.hpp"
#include "core/merge_planner.hpp"
#include "core/union_find.hpp"

using namespace customer_profile::core;

namespace {

// A graph shaped like bench/graph_gen: clusters of 1-20 nodes as random trees.
std::vector<Edge> clustered_edges(std::uint32_t nodes, std::uint32_t seed) {
    std::mt19937 rng(seed);
    std::vector<Edge> edges;
    for (std::uint32_t first = 0; first < nodes;) {
        std::uint32_t size = std::min<std::uint32_t>(1 + rng() % 8, nodes - first);
        for (std::uint32_t k = 1; k < size; ++k) edges.emplace_back(first + rng() % k, first + k);
        first += size;
    }
    return edges;
}

void BM_ConnectedComponents(benchmark::State& state) {
    const auto nodes = static_cast<std::uint32_t>(state.range(0));
    auto edges = clustered_edges(nodes, 42);
    for (auto _ : state) benchmark::DoNotOptimize(connected_components(nodes, edges));
    state.SetItemsProcessed(state.iterations() * (nodes + edges.size()));
}
BENCHMARK(BM_ConnectedComponents)->Arg(100'000)->Arg(1'000'000)->Unit(benchmark::kMillisecond);

void BM_NormalizeEmail(benchmark::State& state) {
    for (auto _ : state) benchmark::DoNotOptimize(normalize_identifier(Normalizer::email, "  Ann.Lee@Example.COM "));
}
BENCHMARK(BM_NormalizeEmail);

void BM_NormalizePhone(benchmark::State& state) {
    for (auto _ : state) benchmark::DoNotOptimize(normalize_identifier(Normalizer::phone, "(202) 456-1111"));
}
BENCHMARK(BM_NormalizePhone);  // a returning number: memoized

void BM_NormalizePhoneDistinct(benchmark::State& state) {
    int i = 0;
    for (auto _ : state) {
        std::string local = "202456" + std::to_string(1000 + (i++ % 9000));
        benchmark::DoNotOptimize(normalize_identifier(Normalizer::phone, local));
    }
}
BENCHMARK(BM_NormalizePhoneDistinct);  // every call parses with libphonenumber

void BM_BlocklistCheck(benchmark::State& state) {
    Blocklist list({"", "null", "none", "undefined", "test@example.com"}, {"^(no-?reply|do-?not-?reply)@"});
    for (auto _ : state) benchmark::DoNotOptimize(list.check("ann.lee@example.com"));
}
BENCHMARK(BM_BlocklistCheck);

void BM_PlanMerge(benchmark::State& state) {
    MergeInput in;
    in.namespace_caps = {{1, 1}, {2, 10}, {5, 100}};
    in.max_identities_per_profile = 500;
    in.identities = {{1, 100, 11}, {2, 80, 12}, {5, 20, 0}};
    in.profiles = {{11, {{1, 1}, {2, 2}}, 100}, {12, {{2, 1}, {5, 3}}, 80}};
    for (auto _ : state) benchmark::DoNotOptimize(plan_merge(in));
}
BENCHMARK(BM_PlanMerge);

}  // namespace

BENCHMARK_MAIN();
