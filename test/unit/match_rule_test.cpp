// Match rules: parsing and its errors, comparison levels, blocking keys, decisions.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>

#include "core/error.hpp"
#include "core/match_compare.hpp"
#include "core/match_rule.hpp"

namespace cp = customer_profile::core;

namespace {

const char* kFields = R"J([
  {"trait": "last_name", "levels": [{"exact": true}, {"jaro_winkler": 0.9}, {"soundex": true}]},
  {"trait": "dob", "levels": [{"exact": true}, {"date_swapped": true}, {"date_one_digit": true}]},
  {"trait": "address", "levels": [{"exact": true}, {"token_set": 0.8}]},
  {"trait": "ssn", "levels": [{"exact": true}, {"damerau_levenshtein": 1}]},
  {"trait": "age", "levels": [{"numeric": 2}]}
])J";
const char* kBlocking =
    R"J([["soundex(last_name)", "year(dob)"], ["ssn"], ["first(last_name, 2)", "digits(address)"]])J";

cp::MatchRule rule() {
    return cp::parse_match_rule(kFields, kBlocking, 0.99, 0.8);
}

cp::MatchRecord record(std::initializer_list<const char*> values) {
    cp::MatchRecord r;
    for (const char* v : values) r.push_back(v ? cp::normalize_match_value(v) : std::nullopt);
    return r;
}

void expect_refused(const char* fields, const char* blocking, const char* fragment, double link = 0.99,
                    double review = 0.8) {
    try {
        cp::parse_match_rule(fields, blocking, link, review);
        ADD_FAILURE() << "accepted: " << fields << " " << blocking;
    } catch (const cp::Error& e) {
        EXPECT_EQ(e.code(), cp::ErrorCode::invalid_parameter);
        EXPECT_NE(std::string(e.what()).find(fragment), std::string::npos) << e.what() << " / " << fragment;
    }
}

}  // namespace

TEST(MatchRule, ParsesFieldsLevelsAndBlocking) {
    cp::MatchRule r = rule();
    ASSERT_EQ(r.fields.size(), 5u);
    EXPECT_EQ(r.level_counts(), (std::vector<int>{4, 4, 3, 3, 2}));
    ASSERT_EQ(r.blocking.size(), 3u);
    EXPECT_EQ(r.blocking[0][0].transform, cp::KeyTransform::soundex);
    EXPECT_EQ(r.blocking[0][1].field, 1);
    EXPECT_EQ(r.blocking[2][0].length, 2);
    // Default parameters: each field's m and u are distributions, agreement favoured.
    for (std::size_t f = 0; f < r.fields.size(); ++f) {
        double sm = 0, su = 0;
        for (double p : r.parameters.m[f]) sm += p;
        for (double p : r.parameters.u[f]) su += p;
        EXPECT_NEAR(sm, 1, 1e-12);
        EXPECT_NEAR(su, 1, 1e-12);
        EXPECT_GT(r.parameters.m[f][0], r.parameters.u[f][0]);
    }
}

