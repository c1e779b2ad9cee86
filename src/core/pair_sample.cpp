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

// The order of a group's records for its band (not the order of the ids, so
// that the band does not pair the oldest records with each other only).
constexpr std::uint64_t kRecordSalt = 0x5DEECE66DULL;

}  // namespace

std::uint64_t pair_hash(std::int64_t a, std::int64_t b) {
    return mix(mix(static_cast<std::uint64_t>(a)) ^ static_cast<std::uint64_t>(b));
}

std::size_t PairSampler::PairHash::operator()(const std::pair<std::int64_t, std::int64_t>& p) const {
    return static_cast<std::size_t>(pair_hash(p.first, p.second));
}

PairSampler::PairSampler(std::size_t capacity, bool pairs_repeat, int band)
    : capacity_(capacity), pairs_repeat_(pairs_repeat), band_(band) {
    if (capacity < 1 || band < 1)
        throw Error(ErrorCode::invalid_parameter, "a pair sample needs a capacity and band of at least 1");
}

void PairSampler::add_group(const std::vector<std::int64_t>& ids) {
    const std::size_t c = ids.size();
    if (c < 2) return;
    const double cd = static_cast<double>(c);
    pairs_in_groups_ += cd * (cd - 1) / 2;
    const std::size_t band = static_cast<std::size_t>(band_);
    if (c - 1 <= 2 * band) {
        for (std::size_t i = 0; i < c; ++i)
            for (std::size_t j = i + 1; j < c; ++j) offer(ids[i], ids[j], 1);
        return;
    }
    std::vector<std::int64_t> order(ids);
    std::sort(order.begin(), order.end(), [](std::int64_t x, std::int64_t y) {
        std::uint64_t hx = mix(static_cast<std::uint64_t>(x) ^ kRecordSalt),
                      hy = mix(static_cast<std::uint64_t>(y) ^ kRecordSalt);
        return hx != hy ? hx < hy : x < y;
    });
    // Each record with the band after it, around the circle: c * band
    // distinct pairs (band < c / 2), of the group's c(c-1)/2.
    const double weight = (cd - 1) / (2.0 * static_cast<double>(band));
    for (std::size_t i = 0; i < c; ++i)
        for (std::size_t d = 1; d <= band; ++d) offer(order[i], order[(i + d) % c], weight);
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
