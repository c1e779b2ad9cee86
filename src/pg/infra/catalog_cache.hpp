// The per-backend catalog caches (identity namespaces, traits, event
// measures, segments) are loaded on first use and again after an
// invalidation marked them stale. A reload never frees the catalog it
// replaces before the transaction ends: a caller up the stack may still hold
// a reference to it. Invalidations are accepted at any lock a call takes, so
// a nested call (a stream of segments inside a resolution, say) can find the
// cache stale and reload while its caller keeps reading the old catalog.
#pragma once

#include <memory>
#include <utility>

namespace customer_profile::pg {

// Keeps an old catalog alive until the current transaction commits or
// aborts.
void retire_until_transaction_end(std::shared_ptr<const void> old);

// Replaces a cached catalog before a reload: the old one stays alive until
// the transaction ends.
template <typename Catalog>
void retire(std::unique_ptr<Catalog>& cached) {
    if (cached) retire_until_transaction_end(std::shared_ptr<const Catalog>(std::move(cached)));
}

}  // namespace customer_profile::pg
