// Predicate type checking at creation time.
#include <gtest/gtest.h>

#include "core/error.hpp"
#include "core/predicate_check.hpp"
#include "core/predicate_format.hpp"
#include "core/predicate_parser.hpp"
#include "core/predicate_sql.hpp"

using namespace customer_profile::core;

namespace {

PredicateSchema schema() {
    PredicateSchema s;
    s.trait_type = [](const std::string& name) -> std::optional<TraitType> {
        if (name == "ltv") return TraitType::number;
        if (name == "tier") return TraitType::text;
        if (name == "vip") return TraitType::boolean;
        if (name == "interests") return TraitType::text_array;
        if (name == "signup_at") return TraitType::timestamp;
        return std::nullopt;
    };
    s.is_measure = [](const std::string& type, const std::string& property) {
        return type == "purchase" && property == "revenue";
    };
    return s;
}

std::string check_error(const std::string& text) {
    try {
        check_predicate(parse_predicate(text), schema());
    } catch (const Error& e) {
        return e.what();
    }
    return "ok";
}

}  // namespace

TEST(PredicateCheck, AcceptsWellTypedPredicates) {
    for (const char* ok :
         {"ltv > 100 AND tier = 'gold'", "ltv BETWEEN 1 AND 2", "tier IN ('a', 'b', NULL)", "vip = true",
          "interests = 'yoga'", "interests IN ('yoga', 'chess')", "signup_at > now() - 30 days",
          "last_seen() < signup_at", "tier LIKE 'g%'",
          "anything > 5 AND anything = 'x'",  // undeclared traits take any type
          "count(purchase within 30 days) >= 2", "sum(purchase.revenue) > 10.5",
          "count(email_open where campaign = 'spring' and clicks > 2 within 14 days) > 0", "ltv IS NULL OR has(ltv)"})
        EXPECT_EQ(check_error(ok), "ok") << ok;
}

TEST(PredicateCheck, ReportsTypeErrorsOnce) {
    EXPECT_EQ(check_error("ltv = 'gold'"), "type error: ltv is number but 'gold' is text");
    EXPECT_EQ(check_error("tier > 5"), "type error: tier is text but the literal is number");
    EXPECT_EQ(check_error("ltv IN (1, 'two')"), "type error: ltv is number but 'two' is text");
    EXPECT_EQ(check_error("vip > false"),
              "type error: <, <=, >, >= and BETWEEN need numbers, text or timestamps, not boolean");
    EXPECT_EQ(check_error("interests > 'a'"),
              "type error: <, <=, >, >= and BETWEEN need numbers, text or timestamps, not text[]");
    EXPECT_EQ(check_error("ltv LIKE '1%'"), "type error: LIKE and ILIKE need text, but ltv is number");
    EXPECT_EQ(check_error("signup_at > 5"), "type error: signup_at is timestamp but the literal is number");
    EXPECT_EQ(check_error("count(purchase within 7 days) > 'many'"),
              "type error: count(purchase) is number but 'many' is text");
    EXPECT_EQ(check_error("sum(purchase.discount) > 1"),
              "type error: \"discount\" is not a declared measure of event type \"purchase\"");
    EXPECT_EQ(check_error("count(x where count(y) > 1) > 0"),
              "type error: a where filter compares event properties with values; count(y) is not allowed there");
    EXPECT_EQ(check_error("count(x where known) > 0"), "type error: a where filter can only test event properties");
    EXPECT_EQ(check_error("NOT (tier = 'a' OR ltv BETWEEN 'a' AND 'b')"), "type error: ltv is number but 'a' is text");
}

TEST(PredicateCheck, ListsReferencedSegments) {
    EXPECT_EQ(referenced_segments(parse_predicate("in_segment('b') AND (in_segment('a') OR NOT in_segment('b'))")),
              std::vector<std::string>({"a", "b"}));
    EXPECT_TRUE(referenced_segments(parse_predicate("tier = 'gold'")).empty());
}

TEST(PredicateSql, RendersEveryConstructAsSql) {
    EXPECT_EQ(predicate_sql(parse_predicate("ltv >= 90 AND tier < 'b'")),
              // Undeclared names read as NULL unless their JSON value has the literal's type.
              "(((CASE WHEN jsonb_typeof(p.traits -> 'ltv') = 'number' THEN (p.traits ->> 'ltv')::numeric END) >= 90) "
              "AND ((CASE WHEN jsonb_typeof(p.traits -> 'tier') = 'string' THEN (p.traits ->> 'tier') END) COLLATE "
              "\"C\" < 'b'))");
    EXPECT_EQ(predicate_sql(parse_predicate("NOT has(x) OR anonymous OR in_segment('it''s')")),
              "(NOT (p.traits ->> 'x' IS NOT NULL) OR NOT p.is_known OR customer_profile.profile_segment(p.profile_id, "
              "'it''s'))");
    EXPECT_EQ(predicate_sql(parse_predicate("last_seen(purchase) > now() - 2 hours")),
              "(customer_profile.last_seen(p.profile_id, 'purchase') > (now() - interval '120 minutes'))");
    EXPECT_EQ(predicate_tree_json(parse_predicate("a IS NULL")), "{\"is_null\":{\"trait\":\"a\"}}");
    EXPECT_EQ(predicate_sql(parse_predicate("consent(email_marketing)")),
              "(customer_profile.profile_consent(p.profile_id, 'email_marketing') IS TRUE)");
    EXPECT_EQ(predicate_tree_json(parse_predicate("consent(analytics)")), "{\"consent\":\"analytics\"}");
    EXPECT_EQ(check_error("count(x where consent(analytics)) > 0"),
              "type error: a where filter can only test event properties");
}

