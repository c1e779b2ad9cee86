// Stable profile ids across rebuilds and splits.
#include "profile_assignment.hpp"

#include <algorithm>
#include <tuple>
#include <unordered_map>
#include <unordered_set>

#include "error.hpp"

namespace customer_profile::core {

std::vector<std::int64_t> assign_component_profiles(const std::vector<std::uint32_t>& labels,
                                                    const std::vector<std::int64_t>& current_profile,
                                                    const std::vector<std::int32_t>& strength) {
    const std::size_t n = labels.size();
    if (current_profile.size() != n || strength.size() != n)
        throw Error(ErrorCode::internal, "assign_component_profiles: inputs differ in length");

    struct Candidate {
        std::uint32_t label;
        std::int64_t profile;
        std::int32_t strength;
        std::uint32_t count;
    };
    // One candidate per (component, current profile), sorted so that equal
    // pairs are adjacent and can be summed.
    std::vector<std::size_t> order(n);
    for (std::size_t i = 0; i < n; ++i) order[i] = i;
    std::sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
        return std::tie(labels[a], current_profile[a]) < std::tie(labels[b], current_profile[b]);
    });
    std::vector<Candidate> candidates;
    for (std::size_t i : order) {
        if (!candidates.empty() && candidates.back().label == labels[i] &&
            candidates.back().profile == current_profile[i]) {
            candidates.back().count++;
            candidates.back().strength = std::max(candidates.back().strength, strength[i]);
        } else {
            candidates.push_back({labels[i], current_profile[i], strength[i], 1});
        }
    }
    std::sort(candidates.begin(), candidates.end(), [](const Candidate& a, const Candidate& b) {
        return std::make_tuple(-a.strength, -static_cast<std::int64_t>(a.count), a.profile, a.label) <
               std::make_tuple(-b.strength, -static_cast<std::int64_t>(b.count), b.profile, b.label);
    });
    std::unordered_map<std::uint32_t, std::int64_t> owner;
    std::unordered_set<std::int64_t> used;
    for (const auto& c : candidates) {
        if (c.profile <= 0 || owner.count(c.label) || used.count(c.profile)) continue;
        owner[c.label] = c.profile;
        used.insert(c.profile);
    }
    std::vector<std::int64_t> result(n);
    for (std::size_t i = 0; i < n; ++i) {
        auto it = owner.find(labels[i]);
        result[i] = it != owner.end() ? it->second : -static_cast<std::int64_t>(labels[i]) - 1;
    }
    return result;
}

}  // namespace customer_profile::core
