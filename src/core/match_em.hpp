// Fellegi-Sunter parameters without labels (issue 17): the u probabilities
// from random pairs (nearly all of them non-matches), the m probabilities
// and the share of matches by expectation-maximisation over blocked pairs,
// as Splink estimates them. Reviewed pairs count as labels: their match
// probability is fixed at 1 or 0 instead of estimated.
//
// A pair is compared field by field; each field gives a level, 0 for the
// closest agreement up to levels - 1 for disagreement, or kMissing when
// either record lacks the value (the field then says nothing about the
// pair: weight 0, left out of that field's counts).
#pragma once

#include <cstdint>
#include <vector>

namespace customer_profile::core {

constexpr int kMissing = -1;

using ComparisonVector = std::vector<int>;  // a level per field, or kMissing

struct MatchParameters {
    double lambda = 0.01;                // share of matches among the compared pairs, in (0, 1)
    std::vector<std::vector<double>> m;  // [field][level]: P(level | match)
    std::vector<std::vector<double>> u;  // [field][level]: P(level | non-match)
};

enum class PairLabel : std::int8_t { unknown = -1, non_match = 0, match = 1 };

struct EmOptions {
    int max_iterations = 200;
    double tolerance = 1e-7;  // largest change of any parameter between two iterations
    bool estimate_u = false;  // u from random pairs is usually better than EM's
};

struct EmResult {
    MatchParameters parameters;
    int iterations = 0;
    bool converged = false;
};

// Level frequencies of random pairs, per field; every probability at least
// a small floor so no level has weight -inf or +inf. Throws
// Error(invalid_parameter) for a level out of range or a vector of another
// length than `levels`.
std::vector<std::vector<double>> estimate_u(const std::vector<ComparisonVector>& random_pairs,
                                            const std::vector<int>& levels);

// EM from `start` (its u kept unless options.estimate_u). `labels` is empty or
// one per pair.
EmResult estimate_parameters(const std::vector<ComparisonVector>& pairs, const std::vector<int>& levels,
                             const MatchParameters& start, const std::vector<PairLabel>& labels = {},
                             const EmOptions& options = {});

// The pair's total match weight: the sum over fields of log2(m / u) of its
// level (0 for a missing field).
double pair_weight(const MatchParameters& parameters, const ComparisonVector& pair);

}  // namespace customer_profile::core