TEST(PredicateCheck, ListsWhatAPredicateReads) {
    PredicateDeps d = predicate_dependencies(
        parse_predicate("tier = 'gold' AND NOT has(phone) AND count(purchase where channel = 'web' within 7 days) > 0 "
                        "AND last_seen(email_open) > now() - 1 day AND known"));
    EXPECT_EQ(d.traits, std::vector<std::string>({"phone", "tier"}));  // channel is an event property
    EXPECT_EQ(d.event_types, std::vector<std::string>({"email_open", "purchase"}));
    EXPECT_FALSE(d.any_event);
    EXPECT_TRUE(d.known);
    EXPECT_TRUE(predicate_dependencies(parse_predicate("last_seen() > now() - 1 day")).any_event);
    EXPECT_EQ(predicate_dependencies(parse_predicate("consent(b) OR consent(a) AND NOT consent(b)")).consents,
              std::vector<std::string>({"a", "b"}));
    // A consent needs a query: evaluated after the traits.
    EXPECT_EQ(format_predicate(cheapest_first(parse_predicate("consent(a) AND tier = 'x'"))),
              "tier = 'x' AND consent(a)");
}

// JSON has no timestamps: an undeclared event property compared with one
// could never match. Refused at creation, with a hint to declare it.
TEST(PredicateCheck, UndeclaredEventPropertyComparedWithATimestampIsRefused) {
    const char* refused[] = {
        "count(booking where stay > timestamp '2027-01-01T00:00:00Z' within 30 days) > 0",
        "count(booking where stay BETWEEN timestamp '2027-01-01T00:00:00Z' AND timestamp '2028-01-01T00:00:00Z') > 0",
        "count(booking where stay IN (timestamp '2027-01-01T00:00:00Z')) > 0",
        "count(booking where timestamp '2027-01-01T00:00:00Z' <= stay) > 0",
        "count(booking where NOT (nights > 2 OR stay = timestamp '2027-01-01T00:00:00Z')) > 0"};
    for (const char* text : refused)
        EXPECT_EQ(check_error(text),
                  "type error: property \"stay\" of event type \"booking\" is compared with a timestamp, but it is "
                  "not declared as one: its JSON value is text, a number or a boolean, so the comparison could "
                  "never be true")
            << text;
    try {
        check_predicate(parse_predicate("count(\"it's\" where \"o'k\" > timestamp '2027-01-01T00:00:00Z') > 0"), {});
        ADD_FAILURE() << "accepted";
    } catch (const Error& e) {
        EXPECT_EQ(e.code(), ErrorCode::invalid_parameter);
        EXPECT_EQ(
            e.hint(),
            "Declare its type first: SELECT customer_profile.event_property_define('it''s', 'o''k', 'timestamp');");
    }
    // A trait compared with a timestamp is fine: traits can hold timestamps.
    EXPECT_EQ(check_error("anything > timestamp '2027-01-01T00:00:00Z'"), "ok");
}

