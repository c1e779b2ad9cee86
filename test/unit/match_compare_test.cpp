// Field comparators of probabilistic matching, against published values
// (Winkler's examples for Jaro and Jaro-Winkler, the classic edit-distance
// pairs, Knuth's Soundex examples) and properties over random strings.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <string>

#include "core/error.hpp"
#include "core/match_compare.hpp"

namespace cp = customer_profile::core;

TEST(MatchCompare, JaroPublishedValues) {
    EXPECT_NEAR(cp::jaro("MARTHA", "MARHTA"), 0.944444, 1e-6);
    EXPECT_NEAR(cp::jaro("DWAYNE", "DUANE"), 0.822222, 1e-6);
    EXPECT_NEAR(cp::jaro("DIXON", "DICKSONX"), 0.766667, 1e-6);
    EXPECT_DOUBLE_EQ(cp::jaro("", ""), 1.0);
    EXPECT_DOUBLE_EQ(cp::jaro("abc", ""), 0.0);
    EXPECT_DOUBLE_EQ(cp::jaro("abc", "xyz"), 0.0);
    EXPECT_DOUBLE_EQ(cp::jaro("same", "same"), 1.0);
}

TEST(MatchCompare, JaroWinklerPublishedValues) {
    EXPECT_NEAR(cp::jaro_winkler("MARTHA", "MARHTA"), 0.961111, 1e-6);
    EXPECT_NEAR(cp::jaro_winkler("DWAYNE", "DUANE"), 0.84, 1e-6);
    EXPECT_NEAR(cp::jaro_winkler("DIXON", "DICKSONX"), 0.813333, 1e-6);
    // The prefix counts up to 4 code points, and the scale is capped at 0.25.
    EXPECT_LE(cp::jaro_winkler("abcdefgh", "abcdefgx", 5.0), 1.0);
    EXPECT_GT(cp::jaro_winkler("Jon Smyth", "John Smith"), 0.85);
    EXPECT_DOUBLE_EQ(cp::jaro_winkler("MARTHA", "MARHTA", std::nan("")), cp::jaro("MARTHA", "MARHTA"));
}

TEST(MatchCompare, EditDistances) {
    EXPECT_EQ(cp::levenshtein("kitten", "sitting"), 3);
    EXPECT_EQ(cp::levenshtein("flaw", "lawn"), 2);
    EXPECT_EQ(cp::levenshtein("", "abc"), 3);
    // A transposition is one edit for Damerau, two for Levenshtein.
    EXPECT_EQ(cp::damerau_levenshtein("abcd", "acbd"), 1);
    EXPECT_EQ(cp::levenshtein("abcd", "acbd"), 2);
    // Optimal string alignment edits no substring twice: "ca" -> "abc" is 3.
    EXPECT_EQ(cp::damerau_levenshtein("ca", "abc"), 3);
    // Code points, not bytes.
    EXPECT_EQ(cp::damerau_levenshtein("Müller", "Muller"), 1);
    EXPECT_EQ(cp::levenshtein("naïve", "naive"), 1);
    // Invalid UTF-8 bytes count one each.
    EXPECT_EQ(cp::levenshtein(std::string("a\xff"
                                          "b"),
                              "ab"),
              1);
}

TEST(MatchCompare, InvalidUtf8CountsByteByByte) {
    // An overlong NUL is two bytes that are not UTF-8, not the code point 0.
    EXPECT_EQ(cp::levenshtein(std::string("\xC0\x80"), std::string(1, '\0')), 2);
    EXPECT_EQ(cp::levenshtein(std::string("\xED\xA0\x80"), "x"), 3);      // a surrogate
    EXPECT_EQ(cp::levenshtein(std::string("\xF4\x90\x80\x80"), "x"), 4);  // above U+10FFFF
    EXPECT_EQ(cp::levenshtein("\xE2\x82\xAC", "x"), 1);                   // the euro sign is one
}

TEST(MatchCompare, EditDistanceCap) {
    // A cap beyond any distance changes nothing and does not overflow.
    EXPECT_EQ(cp::levenshtein("abc", "abd", 2147483647), 1);
    EXPECT_EQ(cp::damerau_levenshtein("abc", "xyz", 2147483646), 3);
    EXPECT_EQ(cp::levenshtein("abc", "xyz", -5), 1);  // a negative cap counts as 0
    EXPECT_EQ(cp::levenshtein("kitten", "sitting", 2), 3);
    EXPECT_EQ(cp::levenshtein("kitten", "sitting", 3), 3);
    EXPECT_EQ(cp::damerau_levenshtein(std::string(5000, 'a'), std::string(4000, 'a'), 2), 3);
    EXPECT_EQ(cp::damerau_levenshtein(std::string(20000, 'a'), std::string(20000, 'a') + "b", 1), 1);
    EXPECT_EQ(cp::damerau_levenshtein("abc", "xyz", 0), 1);
}

