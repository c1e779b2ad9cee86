// The text form of a profile, parsed and written with nlohmann::json:
//
//   {"traits": {"tier": {"observed_at": "2026-01-02T03:04:05.000000Z",
//                        "source": "crm", "type": "text", "value": "gold"}}}
//
// "type" may be left out on input (inferred from the JSON value; a
// timestamp must say so). Output is canonical: format(parse(format(p))) ==
// format(p), and parse(format(p)) == p exactly.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "behavior.hpp"
#include "profile.hpp"

namespace customer_profile::core {

// Throws Error (invalid_text for malformed JSON or timestamps,
// invalid_parameter for wrong shapes, value_too_long for limits).
Profile parse_profile_json(std::string_view text);
std::string format_profile_json(const Profile& profile);

// A trait value as JSON text ("gold", 3.5, true, null, ["a","b"]; a
// timestamp as its ISO string), for the -> operator.
std::string trait_value_json(const TraitValue& value);
// A trait value as plain text (strings unquoted), nullopt for null; for ->>.
std::optional<std::string> trait_value_text(const TraitValue& value);
// {"name": value, ...} of every trait, for profile_traits().
std::string profile_traits_json(const Profile& profile);

// Reads one JSON value as a trait value of the given type; for a type
// inferred from the JSON value pass std::nullopt. Errors name the trait.
TraitValue parse_trait_value(std::string_view json_value, std::optional<TraitType> type, const std::string& name);

// The declared types of one event type's properties (event_property_define).
using PropertyTypes = std::map<std::string, TraitType>;

// An event's properties (a JSON object) as traits, so a predicate's where
// filter evaluates on them like on a profile. A declared property is read
// as its type (property_value_as); an undeclared one as JSON gives it, and
// values that are no trait type (nested objects, mixed arrays) are left
// out. Throws on malformed JSON.
Profile properties_as_traits(std::string_view json_object, const PropertyTypes& declared = {});

// One property's JSON value read as a declared type, null when it does not
// convert: a number from a JSON number or a decimal string ("3", "-2.5e3");
// text from a string; a boolean from true/false or "true"/"false"; a
// timestamp from an ISO 8601 string (parse_property_timestamp).
TraitValue property_value_as(std::string_view json_value, TraitType type);

// {"revenue": 14.5, ...}: the measure totals of one event type's summary.
std::string measure_totals_json(const EventSummary& summary);

}  // namespace customer_profile::core
