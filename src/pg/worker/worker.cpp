// Inbox worker. Written PostgreSQL-style on purpose: the main loop holds no
// C++ object, so an ERROR caught by PG_TRY (or a FATAL) skips no destructor;
// the C++ work happens inside event_inbox_drain(), behind the boundary.
//
// Life cycle: SIGTERM (worker_stop(), shutdown) sets a flag and cancels the
// statement running, if any (its transaction rolls back: a batch goes back to
// the inbox); the worker then exits 0, which also tells the postmaster not to
// restart it. A long statement (a trigger someone put on an extension
// table, a slow plan) therefore never holds up worker_stop() or a fast
// shutdown.
// Any crash or exit 1 makes the postmaster restart it after 5 s. Progress is
// in tables only (the inbox itself and worker_state), so a restarted worker
// simply continues: an event is removed from the inbox in the transaction
// that applies it.
//
// Rights: a worker connects as the bootstrap superuser (in PostgreSQL 15 a
// background worker can only connect as a role that may log in) and runs
// every transaction as customer_profile.worker_role (customer_profile_worker
// by default, which holds exactly the grants the worker's work needs),
// switched to the way autovacuum runs as a table's owner:
// SECURITY_LOCAL_USERID_CHANGE | SECURITY_RESTRICTED_OPERATION, with the
// settings a transaction changes undone after it. So a trigger someone put
// on an extension table runs with that role's rights, never a superuser's
// (issue 14, defect 1). A role that does not exist or is a superuser is
// refused: the worker then applies nothing and says so once in the log.
//
// The databases of customer_profile.worker_databases get their workers
// through a launcher each: connecting to a database that does not exist is
// a FATAL, which the postmaster would repeat every restart delay. A
// launcher connects to no database, reads pg_database, and when the
// database is there (and accepts connections) registers the worker for it
// (a dynamic worker: it survives crash restarts like a static one, and exits
// for good on SIGTERM) and exits 0, which unregisters the launcher. Until
// then it logs the missing database once and looks again after 1 s, 2 s,
// 4 s ... up to 30 s.
#include <algorithm>

#include "pg/behavior/event_ingest.hpp"
#include "pg/infra/boundary.hpp"
#include "pg/infra/guc.hpp"
#include "pg/infra/pg_headers.hpp"
#include "pg/worker/worker.hpp"

extern "C" {
#include "utils/acl.h"
#include "utils/backend_status.h"
}

