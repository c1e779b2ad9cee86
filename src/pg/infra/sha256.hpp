// SHA-256 through PostgreSQL's cryptohash API, over the concatenation of
// the given parts (no copy of them is made).
#pragma once

#include <initializer_list>
#include <string>
#include <string_view>

namespace customer_profile::pg {

// The 32 raw bytes of the digest.
std::string sha256(std::initializer_list<std::string_view> parts);

}  // namespace customer_profile::pg
