// Breadth-first search over a profile's links.
#include "identity_path.hpp"

#include <deque>
#include <unordered_map>

namespace customer_profile::core {
namespace {

struct Step {
    std::int64_t previous;
    std::int64_t link_id;
};

// Returns the BFS tree rooted at `from`, stopping early once `to` is reached.
std::unordered_map<std::int64_t, Step> search(const std::vector<Link>& links, std::int64_t from, std::int64_t to) {
    std::unordered_map<std::int64_t, std::vector<const Link*>> adjacent;
    for (const auto& l : links) {
        adjacent[l.a].push_back(&l);
        adjacent[l.b].push_back(&l);
    }
    std::unordered_map<std::int64_t, Step> reached{{from, {from, 0}}};
    std::deque<std::int64_t> queue{from};
    while (!queue.empty() && !reached.count(to)) {
        std::int64_t v = queue.front();
        queue.pop_front();
        for (const Link* l : adjacent[v]) {
            std::int64_t w = l->a == v ? l->b : l->a;
            if (reached.emplace(w, Step{v, l->link_id}).second) queue.push_back(w);
        }
    }
    return reached;
}

}  // namespace

std::vector<std::int64_t> shortest_link_path(const std::vector<Link>& links, std::int64_t from, std::int64_t to) {
    if (from == to) return {};
    auto reached = search(links, from, to);
    std::vector<std::int64_t> path;
    if (!reached.count(to)) return path;
    for (std::int64_t v = to; v != from; v = reached[v].previous) path.push_back(reached[v].link_id);
    return {path.rbegin(), path.rend()};
}

bool identities_connected(const std::vector<Link>& links, std::int64_t from, std::int64_t to) {
    return from == to || search(links, from, to).count(to) > 0;
}

}  // namespace customer_profile::core