namespace customer_profile::pg {
namespace {

// The retention step. Next month's partition is created first: its CREATE
// TABLE takes ACCESS EXCLUSIVE on event, a gate (docs/concurrency.md), which
// must not wait while retention_run holds the profile rows it purges (a
// writer holding one of them and reading events closed a cycle). The one-time
// filter on p runs before retention_run is scanned.
constexpr const char* kRetentionStatement =
    "WITH p AS MATERIALIZED (SELECT customer_profile.event_partitions_ensure(now(), now() + interval '1 month')), "
    "r AS MATERIALIZED (SELECT * FROM customer_profile.retention_run() WHERE (SELECT count(*) FROM p) > 0) "
    "UPDATE customer_profile.worker_state SET last_retention_at = now() "
    "FROM r WHERE pid = $1";

volatile sig_atomic_t got_sigterm = false;
volatile sig_atomic_t in_statement = false;  // inside run_transaction's PG_TRY

// A cancel is requested only inside a statement: raised outside a transaction
// (in nap()), the ERROR would end the worker with exit 1, and a restart.
void handle_sigterm(SIGNAL_ARGS) {
    int save_errno = errno;
    got_sigterm = true;
    if (in_statement) {
        QueryCancelPending = true;
        InterruptPending = true;
    }
    SetLatch(MyLatch);
    errno = save_errno;
}

constexpr int kRestartSeconds = 5;
constexpr long kLauncherFirstRetryMs = 1000;
constexpr long kLauncherMaxRetryMs = 30000;
constexpr long kHeartbeatMs = 1000;
constexpr long kLanesIntervalMs = 5000;    // how often a worker counts the workers of its database
constexpr long kWindowsIntervalMs = 1000;  // how often due segment windows are re-evaluated

void fill_worker(BackgroundWorker* w, const char* database_label) {
    memset(w, 0, sizeof *w);
    w->bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
    w->bgw_start_time = BgWorkerStart_RecoveryFinished;
    w->bgw_restart_time = kRestartSeconds;
    snprintf(w->bgw_library_name, BGW_MAXLEN, "customer_profile");
    snprintf(w->bgw_function_name, BGW_MAXLEN, "cp_worker_main");
    snprintf(w->bgw_type, BGW_MAXLEN, "customer_profile worker");
    snprintf(w->bgw_name, BGW_MAXLEN, "customer_profile worker for %s", database_label);
}

// A launcher waits for one database of customer_profile.worker_databases
// (named in bgw_extra), without a database connection of its own.
void fill_launcher(BackgroundWorker* w, const char* database_name) {
    memset(w, 0, sizeof *w);
    w->bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
    w->bgw_start_time = BgWorkerStart_RecoveryFinished;
    w->bgw_restart_time = kRestartSeconds;
    snprintf(w->bgw_library_name, BGW_MAXLEN, "customer_profile");
    snprintf(w->bgw_function_name, BGW_MAXLEN, "cp_launcher_main");
    snprintf(w->bgw_type, BGW_MAXLEN, "customer_profile launcher");
    snprintf(w->bgw_name, BGW_MAXLEN, "customer_profile launcher for %s", database_name);
    w->bgw_main_arg = ObjectIdGetDatum(InvalidOid);
    snprintf(w->bgw_extra, BGW_EXTRALEN, "%s", database_name);
}

enum class DatabaseState { missing, closed, ready };

// Whether a database exists and accepts connections. From a process
// connected to no database, with a heap scan of the shared catalog
// pg_database as the autovacuum launcher does: opening one of its indexes
// (get_database_oid, the syscache) may read pg_class, which needs a
// database (e.g. right after a crash restart removed the relcache init file).
DatabaseState database_state(const char* name, Oid* database) {
    DatabaseState state = DatabaseState::missing;
    *database = InvalidOid;
    SetCurrentStatementStartTimestamp();
    StartTransactionCommand();
    (void)GetTransactionSnapshot();
    Relation rel = table_open(DatabaseRelationId, AccessShareLock);
    TableScanDesc scan = table_beginscan_catalog(rel, 0, nullptr);
    HeapTuple tuple;
    while ((tuple = heap_getnext(scan, ForwardScanDirection)) != nullptr) {
        auto* db = reinterpret_cast<Form_pg_database>(GETSTRUCT(tuple));
        if (strcmp(NameStr(db->datname), name) != 0) continue;
        *database = db->oid;
        state = db->datallowconn ? DatabaseState::ready : DatabaseState::closed;
        break;
    }
    table_endscan(scan);
    table_close(rel, AccessShareLock);
    CommitTransactionCommand();
    return state;
}

// The last problem with customer_profile.worker_role that was logged ("" when
// the role was fine), so that it is logged once, not every retry.
char logged_role_problem[NAMEDATALEN + 64];

// The role named by customer_profile.worker_role, looked up in the running
// transaction (the setting may change on reload); InvalidOid when it does not
// exist or is a superuser.
Oid worker_role() {
    const char* name = guc_worker_role != nullptr ? guc_worker_role : "";
    Oid role = get_role_oid(name, true);
    const char* problem = !OidIsValid(role) ? "does not exist" : superuser_arg(role) ? "is a superuser" : nullptr;
    if (problem == nullptr) {
        logged_role_problem[0] = '\0';
        return role;
    }
    char key[sizeof logged_role_problem];
    snprintf(key, sizeof key, "%s %s", name, problem);
    if (strcmp(key, logged_role_problem) != 0) {
        ereport(WARNING,
                (errmsg("customer_profile worker: role \"%s\" of customer_profile.worker_role %s", name, problem),
                 errdetail("The worker applies nothing until the setting names a role that exists and is no "
                           "superuser: it runs every transaction as that role."),
                 errhint("CREATE EXTENSION customer_profile creates customer_profile_worker; another role needs its "
                         "grants (GRANT customer_profile_worker TO ...). Reload after changing the setting.")));
        strlcpy(logged_role_problem, key, sizeof logged_role_problem);
    }
    return InvalidOid;
}

// Runs one statement in its own transaction, as the worker's role; returns
// SPI_processed, or -1 when the statement failed (the error is logged and
// remembered) or the role cannot be used.
char last_error[512];

int64 run_transaction(const char* activity, const char* sql, int nargs, Oid* types, Datum* values, int64* out,
                      int nout) {
    volatile int64 processed = -1;  // set inside PG_TRY, read after it
    MemoryContext context = CurrentMemoryContext;
    if (got_sigterm) return -1;  // stopping: no new work
    SetCurrentStatementStartTimestamp();
    StartTransactionCommand();
    in_statement = true;
    PG_TRY();
    {
        Oid role = worker_role();
        if (!OidIsValid(role)) {
            snprintf(last_error, sizeof last_error, "the role of customer_profile.worker_role cannot be used");
            CommitTransactionCommand();  // nothing was written
        } else {
            // An error below aborts the transaction, which restores the user,
            // the security context and the settings too.
            Oid saved_user = InvalidOid;
            int saved_context = 0;
            GetUserIdAndSecContext(&saved_user, &saved_context);
            SetUserIdAndSecContext(role, saved_context | SECURITY_LOCAL_USERID_CHANGE | SECURITY_RESTRICTED_OPERATION);
            int guc_level = NewGUCNestLevel();
            SPI_connect();
            PushActiveSnapshot(GetTransactionSnapshot());
            pgstat_report_activity(STATE_RUNNING, activity);
            int rc = SPI_execute_with_args(sql, nargs, types, values, nullptr, false, 0);
            if (rc < 0) elog(ERROR, "customer_profile worker: %s failed: %s", activity, SPI_result_code_string(rc));
            processed = static_cast<int64>(SPI_processed);
            for (int i = 0; i < nout && SPI_processed > 0; ++i) {
                bool isnull = false;
                Datum d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, i + 1, &isnull);
                out[i] = isnull ? 0 : DatumGetInt64(d);
            }
            SPI_finish();
            PopActiveSnapshot();
            AtEOXact_GUC(false, guc_level);  // a SET made by anything it ran does not outlive it
            SetUserIdAndSecContext(saved_user, saved_context);
            CommitTransactionCommand();
        }
    }
    PG_CATCH();
    {
        MemoryContextSwitchTo(context);
        ErrorData* edata = CopyErrorData();
        snprintf(last_error, sizeof last_error, "%s", edata->message ? edata->message : "error");
        FreeErrorData(edata);
        EmitErrorReport();
        FlushErrorState();
        AbortCurrentTransaction();
        processed = -1;
    }
    PG_END_TRY();
    // In this order: a SIGTERM after the first line requests no cancel, one
    // before it has its request dropped here, not raised in nap().
    in_statement = false;
    QueryCancelPending = false;
    pgstat_report_activity(STATE_IDLE, nullptr);
    pgstat_report_stat(true);
    return processed;
}

bool extension_ready() {
    int64 ready = 0;
    int64 n = run_transaction("customer_profile: waiting for the extension",
                              "SELECT 1::int8 FROM pg_catalog.pg_extension e "
                              "WHERE e.extname = 'customer_profile' "
                              "AND pg_catalog.to_regclass('customer_profile.event_inbox') IS NOT NULL",
                              0, nullptr, nullptr, &ready, 1);
    return n > 0 && ready == 1;
}

void record_error() {
    Oid types[2] = {INT4OID, TEXTOID};
    Datum values[2] = {Int32GetDatum(MyProcPid), CStringGetTextDatum(last_error)};
    run_transaction("customer_profile: recording an error",
                    "UPDATE customer_profile.worker_state SET last_error = $2, last_error_at = now(), "
                    "heartbeat_at = now() WHERE pid = $1",
                    2, types, values, nullptr, 0);
}

// Waits on the latch; false when the worker should exit.
bool nap(long ms) {
    int rc = WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH, ms, PG_WAIT_EXTENSION);
    (void)rc;
    ResetLatch(MyLatch);
    CHECK_FOR_INTERRUPTS();
    if (ConfigReloadPending) {
        ConfigReloadPending = false;
        ProcessConfigFile(PGC_SIGHUP);
    }
    return !got_sigterm;
}

