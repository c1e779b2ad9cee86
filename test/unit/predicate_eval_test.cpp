// Predicate evaluation: every construct on a profile's traits and behavior,
// three-valued logic for missing traits and mismatched types, windows, LIKE,
// and the callbacks for what the profile alone cannot answer.
#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

#include "core/predicate_eval.hpp"
#include "core/predicate_parser.hpp"

using namespace customer_profile::core;

namespace {

const Micros kNow = parse_timestamp("2026-11-29T12:00:00Z");
constexpr Micros kDay = kMicrosPerDay;

TraitValue text(std::string s) {
    TraitValue v;
    v.type = TraitType::text;
    v.text = std::move(s);
    return v;
}
TraitValue num(double d) {
    TraitValue v;
    v.type = TraitType::number;
    v.number = d;
    return v;
}

class PredicateEval : public ::testing::Test {
protected:
    void SetUp() override {
        auto put = [&](std::string name, TraitValue v) {
            Trait t;
            t.name = std::move(name);
            t.value = std::move(v);
            t.source = "crm";
            profile.put(std::move(t));
        };
        put("tier", text("gold"));
        put("ltv", num(250));
        put("email", text("Ann.Lee@Example.EDU"));
        put("city", text("Zürich"));
        TraitValue vip;
        vip.type = TraitType::boolean;
        vip.boolean = true;
        put("vip", vip);
        TraitValue interests;
        interests.type = TraitType::text_array;
        interests.array = {"running", "yoga"};
        put("interests", interests);
        TraitValue signup;
        signup.type = TraitType::timestamp;
        signup.timestamp = kNow - 400 * kDay;
        put("signup_at", signup);
        put("note", TraitValue{});
        Day oldest = day_of(kNow) - 399;
        add_event(behavior, EventFact{"purchase", kNow - 3 * kDay, {{"revenue", 60}}}, oldest);
        add_event(behavior, EventFact{"purchase", kNow - 20 * kDay, {{"revenue", 50}}}, oldest);
        add_event(behavior, EventFact{"purchase", kNow - 80 * kDay, {{"revenue", 40}}}, oldest);
        add_event(behavior, EventFact{"page_view", kNow - 2 * kDay, {}}, oldest);
        context.traits = &profile;
        context.behavior = &behavior;
        context.known = true;
        context.now = kNow;
    }
    Truth eval(const std::string& text) { return evaluate(parse_predicate(text), context); }

    Profile profile;
    Behavior behavior;
    EvaluationContext context;
};

}  // namespace

TEST_F(PredicateEval, ComparisonsOnTraits) {
    EXPECT_EQ(eval("tier = 'gold'"), Truth::true_);
    EXPECT_EQ(eval("tier <> 'gold'"), Truth::false_);
    EXPECT_EQ(eval("ltv > 200 AND ltv <= 250 AND ltv >= 250 AND ltv < 251"), Truth::true_);
    EXPECT_EQ(eval("tier IN ('silver', 'gold')"), Truth::true_);
    EXPECT_EQ(eval("tier NOT IN ('silver', 'gold')"), Truth::false_);
    EXPECT_EQ(eval("ltv BETWEEN 100 AND 500"), Truth::true_);
    EXPECT_EQ(eval("ltv NOT BETWEEN 100 AND 200"), Truth::true_);
    EXPECT_EQ(eval("vip = true"), Truth::true_);
    EXPECT_EQ(eval("interests = 'yoga'"), Truth::true_);
    EXPECT_EQ(eval("interests IN ('chess', 'running')"), Truth::true_);
    EXPECT_EQ(eval("interests <> 'chess'"), Truth::true_);
    EXPECT_EQ(eval("signup_at < now() - 365 days"), Truth::true_);
    EXPECT_EQ(eval("signup_at > timestamp '2020-01-01T00:00:00Z'"), Truth::true_);
}

TEST_F(PredicateEval, MissingTraitsAndMismatchedTypesAreUnknown) {
    EXPECT_EQ(eval("shoe_size > 40"), Truth::unknown);
    EXPECT_EQ(eval("NOT shoe_size > 40"), Truth::unknown);
    EXPECT_EQ(eval("tier > 5"), Truth::unknown);
    EXPECT_EQ(eval("shoe_size > 40 OR tier = 'gold'"), Truth::true_);
    EXPECT_EQ(eval("shoe_size > 40 AND tier = 'silver'"), Truth::false_);
    EXPECT_EQ(eval("shoe_size IS NULL AND note IS NULL AND tier IS NOT NULL"), Truth::true_);
    EXPECT_EQ(eval("has(tier) AND NOT has(note) AND NOT has(shoe_size)"), Truth::true_);
    EXPECT_EQ(eval("tier NOT IN ('x', NULL)"), Truth::unknown);  // as in SQL
    EXPECT_FALSE(matches(parse_predicate("shoe_size > 40"), context));
}

