// Applying events: one pipeline for track() (one event, errors raised) and
// the inbox (a batch, bad events set aside as dead letters). Per batch:
// validate, resolve each person, derive missing event ids, claim the ids in
// event_key (duplicates drop out there), store the new events, then lock
// every touched profile once (in id order), fold its events into its
// behavior summary and write all summaries in one statement. The order of
// these locks among the others: docs/concurrency.md.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "pg/infra/pg_headers.hpp"

namespace customer_profile::pg {

// Inbox columns in event_dead_letter order: identities, event_type,
// occurred_at, properties, event_id, source, enqueued_at.
constexpr int kInboxColumns = 7;

struct IncomingEvent {
    std::int64_t inbox_id = 0;  // 0 for track()
    Datum raw[kInboxColumns] = {};
    bool raw_null[kInboxColumns] = {};
    // From track(): occurred_at given as a timestamptz, not inbox text.
    bool has_time = false;
    TimestampTz occurred_at = 0;

    // Filled by the pipeline.
    enum class State { pending, dead, duplicate, applied } state = State::pending;
    int sqlstate = 0;
    std::string reason;
    std::string event_type, key;
    Jsonb* identities = nullptr;
    Jsonb* properties = nullptr;
    std::vector<std::pair<std::string, double>> measures;
    std::int64_t identity_id = 0, profile_id = 0;
};

struct IngestCounts {
    int taken = 0, applied = 0, duplicates = 0, dead_lettered = 0;
};

// isolate_errors: a bad event becomes a dead letter (inbox); otherwise the
// first error is raised (track()). Runs inside SPI.
IngestCounts ingest_events(std::vector<IncomingEvent>& events, bool isolate_errors);

// Takes up to batch_size inbox rows (FOR UPDATE SKIP LOCKED, oldest first;
// in a worker, those of its lane first) and ingests them in the caller's
// transaction.
IngestCounts drain_inbox(int batch_size);

// The worker's lane among `lanes` (the workers of its database, see
// drain_inbox); lanes 1 (the default) takes rows in queue order only.
void set_inbox_lane(int lane, int lanes) noexcept;

}  // namespace customer_profile::pg
