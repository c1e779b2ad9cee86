// k-means++ and Lloyd iterations (see kmeans.hpp).
#include "kmeans.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>

namespace customer_profile::core {

std::uint64_t SeededRandom::next() {
    // splitmix64: tiny, fast, and the same everywhere.
    std::uint64_t z = (state_ += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

double SeededRandom::uniform() {
    return static_cast<double>(next() >> 11) * (1.0 / 9007199254740992.0);
}

double squared_distance(const float* a, const double* b, std::size_t dims) {
    double sum = 0;
    for (std::size_t d = 0; d < dims; ++d) {
        double diff = a[d] - b[d];
        sum += diff * diff;
    }
    return sum;
}

std::uint32_t nearest_centroid(const std::vector<double>& centroids, std::size_t dims, const float* point) {
    std::size_t k = dims == 0 ? 0 : centroids.size() / dims;
    std::uint32_t best = 0;
    double best_distance = std::numeric_limits<double>::infinity();
    for (std::size_t c = 0; c < k; ++c) {
        double d = squared_distance(point, centroids.data() + c * dims, dims);
        if (d < best_distance) {
            best_distance = d;
            best = static_cast<std::uint32_t>(c);
        }
    }
    return best;
}

namespace {

// k-means++: the first centroid uniformly, each next one with probability
// proportional to the squared distance to the nearest chosen so far.
std::vector<double> seed_centroids(const Points& p, std::size_t k, SeededRandom& random, CancelCheck cancel) {
    std::vector<double> centroids;
    centroids.reserve(k * p.dims);
    auto add = [&](std::size_t i) { centroids.insert(centroids.end(), p.row(i), p.row(i) + p.dims); };
    add(static_cast<std::size_t>(random.uniform() * static_cast<double>(p.rows)));
    std::vector<double> nearest(p.rows, std::numeric_limits<double>::infinity());
    for (std::size_t c = 1; c < k; ++c) {
        throw_if_canceled(cancel);
        const double* last = centroids.data() + (c - 1) * p.dims;
        double total = 0;
        for (std::size_t i = 0; i < p.rows; ++i) {
            nearest[i] = std::min(nearest[i], squared_distance(p.row(i), last, p.dims));
            total += nearest[i];
        }
        std::size_t chosen = 0;
        if (total > 0) {
            double target = random.uniform() * total;
            for (std::size_t i = 0; i < p.rows; ++i) {
                target -= nearest[i];
                if (target < 0) {
                    chosen = i;
                    break;
                }
                chosen = i;
            }
        } else {
            chosen = static_cast<std::size_t>(random.uniform() * static_cast<double>(p.rows));
        }
        add(chosen);
    }
    return centroids;
}

}  // namespace

KMeansResult kmeans(const Points& p, std::size_t k, std::uint64_t seed, CancelCheck cancel, int max_iterations) {
    if (p.dims == 0) throw Error(ErrorCode::invalid_parameter, "k-means needs at least one feature");
    if (k < 1 || k > p.rows)
        throw Error(ErrorCode::invalid_parameter,
                    "k must be between 1 and the number of profiles (" + std::to_string(p.rows) + ")");
    if (p.values.size() != p.rows * p.dims) throw Error(ErrorCode::internal, "points do not have rows x dims values");
    SeededRandom random(seed);
    KMeansResult r;
    r.centroids = seed_centroids(p, k, random, cancel);
    r.assignment.assign(p.rows, std::numeric_limits<std::uint32_t>::max());
    std::vector<double> sums(k * p.dims);
    for (r.iterations = 1; r.iterations <= max_iterations; ++r.iterations) {
        throw_if_canceled(cancel);
        bool changed = false;
        r.inertia = 0;
        for (std::size_t i = 0; i < p.rows; ++i) {
            std::uint32_t c = nearest_centroid(r.centroids, p.dims, p.row(i));
            if (c != r.assignment[i]) {
                r.assignment[i] = c;
                changed = true;
            }
            r.inertia += squared_distance(p.row(i), r.centroids.data() + c * p.dims, p.dims);
        }
        std::fill(sums.begin(), sums.end(), 0.0);
        r.sizes.assign(k, 0);
        for (std::size_t i = 0; i < p.rows; ++i) {
            std::uint32_t c = r.assignment[i];
            ++r.sizes[c];
            for (std::size_t d = 0; d < p.dims; ++d) sums[c * p.dims + d] += p.row(i)[d];
        }
        for (std::size_t c = 0; c < k; ++c) {
            if (r.sizes[c] == 0) {
                // The point farthest from its centroid starts this cluster again.
                std::size_t far = 0;
                double far_distance = -1;
                for (std::size_t i = 0; i < p.rows; ++i) {
                    if (r.sizes[r.assignment[i]] <= 1) continue;
                    double d = squared_distance(p.row(i), r.centroids.data() + r.assignment[i] * p.dims, p.dims);
                    if (d > far_distance) {
                        far_distance = d;
                        far = i;
                    }
                }
                std::uint32_t from = r.assignment[far];
                --r.sizes[from];
                for (std::size_t d = 0; d < p.dims; ++d) {
                    sums[from * p.dims + d] -= p.row(far)[d];
                    sums[c * p.dims + d] = p.row(far)[d];
                }
                r.assignment[far] = static_cast<std::uint32_t>(c);
                r.sizes[c] = 1;
                changed = true;
            }
        }
        for (std::size_t c = 0; c < k; ++c)
            for (std::size_t d = 0; d < p.dims; ++d)
                r.centroids[c * p.dims + d] = sums[c * p.dims + d] / static_cast<double>(r.sizes[c]);
        if (!changed) break;
    }
    r.iterations = std::min(r.iterations, max_iterations);
    return r;
}

double adjusted_rand_index(const std::vector<std::uint32_t>& a, const std::vector<std::uint32_t>& b) {
    if (a.size() != b.size()) throw Error(ErrorCode::invalid_parameter, "labellings differ in length");
    auto pairs = [](double n) { return n * (n - 1) / 2; };
    std::map<std::pair<std::uint32_t, std::uint32_t>, double> both;
    std::map<std::uint32_t, double> in_a, in_b;
    for (std::size_t i = 0; i < a.size(); ++i) {
        both[{a[i], b[i]}] += 1;
        in_a[a[i]] += 1;
        in_b[b[i]] += 1;
    }
    double index = 0, sum_a = 0, sum_b = 0;
    for (const auto& kv : both) index += pairs(kv.second);
    for (const auto& kv : in_a) sum_a += pairs(kv.second);
    for (const auto& kv : in_b) sum_b += pairs(kv.second);
    double total = pairs(static_cast<double>(a.size()));
    if (total == 0) return 1;
    double expected = sum_a * sum_b / total;
    double maximum = (sum_a + sum_b) / 2;
    if (maximum == expected) return 1;  // both labellings put everything in one cluster (or each point alone)
    return (index - expected) / (maximum - expected);
}

}  // namespace customer_profile::core

namespace customer_profile::core {
namespace {

bool farther(const Neighbor& a, const Neighbor& b) {
    return a.distance < b.distance || (a.distance == b.distance && a.id < b.id);
}

}  // namespace

void NearestK::offer(std::int64_t id, double distance) {
    if (k_ == 0) return;
    Neighbor n{id, distance};
    if (heap_.size() < k_) {
        heap_.push_back(n);
        std::push_heap(heap_.begin(), heap_.end(), farther);
    } else if (farther(n, heap_.front())) {
        std::pop_heap(heap_.begin(), heap_.end(), farther);
        heap_.back() = n;
        std::push_heap(heap_.begin(), heap_.end(), farther);
    }
}

std::vector<Neighbor> NearestK::sorted() const {
    std::vector<Neighbor> out = heap_;
    std::sort(out.begin(), out.end(), farther);
    return out;
}

std::vector<std::uint32_t> lists_by_distance(const std::vector<double>& centroids, std::size_t dims,
                                             const float* query) {
    std::size_t k = dims == 0 ? 0 : centroids.size() / dims;
    std::vector<std::pair<double, std::uint32_t>> order;
    for (std::size_t c = 0; c < k; ++c)
        order.emplace_back(squared_distance(query, centroids.data() + c * dims, dims), static_cast<std::uint32_t>(c));
    std::sort(order.begin(), order.end());
    std::vector<std::uint32_t> out;
    for (const auto& o : order) out.push_back(o.second);
    return out;
}

}  // namespace customer_profile::core
