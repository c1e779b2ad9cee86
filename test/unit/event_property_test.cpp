// Event properties read as their declared types (event_property_define), in
// where filters of count/sum, and the lenient timestamps they accept.
#include <gtest/gtest.h>

#include "core/predicate_eval.hpp"
#include "core/predicate_parser.hpp"
#include "core/profile_json.hpp"

using namespace customer_profile::core;

namespace {

TraitValue as(const char* json, TraitType type) {
    return property_value_as(json, type);
}

}  // namespace

TEST(EventProperty, TimestampsFromIsoTextWithOrWithoutZoneOrTime) {
    EXPECT_EQ(as("\"2027-03-01T10:00:00+02:00\"", TraitType::timestamp).timestamp,
              parse_timestamp("2027-03-01T08:00:00Z"));
    EXPECT_EQ(as("\"2027-03-01 10:00:00.5Z\"", TraitType::timestamp).timestamp,
              parse_timestamp("2027-03-01T10:00:00.5Z"));
    EXPECT_EQ(as("\"2027-03-01T10:00:00\"", TraitType::timestamp).timestamp, parse_timestamp("2027-03-01T10:00:00Z"));
    EXPECT_EQ(as("\"2027-03-01\"", TraitType::timestamp).timestamp, parse_timestamp("2027-03-01T00:00:00Z"));
    for (const char* bad : {"\"next summer\"", "\"2027-02-30\"", "\"2027-03-01T\"", "\"2027-03-01T25:00:00Z\"",
                            "\"20270301\"", "1800000000", "true", "null", "[\"2027-03-01\"]", "{}", "not json"})
        EXPECT_EQ(as(bad, TraitType::timestamp).type, TraitType::null) << bad;
    EXPECT_EQ(parse_property_timestamp("2027-03-01"), parse_timestamp("2027-03-01T00:00:00Z"));
    EXPECT_FALSE(parse_property_timestamp("2027-03-01 "));
    EXPECT_THROW(parse_timestamp("2027-03-01"), Error);  // trait values stay strict
    EXPECT_THROW(parse_timestamp("2027-03-01T10:00:00"), Error);
}

TEST(EventProperty, NumbersTextAndBooleans) {
    EXPECT_EQ(as("3", TraitType::number).number, 3);
    EXPECT_EQ(as("\"3\"", TraitType::number).number, 3);
    EXPECT_EQ(as("\"-2.5e3\"", TraitType::number).number, -2500);
    EXPECT_EQ(as("\".5\"", TraitType::number).number, 0.5);
    for (const char* bad : {"\"many\"", "\"\"", "\" 3\"", "\"3 \"", "\"0x10\"", "\"inf\"", "\"NaN\"", "\"1e\"",
                            "\"1e999\"", "\".\"", "true", "null", "[3]"})
        EXPECT_EQ(as(bad, TraitType::number).type, TraitType::null) << bad;
    EXPECT_EQ(as("\"web\"", TraitType::text).text, "web");
    EXPECT_EQ(as("3", TraitType::text).type, TraitType::null);
    EXPECT_TRUE(as("true", TraitType::boolean).boolean);
    EXPECT_FALSE(as("\"false\"", TraitType::boolean).boolean);
    EXPECT_EQ(as("\"false\"", TraitType::boolean).type, TraitType::boolean);
    EXPECT_EQ(as("\"yes\"", TraitType::boolean).type, TraitType::null);
    EXPECT_EQ(as("1", TraitType::boolean).type, TraitType::null);
}

TEST(EventProperty, WhereFiltersCompareDeclaredPropertiesByType) {
    const std::string event = R"({"stay": "2027-03-01", "nights": "3", "channel": "web", "tags": ["a", "b"]})";
    PropertyTypes declared{{"stay", TraitType::timestamp}, {"nights", TraitType::number}};
    auto holds = [&](const char* where, const PropertyTypes& types) {
        Profile properties = properties_as_traits(event, types);
        EvaluationContext c;
        c.traits = &properties;
        return evaluate(parse_predicate(where), c);
    };
    const char* late = "stay > timestamp '2027-01-01T00:00:00Z' AND nights >= 3";
    EXPECT_EQ(holds(late, declared), Truth::true_);
    EXPECT_EQ(holds(late, {}), Truth::unknown);  // undeclared: text, never a timestamp (refused at creation)
    EXPECT_EQ(holds("channel = 'web' AND tags = 'b'", declared), Truth::true_);     // undeclared: as JSON gives it
    EXPECT_EQ(holds("stay IS NULL", {{"stay", TraitType::number}}), Truth::true_);  // does not convert: null
    EXPECT_EQ(holds("nights = '3'", {}), Truth::true_);
}
