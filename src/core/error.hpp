// Errors raised by the pure C++ core. Each carries a code that the PostgreSQL
// glue maps to a SQLSTATE in exactly one table (src/pg/infra/error_map.cpp).
#pragma once

#include <stdexcept>
#include <string>

namespace customer_profile::core {

enum class ErrorCode {
    invalid_parameter,      // a value of the right type but not acceptable
    null_value,             // a required argument is NULL
    invalid_text,           // text that does not parse (malformed identifier, pattern)
    value_too_long,         // an identifier or string over its limit
    undefined_object,       // unknown namespace or other named thing
    limit_exceeded,         // a configured limit would be exceeded
    out_of_range,           // a number too large to fold or store
    query_canceled,         // the cancel callback asked us to stop
    serialization_failure,  // concurrent changes kept invalidating our reads: retry
    internal                // a broken invariant: a bug
};

class Error : public std::runtime_error {
public:
    Error(ErrorCode code, const std::string& message, std::string detail = {}, std::string hint = {})
        : std::runtime_error(message), code_(code), detail_(std::move(detail)), hint_(std::move(hint)) {}

    ErrorCode code() const noexcept { return code_; }
    const std::string& detail() const noexcept { return detail_; }
    const std::string& hint() const noexcept { return hint_; }

private:
    ErrorCode code_;
    std::string detail_;
    std::string hint_;
};

// Polled by long loops; returns true when the caller should stop. The glue
// implements it by reading PostgreSQL's InterruptPending flag.
using CancelCheck = bool (*)();

inline void throw_if_canceled(CancelCheck check) {
    if (check != nullptr && check()) throw Error(ErrorCode::query_canceled, "canceling statement due to user request");
}

}  // namespace customer_profile::core
