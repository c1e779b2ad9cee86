// Guarded conversions between SQL arguments/results and C++ values, shared
// by the SQL-callable functions.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "pg/infra/pg_headers.hpp"

namespace customer_profile::pg {

// The elements of a text[] Datum. NULL elements are skipped when
// skip_nulls, else refused with Error(invalid_parameter) naming `what`.
std::vector<std::string> text_array_values(Datum array, bool skip_nulls, const char* what = "array");

// Text argument n (must not be NULL).
std::string text_arg(FunctionCallInfo fcinfo, int n);
// jsonb argument n (must not be NULL) as JSON text.
std::string jsonb_arg(FunctionCallInfo fcinfo, int n);
// text[] argument n; empty when NULL; throws on NULL elements.
std::vector<std::string> text_array_arg(FunctionCallInfo fcinfo, int n, const char* what = "array");
// bigint[] argument n; throws on NULL elements.
std::vector<std::int64_t> int8_array_arg(FunctionCallInfo fcinfo, int n);

// The elements of a float8[] / real[] / int[] Datum (NULL elements read as 0).
std::vector<double> float8_array_values(Datum array);
std::vector<float> float4_array_values(Datum array);
std::vector<std::int32_t> int4_array_values(Datum array);
Datum float4_array(const std::vector<float>& values);

Datum text_datum(const std::string& s);
Datum bytea_datum(const std::string& bytes);
// jsonb from JSON text (through jsonb_in).
Datum jsonb_datum(const std::string& json);

}  // namespace customer_profile::pg
