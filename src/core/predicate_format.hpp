// The normalized text of a predicate: keywords in upper case, functions in
// lower case, single spaces, parentheses only where precedence needs them,
// strings single-quoted, intervals in the largest whole unit. Parsing the
// output gives the same tree: parse(format(t)) == t.
#pragma once

#include <string>

#include "predicate.hpp"

namespace customer_profile::core {

std::string format_predicate(const PredicateNode& node);
// One operand (a value expression) in the same normalized form.
std::string format_operand(const Operand& operand);

}  // namespace customer_profile::core
