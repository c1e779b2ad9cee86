// Identifier normalization: turns what applications send ("  Ann@X.com ",
// "(202) 555-0143") into the one canonical form that is hashed and stored.
#pragma once

#include <string>
#include <string_view>

#include "error.hpp"

namespace customer_profile::core {

enum class Normalizer { trim, lowercase, email, phone };

// Longest identifier accepted after normalization, in bytes.
constexpr std::size_t kMaxIdentifierBytes = 1024;

// Parses a normalizer name as stored in customer_profile.namespace.normalizer.
// Throws Error(invalid_parameter) for an unknown name.
Normalizer normalizer_from_name(std::string_view name);
const char* normalizer_name(Normalizer n);

struct NormalizeOptions {
    // ISO 3166-1 alpha-2 region used for phone numbers written without "+".
    std::string default_phone_region = "US";
};

// Returns the canonical form or throws Error(invalid_text / value_too_long)
// with a message that does not echo the (possibly personal) value.
std::string normalize_identifier(Normalizer n, std::string_view raw, const NormalizeOptions& options = {});

// True when region is a two-letter region libphonenumber knows ("US", "DE").
bool phone_region_supported(std::string_view region);

}  // namespace customer_profile::core
