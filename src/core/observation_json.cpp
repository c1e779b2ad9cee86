// Observation parsing (see observation_json.hpp).
#include "observation_json.hpp"

#include <nlohmann/json.hpp>

#include "error.hpp"
#include "profile_json.hpp"

namespace customer_profile::core {
namespace {

Trait observation_from(const std::string& name, const nlohmann::json& value, const std::string& source,
                       Micros observed_at, const TraitDefinition& def) {
    Trait t;
    t.name = name;
    t.source = source;
    t.observed_at = observed_at;
    // A declared text[] trait also takes a single string (union coercion in check_observation).
    std::optional<TraitType> type = def.type;
    if (type == TraitType::text_array && value.is_string()) type = TraitType::text;
    if (value.is_null()) type = TraitType::null;
    t.value = parse_trait_value(value.dump(), type, name);
    return check_observation(std::move(t), def);
}

// Parses JSON text; a number beyond the float8 range (1e400) is refused as
// out of range (22003), anything else that does not parse as malformed.
nlohmann::json parse_json(std::string_view text, const std::string& what) {
    try {
        return nlohmann::json::parse(text.begin(), text.end());
    } catch (const nlohmann::json::out_of_range&) {
        throw Error(ErrorCode::out_of_range, what + ": a number is out of range",
                    "Numbers are stored as float8 (about 1.8e308 at most).");
    } catch (const nlohmann::json::exception&) {
        throw Error(ErrorCode::invalid_text, what + ": malformed JSON");
    }
}

}  // namespace

std::vector<Trait> parse_observations(std::string_view json_text, const std::string& source, Micros observed_at,
                                      const DefinitionLookup& lookup) {
    using nlohmann::json;
    json doc = parse_json(json_text, "traits");
    if (!doc.is_object())
        throw Error(ErrorCode::invalid_parameter, "traits must be a JSON object", {},
                    "Example: {\"tier\": \"gold\", \"city\": \"Lyon\"}");
    if (doc.empty()) throw Error(ErrorCode::invalid_parameter, "traits holds no trait");
    if (doc.size() > kMaxTraits) throw Error(ErrorCode::value_too_long, "traits holds more than 1000 traits");
    std::vector<Trait> out;
    for (const auto& [name, value] : doc.items())
        out.push_back(observation_from(name, value, source, observed_at, lookup(name)));
    return out;
}

Trait parse_observation(const std::string& name, std::string_view value_json, const std::string& source,
                        Micros observed_at, const TraitDefinition& def) {
    nlohmann::json value = parse_json(value_json, "trait \"" + name + "\"");
    return observation_from(name, value, source, observed_at, def);
}

}  // namespace customer_profile::core
