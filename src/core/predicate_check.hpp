// Type checking a predicate once, at segment creation, so that a mistake
// such as comparing a number trait with text is reported then, not silently
// evaluated as unknown for every profile afterwards.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "predicate.hpp"

namespace customer_profile::core {

struct PredicateSchema {
    // The declared type of a trait; nullopt for an undeclared trait (any type).
    std::function<std::optional<TraitType>(const std::string&)> trait_type;
    // Whether property is a declared measure of event_type; unset: not checked.
    std::function<bool(const std::string& event_type, const std::string& property)> is_measure;
    // The declared type of an event property (event_property_define); nullopt
    // (or unset) for an undeclared one, read as JSON gives it: text, number,
    // boolean or text[], never a timestamp.
    std::function<std::optional<TraitType>(const std::string& event_type, const std::string& property)>
        event_property_type;
    // A score (score_define): its rules, each a predicate and its points;
    // nullptr for a name that is no score. A score reads as a number trait.
    std::function<const std::vector<std::pair<PredicateNode, double>>*(const std::string& name)> score_rules;
};

// Throws Error(invalid_parameter) with "type error: ..." naming the parts.
// An undeclared event property compared with a timestamp could never match
// (JSON has no timestamps): refused, with a hint to declare it.
void check_predicate(const PredicateNode& node, const PredicateSchema& schema);

}  // namespace customer_profile::core
