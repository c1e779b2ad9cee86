// Decides what one resolve_identity() call does to the identity graph: which
// profile survives, which profiles merge into it, which new identities join
// it, and which links the guard rails refuse (and why). Pure: the glue reads
// the current state, asks for a plan, then writes it.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace customer_profile::core {

struct CandidateIdentity {
    std::int32_t namespace_id = 0;
    std::int32_t priority = 0;    // namespace priority: higher is stronger
    std::int64_t profile_id = 0;  // 0 when the identity does not exist yet
};

struct ProfileState {
    std::int64_t profile_id = 0;
    std::map<std::int32_t, std::int32_t> namespace_counts;  // identities per namespace
    std::int32_t best_priority = 0;                         // strongest namespace among its identities
    std::int32_t total() const;
};

struct MergeInput {
    std::vector<CandidateIdentity> identities;            // the call's identities, deduplicated
    std::vector<ProfileState> profiles;                   // every profile an identity belongs to
    std::map<std::int32_t, std::int32_t> namespace_caps;  // absent or <= 0: unlimited
    std::int32_t max_identities_per_profile = 0;          // <= 0: unlimited
};

enum class RefusalRule { namespace_cap, profile_identity_cap };
const char* refusal_rule_name(RefusalRule rule);

struct Refusal {
    RefusalRule rule;
    std::int32_t namespace_id = 0;        // the capped namespace (namespace_cap only)
    std::int64_t refused_profile_id = 0;  // profile left unmerged, or 0
    int refused_identity = -1;            // index of a new identity refused, or -1
    std::string detail;
};

struct MergePlan {
    std::int64_t survivor = 0;                  // 0: create a new profile
    std::vector<std::int64_t> merged_profiles;  // merge into the survivor
    std::vector<int> attach;                    // new identities joining the survivor
    std::vector<int> own_profile;               // new identities refused: each gets its own profile
    std::vector<Refusal> refusals;
    int anchor = -1;          // identity every accepted link starts from
    std::vector<int> linked;  // identities linked to the anchor
};

// Builds the plan. Profiles are ranked by (best_priority desc, size desc,
// id asc); the strongest survives and keeps what a cap would not let it share.
MergePlan plan_merge(const MergeInput& input);

}  // namespace customer_profile::core
