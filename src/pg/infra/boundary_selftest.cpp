// Test support for the boundary (boundary.hpp): sql/boundary.sql calls
// _boundary_selftest() with each kind of failure the boundary must turn into
// an ERROR with its SQLSTATE, detail and hint, the backend surviving. No
// other SQL function depends on it.
#include <new>
#include <stdexcept>
#include <string>
#include <vector>

#include "pg/infra/boundary.hpp"
#include "pg/infra/datum_convert.hpp"

namespace cp = customer_profile;

// _boundary_selftest(kind text) returns text: raises each kind of failure the
// boundary must convert, so the regression suite can prove the conversion.
CP_FUNCTION(boundary_selftest) {
    std::string kind = cp::pg::text_arg(fcinfo, 0);
    std::vector<std::string> alive{"destructors", "must", "run"};  // would leak if skipped
    if (kind == "core")
        throw cp::core::Error(cp::core::ErrorCode::invalid_parameter, "core error", "some detail", "some hint");
    if (kind == "std") throw std::runtime_error("plain std::runtime_error");
    if (kind == "bad_alloc") throw std::bad_alloc();
    if (kind == "unknown") throw 42;
    if (kind == "postgres")
        cp::pg::pg_guard([] { (void)DirectFunctionCall1(int4in, CStringGetDatum("not a number")); });
    if (kind == "serialization")
        throw cp::core::Error(cp::core::ErrorCode::serialization_failure, "serialization failure");
    if (kind == "cancel") throw cp::core::Error(cp::core::ErrorCode::query_canceled, "canceled by the core");
    return cp::pg::text_datum("ok");
}