// Waits until the extension (1.2 or later) exists in this database; false
// when the worker should exit meanwhile.
bool wait_for_extension() {
    while (!got_sigterm && !extension_ready())
        if (!nap(10000)) return false;
    return !got_sigterm;
}

// Calls fn(pid) for each customer_profile worker of this database, from the
// backend status array and the server's list of background workers (not
// pg_stat_activity, whose backend_type a role without pg_read_all_stats
// cannot see for other users' sessions). Inside a transaction.
template <typename Fn>
void for_each_worker_pid(Fn fn) {
    int n = pgstat_fetch_stat_numbackends();
    for (int i = 1; i <= n; ++i) {
        LocalPgBackendStatus* local = pgstat_fetch_stat_local_beentry(i);
        if (local == nullptr) continue;
        const PgBackendStatus& be = local->backendStatus;
        if (be.st_backendType != B_BG_WORKER || be.st_databaseid != MyDatabaseId) continue;
        const char* type = GetBackgroundWorkerTypeByPid(be.st_procpid);
        if (type != nullptr && strcmp(type, "customer_profile worker") == 0) fn(be.st_procpid);
    }
}

// This worker's rank among the running workers of its database (by pid) and
// their number; 0 of 1 if they cannot be read.
void count_workers(int* rank, int* count) {
    volatile int r = 0, c = 0;  // set inside PG_TRY, read after it
    MemoryContext context = CurrentMemoryContext;
    StartTransactionCommand();
    PG_TRY();
    {
        for_each_worker_pid([&](int pid) {
            ++c;
            if (pid < MyProcPid) ++r;
        });
        CommitTransactionCommand();
    }
    PG_CATCH();
    {
        MemoryContextSwitchTo(context);
        EmitErrorReport();
        FlushErrorState();
        AbortCurrentTransaction();
        r = 0;
        c = 1;
    }
    PG_END_TRY();
    *rank = c > 0 ? r : 0;
    *count = c > 0 ? c : 1;
}