TEST_F(PredicateEval, LikeAndIlike) {
    EXPECT_EQ(eval("email LIKE '%@Example.EDU'"), Truth::true_);
    EXPECT_EQ(eval("email LIKE '%@example.edu'"), Truth::false_);
    EXPECT_EQ(eval("email ILIKE '%@example.edu'"), Truth::true_);
    EXPECT_EQ(eval("email NOT ILIKE 'bob%'"), Truth::true_);
    EXPECT_EQ(eval("city LIKE 'Z_rich'"), Truth::true_);  // _ is one character, ü included
    EXPECT_EQ(eval("ltv LIKE '2%'"), Truth::unknown);
    EXPECT_TRUE(like_match("50%", "50\\%", false));
    EXPECT_FALSE(like_match("500", "50\\%", false));
    EXPECT_TRUE(like_match("", "%", false));
    EXPECT_FALSE(like_match("a", "", false));
    EXPECT_TRUE(like_match("abcabcabd", "%abc%abd", false));
    // A hostile pattern stays cheap (no exponential backtracking).
    EXPECT_FALSE(like_match(std::string(20000, 'a'), std::string(50, '%') + "b", false));
}

// ILIKE is LIKE on the lower case of both sides, as PostgreSQL runs it under
// COLLATE "und-x-icu" (ICU's full lower-case mapping, root locale), so the
// equivalent SQL of segment_explain finds the same people.
TEST_F(PredicateEval, IlikeFoldsAllOfUnicode) {
    EXPECT_EQ(eval("city ILIKE 'zÜRICH'"), Truth::true_);
    EXPECT_EQ(eval("city NOT ILIKE 'ZÜRICH'"), Truth::false_);
    EXPECT_EQ(eval("city LIKE 'zürich'"), Truth::false_);  // LIKE keeps case
    EXPECT_TRUE(like_match("ÉVRY", "évry", true));
    EXPECT_TRUE(like_match("évry", "ÉVRY", true));
    EXPECT_TRUE(like_match("ÉCOLE", "_cole", true));  // _ is one character after folding too
    EXPECT_TRUE(like_match("ΣΟΦΊΑ", "σοφία", true));
    EXPECT_TRUE(like_match("ДОБРО ПОЖАЛОВАТЬ", "добро%", true));
    EXPECT_TRUE(like_match("ǅemal", "ǆemal", true));              // a title-case letter
    EXPECT_TRUE(like_match("ΣΑΣ", "σας", true));                  // a final capital sigma lowers to ς
    EXPECT_FALSE(like_match("ΣΑΣ", "σασ", true));                 // as lower('ΣΑΣ' COLLATE "und-x-icu") = 'σας'
    EXPECT_TRUE(like_match("İstanbul", "i\u0307stanbul", true));  // U+0130 lowers to i + U+0307
    EXPECT_FALSE(like_match("straße", "STRASSE", true));          // lower case, not case folding
    EXPECT_TRUE(like_match("50% OFF", "50\\% off", true));
    EXPECT_FALSE(like_match("ÉVRY", "évry", false));
}

TEST_F(PredicateEval, BehaviorWindowsAndLastSeen) {
    EXPECT_EQ(eval("count(purchase within 30 days) >= 2"), Truth::true_);
    EXPECT_EQ(eval("count(purchase within 7 days) = 1"), Truth::true_);
    EXPECT_EQ(eval("count(purchase) = 3"), Truth::true_);
    EXPECT_EQ(eval("count(refund within 30 days) = 0"), Truth::true_);
    EXPECT_EQ(eval("sum(purchase.revenue within 30 days) = 110"), Truth::true_);
    EXPECT_EQ(eval("sum(purchase.revenue within 90 days) > 100"), Truth::true_);
    EXPECT_EQ(eval("sum(purchase.revenue) = 150"), Truth::true_);
    EXPECT_EQ(eval("sum(purchase.discount) = 0"), Truth::true_);
    EXPECT_EQ(eval("last_seen() > now() - 7 days"), Truth::true_);
    EXPECT_EQ(eval("last_seen(purchase) > now() - 2 days"), Truth::false_);
    EXPECT_EQ(eval("last_seen(refund) > now() - 2 days"), Truth::unknown);
    context.behavior = nullptr;
    EXPECT_EQ(eval("count(purchase within 30 days) = 0"), Truth::true_);
    EXPECT_EQ(eval("last_seen() IS NULL"), Truth::true_);
}

