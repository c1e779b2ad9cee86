// The C++/PostgreSQL boundary. Read this before writing glue code.
//
// 1. Every SQL-callable function is defined with CP_FUNCTION(name). Its body
//    (the "_impl") runs inside a C++ try block; any exception is turned into
//    ereport(ERROR) with a SQLSTATE *after* the catch handler has finished, so
//    PostgreSQL's longjmp never crosses a live C++ frame of ours. This file
//    is the only one that writes PG_FUNCTION_INFO_V1 (scripts/lint.sh).
// 2. While C++ objects with destructors are alive, PostgreSQL calls that can
//    raise ERROR go through pg_guard(), which catches the longjmp in place,
//    copies the whole ErrorData (SQLSTATE, detail, hint) and throws
//    PgException; the boundary re-raises it unchanged.
// 3. Core loops poll cancel_requested(); the boundary then runs
//    CHECK_FOR_INTERRUPTS() once no C++ object is left.
#pragma once

#include <exception>

#include "pg/infra/pg_headers.hpp"
#include "core/error.hpp"

namespace customer_profile::pg {

// A PostgreSQL error caught by pg_guard, carried to the boundary.
class PgException : public std::exception {
public:
    explicit PgException(ErrorData* edata) : edata_(edata) {}
    ErrorData* edata() const noexcept { return edata_; }
    const char* what() const noexcept override {
        return edata_ && edata_->message ? edata_->message : "PostgreSQL error";
    }

private:
    ErrorData* edata_;
};

// Runs fn, which calls PostgreSQL; a PostgreSQL ERROR inside becomes a
// PgException. fn must not itself own C++ objects across PostgreSQL calls.
template <typename Fn>
void pg_guard(Fn&& fn) {
    MemoryContext caller_context = CurrentMemoryContext;
    ErrorData* volatile edata = nullptr;  // written after the longjmp: keep it in memory
    std::exception_ptr cxx_error;
    // clang-format off
    PG_TRY();
    {
        // A C++ exception must not leave PG_TRY without PG_END_TRY, or
        // PG_exception_stack would keep pointing at this dead frame.
        try {
            fn();
        } catch (...) {
            cxx_error = std::current_exception();
        }
    }
    PG_CATCH();
    {
        MemoryContextSwitchTo(caller_context);
        edata = CopyErrorData();
        FlushErrorState();
    }
    PG_END_TRY();
    // clang-format on
    if (edata != nullptr) throw PgException(edata);
    if (cxx_error) std::rethrow_exception(cxx_error);
}

// Maps a core error code to a SQLSTATE (src/pg/infra/error_map.cpp).
int sqlstate_for(core::ErrorCode code);

// Core cancel callback: true when a query cancel or termination is pending.
bool cancel_requested();
// For glue loops that own C++ objects: throws Error(query_canceled) when a
// cancel is pending (the boundary then runs CHECK_FOR_INTERRUPTS()).
void throw_if_canceled();

using ImplFn = Datum (*)(FunctionCallInfo);

// Calls impl and converts any escaping exception into ereport(ERROR).
Datum run_at_boundary(FunctionCallInfo fcinfo, ImplFn impl);

}  // namespace customer_profile::pg

// Defines SQL-callable C function cp_<name>; the body that follows is the
// implementation, called through run_at_boundary.
#define CP_FUNCTION(name)                                                         \
    static Datum cp_##name##_impl(FunctionCallInfo fcinfo);                       \
    extern "C" {                                                                  \
    PG_FUNCTION_INFO_V1(cp_##name);                                               \
    }                                                                             \
    extern "C" Datum cp_##name(PG_FUNCTION_ARGS) {                                \
        return ::customer_profile::pg::run_at_boundary(fcinfo, cp_##name##_impl); \
    }                                                                             \
    static Datum cp_##name##_impl([[maybe_unused]] FunctionCallInfo fcinfo)
