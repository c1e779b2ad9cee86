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
              "((((p.traits ->> 'ltv')::numeric) >= 90) AND ((p.traits ->> 'tier') COLLATE \"C\" < 'b'))");
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
