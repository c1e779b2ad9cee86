// Sampling the pairs a blocking key gives (see pair_sample.hpp).
#include "pair_sample.hpp"

#include <algorithm>

#include "error.hpp"

namespace customer_profile::core {
namespace {

// splitmix64's finaliser: consecutive ids spread over the whole range.
std::uint64_t mix(std::uint64_t x) {
    x += 0x9E3779B97F4A7C15ULL;
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ULL;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBULL;
    return x ^ (x >> 31);
}

// Whether a large group gives a pair: a hash of its own, independent of the
// one the sample keeps the lowest of (the same hash would keep a large
// group's pairs, those of lowest hash, first).
constexpr std::uint64_t kInclusionSalt = 0x5DEECE66DULL;

}  // namespace

std::uint64_t pair_hash(std::int64_t a, std::int64_t b) {
    return mix(mix(static_cast<std::uint64_t>(a)) ^ static_cast<std::uint64_t>(b));
}

std::size_t PairSampler::PairHash::operator()(const std::pair<std::int64_t, std::int64_t>& p) const {
    return static_cast<std::size_t>(pair_hash(p.first, p.second));
}

PairSampler::PairSampler(std::size_t capacity, bool pairs_repeat, int band)
    : capacity_(capacity), pairs_repeat_(pairs_repeat), band_(band) {
    if (capacity < 2 || band < 1)
        throw Error(ErrorCode::invalid_parameter,
                    "a pair sample needs a capacity of at least 2 and a band of at least 1");
}

void PairSampler::add_group(const std::vector<std::int64_t>& ids) {
    const std::size_t c = ids.size();
    if (c < 2) return;
    const double cd = static_cast<double>(c);
    pairs_in_groups_ += cd * (cd - 1) / 2;
    // Each pair of the group with probability `share`, decided by a hash of
    // the pair alone: a pair two groups hold is given by the one with the
    // larger share whenever by any, so its weight, 1 / that share, counts it
    // once on average (sixth review: decided per group, with the least
    // weight kept, a pair of several groups counted up to 1.4 times).
    const double share = std::min(1.0, 2.0 * static_cast<double>(band_) / (cd - 1));
    const double weight = 1 / share;
    const std::uint64_t threshold = share >= 1 ? ~0ULL : static_cast<std::uint64_t>(share * 18446744073709551615.0);
    for (std::size_t i = 0; i < c; ++i)
        for (std::size_t j = i + 1; j < c; ++j) {
            std::int64_t a = std::min(ids[i], ids[j]), b = std::max(ids[i], ids[j]);
            if (share < 1 && mix(pair_hash(a, b) ^ kInclusionSalt) > threshold) continue;
            offer(a, b, weight);
        }
}

void PairSampler::offer(std::int64_t a, std::int64_t b, double weight) {
    if (a > b) std::swap(a, b);
    pairs_offered_ += 1;
    const std::uint64_t h = pair_hash(a, b);
    if (kept_.size() == capacity_ && h > kept_.top().hash) return;
    auto found = weights_.find({a, b});
    if (found != weights_.end()) {
        found->second = std::min(found->second, weight);
        return;
    }
    kept_.push(Entry{h, a, b});
    weights_.emplace(std::make_pair(a, b), weight);
    if (kept_.size() > capacity_) {
        weights_.erase({kept_.top().a, kept_.top().b});
        kept_.pop();
    }
}

std::vector<SampledPair> PairSampler::sample() const {
    std::vector<SampledPair> out;
    out.reserve(kept_.size());
    std::priority_queue<Entry> copy = kept_;
    while (!copy.empty()) {
        const Entry& e = copy.top();
        out.push_back(SampledPair{e.a, e.b, weights_.at({e.a, e.b})});
        copy.pop();
    }
    std::reverse(out.begin(), out.end());
    return out;
}

double PairSampler::pairs_given() const {
    if (!pairs_repeat_) return pairs_offered_;
    if (kept_.size() < capacity_) return static_cast<double>(kept_.size());
    // The k-th lowest of n uniform hashes sits near k / n of the range.
    const double top = static_cast<double>(kept_.top().hash) / 18446744073709551616.0;
    return top > 0 ? static_cast<double>(capacity_ - 1) / top : static_cast<double>(capacity_);
}

}  // namespace customer_profile::core
