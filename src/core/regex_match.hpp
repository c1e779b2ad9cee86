// Regular expressions of predicates (x ~ 'pattern', ~*, !~, !~*), run by RE2:
// linear time in the text whatever the pattern, so a hostile pattern cannot
// hang a backend. The accepted syntax is the part RE2 and PostgreSQL's own
// engine read the same way, so segment_explain's SQL (which PostgreSQL runs
// with its engine) finds the same people: escapes are limited to \d \D \s \S
// \w \W, \t \n and escaped punctuation, groups to ( ) and (?: ), counted
// repetitions to 255, and . matches a newline as in PostgreSQL. The SQL runs
// ~ under COLLATE "C" and ~* under COLLATE "und-x-icu" (Unicode case
// folding, as RE2's); classes (\d, \w, [[:alpha:]]) are refused in ~*, where
// PostgreSQL's would take in non-ASCII letters.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace customer_profile::core {

// "" when the pattern is accepted; otherwise what is wrong, and in *offset
// the byte offset in the pattern where it is.
std::string regex_problem(const std::string& pattern, bool case_insensitive, std::size_t* offset);

// Whether the pattern matches somewhere in text (PostgreSQL's ~ / ~*).
// The pattern must be accepted by regex_problem; compiled patterns are
// cached. Throws Error(invalid_parameter) for a pattern that is not.
bool regex_match(std::string_view text, const std::string& pattern, bool case_insensitive);

}  // namespace customer_profile::core
