// Unicode lower case, as PostgreSQL's lower() computes it under the ICU root
// locale (collation "und-x-icu"): ICU's full lower-case mapping, with its
// context rules (a final capital sigma becomes ς). ILIKE is LIKE on the
// lower-cased text and pattern (that is how PostgreSQL runs ILIKE in a UTF-8
// database), so the evaluator and the equivalent SQL, which pins
// COLLATE "und-x-icu", fold the same way whatever the database's locale.
#pragma once

#include <string>
#include <string_view>

namespace customer_profile::core {

// Lower case of UTF-8 text (ASCII-only text takes a fast path with the same
// result). Bytes that are not valid UTF-8 are kept as they are.
std::string unicode_lower(std::string_view utf8);

}  // namespace customer_profile::core