void worker_loop() {
    if (!wait_for_extension()) return;

    {
        Oid types[2] = {INT4OID, INT4OID};
        Datum values[2] = {Int32GetDatum(MyProcPid), Int32GetDatum(guc_batch_size)};
        run_transaction("customer_profile: registering",
                        // By pid only: the worker's role cannot see the backend_type of
                        // other sessions (it was NULL, so this deleted every other
                        // worker's row). A pid that now belongs to another process
                        // keeps its stale row, which worker_status shows stopped.
                        "WITH gone AS (DELETE FROM customer_profile.worker_state w WHERE NOT EXISTS ("
                        " SELECT 1 FROM pg_catalog.pg_stat_activity a WHERE a.pid = w.pid)) "
                        "INSERT INTO customer_profile.worker_state (pid, state, batch_size) VALUES ($1, 'idle', $2) "
                        "ON CONFLICT (pid) DO UPDATE SET state = 'idle', started_at = now(), heartbeat_at = now(), "
                        "batches = 0, events_applied = 0, dead_lettered = 0, last_error = NULL",
                        2, types, values, nullptr, 0);
    }
    TimestampTz last_heartbeat = GetCurrentTimestamp();
    TimestampTz last_retention = 0;
    TimestampTz last_windows = 0;
    TimestampTz last_features = 0;
    bool windows_available = false;  // segment_windows_run() exists (1.4)
    TimestampTz windows_checked = 0;
    bool builds_available = false;  // segment_build_run() exists (1.6)
    bool inbox_kept_up = true;      // the last drain took less than a full batch
    TimestampTz builds_checked = 0;
    TimestampTz lanes_counted = 0;
    while (!got_sigterm) {
        // This worker's lane of the inbox: its rank among the running workers
        // of the database (see set_inbox_lane).
        if (TimestampDifferenceExceeds(lanes_counted, GetCurrentTimestamp(), kLanesIntervalMs)) {
            lanes_counted = GetCurrentTimestamp();
            int rank = 0, count = 1;
            count_workers(&rank, &count);
            set_inbox_lane(rank, count);
        }

        // Segment windows that slide without events, once a second even while
        // the inbox keeps the worker busy.
        if (TimestampDifferenceExceeds(last_windows, GetCurrentTimestamp(), kWindowsIntervalMs)) {
            last_windows = GetCurrentTimestamp();
            if (!windows_available && TimestampDifferenceExceeds(windows_checked, last_windows, 60000)) {
                windows_checked = last_windows;
                int64 found = 0;
                windows_available = run_transaction("customer_profile: checking for segment windows",
                                                    "SELECT 1::int8 WHERE pg_catalog.to_regprocedure("
                                                    "'customer_profile.segment_windows_run(integer)') IS NOT NULL",
                                                    0, nullptr, nullptr, &found, 1) > 0 &&
                                    found == 1;
            }
            if (windows_available) {
                Oid types[1] = {INT4OID};
                Datum values[1] = {Int32GetDatum(guc_batch_size)};
                if (run_transaction("customer_profile: sliding segment windows",
                                    "SELECT customer_profile.segment_windows_run($1)", 1, types, values, nullptr,
                                    0) < 0) {
                    windows_available = false;  // e.g. the extension was downgraded or dropped: check again
                    record_error();
                }
            }
        }

        // Segment builds (1.6): a batch of a queued backfill per turn while
        // the inbox keeps up (the last drain took less than a full batch), with
        // no nap while one is left: a build never delays queued events.
        bool building = false;
        if (!builds_available && TimestampDifferenceExceeds(builds_checked, GetCurrentTimestamp(), 60000)) {
            builds_checked = GetCurrentTimestamp();
            int64 found = 0;
            builds_available = run_transaction("customer_profile: checking for segment builds",
                                               "SELECT 1::int8 WHERE pg_catalog.to_regprocedure("
                                               "'customer_profile.segment_build_run(integer)') IS NOT NULL",
                                               0, nullptr, nullptr, &found, 1) > 0 &&
                               found == 1;
        }
        if (builds_available && inbox_kept_up) {
            Oid types[1] = {INT4OID};
            Datum values[1] = {Int32GetDatum(guc_batch_size)};
            int64 built = 0;
            if (run_transaction("customer_profile: building segments",
                                "SELECT customer_profile.segment_build_run($1)::int8", 1, types, values, &built,
                                1) < 0) {
                builds_available = false;
                record_error();
            }
            building = built > 0;
        }

        if (guc_retention_interval_s > 0 &&
            TimestampDifferenceExceeds(last_retention, GetCurrentTimestamp(), guc_retention_interval_s * 1000)) {
            last_retention = GetCurrentTimestamp();
            Oid types[1] = {INT4OID};
            Datum values[1] = {Int32GetDatum(MyProcPid)};
            if (run_transaction("customer_profile: retention", kRetentionStatement, 1, types, values, nullptr, 0) < 0)
                record_error();
        }

        // Feature vectors of changed profiles (1.5), when features are built.
        if (guc_feature_refresh_interval_s > 0 &&
            TimestampDifferenceExceeds(last_features, GetCurrentTimestamp(), guc_feature_refresh_interval_s * 1000)) {
            last_features = GetCurrentTimestamp();
            int64 found = 0;
            if (run_transaction("customer_profile: checking for features",
                                "SELECT 1::int8 WHERE pg_catalog.to_regprocedure("
                                "'customer_profile.feature_refresh(integer)') IS NOT NULL",
                                0, nullptr, nullptr, &found, 1) > 0 &&
                found == 1) {
                Oid types[1] = {INT4OID};
                Datum values[1] = {Int32GetDatum(guc_batch_size * 10)};
                if (run_transaction("customer_profile: feature vectors",
                                    "SELECT customer_profile.feature_refresh($1)::int8", 1, types, values, nullptr,
                                    0) < 0)
                    record_error();
            }
        }

        int batch_size = guc_batch_size;
        Oid types[2] = {INT4OID, INT4OID};
        Datum values[2] = {Int32GetDatum(batch_size), Int32GetDatum(MyProcPid)};
        int64 counts[2] = {0, 0};
        int64 n = run_transaction(
            "customer_profile: draining the inbox",
            "WITH d AS (SELECT * FROM customer_profile.event_inbox_drain($1)), "
            "s AS (UPDATE customer_profile.worker_state w SET state = 'draining', heartbeat_at = now(), "
            " batch_size = $1, batches = w.batches + 1, events_applied = w.events_applied + d.applied, "
            " dead_lettered = w.dead_lettered + d.dead_lettered FROM d WHERE w.pid = $2) "
            "SELECT taken::int8, applied::int8 FROM d",
            2, types, values, counts, 2);
        if (n < 0) {
            // Dropped extension: wait for it quietly instead of failing every second.
            if (!extension_ready()) {
                if (!wait_for_extension()) break;
                continue;
            }
            record_error();
            if (!nap(1000)) break;  // e.g. a deadlock: the batch is back in the inbox, try again shortly
            continue;
        }
        inbox_kept_up = counts[0] < batch_size;
        if (counts[0] >= batch_size || building) continue;  // more waiting: no nap

        if (TimestampDifferenceExceeds(last_heartbeat, GetCurrentTimestamp(), kHeartbeatMs)) {
            last_heartbeat = GetCurrentTimestamp();
            Oid htypes[1] = {INT4OID};
            Datum hvalues[1] = {Int32GetDatum(MyProcPid)};
            run_transaction("customer_profile: heartbeat",
                            "UPDATE customer_profile.worker_state SET state = 'idle', heartbeat_at = now() "
                            "WHERE pid = $1",
                            1, htypes, hvalues, nullptr, 0);
        }
        // Queued events wake the worker (see pg/behavior/inbox_wakeup.cpp); due windows must not wait for a long nap.
        if (!nap(windows_available ? std::min<long>(guc_naptime_ms, kWindowsIntervalMs) : guc_naptime_ms)) break;
    }
}

