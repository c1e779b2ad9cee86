// Profile Datum helpers.
#include "profile_datum.hpp"

#include "boundary.hpp"
#include "datum_convert.hpp"

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

}  // namespace customer_profile::pg
