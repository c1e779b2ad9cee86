// Datum plumbing for the profile type: text input/output (JSON) and binary
// send/receive. Parsing, formatting and the binary layout live in the core
// (profile_json, profile_codec); receive validates exactly as input does.
#include <string>

#include "pg/infra/boundary.hpp"
#include "core/profile_codec.hpp"
#include "core/profile_json.hpp"
#include "pg/profile/profile_datum.hpp"

extern "C" {
#include "mb/pg_wchar.h"
}

namespace cp = customer_profile;

namespace {

// Profiles hold UTF-8 text; other database encodings are refused up front.
void require_utf8_database() {
    if (GetDatabaseEncoding() != PG_UTF8)
        ereport(ERROR, (errcode(ERRCODE_FEATURE_NOT_SUPPORTED), errmsg("the profile type requires a UTF8 database")));
}

}  // namespace

// profile_in(cstring) returns profile
CP_FUNCTION(profile_in) {
    require_utf8_database();
    const char* text = PG_GETARG_CSTRING(0);
    std::string bytes = cp::core::encode_profile(cp::core::parse_profile_json(text));
    return cp::pg::profile_datum(bytes);
}

// profile_out(profile) returns cstring
CP_FUNCTION(profile_out) {
    std::string text = cp::core::format_profile_json(cp::core::decode_profile(cp::pg::profile_arg(fcinfo, 0)));
    Datum result = 0;
    cp::pg::pg_guard([&] { result = CStringGetDatum(pnstrdup(text.data(), text.size())); });
    return result;
}

// profile_recv(internal) returns profile: the send form, validated and stored canonically.
CP_FUNCTION(profile_recv) {
    require_utf8_database();
    std::string_view received = cp::pg::received_bytes(fcinfo);
    return cp::pg::profile_datum(cp::core::encode_profile(cp::core::decode_profile(received)));
}

// profile_send(profile) returns bytea: the stored form, version byte first.
CP_FUNCTION(profile_send) {
    return cp::pg::send_bytes(cp::pg::profile_arg(fcinfo, 0));
}