// The launcher's loop: waits for the database, starts its worker, returns.
void launcher_loop(const char* name) {
    long retry_ms = kLauncherFirstRetryMs;
    bool logged_no_slot = false;
    DatabaseState logged = DatabaseState::ready;  // the last state logged
    while (!got_sigterm) {
        Oid database = InvalidOid;
        DatabaseState state = database_state(name, &database);
        if (state == DatabaseState::ready) {
            BackgroundWorker w;
            fill_worker(&w, name);
            w.bgw_main_arg = ObjectIdGetDatum(database);
            BackgroundWorkerHandle* handle;
            if (RegisterDynamicBackgroundWorker(&w, &handle)) {
                if (logged != DatabaseState::ready)
                    ereport(LOG, (errmsg("customer_profile: database \"%s\" is ready; starting its worker", name)));
                return;
            }
            if (!logged_no_slot)
                ereport(WARNING,
                        (errmsg("customer_profile: no background worker slot is free for the worker of database \"%s\"",
                                name),
                         errdetail("Trying again with a growing interval, up to %ld s.", kLauncherMaxRetryMs / 1000),
                         errhint("Raise max_worker_processes.")));
            logged_no_slot = true;
        } else if (state != logged) {
            ereport(LOG,
                    (errmsg("customer_profile: database \"%s\" named in customer_profile.worker_databases %s", name,
                            state == DatabaseState::missing ? "does not exist" : "does not accept connections"),
                     errdetail("Its worker starts once it does; looking again with a growing interval, up to %ld s.",
                               kLauncherMaxRetryMs / 1000)));
            logged = state;
        }
        if (!nap(retry_ms)) return;
        retry_ms = std::min(retry_ms * 2, kLauncherMaxRetryMs);
    }
}

}  // namespace

