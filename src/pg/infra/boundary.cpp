// Exception-to-ereport conversion for every SQL-callable function.
#include "pg/infra/boundary.hpp"

#include "pg/infra/catalog_cache.hpp"

#include <cstring>
#include <new>

namespace customer_profile::pg {
namespace {

// Filled inside catch handlers; raised only after they have returned.
struct PendingError {
    bool set = false;
    int sqlstate = ERRCODE_INTERNAL_ERROR;
    char message[1024] = {0};
    char detail[1024] = {0};
    char hint[512] = {0};

    void fill(int code, const char* msg, const char* det = "", const char* hnt = "") {
        set = true;
        sqlstate = code;
        clip(message, sizeof message, msg);
        clip(detail, sizeof detail, det);
        clip(hint, sizeof hint, hnt);
    }

    // A message that quotes a huge input is cut, at a character boundary (a
    // cut inside a UTF-8 sequence would make the whole message invalid text),
    // and marked with "...".
    static void clip(char* out, std::size_t size, const char* text) {
        std::size_t length = std::strlen(text);
        if (length < size) {
            std::memcpy(out, text, length + 1);
            return;
        }
        std::size_t keep = size - 4;
        while (keep > 0 && (static_cast<unsigned char>(text[keep]) & 0xC0) == 0x80) --keep;
        std::memcpy(out, text, keep);
        std::memcpy(out + keep, "...", 4);
    }
};

}  // namespace

bool cancel_requested() {
    return InterruptPending && (QueryCancelPending || ProcDiePending);
}

void throw_if_canceled() {
    if (cancel_requested())
        throw core::Error(core::ErrorCode::query_canceled, "canceling statement due to user request");
}

Datum run_at_boundary(FunctionCallInfo fcinfo, ImplFn impl) {
    PendingError pending;
    ErrorData* pg_error = nullptr;
    Datum result = (Datum)0;
    // The catalog caches free a replaced catalog when the outermost of our
    // functions returns (catalog_cache.hpp): every exception is caught below,
    // and a PostgreSQL error that skips leave_call() only delays that to the
    // end of the transaction.
    enter_call();
    try {
        result = impl(fcinfo);
    } catch (const PgException& e) {
        pg_error = e.edata();
    } catch (const core::Error& e) {
        pending.fill(sqlstate_for(e.code()), e.what(), e.detail().c_str(), e.hint().c_str());
    } catch (const std::bad_alloc&) {
        pending.fill(ERRCODE_OUT_OF_MEMORY, "out of memory in customer_profile");
    } catch (const std::exception& e) {
        pending.fill(ERRCODE_INTERNAL_ERROR, e.what(), "An unexpected C++ exception was caught.");
    } catch (...) {
        pending.fill(ERRCODE_INTERNAL_ERROR, "unknown C++ exception in customer_profile");
    }
    // No C++ object of ours is alive below this line.
    leave_call();
    if (pg_error != nullptr) ReThrowError(pg_error);
    if (pending.set) {
        if (pending.sqlstate == ERRCODE_QUERY_CANCELED) CHECK_FOR_INTERRUPTS();
        ereport(ERROR, (errcode(pending.sqlstate), errmsg_internal("%s", pending.message),
                        pending.detail[0] ? errdetail_internal("%s", pending.detail) : 0,
                        pending.hint[0] ? errhint("%s", pending.hint) : 0));
    }
    return result;
}

}  // namespace customer_profile::pg
