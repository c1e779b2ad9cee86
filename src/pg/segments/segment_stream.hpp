// Streaming segment membership: when profiles change inside a transaction
// (events applied, traits observed or recomputed), the segments whose
// predicates read what changed are re-evaluated for those profiles in the
// same transaction; entries and exits go to the membership history and the
// outbox, and each is announced with NOTIFY customer_profile_segment.
// Definitions are cached per backend (reloaded after a relcache
// invalidation sent by the segment table's statement trigger).
//
// Locking: the segment definitions lock is the table lock on
// customer_profile.segment. A stream takes it in ROW SHARE mode before it
// reads the definitions and holds it to commit, so no definition it
// evaluated changes under it; segment_create, segment_alter (of a predicate)
// and segment_drop, and the refresh that first schedules a definition's
// windows, take it in EXCLUSIVE mode, which waits for every transaction
// that has streamed and holds back every stream until they commit. A stream
// that waited receives the invalidation with the lock and reloads with a new
// snapshot. The lock order is:
//   definitions lock -> profile rows (FOR UPDATE / FOR SHARE) ->
//   membership, outbox and schedule rows.
// A writer takes its profile locks before it streams, so it may wait for
// the definitions lock while holding them: a transaction holding the
// definitions lock in EXCLUSIVE mode therefore waits for no profile lock (its
// refresh evaluates with new snapshots but locks no profile; each writer
// held back streams after it commits, with new reads, and corrects what it
// changed meanwhile), and every writer of membership and schedule rows
// streams, or calls _segment_definitions_lock(), before writing them.
// Every lock of the extension and the global order: docs/concurrency.md.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "pg/infra/pg_headers.hpp"

namespace customer_profile::pg {

struct ProfileChange {
    std::vector<std::int64_t> profiles;
    std::vector<std::string> event_types;  // events applied
    std::vector<std::string> traits;       // traits changed
    std::vector<std::string> consents;     // purposes a consent statement was recorded for
    bool clusters = false;                 // cluster assignments changed
    bool everything = false;               // identities changed, or the profiles are gone: every segment
    bool time_passed = false;              // a scheduled time came: the segments that read time
    std::vector<std::int32_t> segments;    // these segments whatever changed (a build, segment_build_run)
};

// Runs inside SPI. Does nothing while no segment exists (or before 1.3).
// From 1.4 on, also keeps each profile's next time-driven change in
// segment_schedule (the worker re-evaluates the profile then).
void stream_segments(const ProfileChange& change);

// Profiles this transaction deleted leave every segment they were in. From
// 1.4 on the profiles_deleted trigger does this for every DELETE, so this
// does nothing then (before, the callers that delete profiles call it).
void stream_deleted_profiles(const std::vector<std::int64_t>& profiles);

void segment_catalog_invalidate(Datum arg, Oid relid);

}  // namespace customer_profile::pg
