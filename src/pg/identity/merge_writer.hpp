// The merge writer: the one place that writes a merge of profiles, for
// resolve_identity() (an incremental merge: whole profiles into one
// survivor) and for identity_rebuild() and _identity_split() (a
// re-partition of the graph: identities move one by one, and an old profile
// that no component kept is merged into where most of it went).
//
// Writing a merge moves the identities (a person's events and trait
// observations belong to identities, so they follow), records each
// merged-away id in profile_merge (it stays resolvable), carries the
// behavior summaries or leaves them to the caller, and deletes the
// merged-away profile rows, in that order. What follows for traits and
// segments (recompute the survivors, stream the merged-away profiles out of
// their segments) is the caller's next step.
//
// Locks: the caller already holds every profile involved: FOR UPDATE in
// profile id order (resolve_identity) or SHARE ROW EXCLUSIVE on identity,
// identity_link and unified_profile (identity_rebuild; a split runs with its
// profile row locked FOR UPDATE by its caller). The writer's statements then
// take only row locks on those profiles' rows and their identities. The
// global lock order and the deadlocks it avoids: docs/concurrency.md.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "pg/infra/pg_headers.hpp"

namespace customer_profile::pg {

// resolve_identity(): every identity of the merged profiles moves into
// survivor; each merge is recorded with cause and source (a text Datum,
// NULL when source_null); the survivor's behavior summary absorbs theirs,
// then their rows are deleted. Inside SPI.
void write_merge_into(std::int64_t survivor, const std::vector<std::int64_t>& merged, const std::string& cause,
                      Datum source, bool source_null);

// A re-partition: identity moved_ids[i] moves to profile moved_to[i]; then
// merged_from[i] is recorded as merged into merged_into[i] (cause, no
// source) and deleted. Behavior summaries are the caller's: it recomputes
// them from stored events (a split divides them). Inside SPI.
void write_repartition(const std::vector<std::int64_t>& moved_ids, const std::vector<std::int64_t>& moved_to,
                       const std::vector<std::int64_t>& merged_from, const std::vector<std::int64_t>& merged_into,
                       const std::string& cause);

}  // namespace customer_profile::pg
