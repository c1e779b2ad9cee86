// The inbox worker: a background worker per database that drains
// customer_profile.event_inbox batch by batch and runs retention.
#pragma once

namespace customer_profile::pg {

// From _PG_init while shared_preload_libraries loads: one launcher per
// database named in customer_profile.worker_databases, which starts the
// database's worker once the database exists (worker.cpp).
void register_preloaded_workers();

}  // namespace customer_profile::pg

extern "C" {
// Background worker entry points (bgw_function_name).
PGDLLEXPORT void cp_worker_main(Datum main_arg);
PGDLLEXPORT void cp_launcher_main(Datum main_arg);
}
