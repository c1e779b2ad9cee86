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

// Greedy k-means++: the first centroid uniformly; for each next one, a few
// candidates drawn with probability proportional to the squared distance to
// the nearest centroid chosen so far, keeping the candidate that lowers the
// total of those distances most (plain k-means++ with one draw per step
// often leaves two real groups under one centroid).
std::vector<double> seed_centroids(const Points& p, std::size_t k, SeededRandom& random, CancelCheck cancel) {
    std::vector<double> centroids;
    centroids.reserve(k * p.dims);
    auto add = [&](std::size_t i) { centroids.insert(centroids.end(), p.row(i), p.row(i) + p.dims); };
    std::size_t first = static_cast<std::size_t>(random.uniform() * static_cast<double>(p.rows));
    add(first);
    std::vector<double> nearest(p.rows);
    double total = 0;
    for (std::size_t i = 0; i < p.rows; ++i) {
        nearest[i] = squared_distance(p.row(i), centroids.data(), p.dims);
        total += nearest[i];
    }
    const int draws = 2 + static_cast<int>(std::log(static_cast<double>(k)));
    std::vector<double> trial(p.rows), best_trial;
    for (std::size_t c = 1; c < k; ++c) {
        throw_if_canceled(cancel);
        std::size_t best = 0;
        double best_total = std::numeric_limits<double>::infinity();
        for (int d = 0; d < draws; ++d) {
            std::size_t candidate = static_cast<std::size_t>(random.uniform() * static_cast<double>(p.rows));
            if (total > 0) {
                double target = random.uniform() * total;
                for (std::size_t i = 0; i < p.rows; ++i) {
                    target -= nearest[i];
                    candidate = i;
                    if (target < 0) break;
                }
            }
            std::vector<double> point(p.row(candidate), p.row(candidate) + p.dims);
            double candidate_total = 0;
            for (std::size_t i = 0; i < p.rows; ++i) {
                trial[i] = std::min(nearest[i], squared_distance(p.row(i), point.data(), p.dims));
                candidate_total += trial[i];
            }
            if (candidate_total < best_total) {
                best_total = candidate_total;
                best = candidate;
                best_trial.swap(trial);
                trial.resize(p.rows);
            }
        }
        add(best);
        nearest.swap(best_trial);
        best_trial.clear();
        total = best_total;
    }
    return centroids;
}

}  // namespace

namespace {
KMeansResult lloyd(const Points& p, std::size_t k, std::vector<double> centroids, CancelCheck cancel,
                   int max_iterations);
constexpr int kTrialIterations = 3;
}  // namespace

// Every seeding gets a few Lloyd iterations; only the best of them (lowest
// inertia) is run on to convergence.
KMeansResult kmeans(const Points& p, std::size_t k, std::uint64_t seed, CancelCheck cancel, int max_iterations,
                    int restarts) {
    if (p.dims == 0) throw Error(ErrorCode::invalid_parameter, "k-means needs at least one feature");
    if (k < 1 || k > p.rows)
        throw Error(ErrorCode::invalid_parameter,
                    "k must be between 1 and the number of profiles (" + std::to_string(p.rows) + ")");
    if (p.values.size() != p.rows * p.dims) throw Error(ErrorCode::internal, "points do not have rows x dims values");
    SeededRandom seeds(seed);
    int trial = std::min(kTrialIterations, max_iterations);
    KMeansResult best;
    for (int r = 0; r < std::max(1, restarts); ++r) {
        SeededRandom random(r == 0 ? seed : seeds.next());
        KMeansResult candidate = lloyd(p, k, seed_centroids(p, k, random, cancel), cancel, trial);
        if (r == 0 || candidate.inertia < best.inertia) best = std::move(candidate);
    }
    if (best.converged || max_iterations <= trial) return best;
    int done = best.iterations;
    KMeansResult rest = lloyd(p, k, best.centroids, cancel, max_iterations - done);
    rest.iterations += done;
    return rest;
}

namespace {

// Lloyd iterations from the given centroids until (almost) nobody moves.
KMeansResult lloyd(const Points& p, std::size_t k, std::vector<double> centroids, CancelCheck cancel,
                   int max_iterations) {
    KMeansResult r;
    r.centroids = std::move(centroids);
    r.assignment.assign(p.rows, std::numeric_limits<std::uint32_t>::max());
    std::vector<double> sums(k * p.dims);
    for (r.iterations = 1; r.iterations <= max_iterations; ++r.iterations) {
        throw_if_canceled(cancel);
        std::size_t changed = 0;
        bool reseeded = false;
        r.inertia = 0;
        for (std::size_t i = 0; i < p.rows; ++i) {
            std::uint32_t c = nearest_centroid(r.centroids, p.dims, p.row(i));
            if (c != r.assignment[i]) {
                r.assignment[i] = c;
                ++changed;
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
                reseeded = true;
            }
        }
        for (std::size_t c = 0; c < k; ++c)
            for (std::size_t d = 0; d < p.dims; ++d)
                r.centroids[c * p.dims + d] = sums[c * p.dims + d] / static_cast<double>(r.sizes[c]);
        // Converged when (almost) nobody moves: on a million points a few
        // on the boundaries between clusters can flip back and forth forever.
        if (!reseeded && changed * 10000 <= p.rows) {
            r.converged = true;
            break;
        }
    }
    r.iterations = std::min(r.iterations, max_iterations);
    return r;
}

}  // namespace

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
