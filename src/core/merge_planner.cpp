// Guard-railed merge planning for identity resolution.
#include "merge_planner.hpp"

#include <algorithm>
#include <numeric>

#include "error.hpp"

namespace customer_profile::core {
namespace {

struct Budget {
    const MergeInput& input;
    std::map<std::int32_t, std::int32_t> counts;
    std::int32_t total = 0;

    std::int32_t cap(std::int32_t ns) const {
        auto it = input.namespace_caps.find(ns);
        return it == input.namespace_caps.end() ? 0 : it->second;
    }
    std::int32_t count(std::int32_t ns) const {
        auto it = counts.find(ns);
        return it == counts.end() ? 0 : it->second;
    }
    // Returns the first namespace whose cap adding `more` would break, or 0.
    std::int32_t namespace_over(const std::map<std::int32_t, std::int32_t>& more) const {
        for (const auto& [ns, n] : more)
            if (cap(ns) > 0 && count(ns) + n > cap(ns)) return ns;
        return 0;
    }
    bool total_over(std::int32_t more) const {
        return input.max_identities_per_profile > 0 && total + more > input.max_identities_per_profile;
    }
    void add(const std::map<std::int32_t, std::int32_t>& more) {
        for (const auto& [ns, n] : more) {
            counts[ns] += n;
            total += n;
        }
    }
};

}  // namespace

std::int32_t ProfileState::total() const {
    std::int32_t t = 0;
    for (const auto& kv : namespace_counts) t += kv.second;
    return t;
}

const char* refusal_rule_name(RefusalRule rule) {
    return rule == RefusalRule::namespace_cap ? "namespace_cap" : "profile_identity_cap";
}

MergePlan plan_merge(const MergeInput& input) {
    MergePlan plan;
    std::vector<const ProfileState*> ranked;
    for (const auto& p : input.profiles) ranked.push_back(&p);
    std::sort(ranked.begin(), ranked.end(), [](const ProfileState* a, const ProfileState* b) {
        if (a->best_priority != b->best_priority) return a->best_priority > b->best_priority;
        if (a->total() != b->total()) return a->total() > b->total();
        return a->profile_id < b->profile_id;
    });
    for (const auto& id : input.identities) {
        bool known = id.profile_id == 0 || std::any_of(ranked.begin(), ranked.end(), [&](const ProfileState* p) {
                         return p->profile_id == id.profile_id;
                     });
        if (!known) throw Error(ErrorCode::internal, "identity references a profile missing from the plan input");
    }

    Budget budget{input, {}, 0};
    std::vector<std::int64_t> joined;  // profiles that end up as the survivor
    if (!ranked.empty()) {
        plan.survivor = ranked.front()->profile_id;
        budget.add(ranked.front()->namespace_counts);
        joined.push_back(plan.survivor);
    }
    for (std::size_t i = 1; i < ranked.size(); ++i) {
        const ProfileState& p = *ranked[i];
        if (std::int32_t ns = budget.namespace_over(p.namespace_counts)) {
            plan.refusals.push_back({RefusalRule::namespace_cap, ns, p.profile_id, -1,
                                     "merging would exceed the namespace's per-profile cap"});
        } else if (budget.total_over(p.total())) {
            plan.refusals.push_back({RefusalRule::profile_identity_cap, 0, p.profile_id, -1,
                                     "merging would exceed max_identities_per_profile"});
        } else {
            budget.add(p.namespace_counts);
            plan.merged_profiles.push_back(p.profile_id);
            joined.push_back(p.profile_id);
        }
    }

    // New identities join strongest namespace first, so a cap keeps the best.
    std::vector<int> fresh;
    for (int i = 0; i < static_cast<int>(input.identities.size()); ++i)
        if (input.identities[i].profile_id == 0) fresh.push_back(i);
    std::stable_sort(fresh.begin(), fresh.end(),
                     [&](int a, int b) { return input.identities[a].priority > input.identities[b].priority; });
    for (int i : fresh) {
        const auto& id = input.identities[i];
        std::map<std::int32_t, std::int32_t> one{{id.namespace_id, 1}};
        if (budget.namespace_over(one)) {
            plan.own_profile.push_back(i);
            plan.refusals.push_back({RefusalRule::namespace_cap, id.namespace_id, 0, i,
                                     "the profile already holds the namespace's maximum"});
        } else if (budget.total_over(1)) {
            plan.own_profile.push_back(i);
            plan.refusals.push_back({RefusalRule::profile_identity_cap, 0, 0, i,
                                     "the profile already holds max_identities_per_profile identities"});
        } else {
            budget.add(one);
            plan.attach.push_back(i);
        }
    }

    // Evidence: a star from the strongest identity that ended in the survivor.
    std::vector<int> members;
    for (int i = 0; i < static_cast<int>(input.identities.size()); ++i) {
        const auto& id = input.identities[i];
        bool in_survivor = id.profile_id == 0
                               ? std::find(plan.attach.begin(), plan.attach.end(), i) != plan.attach.end()
                               : std::find(joined.begin(), joined.end(), id.profile_id) != joined.end();
        if (in_survivor) members.push_back(i);
    }
    if (!members.empty()) {
        plan.anchor = *std::min_element(members.begin(), members.end(), [&](int a, int b) {
            return input.identities[a].priority > input.identities[b].priority;
        });
        for (int i : members)
            if (i != plan.anchor) plan.linked.push_back(i);
    }
    return plan;
}

}  // namespace customer_profile::core
