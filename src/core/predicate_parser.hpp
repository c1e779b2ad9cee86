// Parsing segment predicate text into a PredicateNode tree. Errors are
// Error(invalid_text) naming the 1-based column and what was expected:
//   syntax error at column 17: expected a number after '>='
#pragma once

#include <string_view>

#include "predicate.hpp"

namespace customer_profile::core {

PredicateNode parse_predicate(std::string_view text);

}  // namespace customer_profile::core
