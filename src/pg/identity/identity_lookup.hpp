// Finding identities by hash with direct probes of the unique index on
// identity.value_hash: the hottest read of resolve_identity(), done without
// the executor.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "pg/identity/identity_catalog.hpp"

namespace customer_profile::pg {

struct FoundIdentity {
    std::int64_t identity_id = 0;
    std::int64_t profile_id = 0;
    TimestampTz last_seen = 0;
};

// Returns the identities that exist, keyed by hash. With fresh_snapshot
// (volatile callers) it sees every change made so far by this transaction
// and, in READ COMMITTED, everything committed before the call, as a new SQL
// statement would; otherwise it reads with the statement's snapshot.
std::map<std::string, FoundIdentity> find_identities_by_hash(const IdentityCatalog& catalog,
                                                             const std::vector<std::string>& hashes,
                                                             bool fresh_snapshot = true);

// The `data` (profile) of a live profile row, copied into the caller's
// memory context; (Datum) 0 when absent. fresh_snapshot as above.
Datum fetch_profile_data(const IdentityCatalog& catalog, std::int64_t profile_id, bool fresh_snapshot = false);

// Any varlena column of a live profile row (e.g. behavior), copied and
// detoasted; (Datum) 0 when the row is absent or the value NULL.
// *found (optional) tells an absent row from a NULL value.
Datum fetch_profile_column(const IdentityCatalog& catalog, std::int64_t profile_id, AttrNumber attr,
                           bool fresh_snapshot = false, bool* found = nullptr);

}  // namespace customer_profile::pg
