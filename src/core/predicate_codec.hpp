// The stored (binary) form of a compiled predicate, the segment_predicate
// type's internal representation. Layout, format version 1 (integers as in
// binary_io.hpp):
//
//   u8 version (= 1) | node
//   node:    u8 kind | and/or: var n, n * node | not: node
//            | compare: u8 op, operand, operand | in: u8 negated, operand, var n, n * value
//            | between: u8 negated, 3 * operand | like: u8 negated, u8 ilike, operand, var len + pattern
//            | is_null: u8 negated, operand | has, in_segment, consent, in_cluster: var len + name
//            | known, anonymous: - | distinct: u8 negated, operand, operand
//            | regex: u8 negated, u8 case_insensitive, operand, var len + pattern | any: name, node
//   operand: u8 kind | trait: name | literal: value | now: zvar offset | last_seen: name, zvar offset
//            | count/sum: name, property, zvar within, u8 has_where, [node]
//            | count/sum between: name, property, zvar from, zvar to, u8 has_where, [node]
//            | today: name (time zone, may be empty), zvar offset | distance: name, f64 lat, f64 lon
//
// Kinds added in 1.6 (distinct, regex, any; the between windows, today,
// distance) were appended to both enumerations: what 1.5 stored reads the same.
//   value:   a trait value (trait_value_codec.hpp), never a text[]
//
// The decoder accepts exactly this, within the limits of predicate.hpp, so a
// value received in binary is as valid as one parsed from text.
#pragma once

#include <string>
#include <string_view>

#include "predicate.hpp"

namespace customer_profile::core {

constexpr std::uint8_t kPredicateFormatVersion = 1;

std::string encode_predicate(const PredicateNode& node);
// Throws Error(invalid_text) describing the first problem.
PredicateNode decode_predicate(std::string_view bytes);

}  // namespace customer_profile::core