TEST_F(PredicateEval, KnownSegmentsAndFilteredCountsUseTheContext) {
    EXPECT_EQ(eval("known AND NOT anonymous"), Truth::true_);
    context.known = false;
    EXPECT_EQ(eval("anonymous"), Truth::true_);
    EXPECT_EQ(eval("in_segment('vip')"), Truth::unknown);
    EXPECT_EQ(eval("consent(email_marketing)"), Truth::unknown);
    context.consent = [](const std::string& purpose) -> std::optional<bool> {
        if (purpose == "email_marketing") return true;
        if (purpose == "analytics") return false;
        return std::nullopt;
    };
    EXPECT_EQ(eval("consent(email_marketing) AND NOT consent(analytics)"), Truth::true_);
    EXPECT_EQ(eval("consent(personalization)"), Truth::false_);  // never asked is not consent
    EXPECT_EQ(eval("in_cluster(2)"), Truth::unknown);
    context.cluster = []() -> std::optional<int> { return 2; };
    EXPECT_EQ(eval("in_cluster(2) AND NOT in_cluster(3)"), Truth::true_);
    context.cluster = []() -> std::optional<int> { return std::nullopt; };
    EXPECT_EQ(eval("in_cluster(2)"), Truth::false_);
    context.in_segment = [](const std::string& name) { return name == "vip"; };
    EXPECT_EQ(eval("in_segment('vip') AND NOT in_segment('churned')"), Truth::true_);
    EXPECT_EQ(eval("count(email_open where campaign = 'spring' within 14 days) > 0"), Truth::unknown);
    std::optional<Day> seen_first;
    context.filtered_aggregate = [&](const Operand& o, std::optional<Day> first) {
        seen_first = first;
        return o.name == "email_open" ? 2.0 : 0.0;
    };
    EXPECT_EQ(eval("count(email_open where campaign = 'spring' within 14 days) > 0"), Truth::true_);
    ASSERT_TRUE(seen_first.has_value());
    EXPECT_EQ(*seen_first, day_of(kNow) - 13);
}

TEST_F(PredicateEval, LookupsAreAskedOnlyAsFarAsTheEvaluationGoes) {
    int trait_asks = 0, behavior_asks = 0;
    EvaluationContext lazy = context;
    lazy.traits = nullptr;
    lazy.behavior = nullptr;
    lazy.trait_lookup = [&](const std::string& name) {
        ++trait_asks;
        return profile.find(name);
    };
    lazy.behavior_lookup = [&] {
        ++behavior_asks;
        return &behavior;
    };
    // The first condition fails: the behavior summary is never read.
    EXPECT_EQ(evaluate(parse_predicate("tier = 'silver' AND count(purchase within 30 days) >= 2"), lazy),
              Truth::false_);
    EXPECT_EQ(trait_asks, 1);
    EXPECT_EQ(behavior_asks, 0);
    // Same answers as with decoded values.
    for (const char* text :
         {"tier = 'gold' AND count(purchase within 30 days) >= 2", "has(ltv) AND last_seen() > now() - 3 days",
          "ltv IS NULL OR sum(purchase.revenue within 90 days) > 100"})
        EXPECT_EQ(evaluate(parse_predicate(text), lazy), evaluate(parse_predicate(text), context)) << text;
    EXPECT_GT(behavior_asks, 0);
}

