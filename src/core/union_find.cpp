// Union-find and connected components for identity_rebuild() and splits.
#include "union_find.hpp"

#include <numeric>

namespace customer_profile::core {

UnionFind::UnionFind(std::uint32_t n) : parent_(n), size_(n, 1) {
    std::iota(parent_.begin(), parent_.end(), 0u);
}

std::uint32_t UnionFind::find(std::uint32_t x) {
    while (parent_[x] != x) {
        parent_[x] = parent_[parent_[x]];
        x = parent_[x];
    }
    return x;
}

bool UnionFind::unite(std::uint32_t a, std::uint32_t b) {
    a = find(a);
    b = find(b);
    if (a == b) return false;
    if (size_[a] < size_[b]) std::swap(a, b);
    parent_[b] = a;
    size_[a] += size_[b];
    return true;
}

std::vector<std::uint32_t> connected_components(std::uint32_t node_count, const std::vector<Edge>& edges,
                                                CancelCheck cancel) {
    UnionFind uf(node_count);
    std::size_t i = 0;
    for (const auto& [a, b] : edges) {
        if (a >= node_count || b >= node_count)
            throw Error(ErrorCode::internal, "edge references a node outside the graph");
        uf.unite(a, b);
        if ((++i & 0xFFFF) == 0) throw_if_canceled(cancel);
    }
    // Label = smallest member index: stable regardless of union order.
    std::vector<std::uint32_t> smallest(node_count, UINT32_MAX);
    std::vector<std::uint32_t> labels(node_count);
    for (std::uint32_t v = 0; v < node_count; ++v) {
        std::uint32_t r = uf.find(v);
        if (smallest[r] == UINT32_MAX) smallest[r] = v;
        labels[v] = smallest[r];
    }
    return labels;
}

}  // namespace customer_profile::core