TEST(MatchRule, RefusesBadRules) {
    expect_refused("{", kBlocking, "fields is not valid JSON");
    expect_refused("[]", kBlocking, "fields must be an array of 1 to");
    expect_refused(R"J([{"trait": "a"}])J", R"J([["a"]])J", "\"trait\" and \"levels\"");
    expect_refused(R"J([{"trait": "a", "levels": [{"fuzzy": 1}]}])J", R"J([["a"]])J", "unknown level test \"fuzzy\"");
    expect_refused(R"J([{"trait": "a", "levels": [{"jaro_winkler": 1.5}]}])J", R"J([["a"]])J",
                   "out-of-range threshold");
    expect_refused(R"J([{"trait": "a", "levels": [{"levenshtein": 1.5}]}])J", R"J([["a"]])J", "out-of-range threshold");
    expect_refused(R"J([{"trait": "a", "levels": [{"exact": 1}]}])J", R"J([["a"]])J", "takes true");
    expect_refused(R"J([{"trait": "a", "levels": [{"exact": true, "soundex": true}]}])J", R"J([["a"]])J", "one test");
    expect_refused(R"J([{"trait": "A-b", "levels": [{"exact": true}]}])J", R"J([["a"]])J", "not a valid trait name");
    expect_refused(R"J([{"trait": "a", "levels": [{"exact": true}]}, {"trait": "a", "levels": [{"exact": true}]}])J",
                   R"J([["a"]])J", "compared twice");
    expect_refused(R"J([{"trait": "a", "levels": [{"exact": true}], "m": [0.5, 0.4]}])J", R"J([["a"]])J", "sum to 1");
    expect_refused(R"J([{"trait": "a", "levels": [{"exact": true}], "u": [1]}])J", R"J([["a"]])J", "array of 2");
    expect_refused(R"J([{"trait": "a", "levels": [{"exact": true}], "weight": 3}])J", R"J([["a"]])J", "unknown key");
    expect_refused(R"J([{"trait": "a", "levels": [{"exact": true}]}])J", "[]", "blocking must be an array");
    expect_refused(R"J([{"trait": "a", "levels": [{"exact": true}]}])J", R"J([["b"]])J", "not a field of the rule");
    expect_refused(R"J([{"trait": "a", "levels": [{"exact": true}]}])J", R"J([["metaphone(a)"]])J", "unknown function");
    expect_refused(R"J([{"trait": "a", "levels": [{"exact": true}]}])J", R"J([["first(a, 0)"]])J", "from 1 to 100");
    expect_refused(R"J([{"trait": "a", "levels": [{"exact": true}]}])J", R"J([["soundex(a, 2)"]])J", "only first()");
    expect_refused(kFields, kBlocking, "review_threshold <= link_threshold", 0.5, 0.9);
    expect_refused(kFields, kBlocking, "probabilities in (0, 1)", 1.0, 0.5);
    expect_refused(kFields, kBlocking, "probabilities in (0, 1)", std::nan(""), 0.5);
}

TEST(MatchRule, NormalizesValues) {
    EXPECT_EQ(cp::normalize_match_value("  Jon   SMYTH \n"), "jon smyth");
    EXPECT_EQ(cp::normalize_match_value("MÜLLER"), "müller");
    EXPECT_FALSE(cp::normalize_match_value(" \t "));
    // Too long is missing, never a prefix: two long values differing after
    // the limit were equal once cut.
    std::string huge(5000, 'x');
    EXPECT_FALSE(cp::normalize_match_value(huge + "a"));
    EXPECT_FALSE(cp::normalize_match_value(huge + "b"));
    std::string at_limit(cp::kMaxMatchValueBytes, 'a');
    EXPECT_EQ(cp::normalize_match_value(at_limit)->size(), cp::kMaxMatchValueBytes);
    std::string accents(cp::kMaxMatchValueBytes - 1, 'a');
    EXPECT_FALSE(cp::normalize_match_value(accents + "é"));  // 1,001 bytes
    // The limit is on the normalized value: collapsed white space does not count.
    EXPECT_TRUE(cp::normalize_match_value("  " + at_limit + "   "));
}

TEST(MatchRule, LevelsAreTheFirstTestThatHolds) {
    cp::MatchRule r = rule();
    const auto& name = r.fields[0];
    EXPECT_EQ(cp::compare_field(name, "smith", "smith"), 0);
    EXPECT_EQ(cp::compare_field(name, "smith", "smithe"), 1);
    EXPECT_EQ(cp::compare_field(name, "smith", "smyth"), 2);    // jaro-winkler 0.893, soundex S530 both
    EXPECT_EQ(cp::compare_field(name, "robert", "rupert"), 2);  // soundex R163 both, JW < 0.9
    EXPECT_EQ(cp::compare_field(name, "smith", "jones"), 3);
    const auto& dob = r.fields[1];
    EXPECT_EQ(cp::compare_field(dob, "1983-04-01", "1983-04-01"), 0);
    EXPECT_EQ(cp::compare_field(dob, "1983-04-01", "1983-01-04"), 1);
    EXPECT_EQ(cp::compare_field(dob, "1983-04-01", "1988-04-01"), 2);
    EXPECT_EQ(cp::compare_field(dob, "1983-04-01", "1990-12-30"), 3);
    EXPECT_EQ(cp::compare_field(dob, "1983-04-01", "not a date"), 3);
    const auto& address = r.fields[2];
    EXPECT_EQ(cp::compare_field(address, "12 pinkerton cct", "12 pinkerton cct apt 4"), 1);
    EXPECT_EQ(cp::compare_field(address, "12 pinkerton cct", "7 high st"), 2);
    const auto& ssn = r.fields[3];
    EXPECT_EQ(cp::compare_field(ssn, "123456789", "123456798"), 1);
    EXPECT_EQ(cp::compare_field(ssn, "123456789", "123450000"), 2);
    const auto& age = r.fields[4];
    EXPECT_EQ(cp::compare_field(age, "40", "42"), 0);
    EXPECT_EQ(cp::compare_field(age, "40", "43"), 1);
    EXPECT_EQ(cp::compare_field(age, "40", "forty"), 1);
}

