// The extension's settings. Contexts: postmaster for what is read once at
// start (worker databases), sighup for worker cadence and the worker's role,
// suset for what changes stored results (horizon, TTL) so an ordinary user
// cannot alter them.
#include "pg/infra/guc.hpp"

#include "core/behavior.hpp"
#include "pg/infra/pg_headers.hpp"

namespace customer_profile::pg {

int guc_batch_size = 1000;
int guc_naptime_ms = 200;
int guc_retention_interval_s = 3600;
int guc_feature_refresh_interval_s = 60;
int guc_behavior_horizon_days = 400;
int guc_anonymous_ttl_days = 90;
int guc_segment_build_inline_limit = 100000;
char* guc_worker_databases = nullptr;
char* guc_worker_role = nullptr;

void define_settings() {
    DefineCustomIntVariable("customer_profile.batch_size", "Inbox events a worker applies per transaction.", nullptr,
                            &guc_batch_size, 1000, 1, 100000, PGC_SIGHUP, 0, nullptr, nullptr, nullptr);
    DefineCustomIntVariable("customer_profile.naptime", "How long a worker sleeps after draining the inbox.", nullptr,
                            &guc_naptime_ms, 200, 10, 60000, PGC_SIGHUP, GUC_UNIT_MS, nullptr, nullptr, nullptr);
    DefineCustomIntVariable("customer_profile.retention_interval", "How often a worker runs retention_run().",
                            "0 disables retention by the worker.", &guc_retention_interval_s, 3600, 0, 7 * 86400,
                            PGC_SIGHUP, GUC_UNIT_S, nullptr, nullptr, nullptr);
    DefineCustomIntVariable(
        "customer_profile.feature_refresh_interval",
        "How often a worker recomputes the feature vectors of changed profiles (feature_refresh()).", "0 disables it.",
        &guc_feature_refresh_interval_s, 60, 0, 86400, PGC_SIGHUP, GUC_UNIT_S, nullptr, nullptr, nullptr);
    DefineCustomIntVariable("customer_profile.behavior_horizon",
                            "Days of daily behavior buckets and of stored events (in days).",
                            "Older events are refused; retention drops partitions past it.", &guc_behavior_horizon_days,
                            400, 1, core::kMaxHorizonDays, PGC_SUSET, 0, nullptr, nullptr, nullptr);
    DefineCustomIntVariable("customer_profile.segment_build_inline_limit",
                            "Populations up to this many profiles are backfilled at once by segment_create, "
                            "segment_alter and segment_enable.",
                            "Larger ones are built by the worker (state building). 0 always queues the build.",
                            &guc_segment_build_inline_limit, 100000, 0, INT_MAX, PGC_USERSET, 0, nullptr, nullptr,
                            nullptr);
    DefineCustomIntVariable("customer_profile.anonymous_ttl_days",
                            "Anonymous profiles idle longer than this many days are purged by retention.",
                            "0 keeps them forever.", &guc_anonymous_ttl_days, 90, 0, 36500, PGC_SUSET, 0, nullptr,
                            nullptr, nullptr);
    // Sighup: set by the superuser in the server's configuration only. The
    // worker connects as the bootstrap superuser (a background worker of
    // PostgreSQL 15 can only connect as a role that may log in) and runs every
    // transaction as this role (pg/worker/worker.cpp).
    DefineCustomStringVariable("customer_profile.worker_role", "The role the inbox workers work as.",
                               "A role that is no superuser; it needs the grants of customer_profile_worker.",
                               &guc_worker_role, "customer_profile_worker", PGC_SIGHUP, 0, nullptr, nullptr, nullptr);
    // A postmaster setting can only be defined while preloading.
    if (!process_shared_preload_libraries_in_progress) return;
    DefineCustomStringVariable("customer_profile.worker_databases",
                               "Comma-separated databases that get an inbox worker at server start.",
                               "Needs customer_profile in shared_preload_libraries.", &guc_worker_databases, "",
                               PGC_POSTMASTER, 0, nullptr, nullptr, nullptr);
}

}  // namespace customer_profile::pg
