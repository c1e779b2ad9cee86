// Reading observations: one trait at a time (the attach trigger screens each
// column's value) refuses exactly what the whole-object reader refuses.
#include <gtest/gtest.h>

#include <map>

#include "core/error.hpp"
#include "core/observation_json.hpp"

using namespace customer_profile::core;

namespace {

TraitDefinition declared(const std::string& name, std::optional<TraitType> type,
                         MergePolicy policy = MergePolicy::latest) {
    TraitDefinition d;
    d.name = name;
    d.type = type;
    d.policy = policy;
    return d;
}

const std::map<std::string, TraitDefinition> kDefinitions = {
    {"spend", declared("spend", TraitType::number, MergePolicy::sum)},
    {"signed_up", declared("signed_up", TraitType::timestamp)},
    {"tags", declared("tags", TraitType::text_array, MergePolicy::union_set)},
};

TraitDefinition lookup(const std::string& name) {
    auto it = kDefinitions.find(name);
    return it != kDefinitions.end() ? it->second : declared(name, std::nullopt);
}

}  // namespace

TEST(ObservationJson, OneTraitIsCheckedAgainstItsDefinition) {
    EXPECT_EQ(parse_observation("spend", "12.5", "crm", 0, lookup("spend")).value.number, 12.5);
    EXPECT_EQ(parse_observation("spend", "null", "crm", 0, lookup("spend")).value.type, TraitType::null);
    try {
        parse_observation("spend", "\"n/a\"", "crm", 0, lookup("spend"));
        FAIL() << "a text value of a number trait must be refused";
    } catch (const Error& e) {
        EXPECT_EQ(e.code(), ErrorCode::invalid_parameter);
        EXPECT_NE(std::string(e.what()).find("trait \"spend\""), std::string::npos) << e.what();
        EXPECT_EQ(std::string(e.what()).find("n/a"), std::string::npos) << "the value itself is not repeated";
    }
    EXPECT_THROW(parse_observation("signed_up", "\"2025-13-45\"", "crm", 0, lookup("signed_up")), Error);
    EXPECT_EQ(parse_observation("tags", "\"vip\"", "crm", 0, lookup("tags")).value.array,
              std::vector<std::string>{"vip"});
    EXPECT_EQ(parse_observation("city", "\"Lyon\"", "crm", 0, lookup("city")).value.text, "Lyon");
    EXPECT_THROW(parse_observation("city", "{\"nested\": 1}", "crm", 0, lookup("city")), Error);
    EXPECT_THROW(parse_observation("city", "not json", "crm", 0, lookup("city")), Error);
}

TEST(ObservationJson, OneAtATimeRefusesWhatTheWholeObjectRefuses) {
    const std::vector<std::pair<std::string, std::string>> cases = {
        {"spend", "1"},         {"spend", "\"1\""},  {"spend", "true"}, {"signed_up", "\"2025-12-24T18:00:00Z\""},
        {"signed_up", "\"x\""}, {"tags", "[\"a\"]"}, {"tags", "[1]"},   {"city", "[\"a\", \"b\"]"},
        {"city", "null"},       {"city", "{}"},      {"tags", "\"b\""}, {"signed_up", "12"},
    };
    for (const auto& [name, value] : cases) {
        bool whole_ok = true, one_ok = true;
        try {
            parse_observations("{\"" + name + "\": " + value + "}", "crm", 0, lookup);
        } catch (const Error&) {
            whole_ok = false;
        }
        try {
            parse_observation(name, value, "crm", 0, lookup(name));
        } catch (const Error&) {
            one_ok = false;
        }
        EXPECT_EQ(whole_ok, one_ok) << name << " = " << value;
    }
}

// A number beyond float8 is out of range (22003), not malformed JSON (review
// of issue 13); JSON that does not parse is still malformed.
TEST(ObservationJson, NumbersBeyondFloat8AreOutOfRange) {
    auto code_of = [](auto&& call) {
        try {
            call();
        } catch (const Error& e) {
            return e.code();
        }
        return ErrorCode::internal;
    };
    EXPECT_EQ(code_of([] { parse_observation("spend", "1e400", "crm", 0, lookup("spend")); }), ErrorCode::out_of_range);
    EXPECT_EQ(code_of([] { parse_observations("{\"spend\": -1e400}", "crm", 0, lookup); }), ErrorCode::out_of_range);
    EXPECT_EQ(code_of([] { parse_observations("{\"spend\": ", "crm", 0, lookup); }), ErrorCode::invalid_text);
}