TEST(MatchRule, MissingFieldsWeighNothing) {
    cp::MatchRule r = rule();
    auto a = record({"Smith", "1983-04-01", nullptr, "123456789", "40"});
    auto b = record({"Smith", "1983-04-01", "12 High St", nullptr, "40"});
    cp::ComparisonVector v = cp::compare_records(r, a, b);
    EXPECT_EQ(v, (cp::ComparisonVector{0, 0, cp::kMissing, cp::kMissing, 0}));
    cp::PairScore s = cp::score_pair(r, a, b);
    EXPECT_EQ(s.fields[2].weight, 0);
    EXPECT_EQ(s.fields[3].weight, 0);
    double expected = 0;
    for (int f : {0, 1, 4}) expected += std::log2(r.parameters.m[f][0] / r.parameters.u[f][0]);
    EXPECT_NEAR(s.weight, expected, 1e-9);
    EXPECT_NEAR(s.probability, cp::match_probability(expected, r.parameters.lambda), 1e-12);
    EXPECT_THROW(cp::compare_records(r, a, record({"x"})), cp::Error);
}

TEST(MatchRule, DecisionsFollowTheThresholds) {
    cp::MatchRule r = rule();
    auto a = record({"Smith", "1983-04-01", "12 Pinkerton Cct", "123456789", "40"});
    EXPECT_EQ(cp::score_pair(r, a, a).decision, cp::MatchDecision::link);
    auto nobody = record({"Jones", "1950-12-30", "7 High St", "999999999", "80"});
    EXPECT_EQ(cp::score_pair(r, a, nobody).decision, cp::MatchDecision::none);
    // Between: one agreeing field only, with thresholds around its probability.
    auto partial = record({"Smith", nullptr, nullptr, nullptr, nullptr});
    double p = cp::score_pair(r, a, partial).probability;
    cp::MatchRule around = cp::parse_match_rule(kFields, kBlocking, std::min(0.999999, p + 1e-6), p * 0.5);
    EXPECT_EQ(cp::score_pair(around, a, partial).decision, cp::MatchDecision::review);
}

TEST(MatchRule, BlockingKeysSkipMissingParts) {
    cp::MatchRule r = rule();
    auto a = record({"Smith", "1983-04-01", "12 Pinkerton Cct", "123-45-6789", "40"});
    EXPECT_EQ(cp::blocking_keys(r, a), (std::vector<std::string>{"0:S530\x1f"
                                                                 "1983",
                                                                 "1:123-45-6789",
                                                                 "2:sm\x1f"
                                                                 "12"}));
    auto b = record({"Smyth", "not a date", "no number here", nullptr, nullptr});
    EXPECT_TRUE(cp::blocking_keys(r, b).empty());  // no year, no ssn, no digits
    auto c = record({"Smyth", "1983-01-04", nullptr, nullptr, nullptr});
    EXPECT_EQ(cp::blocking_keys(r, c), (std::vector<std::string>{"0:S530\x1f"
                                                                 "1983"}));
}

// initials(trait): the first character of each word.
TEST(MatchRule, InitialsKeysTakeEachWordsFirstCharacter) {
    cp::MatchRule r = cp::parse_match_rule(
        kFields, R"J([["digits(address)", "initials(address)"], ["initials(last_name)"]])J", 0.99, 0.8);
    EXPECT_EQ(
        cp::blocking_keys(r, record({"\xC3\x89lan  de la Cruz", nullptr, "  12  Pinkerton   Cct ", nullptr, nullptr})),
        (std::vector<std::string>{"0:12\x1f"
                                  "1pc",
                                  "1:\xC3\xA9"
                                  "dlc"}));  // normalized first: lower case, one space between words
    // The same street, its type abbreviated or not, shares the key; another street does not.
    auto key = [&](const char* address) {
        return cp::blocking_keys(r, record({nullptr, nullptr, address, nullptr, nullptr}));
    };
    EXPECT_EQ(key("12 Pinkerton Circuit"), key("12 pinkerton cct"));
    EXPECT_NE(key("12 Pinkerton Circuit"), key("12 Barker Circuit"));
    EXPECT_TRUE(key("Pinkerton Circuit").empty());  // no digits: the key's other part is missing
}

