// resolve_identity() as a C++ call for other glue (trait_observe).
#pragma once

#include <cstdint>
#include <optional>

#include "pg_headers.hpp"

namespace customer_profile::pg {

// The profile a call resolved to, and the identity that carries the call's
// observations: its strongest identifier in that profile.
struct Resolution {
    std::int64_t profile_id = 0;
    std::int64_t anchor_identity = 0;
};

// Resolves like resolve_identity(identities, source); nullopt when every
// identifier was blocked. source is a text Datum unless source_null.
std::optional<Resolution> resolve_identities(Jsonb* identities, Datum source, bool source_null);

}  // namespace customer_profile::pg
