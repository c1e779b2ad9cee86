// The per-backend catalog caches (identity namespaces, traits, event
// measures, segments) are loaded on first use and again after an
// invalidation marked them stale. A reload inside a call never frees the
// catalog it replaces at once: a caller up the stack may still hold a
// reference to it. Invalidations are accepted at any lock a call takes, so a
// nested call (a stream of segments inside a resolution, say) can find the
// cache stale and reload while its caller keeps reading the old catalog.
#pragma once

#include <memory>
#include <utility>

namespace customer_profile::pg {

// Keeps an old catalog alive while a caller may hold it: until the outermost
// of our SQL-callable functions returns, or else the transaction ends. (A
// catalog replaced when none runs is freed at once.)
void retire_catalog(std::shared_ptr<const void> old);

// Called by the boundary (run_at_boundary) around every SQL-callable function.
void enter_call();
void leave_call();

// Replaces a cached catalog before a reload: the old one stays alive while a
// caller may still read it.
template <typename Catalog>
void retire(std::unique_ptr<Catalog>& cached) {
    if (cached) retire_catalog(std::shared_ptr<const Catalog>(std::move(cached)));
}

}  // namespace customer_profile::pg
