// Converting between profile Datums and the core's byte strings.
#pragma once

#include <string>
#include <string_view>

#include "pg_headers.hpp"

namespace customer_profile::pg {

// The stored bytes of profile argument n (detoasted; valid for the call).
std::string_view profile_arg(FunctionCallInfo fcinfo, int n);

// A new profile Datum holding bytes.
Datum profile_datum(const std::string& bytes);

}  // namespace customer_profile::pg
