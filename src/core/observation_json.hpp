// Reading trait observations as applications send them:
// {"tier": "gold", "ltv": 120.5, "tags": ["a", "b"], "signed_up": "2025-12-24T18:00:00Z"}
#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "trait_policy.hpp"

namespace customer_profile::core {

using DefinitionLookup = std::function<TraitDefinition(const std::string& name)>;

// One observation per key, from `source` at `observed_at`, checked against
// the definitions (declared types, union coercion, limits). Throws Error
// naming the offending trait; an empty object is refused.
std::vector<Trait> parse_observations(std::string_view json_text, const std::string& source, Micros observed_at,
                                      const DefinitionLookup& lookup);

// One observation of trait `name` whose value is the JSON text `value_json`,
// checked against its definition as parse_observations checks each key.
// Throws Error naming the trait.
Trait parse_observation(const std::string& name, std::string_view value_json, const std::string& source,
                        Micros observed_at, const TraitDefinition& def);

}  // namespace customer_profile::core
