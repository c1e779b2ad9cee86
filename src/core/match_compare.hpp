// Field comparators for probabilistic matching (issue 17): how alike two
// values of one field are, as the comparison levels of a match rule read
// them. Strings are compared by Unicode code point (UTF-8 decoded; bytes that
// are not valid UTF-8 count as one code point each), so "Müller" and
// "Muller" are one substitution apart, not two. Callers normalize (case,
// accents) first if a rule asks for it.
//
// Why not a library: Debian packages no RapidFuzz for C++, and PostgreSQL's
// fuzzystrmatch and pg_trgm run in SQL, where the worker's per-record matching
// would pay a query per comparison; these functions are small and are tested
// against published values.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace customer_profile::core {

// Jaro similarity in [0, 1]; 1 for two empty strings.
double jaro(std::string_view a, std::string_view b);

// Jaro-Winkler similarity in [0, 1]: Jaro raised for a common prefix of up
// to 4 code points (prefix_scale at most 0.25, so the result stays <= 1).
double jaro_winkler(std::string_view a, std::string_view b, double prefix_scale = 0.1);

// Optimal string alignment distance (Damerau-Levenshtein where no substring
// is edited twice): insertions, deletions, substitutions and transpositions
// of adjacent code points. Stops counting at `cap` (returns cap + 1 when the
// distance is larger), so a long pair costs O(len * cap) at most; without a
// cap, O(len_a * len_b): match rules pass their threshold.
int damerau_levenshtein(std::string_view a, std::string_view b, int cap = 1 << 20);

// Levenshtein distance (no transpositions), capped the same way.
int levenshtein(std::string_view a, std::string_view b, int cap = 1 << 20);

// Token set similarity for addresses and the like: the lower-cased ASCII
// letter and digit runs of each side as sets; |A and B| / min(|A|, |B|), in
// [0, 1]. 1 when one side's tokens are all in the other ("12 Pinkerton Cct"
// vs "12 Pinkerton Cct Apt 4"); 0 when either side has no token.
double token_set_similarity(std::string_view a, std::string_view b);

// American Soundex of the ASCII letters of a name ("Robert" and "Rupert"
// -> R163); empty when it has no ASCII letter.
std::string soundex(std::string_view name);

// A calendar date.
struct Date {
    int year = 0, month = 0, day = 0;
    bool operator==(const Date& o) const { return year == o.year && month == o.month && day == o.day; }
};

// "YYYY-MM-DD" (a valid Gregorian date, year 1..9999), or nullopt.
std::optional<Date> parse_date(std::string_view text);

enum class DateAgreement : std::uint8_t {
    exact = 0,
    day_month_swapped = 1,  // 1983-04-01 vs 1983-01-04: a US and a European form of one date
    one_digit = 2,          // the same but for one digit of the eight (a typo or an OCR error)
    same_year = 3,
    different = 4
};

DateAgreement compare_dates(const Date& a, const Date& b);

// Fellegi-Sunter: the match weight of a comparison level, log2(m / u), where
// m is the probability of the level among true matches and u among
// non-matches (both in (0, 1]).
double match_weight(double m, double u);

// The probability that a pair is a match, from the sum of its levels' match
// weights and the prior probability of a match among compared pairs (lambda,
// in (0, 1)): the posterior odds are the prior odds times 2^weight.
double match_probability(double total_weight, double prior);

}  // namespace customer_profile::core
