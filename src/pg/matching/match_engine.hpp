// Matching records under a rule, inside SPI: a record's values are read from
// trait_observation (its identifier's latest observation of each field's
// trait, whatever the source), its blocking keys are stored in match_key,
// the records sharing a key are scored (core/match_rule), and each pair at or
// above the link threshold is linked (link_identities: the guard rails
// apply), each pair between the thresholds waits in match_review.
//
// Concurrency: before it reads candidates, a record takes a transaction
// advisory lock per blocking key (striped over 1,024 slots, in slot order;
// trait_observe takes those of all the records and rules it matches at once).
// Two records that share a key and arrive in concurrent transactions are
// therefore matched one after the other, and the second sees the first's keys
// (READ COMMITTED reads them with a new snapshot) instead of both missing
// each other.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "pg/matching/match_catalog.hpp"

namespace customer_profile::pg {

struct StoredRecord {
    std::int64_t identity_id = 0;
    std::int64_t profile_id = 0;
    std::int32_t namespace_id = 0;
    core::MatchRecord values;
};

struct MatchStats {
    std::int64_t records = 0, comparisons = 0, links = 0, reviews = 0;
};

// The records of these identities under the rule (identities that no longer
// exist are left out), keyed by identity id.
std::map<std::int64_t, StoredRecord> load_records(const MatchRuleEntry& rule, const std::vector<std::int64_t>& ids);

// Stores the records' blocking keys (replacing their old ones).
void store_keys(const MatchRuleEntry& rule, const std::vector<StoredRecord>& records);

// Who matches: a record as it arrives (the writer; enabled rules only) or
// match_run() (the admin; a disabled rule too). It picks the door through
// which the review band is queued.
enum class MatchCaller { arrival, run };

// Matches one record: refreshes its keys, compares it with its candidates,
// links or queues the pairs. A record of a namespace the rule does not cover
// is skipped.
MatchStats match_record(const MatchRuleEntry& rule, std::int64_t identity_id,
                        MatchCaller caller = MatchCaller::arrival);

// trait_observe's hook: matches the identity, and the identifiers seen with
// it, under every enabled rule that covers their namespace and reads one of
// the observed traits.
// Costs no query when no enabled rule reads one of those traits.
MatchStats match_observed(std::int64_t identity_id, const std::vector<std::string>& observed_traits);

}  // namespace customer_profile::pg
