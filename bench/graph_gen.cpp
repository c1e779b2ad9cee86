// Deterministic identity-graph generator for the benchmarks.
//
//   graph_gen <out_dir> <identities> [seed]
//
// Writes <out_dir>/identities.tsv (identity_id, namespace_id, value_hash,
// profile_id = identity_id: every identity starts alone) and
// <out_dir>/links.tsv (identity_a < identity_b). People are clusters of 1-20
// identifiers with a long tail (P(size = k) ~ k^-1.3), linked by a random
// spanning tree plus a few extra edges; a handful of hub identifiers (a
// shared store device) touch thousands of identities across people.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <random>
#include <set>
#include <string>
#include <utility>
#include <vector>

int main(int argc, char** argv) {
    if (argc < 3) {
        std::fprintf(stderr, "usage: graph_gen <out_dir> <identities> [seed]\n");
        return 2;
    }
    std::string dir = argv[1];
    const long long n = std::stoll(argv[2]);
    std::mt19937_64 rng(argc > 3 ? std::stoull(argv[3]) : 42);

    std::vector<double> weights;
    for (int k = 1; k <= 20; ++k) weights.push_back(std::pow(k, -1.3));
    std::discrete_distribution<int> cluster_size(weights.begin(), weights.end());
    // Namespace mix: crm_id 1, email 2, phone 3, device_id 4, cookie 5.
    std::discrete_distribution<int> namespace_of({8, 20, 10, 22, 40});

    std::vector<std::pair<long long, long long>> links;
    long long next_id = 1;
    const long long hubs = std::max(1LL, n / 200000);
    const long long people_limit = n - hubs;
    while (next_id <= people_limit) {
        long long size = std::min<long long>(1 + cluster_size(rng), people_limit - next_id + 1);
        long long first = next_id;
        for (long long k = 1; k < size; ++k) {
            long long parent = first + static_cast<long long>(rng() % k);
            links.emplace_back(parent, first + k);
        }
        if (size >= 4 && rng() % 3 == 0) links.emplace_back(first, first + size - 1);
        next_id += size;
    }
    for (long long h = 0; h < hubs; ++h) {
        long long hub = next_id++;
        long long touches = 1000 + static_cast<long long>(rng() % 2000);
        std::set<long long> seen;
        for (long long t = 0; t < touches; ++t) {
            long long other = 1 + static_cast<long long>(rng() % people_limit);
            if (seen.insert(other).second) links.emplace_back(other, hub);
        }
    }

    FILE* f = std::fopen((dir + "/identities.tsv").c_str(), "w");
    if (!f) return 1;
    for (long long id = 1; id < next_id; ++id) {
        int ns = id > people_limit ? 4 : 1 + namespace_of(rng);
        std::fprintf(f, "%lld\t%d\t\\\\x", id, ns);
        for (int b = 0; b < 4; ++b) std::fprintf(f, "%016llx", static_cast<unsigned long long>(rng()));
        std::fprintf(f, "\t%lld\n", id);
    }
    std::fclose(f);
    f = std::fopen((dir + "/links.tsv").c_str(), "w");
    if (!f) return 1;
    std::sort(links.begin(), links.end());
    links.erase(std::unique(links.begin(), links.end()), links.end());
    for (const auto& [a, b] : links) std::fprintf(f, "%lld\t%lld\n", std::min(a, b), std::max(a, b));
    std::fclose(f);
    std::printf("%lld identities, %zu links, %lld hubs\n", next_id - 1, links.size(), hubs);
    return 0;
}
