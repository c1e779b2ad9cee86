// Replaced catalogs kept until the outermost call returns (catalog_cache.hpp).
#include "pg/infra/catalog_cache.hpp"

#include <vector>

#include "pg/infra/boundary.hpp"
#include "pg/infra/pg_headers.hpp"

namespace customer_profile::pg {
namespace {

std::vector<std::shared_ptr<const void>> retired;
bool callback_registered = false;
int call_depth = 0;

// At the end of a transaction no call of ours is running: an error that
// skipped leave_call() left the depth too high, never too low.
void free_retired(XactEvent event, void*) {
    if (event == XACT_EVENT_COMMIT || event == XACT_EVENT_ABORT || event == XACT_EVENT_PREPARE ||
        event == XACT_EVENT_PARALLEL_COMMIT || event == XACT_EVENT_PARALLEL_ABORT) {
        retired.clear();
        call_depth = 0;
    }
}

}  // namespace

void enter_call() {
    ++call_depth;
}

void leave_call() {
    if (call_depth > 0 && --call_depth == 0) retired.clear();
}

void retire_catalog(std::shared_ptr<const void> old) {
    if (call_depth == 0) return;  // nobody holds it: freed here
    if (!callback_registered) {
        pg_guard([] { RegisterXactCallback(free_retired, nullptr); });
        callback_registered = true;
    }
    retired.push_back(std::move(old));
}

}  // namespace customer_profile::pg
