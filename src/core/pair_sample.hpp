// A sample of the pairs of records that share a blocking key, drawn in one
// pass over the key's groups (issue 17, match_estimate). A group of c
// records gives each of its c(c-1)/2 pairs while c - 1 <= 2 * band, and each
// with probability 2 * band / (c - 1) beyond (about band pairs per record),
// decided by a hash of the pair; such a pair stands for (c - 1) / (2 * band)
// of the group's pairs: its weight. Before, every pair of every group was
// built and sorted in SQL (twenty groups of 999: minutes), and those few
// groups were nearly the whole sample, so the estimate saw few true matches
// (lambda several times too high). Pairs are still enumerated here, in C++,
// at a few nanoseconds each; groups of more than 1,000 records never reach
// the sampler.
//
// The sample is the `capacity` pairs with the lowest hashes (a bottom-k
// sketch): uniform over the pairs given, the same on the same data, and a
// pair given twice (a multi-valued key, such as deletions(), shares several
// keys between two records) is one pair, weighted by its group of largest
// share, which gives it whenever any group does.
#pragma once

#include <cstddef>
#include <cstdint>
#include <queue>
#include <unordered_map>
#include <vector>

namespace customer_profile::core {

struct SampledPair {
    std::int64_t a = 0, b = 0;  // a < b
    // How many of its group's pairs this pair stands for (1 when the group
    // gave all its pairs; the least over its groups when it is in several).
    double weight = 1;
};

class PairSampler {
public:
    // pairs_repeat: a pair may be given more than once (a multi-valued key).
    // Throws Error(invalid_parameter) for a capacity below 2 (the distinct
    // count is estimated from the capacity-th hash) or a band below 1.
    PairSampler(std::size_t capacity, bool pairs_repeat, int band = 10);

    // A group of records sharing one key; ids distinct, in any order.
    void add_group(const std::vector<std::int64_t>& ids);

    // The sample, in hash order.
    std::vector<SampledPair> sample() const;
    // How many distinct pairs the groups gave (after sampling): exact when
    // pairs do not repeat or while they fit in the sample, else estimated
    // from the sample's largest hash (relative error about 1 / sqrt(capacity)).
    double pairs_given() const;
    // The groups' pairs in all, c(c-1)/2 each (a pair in two groups twice).
    double pairs_in_groups() const { return pairs_in_groups_; }

private:
    struct Entry {
        std::uint64_t hash;
        std::int64_t a, b;
        bool operator<(const Entry& o) const { return hash < o.hash; }
    };
    struct PairHash {
        std::size_t operator()(const std::pair<std::int64_t, std::int64_t>& p) const;
    };
    void offer(std::int64_t a, std::int64_t b, double weight);

    std::size_t capacity_;
    bool pairs_repeat_;
    int band_;
    double pairs_offered_ = 0;
    double pairs_in_groups_ = 0;
    std::priority_queue<Entry> kept_;  // the lowest hashes, the highest on top
    std::unordered_map<std::pair<std::int64_t, std::int64_t>, double, PairHash> weights_;
};

// The 64-bit hash the sample orders pairs by (a < b); exposed for tests.
std::uint64_t pair_hash(std::int64_t a, std::int64_t b);

}  // namespace customer_profile::core
