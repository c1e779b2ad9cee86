// Converting between profile Datums and the core's byte strings.
#pragma once

#include <string>
#include <string_view>

#include "pg/infra/pg_headers.hpp"

namespace customer_profile::pg {

// The stored bytes of profile argument n (detoasted; valid for the call).
std::string_view profile_arg(FunctionCallInfo fcinfo, int n);

// A new profile Datum holding bytes.
Datum profile_datum(const std::string& bytes);

// For the binary send/receive functions of the types stored this way
// (profile, segment_predicate): the unread rest of a receive buffer (all of
// it is consumed), and a bytea holding the stored form.
std::string_view received_bytes(FunctionCallInfo fcinfo);
Datum send_bytes(std::string_view bytes);

}  // namespace customer_profile::pg
