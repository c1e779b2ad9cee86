// Estimating Fellegi-Sunter parameters (see match_em.hpp).
#include "match_em.hpp"

#include <algorithm>
#include <cmath>
#include <string>

#include "error.hpp"

namespace customer_profile::core {
namespace {

constexpr double kFloor = 1e-6;  // no level is impossible: its weight would be infinite

void check_levels(const std::vector<int>& levels) {
    if (levels.empty()) throw Error(ErrorCode::invalid_parameter, "a match rule needs at least one field");
    for (int l : levels)
        if (l < 2 || l > 64) throw Error(ErrorCode::invalid_parameter, "a field has 2 to 64 comparison levels");
}

void check_pair(const ComparisonVector& pair, const std::vector<int>& levels) {
    if (pair.size() != levels.size())
        throw Error(ErrorCode::invalid_parameter, "a comparison vector has " + std::to_string(pair.size()) +
                                                      " fields, the rule " + std::to_string(levels.size()));
    for (std::size_t f = 0; f < pair.size(); ++f)
        if (pair[f] != kMissing && (pair[f] < 0 || pair[f] >= levels[f]))
            throw Error(ErrorCode::invalid_parameter,
                        "level " + std::to_string(pair[f]) + " of field " + std::to_string(f) + " is out of range");
}

void check_table(const std::vector<std::vector<double>>& table, const std::vector<int>& levels, const char* what) {
    if (table.size() != levels.size())
        throw Error(ErrorCode::invalid_parameter, std::string(what) + " has another number of fields");
    for (std::size_t f = 0; f < table.size(); ++f) {
        if (static_cast<int>(table[f].size()) != levels[f])
            throw Error(ErrorCode::invalid_parameter, std::string(what) + " has another number of levels");
        double total = 0;
        for (double p : table[f]) {
            if (!(p > 0 && p <= 1)) throw Error(ErrorCode::invalid_parameter, std::string(what) + " must be in (0, 1]");
            total += p;
        }
        if (std::fabs(total - 1) > 1e-6)
            throw Error(ErrorCode::invalid_parameter, std::string(what) + " of a field must sum to 1");
    }
}

// Counts to probabilities, each at least kFloor, summing to 1.
std::vector<double> normalized(std::vector<double> counts) {
    double total = 0;
    for (double c : counts) total += c;
    for (double& c : counts) c = total > 0 ? c / total : 1.0 / counts.size();
    for (double& c : counts) c = std::max(c, kFloor);
    total = 0;
    for (double c : counts) total += c;
    for (double& c : counts) c /= total;
    return counts;
}

}  // namespace

std::vector<std::vector<double>> estimate_u(const std::vector<ComparisonVector>& random_pairs,
                                            const std::vector<int>& levels) {
    check_levels(levels);
    std::vector<std::vector<double>> counts(levels.size());
    for (std::size_t f = 0; f < levels.size(); ++f) counts[f].assign(levels[f], 0.0);
    for (const auto& pair : random_pairs) {
        check_pair(pair, levels);
        for (std::size_t f = 0; f < pair.size(); ++f)
            if (pair[f] != kMissing) counts[f][pair[f]] += 1;
    }
    for (auto& c : counts) c = normalized(std::move(c));
    return counts;
}

double pair_weight(const MatchParameters& p, const ComparisonVector& pair) {
    double w = 0;
    for (std::size_t f = 0; f < pair.size() && f < p.m.size(); ++f)
        if (pair[f] != kMissing) w += std::log2(p.m[f][pair[f]] / p.u[f][pair[f]]);
    return w;
}

EmResult estimate_parameters(const std::vector<ComparisonVector>& pairs, const std::vector<int>& levels,
                             const MatchParameters& start, const std::vector<PairLabel>& labels,
                             const EmOptions& options) {
    check_levels(levels);
    check_table(start.m, levels, "m");
    check_table(start.u, levels, "u");
    if (!(start.lambda > 0 && start.lambda < 1)) throw Error(ErrorCode::invalid_parameter, "lambda must be in (0, 1)");
    if (!labels.empty() && labels.size() != pairs.size())
        throw Error(ErrorCode::invalid_parameter, "labels must be empty or one per pair");
    if (pairs.empty()) throw Error(ErrorCode::invalid_parameter, "no pair to estimate from");
    if (options.max_iterations < 1) throw Error(ErrorCode::invalid_parameter, "max_iterations must be at least 1");
    for (const auto& pair : pairs) check_pair(pair, levels);

    EmResult result;
    result.parameters = start;
    MatchParameters& p = result.parameters;
    std::vector<double> w(pairs.size());
    for (result.iterations = 1; result.iterations <= options.max_iterations; ++result.iterations) {
        // E: each pair's probability of being a match, from its weight (in
        // log space: a product of many small probabilities underflows).
        const double prior = std::log2(p.lambda / (1 - p.lambda));
        for (std::size_t i = 0; i < pairs.size(); ++i) {
            PairLabel label = labels.empty() ? PairLabel::unknown : labels[i];
            if (label != PairLabel::unknown) {
                w[i] = label == PairLabel::match ? 1.0 : 0.0;
                continue;
            }
            w[i] = 1.0 / (1.0 + std::exp2(-(prior + pair_weight(p, pairs[i]))));
        }
        // M: the share of matches, and each level's frequency among the
        // (weighted) matches and non-matches.
        MatchParameters next = p;
        double matches = 0;
        for (double x : w) matches += x;
        next.lambda = std::clamp(matches / static_cast<double>(pairs.size()), kFloor, 1 - kFloor);
        for (std::size_t f = 0; f < levels.size(); ++f) {
            std::vector<double> m_counts(levels[f], 0.0), u_counts(levels[f], 0.0);
            for (std::size_t i = 0; i < pairs.size(); ++i) {
                if (pairs[i][f] == kMissing) continue;
                m_counts[pairs[i][f]] += w[i];
                u_counts[pairs[i][f]] += 1 - w[i];
            }
            next.m[f] = normalized(std::move(m_counts));
            if (options.estimate_u) next.u[f] = normalized(std::move(u_counts));
        }
        double change = std::fabs(next.lambda - p.lambda);
        for (std::size_t f = 0; f < levels.size(); ++f)
            for (int l = 0; l < levels[f]; ++l) {
                change = std::max(change, std::fabs(next.m[f][l] - p.m[f][l]));
                change = std::max(change, std::fabs(next.u[f][l] - p.u[f][l]));
            }
        p = std::move(next);
        if (change < options.tolerance) {
            result.converged = true;
            break;
        }
    }
    result.iterations = std::min(result.iterations, options.max_iterations);
    return result;
}

}  // namespace customer_profile::core
