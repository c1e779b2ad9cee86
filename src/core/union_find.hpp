// Disjoint-set forest over dense node indices: union by size with path
// halving, near-linear for the identity graph's connected components.
#pragma once

#include <cstdint>
#include <utility>
#include <vector>

#include "error.hpp"

namespace customer_profile::core {

class UnionFind {
public:
    explicit UnionFind(std::uint32_t n);
    std::uint32_t find(std::uint32_t x);
    // Returns true when a and b were in different sets.
    bool unite(std::uint32_t a, std::uint32_t b);
    std::uint32_t size_of(std::uint32_t x) { return size_[find(x)]; }
    std::uint32_t node_count() const { return static_cast<std::uint32_t>(parent_.size()); }

private:
    std::vector<std::uint32_t> parent_;
    std::vector<std::uint32_t> size_;
};

using Edge = std::pair<std::uint32_t, std::uint32_t>;

// Labels every node with the smallest node index of its component.
// Edges must reference nodes < node_count (throws Error(internal) otherwise).
std::vector<std::uint32_t> connected_components(std::uint32_t node_count, const std::vector<Edge>& edges,
                                                CancelCheck cancel = nullptr);

}  // namespace customer_profile::core
