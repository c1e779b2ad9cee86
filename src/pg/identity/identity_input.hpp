// Reads the `identities jsonb` argument shared by resolve_identity() and the
// functions built on it: validates its shape, normalizes every value with
// its namespace's normalizer, applies blocklists and hashes what is left.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "pg/identity/identity_catalog.hpp"

namespace customer_profile::pg {

// Most identifiers accepted in one call.
constexpr std::size_t kMaxIdentifiersPerCall = 100;

struct PreparedIdentifier {
    const NamespaceConfig* ns = nullptr;
    std::string normalized;
    std::string hash;  // 32 raw bytes
};

struct BlockedIdentifier {
    const NamespaceConfig* ns = nullptr;
    const char* rule = "";  // "blocked_value" or "blocked_pattern"
    std::string matched;    // the configured value or pattern that matched
};

struct PreparedInput {
    std::vector<PreparedIdentifier> identifiers;  // deduplicated by hash
    std::vector<BlockedIdentifier> blocked;
};

// Throws core::Error naming the offending key for: non-object input, values
// that are not strings (or arrays of strings), unknown namespaces, malformed
// or oversized values. JSON null values are ignored.
PreparedInput prepare_identities(Jsonb* identities, const IdentityCatalog& catalog);

// The error prepare_identities() would throw for this one identifier
// (unknown namespace, malformed or oversized value), or nullopt when it
// accepts it; a blocked value is accepted here (it is refused and recorded
// by resolve_identity itself).
std::optional<core::Error> identifier_refusal(const IdentityCatalog& catalog, const std::string& key,
                                              const std::string& value);

}  // namespace customer_profile::pg
