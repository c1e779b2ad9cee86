// Subtransactions around C++ work (see subtransaction.hpp). The error is
// copied into C++ strings inside the catch, before the rollback frees the
// memory contexts it lives in.
#include "pg/infra/subtransaction.hpp"

#include <exception>
#include <new>

#include "pg/infra/boundary.hpp"

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

// A PgException that survives the rollback: its ErrorData lives in the top
// transaction's context. The boundary re-throws it as it is (ReThrowError),
// so it must say where it goes: zeroed, the error reached neither the client
// (which saw a failed statement without a message or SQLSTATE) nor the log.
[[noreturn]] void throw_transaction_error(const CaughtError& e) {
    ErrorData* edata = nullptr;
    pg_guard([&] {
        edata = static_cast<ErrorData*>(MemoryContextAllocZero(TopTransactionContext, sizeof(ErrorData)));
        edata->elevel = ERROR;
        // As PostgreSQL decides for an ERROR (log_min_messages = LOG ranks above ERROR).
        edata->output_to_server = log_min_messages != LOG && log_min_messages <= ERROR;
        edata->output_to_client = true;
        edata->sqlerrcode = e.sqlstate;
        edata->message = MemoryContextStrdup(TopTransactionContext, e.message.c_str());
        edata->assoc_context = TopTransactionContext;
    });
    throw PgException(edata);
}

}  // namespace

std::optional<CaughtError> run_in_subtransaction(const std::function<void()>& fn) {
    MemoryContext context = CurrentMemoryContext;
    ResourceOwner owner = CurrentResourceOwner;
    pg_guard([] { BeginInternalSubTransaction(nullptr); });
    MemoryContextSwitchTo(context);
    CaughtError error;
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
    if (concerns_transaction(error.sqlstate)) throw_transaction_error(error);
    return error;
}

bool keep_if(const std::function<bool()>& fn) {
    MemoryContext context = CurrentMemoryContext;
    ResourceOwner owner = CurrentResourceOwner;
    pg_guard([] { BeginInternalSubTransaction(nullptr); });
    MemoryContextSwitchTo(context);
    CaughtError error;
    std::exception_ptr other;
    try {
        bool keep = fn();
        pg_guard([keep] {
            if (keep)
                ReleaseCurrentSubTransaction();
            else
                RollbackAndReleaseCurrentSubTransaction();
        });
        MemoryContextSwitchTo(context);
        CurrentResourceOwner = owner;
        return keep;
    } catch (const PgException& e) {
        error.sqlstate = e.edata()->sqlerrcode;
        error.message = e.what();
    } catch (...) {
        other = std::current_exception();  // core::Error and the like own their message
    }
    pg_guard([] { RollbackAndReleaseCurrentSubTransaction(); });
    MemoryContextSwitchTo(context);
    CurrentResourceOwner = owner;
    if (other) std::rethrow_exception(other);
    throw_transaction_error(error);  // copied before the rollback freed it
}

}  // namespace customer_profile::pg