TEST(MatchRule, DeletionKeysHoldEveryOneCharacterDeletion) {
    cp::MatchRule r = cp::parse_match_rule(kFields, R"J([["deletions(ssn)"]])J", 0.99, 0.8);
    EXPECT_EQ(cp::blocking_keys(r, record({nullptr, nullptr, nullptr, "1223", nullptr})),
              (std::vector<std::string>{"0:122", "0:1223", "0:123", "0:223"}));  // "123" once
    // Characters, not bytes: every key stays valid UTF-8.
    EXPECT_EQ(cp::blocking_keys(r, record({nullptr, nullptr, nullptr, "a\xC3\xA9z", nullptr})),
              (std::vector<std::string>{"0:az", "0:a\xC3\xA9", "0:a\xC3\xA9z", "0:\xC3\xA9z"}));
    // One character: itself, never the empty key; a long value: itself only.
    EXPECT_EQ(cp::blocking_keys(r, record({nullptr, nullptr, nullptr, "7", nullptr})),
              (std::vector<std::string>{"0:7"}));
    std::string long_value(cp::kMaxDeletionCodePoints + 1, 'x');
    EXPECT_EQ(cp::blocking_keys(r, record({nullptr, nullptr, nullptr, long_value.c_str(), nullptr})).size(), 1U);
    std::string longest(cp::kMaxDeletionCodePoints, 'x');
    longest[0] = 'y';
    EXPECT_EQ(cp::blocking_keys(r, record({nullptr, nullptr, nullptr, longest.c_str(), nullptr})).size(), 3U);
    // Combined with another part: one key per piece; a missing part, no key.
    cp::MatchRule both = cp::parse_match_rule(kFields, R"J([["year(dob)", "deletions(ssn)"]])J", 0.99, 0.8);
    EXPECT_EQ(cp::blocking_keys(both, record({nullptr, "1983-04-01", nullptr, "12", nullptr})),
              (std::vector<std::string>{"0:1983\x1f"
                                        "1",
                                        "0:1983\x1f"
                                        "12",
                                        "0:1983\x1f"
                                        "2"}));
    EXPECT_TRUE(cp::blocking_keys(both, record({nullptr, nullptr, nullptr, "12", nullptr})).empty());
    EXPECT_TRUE(cp::multi_valued(both.blocking[0]));
    EXPECT_FALSE(cp::multi_valued(rule().blocking[0]));
}

// Reference edit distance (Levenshtein, adjacent swaps counted as one edit), written here, not the core's.
int reference_distance(const std::string& a, const std::string& b) {
    std::vector<std::vector<int>> d(a.size() + 1, std::vector<int>(b.size() + 1));
    for (std::size_t i = 0; i <= a.size(); ++i) d[i][0] = static_cast<int>(i);
    for (std::size_t j = 0; j <= b.size(); ++j) d[0][j] = static_cast<int>(j);
    for (std::size_t i = 1; i <= a.size(); ++i)
        for (std::size_t j = 1; j <= b.size(); ++j) {
            d[i][j] = std::min({d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + (a[i - 1] != b[j - 1])});
            if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1])
                d[i][j] = std::min(d[i][j], d[i - 2][j - 2] + 1);
        }
    return d[a.size()][b.size()];
}

// Two values one typo apart always share a key; values three or more edits apart never do.
TEST(MatchRule, DeletionKeysFindEveryOneTypoPair) {
    cp::MatchRule r = cp::parse_match_rule(kFields, R"J([["deletions(ssn)"]])J", 0.99, 0.8);
    std::mt19937 rng(20261203);
    auto digits = [&](int n) {
        std::string s;
        for (int i = 0; i < n; ++i) s += static_cast<char>('0' + rng() % 10);
        return s;
    };
    auto shares = [&](const std::string& a, const std::string& b) {
        auto ka = cp::blocking_keys(r, record({nullptr, nullptr, nullptr, a.c_str(), nullptr}));
        auto kb = cp::blocking_keys(r, record({nullptr, nullptr, nullptr, b.c_str(), nullptr}));
        for (const auto& k : ka)
            if (std::find(kb.begin(), kb.end(), k) != kb.end()) return true;
        return false;
    };
    for (int trial = 0; trial < 20000; ++trial) {
        std::string a = digits(2 + static_cast<int>(rng() % 12)), b = a;
        std::size_t at = rng() % a.size();
        switch (rng() % 4) {
            case 0:
                b[at] = static_cast<char>('0' + rng() % 10);
                break;
            case 1:
                b.insert(b.begin() + static_cast<long>(rng() % (a.size() + 1)), static_cast<char>('0' + rng() % 10));
                break;
            case 2:
                b.erase(at, 1);
                break;
            default:
                if (at + 1 < b.size()) std::swap(b[at], b[at + 1]);
                break;
        }
        if (b.empty()) continue;
        ASSERT_LE(reference_distance(a, b), 1) << a << " " << b;
        EXPECT_TRUE(shares(a, b)) << a << " " << b;
        std::string c = digits(static_cast<int>(a.size()));
        if (reference_distance(a, c) >= 3) {
            EXPECT_FALSE(shares(a, c)) << a << " " << c;
        }
    }
}

