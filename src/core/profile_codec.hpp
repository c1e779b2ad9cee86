// The stored (binary) form of a profile. Layout, format version 1, every
// integer little-endian, "var" = unsigned LEB128, "zvar" = zigzag LEB128:
//
//   u8 version (= 1) | var trait_count | trait*        (names strictly increasing)
//   trait:  var len + name | var len + source | zvar observed_at | value
//   value:  u8 type | payload, as trait_value_codec.hpp writes it
//
// Decoders accept exactly this (no trailing bytes, canonical order, limits
// of profile.hpp) so a value received in binary is as valid as one typed in.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "profile.hpp"

namespace customer_profile::core {

constexpr std::uint8_t kProfileFormatVersion = 1;

std::string encode_profile(const Profile& profile);

// Throws Error(invalid_text) describing the first problem.
Profile decode_profile(std::string_view bytes);

// Only the named traits (names sorted), the others read past: what one
// predicate reads. For stored values (not validated again).
Profile decode_profile_traits(std::string_view bytes, const std::vector<std::string>& names);

// One trait without decoding the others; nullopt when absent.
std::optional<Trait> find_trait(std::string_view bytes, std::string_view name);

}  // namespace customer_profile::core
