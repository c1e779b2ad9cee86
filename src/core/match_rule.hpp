// Match rules (issue 17): which fields of two records are compared and how,
// the comparison levels each field's comparison falls into, the blocking keys
// that pick the candidates a record is compared with, and the decision
// (link, review or nothing) from the Fellegi-Sunter match probability.
//
// A record is one identifier's latest observed traits; a rule names the
// traits it reads. The rule's definition is JSON (match_rule_create), parsed
// and checked here so that a bad rule is refused when it is created, never
// when a record arrives.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "match_em.hpp"

namespace customer_profile::core {

// One comparison level's test; a field's level is the first test that holds,
// or the "else" level after the last test. Thresholds: similarities in
// [0, 1] (at least), distances (at most), numbers (absolute difference at
// most).
enum class LevelTest : std::uint8_t {
    exact,
    jaro_winkler,
    jaro,
    levenshtein,
    damerau_levenshtein,
    token_set,
    soundex,
    date_swapped,    // equal, or day and month swapped
    date_one_digit,  // equal but for one digit
    same_year,
    numeric,  // |a - b| <= threshold, both numbers
    initial,  // the same first character ("J" and "John")
    swapped,  // this field and another field of the rule swapped (first and last name), Jaro-Winkler >= 0.9 both ways
};

struct Level {
    LevelTest test = LevelTest::exact;
    double threshold = 0;
    int other = -1;  // swapped: the other field's index
};

struct MatchField {
    std::string trait;
    std::vector<Level> levels;  // the field has levels.size() + 1 levels (the last: none held)
};

// initials: the first character of each word ("12 pinkerton cct" -> "1pc"),
// to narrow a street number by the street's name and type.
// deletions: the value and each value with one character deleted (several
// pieces per record), so that two values one typo apart (a substitution, an
// insertion or deletion, two adjacent characters swapped) share a piece.
enum class KeyTransform : std::uint8_t { value, soundex, first, year, digits, initials, deletions };

struct KeyPart {
    int field = 0;  // index into MatchRule::fields
    KeyTransform transform = KeyTransform::value;
    int length = 0;  // first: how many code points
};

// A blocking key: its parts joined. Several keys are OR-ed: two records are
// compared when any key of one equals the same key of the other.
using BlockingKey = std::vector<KeyPart>;

struct MatchRule {
    std::vector<MatchField> fields;
    std::vector<BlockingKey> blocking;
    MatchParameters parameters;
    double link_threshold = 0.99;    // probability at or above which two records link
    double review_threshold = 0.80;  // ... and at or above which the pair goes to review

    std::vector<int> level_counts() const;
};

// A record: one normalized value per field, in field order (nullopt: missing).
using MatchRecord = std::vector<std::optional<std::string>>;

constexpr int kMaxMatchFields = 32;
constexpr int kMaxBlockingKeys = 16;
constexpr int kMaxLevelsPerField = 8;
constexpr std::size_t kMaxMatchValueBytes = 1000;  // a longer value (normalized) counts as missing
// deletions() of a longer value gives the value alone: a key per character of
// a long text would cost more keys than it finds typos.
constexpr std::size_t kMaxDeletionCodePoints = 32;

// Parses a rule from its JSON parts:
//   fields:   [{"trait": "last_name", "levels": [{"exact": true}, {"jaro_winkler": 0.92}, {"soundex": true}]}, ...]
//             ({"swapped_with": "first_name"} names another field of the rule);
//             optionally with "m" and "u" (one probability per level, the else level included);
//   blocking: [["soundex(last_name)", "postcode"], ["dob"], ["first(first_name, 2)", "digits(address)"]];
//   lambda:   the prior share of matches (NaN: the default).
// Throws Error(invalid_parameter) naming what is wrong.
MatchRule parse_match_rule(std::string_view fields_json, std::string_view blocking_json, double link_threshold,
                           double review_threshold);

// The rule's parameters as JSON: {"lambda": .., "m": [[..], ..], "u": [[..], ..]}, and back (checked against the
// rule's fields).
std::string match_parameters_json(const MatchParameters& parameters);
MatchParameters parse_match_parameters(std::string_view json, const std::vector<int>& level_counts);

// A value as records store it: trimmed, inner white space collapsed to one
// space, lower-cased. Empty or longer than kMaxMatchValueBytes: missing.
std::optional<std::string> normalize_match_value(std::string_view raw);

// A field's level for two values (a swapped level never holds here: it needs
// the records; compare_records applies it).
int compare_field(const MatchField& field, std::string_view a, std::string_view b);
ComparisonVector compare_records(const MatchRule& rule, const MatchRecord& a, const MatchRecord& b);

// The record's blocking keys, each prefixed by its key number ("0:s530|2000"),
// none for a key whose part is missing; a key with a deletions() part gives
// one key per piece (at most kMaxDeletionCodePoints + 1), without duplicates.
std::vector<std::string> blocking_keys(const MatchRule& rule, const MatchRecord& record);

// Whether a record can have several keys of this blocking key (a deletions() part).
bool multi_valued(const BlockingKey& key);

enum class MatchDecision : std::uint8_t { none, review, link };
const char* match_decision_name(MatchDecision d);

struct FieldScore {
    int level = kMissing;
    double weight = 0;
};

struct PairScore {
    std::vector<FieldScore> fields;
    double weight = 0, probability = 0;
    MatchDecision decision = MatchDecision::none;
};

PairScore score_pair(const MatchRule& rule, const MatchRecord& a, const MatchRecord& b);

// A level's human name for explain: "exact", "jaro_winkler >= 0.92", "else", "missing".
std::string level_name(const MatchField& field, int level);

}  // namespace customer_profile::core
