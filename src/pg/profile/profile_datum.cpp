// Profile Datum helpers.
#include "pg/profile/profile_datum.hpp"

#include "pg/infra/boundary.hpp"
#include "pg/infra/datum_convert.hpp"

extern "C" {
#include "libpq/pqformat.h"
}

namespace customer_profile::pg {

std::string_view profile_arg(FunctionCallInfo fcinfo, int n) {
    const char* data = nullptr;
    std::size_t len = 0;
    pg_guard([&] {
        struct varlena* v = PG_DETOAST_DATUM_PACKED(PG_GETARG_DATUM(n));
        data = VARDATA_ANY(v);
        len = VARSIZE_ANY_EXHDR(v);
    });
    return {data, len};
}

// A profile is a varlena of its stored bytes, laid out like a bytea.
Datum profile_datum(const std::string& bytes) {
    return bytea_datum(bytes);
}

std::string_view received_bytes(FunctionCallInfo fcinfo) {
    StringInfo buf = reinterpret_cast<StringInfo>(PG_GETARG_POINTER(0));
    std::string_view rest(buf->data + buf->cursor, static_cast<std::size_t>(buf->len - buf->cursor));
    buf->cursor = buf->len;
    return rest;
}

Datum send_bytes(std::string_view bytes) {
    Datum result = 0;
    pg_guard([&] {
        StringInfoData out;
        pq_begintypsend(&out);
        pq_sendbytes(&out, bytes.data(), static_cast<int>(bytes.size()));
        result = PointerGetDatum(pq_endtypsend(&out));
    });
    return result;
}

}  // namespace customer_profile::pg
