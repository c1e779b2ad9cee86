// SQL LIKE and ILIKE for predicates, safe with hostile patterns (issue 14):
// the pattern is cut at its % into pieces of fixed length, matched leftmost
// in order (always correct for LIKE, so there is no backtracking); literal
// pieces are found by Knuth-Morris-Pratt in linear time, pieces with _ by
// trying each position. That last case is O(text x piece) at worst, so the
// loops poll the cancel check: statement_timeout stops them.
#pragma once

#include <string_view>

#include "error.hpp"

namespace customer_profile::core {

// SQL LIKE: % any run, _ one character (UTF-8 aware), \ escapes the next
// character; ILIKE compares the lower case of both sides (unicode_case.hpp),
// as PostgreSQL does under COLLATE "und-x-icu". Throws Error(query_canceled)
// when cancel says so.
bool like_match(std::string_view text, std::string_view pattern, bool case_insensitive, CancelCheck cancel = nullptr);

}  // namespace customer_profile::core