TEST(MatchRule, DeletionKeysAreOnePartPerKey) {
    expect_refused(kFields, R"J([["deletions(ssn)", "deletions(last_name)"]])J", "at most one deletions() part");
    expect_refused(kFields, R"J([["deletions(ssn, 2)"]])J", "only first() takes a second argument");
}

TEST(MatchRule, ParametersRoundTripAsJson) {
    cp::MatchRule r = rule();
    r.parameters.lambda = 0.0123;
    r.parameters.m[0] = {0.7, 0.2, 0.05, 0.05};
    std::string json = cp::match_parameters_json(r.parameters);
    cp::MatchParameters back = cp::parse_match_parameters(json, r.level_counts());
    EXPECT_EQ(back.lambda, 0.0123);
    EXPECT_EQ(back.m, r.parameters.m);
    EXPECT_EQ(back.u, r.parameters.u);
    EXPECT_THROW(cp::parse_match_parameters(json, {4, 4}), cp::Error);
    EXPECT_THROW(cp::parse_match_parameters(R"J({"lambda": 2, "m": [], "u": []})J", {}), cp::Error);
}

TEST(MatchRule, LevelNamesForExplain) {
    cp::MatchRule r = rule();
    EXPECT_EQ(cp::level_name(r.fields[0], 0), "exact");
    EXPECT_EQ(cp::level_name(r.fields[0], 1), "jaro_winkler >= 0.9");
    EXPECT_EQ(cp::level_name(r.fields[0], 3), "else");
    EXPECT_EQ(cp::level_name(r.fields[3], 1), "damerau_levenshtein <= 1");
    EXPECT_EQ(cp::level_name(r.fields[0], cp::kMissing), "missing");
}

TEST(MatchRule, SwappedFieldsLevel) {
    const char* fields = R"J([
      {"trait": "first_name", "levels": [{"exact": true}, {"swapped_with": "last_name"}]},
      {"trait": "last_name", "levels": [{"exact": true}, {"swapped_with": "first_name"}]}])J";
    cp::MatchRule r = cp::parse_match_rule(fields, R"J([["first_name"]])J", 0.99, 0.8);
    EXPECT_EQ(r.fields[0].levels[1].other, 1);
    EXPECT_EQ(r.fields[1].levels[1].other, 0);
    auto a = record({"John", "Smith"});
    EXPECT_EQ(cp::compare_records(r, a, record({"Smith", "John"})), (cp::ComparisonVector{1, 1}));
    EXPECT_EQ(cp::compare_records(r, a, record({"Smithe", "Jon"})), (cp::ComparisonVector{1, 1}));  // close both ways
    EXPECT_EQ(cp::compare_records(r, a, record({"Smith", "Mary"})), (cp::ComparisonVector{2, 2}));
    EXPECT_EQ(cp::compare_records(r, a, record({"Smith", nullptr})), (cp::ComparisonVector{2, cp::kMissing}));
    EXPECT_EQ(cp::compare_field(r.fields[0], "john", "smith"), 2);  // alone it never holds
    EXPECT_EQ(cp::level_name(r.fields[0], 1), "swapped_with");
    expect_refused(R"J([{"trait": "a", "levels": [{"swapped_with": "b"}]}])J", R"J([["a"]])J", "not another field");
    expect_refused(R"J([{"trait": "a", "levels": [{"swapped_with": "a"}]}])J", R"J([["a"]])J", "not another field");
    expect_refused(R"J([{"trait": "a", "levels": [{"swapped_with": 1}]}])J", R"J([["a"]])J", "takes the name");
}