TEST(MatchCompare, EditDistanceProperties) {
    std::mt19937 rng(17);
    auto word = [&] {
        std::string s;
        int n = static_cast<int>(rng() % 9);
        for (int i = 0; i < n; ++i) s += static_cast<char>('a' + rng() % 4);
        return s;
    };
    for (int k = 0; k < 3000; ++k) {
        std::string a = word(), b = word();
        int lev = cp::levenshtein(a, b), osa = cp::damerau_levenshtein(a, b);
        EXPECT_EQ(lev, cp::levenshtein(b, a)) << a << " / " << b;
        EXPECT_EQ(osa, cp::damerau_levenshtein(b, a)) << a << " / " << b;
        EXPECT_LE(osa, lev);
        EXPECT_EQ(osa == 0, a == b);
        for (int cap = 0; cap < 4; ++cap) EXPECT_EQ(cp::damerau_levenshtein(a, b, cap), std::min(osa, cap + 1));
        double j = cp::jaro_winkler(a, b);
        EXPECT_GE(j, 0.0);
        EXPECT_LE(j, 1.0);
        EXPECT_NEAR(j, cp::jaro_winkler(b, a), 1e-12) << a << " / " << b;
    }
}

TEST(MatchCompare, TokenSets) {
    EXPECT_DOUBLE_EQ(cp::token_set_similarity("12 Pinkerton Cct", "12 PINKERTON CCT, Apt 4"), 1.0);
    EXPECT_NEAR(cp::token_set_similarity("12 Pinkerton Cct", "12 Pinkerton Circuit"), 2.0 / 3.0, 1e-12);
    EXPECT_DOUBLE_EQ(cp::token_set_similarity("", "12 Pinkerton Cct"), 0.0);
    EXPECT_DOUBLE_EQ(cp::token_set_similarity("--", "??"), 0.0);
    EXPECT_DOUBLE_EQ(cp::token_set_similarity("a b", "c d"), 0.0);
}

TEST(MatchCompare, SoundexKnuthExamples) {
    EXPECT_EQ(cp::soundex("Robert"), "R163");
    EXPECT_EQ(cp::soundex("Rupert"), "R163");
    EXPECT_EQ(cp::soundex("Rubin"), "R150");
    EXPECT_EQ(cp::soundex("Ashcraft"), "A261");  // H does not separate s and c
    EXPECT_EQ(cp::soundex("Tymczak"), "T522");
    EXPECT_EQ(cp::soundex("Pfister"), "P236");  // f has the code of the first letter
    EXPECT_EQ(cp::soundex("Honeyman"), "H555");
    EXPECT_EQ(cp::soundex("smith"), cp::soundex("Smyth"));
    EXPECT_EQ(cp::soundex("Lee"), "L000");
    EXPECT_EQ(cp::soundex("123"), "");
}

TEST(MatchCompare, Dates) {
    auto d = [](const char* t) { return *cp::parse_date(t); };
    EXPECT_FALSE(cp::parse_date("1983-02-29"));
    EXPECT_TRUE(cp::parse_date("2000-02-29"));
    EXPECT_FALSE(cp::parse_date("1900-02-29"));
    EXPECT_FALSE(cp::parse_date("1983-4-1"));
    EXPECT_FALSE(cp::parse_date("1983-13-01"));
    EXPECT_FALSE(cp::parse_date("0000-01-01"));
    EXPECT_FALSE(cp::parse_date("1983-04-01T00"));
    EXPECT_EQ(cp::compare_dates(d("1983-04-01"), d("1983-04-01")), cp::DateAgreement::exact);
    EXPECT_EQ(cp::compare_dates(d("1983-04-01"), d("1983-01-04")), cp::DateAgreement::day_month_swapped);
    EXPECT_EQ(cp::compare_dates(d("1983-04-01"), d("1983-04-07")), cp::DateAgreement::one_digit);
    EXPECT_EQ(cp::compare_dates(d("1983-04-01"), d("1988-04-01")), cp::DateAgreement::one_digit);
    EXPECT_EQ(cp::compare_dates(d("1983-04-01"), d("1983-09-20")), cp::DateAgreement::same_year);
    EXPECT_EQ(cp::compare_dates(d("1983-04-01"), d("1971-11-23")), cp::DateAgreement::different);
}

TEST(MatchCompare, FellegiSunter) {
    EXPECT_NEAR(cp::match_weight(0.9, 0.1), std::log2(9.0), 1e-12);
    EXPECT_LT(cp::match_weight(0.05, 0.6), 0.0);
    EXPECT_THROW(cp::match_weight(0.0, 0.1), cp::Error);
    EXPECT_THROW(cp::match_weight(0.5, 1.5), cp::Error);
    EXPECT_NEAR(cp::match_probability(0.0, 0.5), 0.5, 1e-12);
    EXPECT_NEAR(cp::match_probability(std::log2(9.0), 0.5), 0.9, 1e-12);
    // Prior odds 1:999 and a weight of log2(999) make even odds.
    EXPECT_NEAR(cp::match_probability(std::log2(999.0), 0.001), 0.5, 1e-9);
    EXPECT_DOUBLE_EQ(cp::match_probability(5000.0, 0.01), 1.0);
    EXPECT_DOUBLE_EQ(cp::match_probability(-5000.0, 0.01), 0.0);
    EXPECT_THROW(cp::match_probability(1.0, 1.0), cp::Error);
    EXPECT_THROW(cp::match_probability(std::nan(""), 0.5), cp::Error);
}
