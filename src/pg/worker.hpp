// The inbox worker: a background worker per database that drains
// customer_profile.event_inbox batch by batch and runs retention.
#pragma once

namespace customer_profile::pg {

// From _PG_init while shared_preload_libraries loads: one worker per
// database named in customer_profile.worker_databases.
void register_preloaded_workers();

}  // namespace customer_profile::pg

extern "C" {
// Background worker entry point (bgw_function_name).
PGDLLEXPORT void cp_worker_main(Datum main_arg);
}
