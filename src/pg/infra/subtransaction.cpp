// Subtransactions around C++ work (see subtransaction.hpp). The error is
// copied into C++ strings inside the catch, before the rollback frees the
// memory contexts it lives in.
#include "pg/infra/subtransaction.hpp"

#include <exception>
#include <new>

#include "pg/infra/boundary.hpp"

extern "C" {
#include "tcop/tcopprot.h"
}

namespace customer_profile::pg {
namespace {

bool concerns_transaction(int sqlstate) {
    switch (ERRCODE_TO_CATEGORY(sqlstate)) {
        case ERRCODE_TRANSACTION_ROLLBACK:    // 40: deadlock, serialization failure
        case ERRCODE_OPERATOR_INTERVENTION:   // 57: cancel, shutdown
        case ERRCODE_INSUFFICIENT_RESOURCES:  // 53: out of memory, disk full
        case ERRCODE_SYSTEM_ERROR:            // 58: I/O errors
        case ERRCODE_INTERNAL_ERROR:          // XX: a bug, not the event
            return true;
        default:
            return false;
    }
}

// An error that survives the rollback: its ErrorData lives in the top
// transaction's context. The boundary re-throws it as it is (ReThrowError),
// so it must say where it goes: zeroed flags sent it to neither the client
// (which saw a failed statement without a message or SQLSTATE) nor the log;
// a client flag in a background worker, which has no client, made its error
// report fail and the worker exit 1.
[[noreturn]] void throw_transaction_error(const CaughtError& e) {
    ErrorData* edata = nullptr;
    pg_guard([&] {
        edata = static_cast<ErrorData*>(MemoryContextAllocZero(TopTransactionContext, sizeof(ErrorData)));
        edata->elevel = ERROR;
        // As PostgreSQL decides for an ERROR (log_min_messages = LOG ranks above ERROR).
        edata->output_to_server = log_min_messages != LOG && log_min_messages <= ERROR;
        edata->output_to_client = whereToSendOutput == DestRemote;
        edata->sqlerrcode = e.sqlstate;
        edata->message = MemoryContextStrdup(TopTransactionContext, e.message.c_str());
        edata->assoc_context = TopTransactionContext;
    });
    throw PgException(edata);
}

// A copy of a PostgreSQL error in the top transaction's context, whole (its
// detail, hint, context, constraint and flags as errstart set them), as
// CopyErrorData copies the current one.
ErrorData* copy_error(const ErrorData* from) {
    ErrorData* to = nullptr;
    pg_guard([&] {
        MemoryContext into = TopTransactionContext;
        to = static_cast<ErrorData*>(MemoryContextAlloc(into, sizeof(ErrorData)));
        *to = *from;
        auto dup = [into](char* text) { return text != nullptr ? MemoryContextStrdup(into, text) : nullptr; };
        to->message = dup(from->message);
        to->detail = dup(from->detail);
        to->detail_log = dup(from->detail_log);
        to->hint = dup(from->hint);
        to->context = dup(from->context);
        to->backtrace = dup(from->backtrace);
        to->schema_name = dup(from->schema_name);
        to->table_name = dup(from->table_name);
        to->column_name = dup(from->column_name);
        to->datatype_name = dup(from->datatype_name);
        to->constraint_name = dup(from->constraint_name);
        to->internalquery = dup(from->internalquery);
        to->assoc_context = into;
    });
    return to;
}

}  // namespace

std::optional<CaughtError> run_in_subtransaction(const std::function<void()>& fn) {
    MemoryContext context = CurrentMemoryContext;
    ResourceOwner owner = CurrentResourceOwner;
    pg_guard([] { BeginInternalSubTransaction(nullptr); });
    MemoryContextSwitchTo(context);
    CaughtError error;
    ErrorData* whole = nullptr;  // a PostgreSQL error that concerns the transaction, re-thrown as it was
    std::exception_ptr other;
    try {
        fn();
        pg_guard([] { ReleaseCurrentSubTransaction(); });
        MemoryContextSwitchTo(context);
        CurrentResourceOwner = owner;
        return std::nullopt;
    } catch (const PgException& e) {
        error.sqlstate = e.edata()->sqlerrcode;
        error.message = e.what();
        if (concerns_transaction(error.sqlstate)) {
            try {
                whole = copy_error(e.edata());
            } catch (...) {
                whole = nullptr;  // out of memory: the message alone, below
            }
        }
    } catch (const core::Error& e) {
        error.sqlstate = sqlstate_for(e.code());
        error.message = e.what();
    } catch (...) {
        other = std::current_exception();  // bad_alloc and the like: not the event's fault
    }
    pg_guard([] { RollbackAndReleaseCurrentSubTransaction(); });
    MemoryContextSwitchTo(context);
    CurrentResourceOwner = owner;
    if (other) std::rethrow_exception(other);
    if (whole != nullptr) throw PgException(whole);
    if (concerns_transaction(error.sqlstate)) throw_transaction_error(error);
    return error;
}

}  // namespace customer_profile::pg
