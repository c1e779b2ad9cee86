// Shortest chain of links between two identities, for identity_explain().
#pragma once

#include <cstdint>
#include <vector>

namespace customer_profile::core {

struct Link {
    std::int64_t a = 0;
    std::int64_t b = 0;
    std::int64_t link_id = 0;  // caller's handle, returned in the path
};

// Breadth-first search over undirected links. Returns the link_ids of one
// shortest path from `from` to `to` in order; empty when from == to or when
// they are not connected (use identities_connected to tell those apart).
std::vector<std::int64_t> shortest_link_path(const std::vector<Link>& links, std::int64_t from, std::int64_t to);
bool identities_connected(const std::vector<Link>& links, std::int64_t from, std::int64_t to);

}  // namespace customer_profile::core