void register_preloaded_workers() {
    if (guc_worker_databases == nullptr || guc_worker_databases[0] == '\0') return;
    char* list = pstrdup(guc_worker_databases);
    List* names = NIL;
    if (!SplitIdentifierString(list, ',', &names))
        ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
                        errmsg("invalid list syntax in customer_profile.worker_databases")));
    ListCell* cell;
    List* seen = NIL;
    foreach (cell, names) {
        const char* name = static_cast<const char*>(lfirst(cell));
        if (strlen(name) >= BGW_EXTRALEN)
            ereport(ERROR, (errcode(ERRCODE_NAME_TOO_LONG), errmsg("database name \"%s\" is too long", name)));
        // A database named twice gets one launcher (and one worker).
        bool duplicate = false;
        ListCell* other;
        foreach (other, seen)
            if (strcmp(static_cast<const char*>(lfirst(other)), name) == 0) duplicate = true;
        if (duplicate) continue;
        seen = lappend(seen, const_cast<char*>(name));
        BackgroundWorker w;
        fill_launcher(&w, name);
        RegisterBackgroundWorker(&w);
    }
}

}  // namespace customer_profile::pg

void cp_worker_main(Datum main_arg) {
    using namespace customer_profile::pg;
    pqsignal(SIGTERM, handle_sigterm);
    pqsignal(SIGHUP, SignalHandlerForConfigReload);
    BackgroundWorkerUnblockSignals();
    Oid database = DatumGetObjectId(main_arg);
    // As the bootstrap superuser; the work runs as customer_profile.worker_role.
    BackgroundWorkerInitializeConnectionByOid(database, InvalidOid, 0);
    pgstat_report_appname("customer_profile worker");
    worker_loop();
    proc_exit(0);
}

