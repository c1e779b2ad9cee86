// The binary form of one trait value, the one codec behind a trait's value
// in a stored profile (profile_codec.hpp) and a literal in a compiled
// segment predicate (predicate_codec.hpp). Integers as in binary_io.hpp:
//
//   u8 type | null: - | boolean: u8 0/1 | number: 8-byte IEEE-754
//           | text: var len + bytes | timestamp: zvar (microseconds since 2000-01-01 UTC)
//           | text[]: var n + n * (var len + bytes)
//           | point: f64 latitude, f64 longitude (1.6)
//           | object[]: var n + n * (var fields + fields * (var len + name, value)) (1.6)
//
// Stored profiles and predicates depend on these bytes: they never change
// without a new format version of both codecs (test/unit/binary_format_test.cpp
// pins them). The two readers admit different values and, binary input
// being user-visible (profile_recv, segment_predicate_recv), each keeps the
// wording of its refusals; see TraitValueUse.
#pragma once

#include <cstdint>

#include "binary_io.hpp"
#include "profile.hpp"

namespace customer_profile::core {

// Where a value is read.
enum class TraitValueUse : std::uint8_t {
    // Any type, text up to kMaxTraitTextBytes; the profile codec validates
    // the whole trait (finite number, timestamp in range, UTF-8) after
    // reading it.
    stored_trait,
    // Never an array, text up to kMaxPredicateBytes; a number must be finite
    // and a timestamp in range as it is read.
    predicate_literal,
};

void write_trait_value(Writer& w, const TraitValue& v);

// Reads what write_trait_value wrote, refusing (Reader::fail) anything
// else. With keep false, texts are read past without being copied: the
// value is only skipped.
TraitValue read_trait_value(Reader& r, TraitValueUse use, bool keep = true);

}  // namespace customer_profile::core
