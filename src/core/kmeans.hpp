// k-means over dense feature vectors: k-means++ seeding from a fixed seed
// (the same input and seed give the same clusters on every machine), then
// Lloyd iterations until no point changes cluster. Also the adjusted Rand
// index, which says how well two labellings of the same points agree.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "error.hpp"

namespace customer_profile::core {

// Row-major points: rows x dims.
struct Points {
    std::size_t rows = 0;
    std::size_t dims = 0;
    std::vector<float> values;

    const float* row(std::size_t i) const { return values.data() + i * dims; }
};

struct KMeansResult {
    std::vector<std::uint32_t> assignment;  // cluster of each point, 0..k-1
    std::vector<double> centroids;          // k x dims
    std::vector<std::size_t> sizes;         // points per cluster
    double inertia = 0;                     // sum of squared distances to the assigned centroid
    int iterations = 0;
    bool converged = false;  // stopped because (almost) no point moved
};

constexpr int kMaxKMeansIterations = 300;

// k must be at least 1 and at most the number of points. An empty cluster is
// given the point farthest from its centroid (so every cluster keeps a member).
// With restarts > 1, seeds again from seeds derived from `seed`, gives each
// seeding a few iterations and runs on the one with the smallest inertia
// (one unlucky seeding can leave two groups under one centroid).
KMeansResult kmeans(const Points& points, std::size_t k, std::uint64_t seed, CancelCheck cancel = nullptr,
                    int max_iterations = kMaxKMeansIterations, int restarts = 1);

// Index of the centroid (k x dims) nearest to a point.
std::uint32_t nearest_centroid(const std::vector<double>& centroids, std::size_t dims, const float* point);

double squared_distance(const float* a, const double* b, std::size_t dims);

// 1 for identical partitions (whatever the label names), about 0 for
// independent ones. Both labellings must have the same length.
double adjusted_rand_index(const std::vector<std::uint32_t>& a, const std::vector<std::uint32_t>& b);

// A portable generator: std::mt19937_64's sequence is standard, but the
// standard distributions are not, so uniform doubles are made here.
class SeededRandom {
public:
    explicit SeededRandom(std::uint64_t seed) : state_(seed ? seed : 0x9E3779B97F4A7C15ULL) {}
    std::uint64_t next();
    double uniform();  // [0, 1)

private:
    std::uint64_t state_;
};

}  // namespace customer_profile::core

namespace customer_profile::core {

struct Neighbor {
    std::int64_t id = 0;
    double distance = 0;  // squared Euclidean
};

// Keeps the k nearest of the candidates offered (ties: the smaller id), in
// increasing distance.
class NearestK {
public:
    explicit NearestK(std::size_t k) : k_(k) {}
    void offer(std::int64_t id, double distance);
    std::vector<Neighbor> sorted() const;

private:
    std::size_t k_;
    std::vector<Neighbor> heap_;  // max-heap by (distance, id)
};

// The lists (centroids k x dims) to probe for a query, nearest first.
std::vector<std::uint32_t> lists_by_distance(const std::vector<double>& centroids, std::size_t dims,
                                             const float* query);

}  // namespace customer_profile::core