void cp_launcher_main(Datum main_arg) {
    using namespace customer_profile::pg;
    pqsignal(SIGTERM, handle_sigterm);
    pqsignal(SIGHUP, SignalHandlerForConfigReload);
    BackgroundWorkerUnblockSignals();
    char name[NAMEDATALEN];
    strlcpy(name, MyBgworkerEntry->bgw_extra, sizeof name);
    BackgroundWorkerInitializeConnection(nullptr, nullptr, 0);  // shared catalogs only
    pgstat_report_appname("customer_profile launcher");
    launcher_loop(name);
    proc_exit(0);
}

// worker_start() returns integer: one more worker for this database (working
// as customer_profile.worker_role, like every worker); its pid. PostgreSQL
// calls only, no C++ object: the whole body runs inside pg_guard, so an
// error reaches the caller unchanged through the boundary.
CP_FUNCTION(worker_start) {
    using namespace customer_profile::pg;
    pid_t pid = 0;
    pg_guard([&] {
        // Workers belong to the server's administration (issue 14, defect 5):
        // refused even where EXECUTE was granted.
        if (!superuser())
            ereport(ERROR, (errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
                            errmsg("permission denied to start a customer_profile worker"),
                            errdetail("Only superusers may start workers.")));
        BackgroundWorker w;
        fill_worker(&w, get_database_name(MyDatabaseId));
        w.bgw_main_arg = ObjectIdGetDatum(MyDatabaseId);
        w.bgw_notify_pid = MyProcPid;
        BackgroundWorkerHandle* handle;
        if (!RegisterDynamicBackgroundWorker(&w, &handle))
            ereport(ERROR, (errcode(ERRCODE_CONFIGURATION_LIMIT_EXCEEDED),
                            errmsg("could not start a customer_profile worker: no background worker slot is free"),
                            errhint("Raise max_worker_processes.")));
        BgwHandleStatus status = WaitForBackgroundWorkerStartup(handle, &pid);
        if (status != BGWH_STARTED)
            ereport(ERROR, (errcode(ERRCODE_INSUFFICIENT_RESOURCES),
                            errmsg("the customer_profile worker did not start"), errhint("See the server log.")));
    });
    PG_RETURN_INT32(pid);
}

// _worker_pids() returns integer[]: the pids of this database's
// customer_profile workers, from the server's list of background workers.
// pg_stat_activity shows a session's backend_type only to its user's roles
// and pg_read_all_stats, so worker_status read through it showed every
// worker stopped to a reader. PostgreSQL calls only, inside pg_guard.
CP_FUNCTION(worker_pids) {
    using namespace customer_profile::pg;
    Datum result = 0;
    pg_guard([&] {
        int n = pgstat_fetch_stat_numbackends();
        Datum* pids = static_cast<Datum*>(palloc(sizeof(Datum) * (n > 0 ? n : 1)));
        int found = 0;
        for_each_worker_pid([&](int pid) {
            if (found < n) pids[found++] = Int32GetDatum(pid);
        });
        result = PointerGetDatum(construct_array(pids, found, INT4OID, sizeof(int32), true, TYPALIGN_INT));
    });
    PG_RETURN_DATUM(result);
}
