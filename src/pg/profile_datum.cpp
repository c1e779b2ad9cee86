// Profile Datum helpers.
#include "profile_datum.hpp"

#include "boundary.hpp"

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

Datum profile_datum(const std::string& bytes) {
    Datum result = 0;
    pg_guard([&] {
        struct varlena* v = static_cast<struct varlena*>(palloc(VARHDRSZ + bytes.size()));
        SET_VARSIZE(v, VARHDRSZ + bytes.size());
        memcpy(VARDATA(v), bytes.data(), bytes.size());
        result = PointerGetDatum(v);
    });
    return result;
}

}  // namespace customer_profile::pg
