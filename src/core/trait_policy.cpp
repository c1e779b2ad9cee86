// Merge policies for traits (see trait_policy.hpp).
#include "trait_policy.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <set>
#include <tuple>

#include "error.hpp"
#include "profile_json.hpp"
#include "text_literal.hpp"

namespace customer_profile::core {
namespace {

[[noreturn]] void refuse(const std::string& trait, const std::string& why) {
    throw Error(ErrorCode::invalid_parameter, "trait \"" + trait + "\": " + why);
}

// A total order on observations: time, then source, then value text, so
// ties never depend on arrival order.
bool earlier(const Trait& a, const Trait& b) {
    if (a.observed_at != b.observed_at) return a.observed_at < b.observed_at;
    if (a.source != b.source) return a.source < b.source;
    return trait_value_json(a.value) < trait_value_json(b.value);
}

const Trait& latest_of(const std::vector<Trait>& obs) {
    return *std::max_element(obs.begin(), obs.end(), earlier);
}

// Compares two non-null values of the same orderable type.
bool value_less(const TraitValue& a, const TraitValue& b) {
    switch (a.type) {
        case TraitType::number:
            return a.number < b.number;
        case TraitType::timestamp:
            return a.timestamp < b.timestamp;
        case TraitType::text:
            return a.text < b.text;
        default:
            return false;
    }
}

bool orderable(TraitType t) {
    return t == TraitType::number || t == TraitType::timestamp || t == TraitType::text;
}

}  // namespace

const char* merge_policy_name(MergePolicy p) {
    switch (p) {
        case MergePolicy::latest:
            return "latest";
        case MergePolicy::earliest:
            return "earliest";
        case MergePolicy::source_priority:
            return "source_priority";
        case MergePolicy::max:
            return "max";
        case MergePolicy::min:
            return "min";
        case MergePolicy::sum:
            return "sum";
        case MergePolicy::union_set:
            return "union";
    }
    return "?";
}

MergePolicy merge_policy_from_name(std::string_view name) {
    for (auto p : {MergePolicy::latest, MergePolicy::earliest, MergePolicy::source_priority, MergePolicy::max,
                   MergePolicy::min, MergePolicy::sum, MergePolicy::union_set})
        if (name == merge_policy_name(p)) return p;
    throw Error(ErrorCode::invalid_parameter, "unknown merge policy \"" + std::string(name) + "\"", {},
                "Policies are latest, earliest, source_priority, max, min, sum and union.");
}

void validate_definition(const TraitDefinition& def) {
    Trait probe;
    probe.name = def.name;
    validate_trait(probe);  // name rules
    if (def.type == TraitType::null) refuse(def.name, "a trait cannot be declared of type null");
    switch (def.policy) {
        case MergePolicy::sum:
            if (def.type != TraitType::number) refuse(def.name, "policy sum needs type number");
            break;
        case MergePolicy::max:
        case MergePolicy::min:
            if (!def.type || !orderable(*def.type))
                refuse(def.name, std::string("policy ") + merge_policy_name(def.policy) +
                                     " needs type number, timestamp or text");
            break;
        case MergePolicy::union_set:
            if (def.type != TraitType::text_array) refuse(def.name, "policy union needs type text[]");
            break;
        case MergePolicy::source_priority:
            if (def.source_order.empty()) refuse(def.name, "policy source_priority needs a list of sources");
            break;
        default:
            break;
    }
    if (def.policy != MergePolicy::source_priority && !def.source_order.empty())
        refuse(def.name, "a source list is only used by policy source_priority");
}

Trait check_observation(Trait obs, const TraitDefinition& def) {
    if (def.type && obs.value.type != TraitType::null && obs.value.type != *def.type) {
        if (*def.type == TraitType::text_array && obs.value.type == TraitType::text) {
            obs.value.array = {std::move(obs.value.text)};
            obs.value.text.clear();
            obs.value.type = TraitType::text_array;
        } else {
            refuse(def.name, std::string("expected a ") + trait_type_name(*def.type) + " value, got " +
                                 trait_type_name(obs.value.type));
        }
    }
    validate_trait(obs);
    if (def.policy == MergePolicy::sum && obs.value.type == TraitType::number &&
        std::fabs(obs.value.number) > kMaxSummableMagnitude)
        throw Error(ErrorCode::out_of_range,
                    "trait \"" + def.name + "\": a value summed by policy sum must be of magnitude at most 1e18",
                    "The value was " + shortest_number(obs.value.number) + ".",
                    "Declare the trait with policy max or latest to keep larger numbers.");
    return obs;
}

std::optional<Trait> merge_observations(std::vector<Trait> obs, const TraitDefinition& def) {
    if (obs.empty()) return std::nullopt;
    std::vector<Trait> valued;
    for (const auto& o : obs)
        if (o.value.type != TraitType::null) valued.push_back(o);
    Trait result;
    switch (def.policy) {
        case MergePolicy::latest:
            result = latest_of(obs);
            break;
        case MergePolicy::earliest:
            result = *std::min_element(obs.begin(), obs.end(), earlier);
            break;
        case MergePolicy::source_priority: {
            auto rank = [&](const Trait& t) {
                auto it = std::find(def.source_order.begin(), def.source_order.end(), t.source);
                return static_cast<std::size_t>(it - def.source_order.begin());
            };
            result = *std::min_element(obs.begin(), obs.end(), [&](const Trait& a, const Trait& b) {
                if (rank(a) != rank(b)) return rank(a) < rank(b);
                return earlier(b, a);  // within a rank, the latest wins
            });
            break;
        }
        case MergePolicy::max:
        case MergePolicy::min: {
            if (valued.empty()) {
                result = latest_of(obs);
                break;
            }
            bool want_max = def.policy == MergePolicy::max;
            result = *std::min_element(valued.begin(), valued.end(), [&](const Trait& a, const Trait& b) {
                bool a_better = want_max ? value_less(b.value, a.value) : value_less(a.value, b.value);
                bool b_better = want_max ? value_less(a.value, b.value) : value_less(b.value, a.value);
                if (a_better != b_better) return a_better;
                return earlier(b, a);  // equal values: the latest observation is the provenance
            });
            break;
        }
        case MergePolicy::sum: {
            if (valued.empty()) {
                result = latest_of(obs);
                break;
            }
            // Summed in a fixed order so floating-point rounding is reproducible.
            std::sort(valued.begin(), valued.end(), earlier);
            // Saturating: observations stored before 1.6 were not bounded,
            // and an infinite sum would make the profile unreadable.
            double total = 0;
            for (const auto& o : valued)
                total = std::clamp(total + o.value.number, -std::numeric_limits<double>::max(),
                                   std::numeric_limits<double>::max());
            result = valued.back();
            result.value.number = total;
            break;
        }
        case MergePolicy::union_set: {
            if (valued.empty()) {
                result = latest_of(obs);
                break;
            }
            std::set<std::string> items;
            for (const auto& o : valued) items.insert(o.value.array.begin(), o.value.array.end());
            result = latest_of(valued);
            result.value.array.assign(items.begin(), items.end());
            if (result.value.array.size() > kMaxTraitArrayItems)
                throw Error(ErrorCode::value_too_long,
                            "trait \"" + def.name + "\": the union holds more than 1000 items");
            break;
        }
    }
    result.name = def.name;
    return result;
}

}  // namespace customer_profile::core
