// resolve_identity() as a C++ call for other glue (trait_observe).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "pg/infra/pg_headers.hpp"

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

// A probabilistic link's evidence: the rule that found it, its match
// probability, and the namespaces the rule deduplicates (their per-profile
// caps do not apply to its links).
struct MatchEvidence {
    std::string rule;
    double score = 0;
    std::vector<std::int32_t> uncapped_namespaces;
};

enum class LinkOutcome { linked, already, refused, missing, kept_apart };

// Links two existing identities as resolve_identity links identifiers seen
// together: their profiles are locked, merged under the guard rails (a
// refusal is recorded in identity_conflict), the link row carries the rule
// and score. already: one profile; missing: an identity no longer exists;
// kept_apart: the merge would join a pair someone rejected (under any rule).
LinkOutcome link_identities(std::int64_t identity_a, std::int64_t identity_b, Datum source,
                            const MatchEvidence& evidence);

// The batch fast path: for each input whose identifiers are all known, in
// one profile, none blocked and none due for a last_seen refresh (exactly
// the calls for which resolve_identities() writes nothing), the same
// Resolution, found with one index-probe pass over the whole batch;
// nullopt for every other input (malformed ones included): resolve those
// one by one.
std::vector<std::optional<Resolution>> resolve_known(const std::vector<Jsonb*>& inputs);

}  // namespace customer_profile::pg
