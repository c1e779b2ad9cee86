// Parsing segment predicate text into a PredicateNode tree. Errors are
// Error(invalid_text) naming the 1-based column and what was expected:
//   syntax error at column 17: expected a number after '>='
#pragma once

#include <string_view>

#include "predicate.hpp"

namespace customer_profile::core {

PredicateNode parse_predicate(std::string_view text);

// One value expression of the same language: a trait (`ltv`), a behavior
// aggregate (`count(purchase within 90 days)`, `sum(purchase.amount)`),
// `last_seen(purchase)`, `now()`, or a literal. Used by customer value
// measures and feature definitions.
Operand parse_operand(std::string_view text);

// A word the language reserves (AND, NOT, WITHIN, ...; lower case): a name
// spelled like one must be written "double-quoted".
bool is_predicate_keyword(std::string_view word);

}  // namespace customer_profile::core
