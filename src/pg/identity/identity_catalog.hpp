// Per-backend cache of the identity configuration: namespaces (normalizer,
// priority, caps, blocklists compiled once) and the database's salt.
//
// Invalidation: a statement trigger on customer_profile.namespace and
// customer_profile.settings calls CacheInvalidateRelcacheByRelid, and the
// relcache callback registered in _PG_init marks this cache stale in every
// backend, so it is never read per row nor kept after a change commits.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/blocklist.hpp"
#include "core/identity_normalize.hpp"
#include "pg/infra/pg_headers.hpp"

namespace customer_profile::pg {

struct NamespaceConfig {
    std::int32_t id = 0;
    std::string name;
    core::Normalizer normalizer = core::Normalizer::trim;
    bool is_known = false;
    std::int32_t priority = 0;
    std::int32_t max_per_profile = 0;  // 0: unlimited
    bool keep_raw = false;
    core::Blocklist blocklist{{}, {}};
};

struct IdentityCatalog {
    std::vector<NamespaceConfig> namespaces;
    std::string salt;
    core::NormalizeOptions options;
    std::int32_t max_identities_per_profile = 0;
    Oid namespace_relid = InvalidOid;
    Oid settings_relid = InvalidOid;
    Oid identity_relid = InvalidOid;
    Oid profile_seq_relid = InvalidOid;
    Oid identity_hash_index_relid = InvalidOid;  // unique index on identity.value_hash
    // Attribute numbers of the identity columns read by direct index lookups.
    AttrNumber attr_identity_id = InvalidAttrNumber;
    AttrNumber attr_profile_id = InvalidAttrNumber;
    AttrNumber attr_last_seen = InvalidAttrNumber;
    // unified_profile and its primary key, for direct profile reads; the data
    // column exists from version 1.1 on (InvalidAttrNumber before).
    Oid profile_relid = InvalidOid;
    Oid profile_pkey_relid = InvalidOid;
    AttrNumber attr_profile_data = InvalidAttrNumber;
    AttrNumber attr_profile_behavior = InvalidAttrNumber;  // from 1.2

    const NamespaceConfig* find(std::string_view name) const;
    const NamespaceConfig* by_id(std::int32_t id) const;
};

// Returns the current catalog, loading it through SPI when stale.
const IdentityCatalog& identity_catalog();

// Relcache invalidation callback (registered in pg/module.cpp).
void identity_catalog_invalidate(Datum arg, Oid relid);

// SHA-256 of salt, namespace name and the normalized value, through
// PostgreSQL's cryptohash API. Returns the 32 raw bytes.
std::string identity_hash(const IdentityCatalog& catalog, const NamespaceConfig& ns, const std::string& normalized);

// Looks up the namespace or throws Error(undefined_object) naming it.
const NamespaceConfig& namespace_or_throw(const IdentityCatalog& catalog, std::string_view name);

// The identity gate (docs/concurrency.md): ROW EXCLUSIVE on
// customer_profile.identity, held until commit. identity_rebuild() holds
// SHARE ROW EXCLUSIVE on identity, identity_link and unified_profile while
// it locks and rewrites profiles, so every writer of profiles takes the gate
// before its first profile lock: either the rebuild waits for the writer, or
// the writer waits for the rebuild before it holds anything. Processes the
// invalidations that arrived meanwhile: call it before taking references to
// the catalogs.
void take_identity_gate();

}  // namespace customer_profile::pg
