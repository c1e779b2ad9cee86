// Small text forms shared by the core's writers: the shortest decimal that
// reads back as the same double, and quoting with the quote doubled.
#pragma once

#include <string>
#include <string_view>

namespace customer_profile::core {

// 89.9, not 89.900000000000006 (finite values only).
std::string shortest_number(double value);

// 'it''s' with quote = '\'', "a ""b""" with quote = '"'.
std::string quote_doubled(std::string_view text, char quote);

}  // namespace customer_profile::core
