// Guarded argument and result conversions (see datum_convert.hpp).
#include "pg/infra/datum_convert.hpp"

#include "pg/infra/boundary.hpp"
#include "pg/infra/spi_util.hpp"

namespace customer_profile::pg {

std::string text_arg(FunctionCallInfo fcinfo, int n) {
    std::string out;
    pg_guard([&] {
        text* t = PG_GETARG_TEXT_PP(n);
        out.assign(VARDATA_ANY(t), VARSIZE_ANY_EXHDR(t));
    });
    return out;
}

std::string jsonb_arg(FunctionCallInfo fcinfo, int n) {
    std::string out;
    pg_guard([&] {
        Jsonb* jb = PG_GETARG_JSONB_P(n);
        out.assign(JsonbToCString(nullptr, &jb->root, VARSIZE(jb)));
    });
    return out;
}

std::vector<std::string> text_array_values(Datum array, bool skip_nulls, const char* what) {
    std::vector<std::string> out;
    Datum* elems = nullptr;
    bool* nulls = nullptr;
    int count = 0;
    pg_guard([&] {
        deconstruct_array(DatumGetArrayTypeP(array), TEXTOID, -1, false, TYPALIGN_INT, &elems, &nulls, &count);
    });
    for (int i = 0; i < count; ++i) {
        if (nulls[i]) {
            if (skip_nulls) continue;
            throw core::Error(core::ErrorCode::invalid_parameter, std::string(what) + " must not contain NULLs");
        }
        const char* data = nullptr;
        std::size_t len = 0;
        pg_guard([&] {
            text* t = DatumGetTextPP(elems[i]);
            data = VARDATA_ANY(t);
            len = VARSIZE_ANY_EXHDR(t);
        });
        out.emplace_back(data, len);
    }
    return out;
}

std::vector<std::string> text_array_arg(FunctionCallInfo fcinfo, int n, const char* what) {
    if (PG_ARGISNULL(n)) return {};
    return text_array_values(PG_GETARG_DATUM(n), false, what);
}

std::vector<std::int64_t> int8_array_arg(FunctionCallInfo fcinfo, int n) {
    std::vector<std::int64_t> out;
    Datum* elems = nullptr;
    bool* nulls = nullptr;
    int count = 0;
    pg_guard([&] {
        deconstruct_array(PG_GETARG_ARRAYTYPE_P(n), INT8OID, 8, FLOAT8PASSBYVAL, TYPALIGN_DOUBLE, &elems, &nulls,
                          &count);
    });
    for (int i = 0; i < count; ++i) {
        if (nulls[i]) throw core::Error(core::ErrorCode::invalid_parameter, "array must not contain NULLs");
        out.push_back(DatumGetInt64(elems[i]));
    }
    return out;
}

Datum text_datum(const std::string& s) {
    Datum d = 0;
    pg_guard([&] { d = PointerGetDatum(cstring_to_text_with_len(s.data(), static_cast<int>(s.size()))); });
    return d;
}

Datum bytea_datum(const std::string& bytes) {
    Datum d = 0;
    pg_guard([&] {
        bytea* b = static_cast<bytea*>(palloc(VARHDRSZ + bytes.size()));
        SET_VARSIZE(b, VARHDRSZ + bytes.size());
        memcpy(VARDATA(b), bytes.data(), bytes.size());
        d = PointerGetDatum(b);
    });
    return d;
}

Datum jsonb_datum(const std::string& json) {
    Datum d = 0;
    pg_guard([&] { d = DirectFunctionCall1(jsonb_in, CStringGetDatum(json.c_str())); });
    return d;
}

std::vector<double> float8_array_values(Datum array) {
    std::vector<double> out;
    pg_guard([&] {
        ArrayType* a = DatumGetArrayTypeP(array);
        Datum* elems = nullptr;
        bool* nulls = nullptr;
        int n = 0;
        deconstruct_array(a, FLOAT8OID, 8, FLOAT8PASSBYVAL, TYPALIGN_DOUBLE, &elems, &nulls, &n);
        for (int i = 0; i < n; ++i) out.push_back(nulls[i] ? 0.0 : DatumGetFloat8(elems[i]));
    });
    return out;
}

std::vector<float> float4_array_values(Datum array) {
    std::vector<float> out;
    pg_guard([&] {
        ArrayType* a = DatumGetArrayTypeP(array);
        Datum* elems = nullptr;
        bool* nulls = nullptr;
        int n = 0;
        deconstruct_array(a, FLOAT4OID, 4, true, TYPALIGN_INT, &elems, &nulls, &n);
        for (int i = 0; i < n; ++i) out.push_back(nulls[i] ? 0.0f : DatumGetFloat4(elems[i]));
    });
    return out;
}

std::vector<std::int32_t> int4_array_values(Datum array) {
    std::vector<std::int32_t> out;
    pg_guard([&] {
        ArrayType* a = DatumGetArrayTypeP(array);
        Datum* elems = nullptr;
        bool* nulls = nullptr;
        int n = 0;
        deconstruct_array(a, INT4OID, 4, true, TYPALIGN_INT, &elems, &nulls, &n);
        for (int i = 0; i < n; ++i) out.push_back(nulls[i] ? 0 : DatumGetInt32(elems[i]));
    });
    return out;
}

Datum float4_array(const std::vector<float>& values) {
    std::vector<Datum> datums;
    for (float v : values) datums.push_back(Float4GetDatum(v));
    return datum_array(datums, {}, FLOAT4OID);
}

}  // namespace customer_profile::pg
