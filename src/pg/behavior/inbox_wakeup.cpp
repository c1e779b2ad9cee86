// Waking the inbox workers when events arrive: a statement trigger on
// event_inbox notes that this transaction queued events; when it commits,
// the workers' latches are set, so a batch starts at once instead of after
// the rest of the worker's nap. Set after commit, because before it the
// worker could not see the rows yet. No C++ objects live across the
// PostgreSQL calls here.
#include "pg/infra/boundary.hpp"
#include "pg/infra/spi_util.hpp"

extern "C" {
#include "storage/latch.h"
#include "storage/procarray.h"
}

namespace cp = customer_profile;

namespace customer_profile::pg {
namespace {

constexpr int kMaxWorkers = 64;
constexpr long kPidCacheMs = 1000;  // a new worker is woken within a second of starting

int worker_pids[kMaxWorkers];
int worker_count = 0;
TimestampTz pids_read_at = 0;
bool wake_at_commit = false;
bool callback_registered = false;

CachedPlan worker_pids_plan{
    "SELECT pid FROM customer_profile.worker_state WHERE state <> 'stopped' ORDER BY pid LIMIT 64", 0, {}};

void wake_workers(XactEvent event, void*) {
    if (event == XACT_EVENT_COMMIT && wake_at_commit) {
        for (int i = 0; i < worker_count; ++i) {
            PGPROC* proc = BackendPidGetProc(worker_pids[i]);
            if (proc != nullptr) SetLatch(&proc->procLatch);
        }
    }
    if (event == XACT_EVENT_COMMIT || event == XACT_EVENT_ABORT || event == XACT_EVENT_PARALLEL_COMMIT ||
        event == XACT_EVENT_PARALLEL_ABORT)
        wake_at_commit = false;
}

}  // namespace
}  // namespace customer_profile::pg

// _event_inbox_queued() trigger: wake the workers when this transaction commits
CP_FUNCTION(event_inbox_queued) {
    if (!cp::pg::callback_registered) {
        cp::pg::pg_guard([] { RegisterXactCallback(cp::pg::wake_workers, nullptr); });
        cp::pg::callback_registered = true;
    }
    TimestampTz now = GetCurrentTimestamp();
    if (cp::pg::pids_read_at == 0 || TimestampDifferenceExceeds(cp::pg::pids_read_at, now, cp::pg::kPidCacheMs)) {
        cp::pg::spi_connect();
        std::uint64_t n = cp::pg::spi_run(cp::pg::worker_pids_plan, nullptr, nullptr, true);
        cp::pg::worker_count = 0;
        for (std::uint64_t row = 0; row < n && cp::pg::worker_count < cp::pg::kMaxWorkers; ++row)
            cp::pg::worker_pids[cp::pg::worker_count++] = cp::pg::spi_int4(row, 1);
        cp::pg::spi_finish();
        cp::pg::pids_read_at = now;
    }
    cp::pg::wake_at_commit = cp::pg::worker_count > 0;
    return PointerGetDatum(nullptr);
}