// The equivalent SQL reads values as the evaluator does: a text[] trait
// compared with = / <> / IN tests containment (undeclared: when its JSON
// value is an array), and ILIKE folds case under COLLATE "und-x-icu".
TEST(PredicateSql, ReadsTextArraysAsArraysAndFoldsIlikeUnderIcu) {
    EXPECT_EQ(predicate_sql(parse_predicate("tags IN ('blue')")),
              "(CASE WHEN jsonb_typeof(p.traits -> 'tags') = 'array' THEN (((p.traits -> 'tags') @> "
              "jsonb_build_array('blue'))) ELSE ((CASE WHEN jsonb_typeof(p.traits -> 'tags') = 'string' THEN "
              "(p.traits ->> 'tags') END) IN ('blue')) END)");
    EXPECT_EQ(predicate_sql(parse_predicate("tags NOT IN ('blue', NULL)")),
              "(CASE WHEN jsonb_typeof(p.traits -> 'tags') = 'array' THEN NOT (((p.traits -> 'tags') @> "
              "jsonb_build_array('blue')) OR NULL) ELSE ((CASE WHEN jsonb_typeof(p.traits -> 'tags') = 'string' THEN "
              "(p.traits ->> 'tags') END) NOT IN ('blue', NULL)) END)");
    EXPECT_EQ(predicate_sql(parse_predicate("tags <> 'blue'")),
              "(CASE WHEN jsonb_typeof(p.traits -> 'tags') = 'array' THEN NOT ((p.traits -> 'tags') @> "
              "jsonb_build_array('blue')) ELSE ((CASE WHEN jsonb_typeof(p.traits -> 'tags') = 'string' THEN "
              "(p.traits ->> 'tags') END) <> 'blue') END)");
    EXPECT_EQ(predicate_sql(parse_predicate("email ILIKE '%.EDU' AND email NOT LIKE 'x%'")),
              "(((CASE WHEN jsonb_typeof(p.traits -> 'email') = 'string' THEN (p.traits ->> 'email') END) COLLATE "
              "\"und-x-icu\" ILIKE '%.EDU') AND ((CASE WHEN jsonb_typeof(p.traits -> 'email') = 'string' THEN "
              "(p.traits ->> 'email') END) NOT LIKE 'x%'))");
    // Declared types: a text[] is an array or null (then unknown, as in the
    // evaluator: found by the property-based test, test/integration/
    // predicate_agreement.cpp, where NOT tags = 'vip' took in a JSON null),
    // other types are never arrays.
    PredicateSchema s = schema();
    EXPECT_EQ(predicate_sql(parse_predicate("interests IN ('yoga', 'chess') AND tier = 'gold'"), s),
              "((CASE WHEN jsonb_typeof(p.traits -> 'interests') = 'array' THEN (((p.traits -> 'interests') @> "
              "jsonb_build_array('yoga')) OR ((p.traits -> 'interests') @> jsonb_build_array('chess'))) END) AND "
              "((p.traits ->> 'tier') = 'gold'))");
    EXPECT_EQ(predicate_sql(parse_predicate("'yoga' = interests"), s),
              "(CASE WHEN jsonb_typeof(p.traits -> 'interests') = 'array' THEN ((p.traits -> 'interests') @> "
              "jsonb_build_array('yoga')) END)");
    // Two traits, one declared: both read as the declared type.
    EXPECT_EQ(predicate_sql(parse_predicate("ltv >= score AND score < ltv"), s),
              "((((p.traits ->> 'ltv')::numeric) >= ((p.traits ->> 'score')::numeric)) AND "
              "(((p.traits ->> 'score')::numeric) < ((p.traits ->> 'ltv')::numeric)))");
}

// A declared event property is read through _event_property(), which
// converts as the evaluator does; an undeclared one as before.
TEST(PredicateSql, ReadsDeclaredEventPropertiesByTheirType) {
    PredicateSchema s = schema();
    s.event_property_type = [](const std::string& type, const std::string& property) -> std::optional<TraitType> {
        if (type != "booking") return std::nullopt;
        if (property == "stay") return TraitType::timestamp;
        if (property == "nights" || property == "price") return TraitType::number;
        if (property == "channel") return TraitType::text;
        return std::nullopt;
    };
    const char* text =
        "sum(booking.price where stay > timestamp '2027-01-01T00:00:00Z' AND nights >= 3 AND channel ILIKE 'w%' AND "
        "other = 'x') > 0";
    EXPECT_EQ(check_error(text), "type error: \"price\" is not a declared measure of event type \"booking\"");
    s.is_measure = [](const std::string&, const std::string&) { return true; };
    check_predicate(parse_predicate(text), s);
    EXPECT_EQ(predicate_sql(parse_predicate(text), s),
              "((SELECT coalesce(sum(customer_profile._event_property(e.properties -> 'price', NULL::float8)), 0) "
              "FROM customer_profile.identity i JOIN customer_profile.event e ON e.identity_id = i.identity_id WHERE "
              "i.profile_id = p.profile_id AND e.event_type = 'booking' AND "
              "(((customer_profile._event_property(e.properties -> 'stay', NULL::timestamptz) > timestamptz "
              "'2027-01-01T00:00:00.000000Z') AND (customer_profile._event_property(e.properties -> 'nights', "
              "NULL::float8) >= 3) AND (customer_profile._event_property(e.properties -> 'channel', NULL::text) "
              "COLLATE \"und-x-icu\" ILIKE 'w%') AND (CASE WHEN jsonb_typeof(e.properties -> 'other') = 'array' THEN "
              "((e.properties -> 'other') @> jsonb_build_array('x')) ELSE ((CASE WHEN jsonb_typeof(e.properties -> "
              "'other') = 'string' THEN (e.properties ->> "
              "'other') END) = 'x') END)))) "
              "> 0)");
    // Declared: compared with values of its type only.
    auto error = [&](const char* t) -> std::string {
        try {
            check_predicate(parse_predicate(t), s);
        } catch (const Error& e) {
            return e.what();
        }
        return "ok";
    };
    EXPECT_EQ(error("count(booking where stay > 5) > 0"), "type error: stay is timestamp but the literal is number");
    EXPECT_EQ(error("count(booking where nights = '3') > 0"), "type error: nights is number but '3' is text");
    EXPECT_EQ(error("count(booking where channel LIKE 'w%' AND stay IS NULL) > 0"), "ok");
    EXPECT_EQ(error("count(booking where nights LIKE '1%') > 0"),
              "type error: LIKE and ILIKE need text, but nights is number");
    // The same names on another event type are undeclared there.
    EXPECT_EQ(error("count(visit where stay > timestamp '2027-01-01T00:00:00Z') > 0").substr(0, 44),
              "type error: property \"stay\" of event type \"v");
}
