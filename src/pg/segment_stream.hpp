// Streaming segment membership: when profiles change inside a transaction
// (events applied, traits observed or recomputed), the segments whose
// predicates read what changed are re-evaluated for those profiles in the
// same transaction; entries and exits go to the membership history and the
// outbox, and each is announced with NOTIFY customer_profile_segment.
// Definitions are cached per backend (reloaded after a relcache
// invalidation sent by the segment table's statement trigger).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "pg_headers.hpp"

namespace customer_profile::pg {

struct ProfileChange {
    std::vector<std::int64_t> profiles;
    std::vector<std::string> event_types;  // events applied
    std::vector<std::string> traits;       // traits changed
    bool everything = false;               // identities changed: every segment
};

// Runs inside SPI. Does nothing while no segment exists (or before 1.3).
void stream_segments(const ProfileChange& change);

void segment_catalog_invalidate(Datum arg, Oid relid);

}  // namespace customer_profile::pg
