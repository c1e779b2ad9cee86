// Fellegi-Sunter estimation: EM recovers the m probabilities and the share of
// matches of a mixture drawn from known parameters, labels fix pairs, missing
// fields say nothing, and bad input is refused.
#include <gtest/gtest.h>

#include <random>

#include "core/error.hpp"
#include "core/match_em.hpp"

namespace cp = customer_profile::core;

namespace {

// Draws a level from a distribution over levels.
int draw(std::mt19937& rng, const std::vector<double>& p) {
    std::discrete_distribution<int> d(p.begin(), p.end());
    return d(rng);
}

struct Truth {
    double lambda;
    std::vector<std::vector<double>> m, u;
};

std::vector<cp::ComparisonVector> mixture(const Truth& t, int n, std::mt19937& rng, std::vector<bool>* is_match) {
    std::bernoulli_distribution match(t.lambda);
    std::vector<cp::ComparisonVector> pairs;
    for (int i = 0; i < n; ++i) {
        bool mt = match(rng);
        if (is_match) is_match->push_back(mt);
        cp::ComparisonVector v;
        for (std::size_t f = 0; f < t.m.size(); ++f) v.push_back(draw(rng, mt ? t.m[f] : t.u[f]));
        pairs.push_back(v);
    }
    return pairs;
}

const Truth kTruth{0.2,
                   {{0.90, 0.08, 0.02}, {0.85, 0.10, 0.05}, {0.70, 0.25, 0.05}},
                   {{0.01, 0.09, 0.90}, {0.02, 0.08, 0.90}, {0.05, 0.15, 0.80}}};
const std::vector<int> kLevels{3, 3, 3};

}  // namespace

TEST(MatchEm, RecoversMAndLambdaWithoutLabels) {
    std::mt19937 rng(42);
    // u from random pairs: nearly all non-matches.
    Truth random_truth = kTruth;
    random_truth.lambda = 0.0005;
    auto random_pairs = mixture(random_truth, 50000, rng, nullptr);
    auto blocked = mixture(kTruth, 20000, rng, nullptr);
    cp::MatchParameters start;
    start.lambda = 0.05;
    start.m = {{0.5, 0.3, 0.2}, {0.5, 0.3, 0.2}, {0.5, 0.3, 0.2}};
    start.u = cp::estimate_u(random_pairs, kLevels);
    for (std::size_t f = 0; f < kLevels.size(); ++f)
        for (int l = 0; l < 3; ++l) EXPECT_NEAR(start.u[f][l], kTruth.u[f][l], 0.01) << f << "/" << l;
    auto result = cp::estimate_parameters(blocked, kLevels, start);
    EXPECT_TRUE(result.converged);
    EXPECT_NEAR(result.parameters.lambda, kTruth.lambda, 0.02);
    for (std::size_t f = 0; f < kLevels.size(); ++f)
        for (int l = 0; l < 3; ++l) EXPECT_NEAR(result.parameters.m[f][l], kTruth.m[f][l], 0.03) << f << "/" << l;
}

TEST(MatchEm, LabelsFixTheirPairs) {
    std::mt19937 rng(7);
    std::vector<bool> truth;
    auto pairs = mixture(kTruth, 5000, rng, &truth);
    std::vector<cp::PairLabel> labels;
    for (bool t : truth) labels.push_back(t ? cp::PairLabel::match : cp::PairLabel::non_match);
    cp::MatchParameters start;
    start.m = {{0.4, 0.3, 0.3}, {0.4, 0.3, 0.3}, {0.4, 0.3, 0.3}};
    start.u = start.m;
    cp::EmOptions options;
    options.estimate_u = true;
    auto result = cp::estimate_parameters(pairs, kLevels, start, labels, options);
    // Every pair labelled: m and u are the level frequencies among the matches and the others.
    double matches = 0, first_level_matches = 0;
    for (std::size_t i = 0; i < pairs.size(); ++i)
        if (truth[i]) {
            ++matches;
            first_level_matches += pairs[i][0] == 0;
        }
    EXPECT_NEAR(result.parameters.m[0][0], first_level_matches / matches, 1e-5);
    EXPECT_NEAR(result.parameters.lambda, matches / pairs.size(), 1e-9);
    EXPECT_TRUE(result.converged);
}

TEST(MatchEm, MissingFieldsSayNothing) {
    cp::MatchParameters p;
    p.m = {{0.9, 0.1}, {0.8, 0.2}};
    p.u = {{0.1, 0.9}, {0.3, 0.7}};
    EXPECT_NEAR(cp::pair_weight(p, {0, cp::kMissing}), std::log2(9.0), 1e-12);
    EXPECT_NEAR(cp::pair_weight(p, {cp::kMissing, cp::kMissing}), 0.0, 1e-12);
    EXPECT_NEAR(cp::pair_weight(p, {1, 1}), std::log2(0.1 / 0.9) + std::log2(0.2 / 0.7), 1e-12);
    // A missing field is left out of that field's counts.
    auto u = cp::estimate_u({{0, cp::kMissing}, {1, cp::kMissing}, {1, 0}}, {2, 2});
    EXPECT_NEAR(u[0][1], 2.0 / 3.0, 1e-5);
    EXPECT_NEAR(u[1][0], 1.0, 1e-5);
    EXPECT_GT(u[1][1], 0.0);  // floored, never impossible
}

TEST(MatchEm, RefusesBadInput) {
    cp::MatchParameters p;
    p.m = {{0.9, 0.1}};
    p.u = {{0.1, 0.9}};
    EXPECT_THROW(cp::estimate_u({{2}}, {2}), cp::Error);           // level out of range
    EXPECT_THROW(cp::estimate_u({{0, 1}}, {2}), cp::Error);        // another length
    EXPECT_THROW(cp::estimate_u({{0}}, {1}), cp::Error);           // one level says nothing
    EXPECT_THROW(cp::estimate_parameters({}, {2}, p), cp::Error);  // no pair
    EXPECT_THROW(cp::estimate_parameters({{0}}, {2}, p, {cp::PairLabel::match, cp::PairLabel::match}), cp::Error);
    cp::MatchParameters zero = p;
    zero.m = {{1.0, 0.0}};
    EXPECT_THROW(cp::estimate_parameters({{0}}, {2}, zero), cp::Error);
    cp::MatchParameters unnormalized = p;
    unnormalized.u = {{1.0, 1.0}};
    EXPECT_THROW(cp::estimate_parameters({{0}}, {2}, unnormalized), cp::Error);
    cp::EmOptions no_iterations;
    no_iterations.max_iterations = -3;
    EXPECT_THROW(cp::estimate_parameters({{0}}, {2}, p, {}, no_iterations), cp::Error);
    cp::MatchParameters bad_lambda = p;
    bad_lambda.lambda = 1.0;
    EXPECT_THROW(cp::estimate_parameters({{0}}, {2}, bad_lambda), cp::Error);
}
