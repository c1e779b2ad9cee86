// Running a piece of glue work in a subtransaction so that one bad event can
// be set aside (dead-lettered) without losing the rest of a batch.
#pragma once

#include <functional>
#include <optional>
#include <string>

namespace customer_profile::pg {

struct CaughtError {
    int sqlstate = 0;
    std::string message;
};

// Runs fn inside an internal subtransaction. On success the subtransaction
// is kept and nullopt returned; on an error it is rolled back and the error
// returned. Errors that concern the whole transaction rather than the work
// (deadlock, serialization failure, cancel, shutdown, out of memory) are
// re-thrown after the rollback so the caller's transaction fails and retries.
std::optional<CaughtError> run_in_subtransaction(const std::function<void()>& fn);

}  // namespace customer_profile::pg