TEST_F(PredicateEval, CheapestFirstOrderGivesTheSameAnswers) {
    context.in_segment = [](const std::string& name) { return name == "vip"; };
    context.filtered_aggregate = [](const Operand&, std::optional<Day>) { return 2.0; };
    for (const char* text :
         {"count(purchase within 30 days) >= 2 AND tier = 'gold'", "known OR shoe_size > 1 OR count(page_view) > 0",
          "in_segment('vip') AND (last_seen() > now() - 1 day OR ltv > 100) AND NOT city = 'Paris'",
          "count(purchase where revenue > 10) > 1 AND shoe_size > 40", "anonymous OR (tier = 'gold' AND has(ltv))"}) {
        PredicateNode tree = parse_predicate(text);
        PredicateNode ordered = cheapest_first(tree);
        EXPECT_EQ(evaluate(ordered, context), evaluate(tree, context)) << text;
    }
    // Traits first, then the behavior summary, then what needs a query.
    PredicateNode ordered = cheapest_first(parse_predicate("known AND count(purchase) > 1 AND tier = 'gold'"));
    ASSERT_EQ(ordered.children.size(), 3u);
    EXPECT_EQ(ordered.children[0].kind, PredicateNode::Kind::compare);
    EXPECT_EQ(ordered.children[0].left.kind, Operand::Kind::trait);
    EXPECT_EQ(ordered.children[1].left.kind, Operand::Kind::count);
    EXPECT_EQ(ordered.children[2].kind, PredicateNode::Kind::known);
}

// The LIKE matcher (RE2) agrees with a reference dynamic program on random
// patterns and texts over a small alphabet with a multi-byte character and
// escaped wildcards.
namespace {
struct Element {
    enum { any_run, one_char, literal } kind;
    std::string c;
};
bool like_reference(const std::vector<std::string>& t, const std::vector<Element>& p) {
    std::vector<std::vector<char>> m(t.size() + 1, std::vector<char>(p.size() + 1, 0));
    m[0][0] = 1;
    for (std::size_t j = 1; j <= p.size(); ++j) m[0][j] = p[j - 1].kind == Element::any_run && m[0][j - 1];
    for (std::size_t i = 1; i <= t.size(); ++i)
        for (std::size_t j = 1; j <= p.size(); ++j) {
            const Element& e = p[j - 1];
            if (e.kind == Element::any_run)
                m[i][j] = m[i - 1][j] || m[i][j - 1];
            else
                m[i][j] = m[i - 1][j - 1] && (e.kind == Element::one_char || t[i - 1] == e.c);
        }
    return m[t.size()][p.size()];
}
}  // namespace

TEST(LikeMatch, AgreesWithAReferenceOnRandomInput) {
    const std::vector<std::string> alphabet = {"a", "b", "\xc3\xa9", "%", "_", "\\"};
    std::mt19937 rng(42);
    for (int round = 0; round < 20000; ++round) {
        std::vector<std::string> text;
        std::vector<Element> pattern;
        std::string text_s, pattern_s;
        for (int i = static_cast<int>(rng() % 7); i > 0; --i) {
            text.push_back(alphabet[rng() % alphabet.size()]);
            text_s += text.back();
        }
        for (int i = static_cast<int>(rng() % 6); i > 0; --i) {
            switch (rng() % 4) {
                case 0:
                    pattern.push_back({Element::any_run, ""});
                    pattern_s += "%";
                    break;
                case 1:
                    pattern.push_back({Element::one_char, ""});
                    pattern_s += "_";
                    break;
                default: {
                    std::string c = alphabet[rng() % alphabet.size()];
                    pattern.push_back({Element::literal, c});
                    pattern_s += (c == "%" || c == "_" || c == "\\" ? "\\" : "") + c;
                }
            }
        }
        ASSERT_EQ(like_match(text_s, pattern_s, false), like_reference(text, pattern))
            << "text '" << text_s << "' pattern '" << pattern_s << "'";
    }
}

TEST(LikeMatch, HostilePatternsOverLongTexts) {
    // O(text x pattern) for a backtracking matcher: 64 kB x 32 kB.
    std::string text(65536, 'a');
    std::string pattern = "%" + std::string(32768, 'a') + "b%";
    EXPECT_FALSE(like_match(text, pattern, false));
    std::string many;
    for (int i = 0; i < 5000; ++i) many += "a%";
    EXPECT_FALSE(like_match(text, many + "b", true));
    EXPECT_TRUE(like_match(text, many, true));
}

TEST(LikeMatch, SlowPiecesPollTheCancelCheck) {
    // A piece with _ is tried at each position (O(text x piece)): the loop
    // polls the cancel check, so statement_timeout stops it.
    std::string text(65536, 'a');
    std::string pattern = "%" + std::string(30000, 'a') + "_b%";
    try {
        like_match(text, pattern, false, [] { return true; });
        FAIL() << "the cancel check was not polled";
    } catch (const Error& e) {
        EXPECT_EQ(e.code(), ErrorCode::query_canceled);
    }
}
