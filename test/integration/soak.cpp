// Soak test with faults: 4 connections run a fixed number of mixed operations
// (resolve, observe, track, consent, segment changes, forget) while queries
// are cancelled (a statement timeout of a few milliseconds on some of them)
// and a chaos thread terminates random backends. Whatever was committed,
// the stored state must then equal a recomputation from scratch:
//   identities   identity_check() finds no broken invariant of the graph
//   profiles     every profile's traits equal a recomputation from its
//                observations
//   summaries    every profile's behavior summary equals its events
//   memberships  every segment's members are exactly the profiles whose
//                stored row matches the predicate, and each (segment,
//                person)'s outbox history alternates enter/exit, ending in
//                the current state
//   erasure      no erased profile id is live, a member or in the outbox
//
// Usage: soak "<libpq connection string>" [threads] [operations per thread]
//        soak "<libpq connection string>" check   (the check alone, on cp_soak)
#include <pqxx/pqxx>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <mutex>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

namespace {

constexpr int kPeople = 300;

int fail(const std::string& what) {
    std::fprintf(stderr, "FAIL: %s\n", what.c_str());
    return 1;
}

std::string person_identities(std::mt19937& rng, int person) {
    std::string p = std::to_string(person);
    switch (rng() % 4) {
        case 0:
            return R"({"email": "soak)" + p + R"(@example.com"})";
        case 1:
            return R"({"crm_id": "soak-)" + p + R"("})";
        case 2:
            return R"({"cookie": "ck-soak-)" + p + R"(", "email": "soak)" + p + R"(@example.com"})";
        default: {
            // Now and then two people are linked through a shared device.
            std::string other = std::to_string(rng() % kPeople);
            return R"({"crm_id": "soak-)" + p + R"(", "device_id": "dev-soak-)" + other + R"("})";
        }
    }
}

struct Counters {
    std::atomic<long> committed{0}, cancelled{0}, terminated{0}, retried{0}, unexpected{0};
};

// One operation in its own transaction; some carry a statement timeout of a
// few milliseconds so that they are cancelled part of the way through.
void run_operation(pqxx::connection& c, std::mt19937& rng, int op_id) {
    int person = static_cast<int>(rng() % kPeople);
    std::string who = person_identities(rng, person);
    pqxx::work tx(c);
    if (rng() % 5 == 0) tx.exec("SET LOCAL statement_timeout = '" + std::to_string(1 + rng() % 2) + "ms'");
    int kind = static_cast<int>(rng() % 100);
    if (kind < 22) {
        tx.exec_params("SELECT customer_profile.resolve_identity($1::jsonb, 'soak')", who);
    } else if (kind < 42) {
        const char* tiers[] = {"gold", "silver", "bronze"};
        std::string traits =
            std::string(R"({"tier": ")") + tiers[rng() % 3] + R"(", "score": )" + std::to_string(rng() % 100) + "}";
        tx.exec_params(
            "SELECT customer_profile.trait_observe($1::jsonb, $2::jsonb, $3, now() - $4 * interval '1 second')", who,
            traits, rng() % 2 ? "crm" : "web", static_cast<int>(rng() % 1000));
    } else if (kind < 72) {
        tx.exec_params(
            "SELECT customer_profile.track($1::jsonb, 'purchase', now() - $2 * interval '1 minute', "
            "jsonb_build_object('amount', $3::int), $4)",
            who, static_cast<int>(rng() % 5000), static_cast<int>(rng() % 200), "soak-" + std::to_string(op_id));
    } else if (kind < 84) {
        tx.exec_params("SELECT customer_profile.consent_set($1::jsonb, 'email_marketing', $2, 'soak')", who,
                       rng() % 3 != 0);
    } else if (kind < 90) {
        tx.exec("SELECT * FROM customer_profile.segment_refresh('soak_gold')");
    } else if (kind < 93) {
        // A redefinition and the refresh that applies it, at once.
        tx.exec_params("SELECT customer_profile.segment_alter('soak_scored', $1)",
                       rng() % 2 ? "score > 50" : "score > 80 OR tier = 'gold'");
        tx.exec("SELECT * FROM customer_profile.segment_refresh('soak_scored')");
    } else if (kind < 96) {
        tx.exec_params("SELECT customer_profile.profile_forget('crm_id', $1)", "soak-" + std::to_string(person));
    } else {
        tx.exec("SELECT count(*) FROM customer_profile.segment_outbox_read('soak_reader', 100)");
    }
    tx.commit();
}

void worker(const std::string& conninfo, int id, int operations, Counters& counters, std::mutex& log_mutex,
            std::vector<int>& pids, std::mutex& pid_mutex) {
    std::mt19937 rng(20261129 + id);
    std::unique_ptr<pqxx::connection> c;
    auto connect = [&] {
        c = std::make_unique<pqxx::connection>(conninfo);
        std::lock_guard<std::mutex> lock(pid_mutex);
        pids[id] = c->backendpid();
    };
    connect();
    // After a cancelled statement the connection may still be inside the
    // failed transaction (a 1 ms statement timeout can also cancel the
    // client's ROLLBACK): end it before the next operation.
    auto end_failed_transaction = [&] {
        try {
            pqxx::nontransaction n(*c);
            n.exec("ROLLBACK");
        } catch (const std::exception&) {
            connect();
        }
    };
    for (int i = 0; i < operations; ++i) {
        try {
            run_operation(*c, rng, id * operations + i);
            ++counters.committed;
        } catch (const pqxx::broken_connection&) {
            ++counters.terminated;
            connect();
        } catch (const pqxx::sql_error& e) {
            std::string state = e.sqlstate();
            if (state == "57014") {
                ++counters.cancelled;
                end_failed_transaction();
            } else if (state == "57P01" || state.empty()) {
                ++counters.terminated;
                connect();
            } else if (state == "40001") {
                ++counters.retried;
                end_failed_transaction();
            } else {
                ++counters.unexpected;
                std::lock_guard<std::mutex> lock(log_mutex);
                std::fprintf(stderr, "unexpected %s: %s (in %s)\n", state.c_str(), e.what(), e.query().c_str());
            }
        } catch (const std::exception& e) {
            // A backend killed between statements surfaces here on some paths.
            if (!c->is_open()) {
                ++counters.terminated;
                connect();
                continue;
            }
            ++counters.unexpected;
            std::lock_guard<std::mutex> lock(log_mutex);
            std::fprintf(stderr, "unexpected: %s\n", e.what());
        }
    }
}

long long scalar(pqxx::work& tx, const std::string& sql) {
    return tx.exec(sql)[0][0].as<long long>();
}

// The stored state against a recomputation from scratch; "" when consistent.
std::string check(pqxx::connection& c) {
    pqxx::work tx(c);
    for (const auto& row : tx.exec("SELECT problem, count FROM customer_profile.identity_check()"))
        if (row[1].as<long long>() != 0) return std::string("identity_check: ") + row[0].c_str();
    // Behavior: the summary's counts and sums against the events.
    long long behavior_off =
        scalar(tx,
               "WITH truth AS ("
               "  SELECT i.profile_id, count(*) AS n, sum((e.properties->>'amount')::numeric) AS s "
               "  FROM customer_profile.event e JOIN customer_profile.identity i USING (identity_id) "
               "  WHERE e.event_type = 'purchase' GROUP BY i.profile_id), "
               "summary AS ("
               "  SELECT u.profile_id, b.event_count AS n, (b.totals->>'amount')::numeric AS s "
               "  FROM customer_profile.unified_profile u "
               "  CROSS JOIN LATERAL customer_profile.profile_behavior(u.profile_id) b "
               "  WHERE b.event_type = 'purchase') "
               "SELECT count(*) FROM truth t FULL JOIN summary m USING (profile_id) "
               "WHERE t.n IS DISTINCT FROM m.n OR t.s IS DISTINCT FROM m.s");
    if (behavior_off != 0) return std::to_string(behavior_off) + " behavior summaries differ from their events";
    long long orphan_events = scalar(tx,
                                     "SELECT count(*) FROM customer_profile.event e WHERE NOT EXISTS "
                                     "(SELECT 1 FROM customer_profile.identity i WHERE i.identity_id = e.identity_id)");
    if (orphan_events != 0) return std::to_string(orphan_events) + " events belong to no identifier";
    // Memberships: exactly the profiles that match now.
    long long members_off = scalar(tx,
                                   "SELECT count(*) FROM customer_profile.segment s "
                                   "CROSS JOIN customer_profile.unified_profile u "
                                   "WHERE (u OPERATOR(customer_profile.@@) s.predicate) IS DISTINCT FROM EXISTS ("
                                   "  SELECT 1 FROM customer_profile.segment_membership m WHERE m.segment_id = "
                                   "  s.segment_id AND m.profile_id = u.profile_id AND m.exited_at IS NULL)");
    if (members_off != 0) return std::to_string(members_off) + " (segment, profile) memberships are wrong";
    long long ghost_members = scalar(tx,
                                     "SELECT count(*) FROM customer_profile.segment_membership m WHERE m.exited_at IS "
                                     "NULL AND NOT EXISTS (SELECT 1 FROM customer_profile.unified_profile u WHERE "
                                     "u.profile_id = m.profile_id)");
    if (ghost_members != 0) return std::to_string(ghost_members) + " memberships of profiles that no longer exist";
    // The outbox: per (segment, profile), enter and exit alternate, starting
    // with enter, and the last one is the current state.
    long long outbox_off =
        scalar(tx,
               "WITH h AS (SELECT segment, profile_id, change, "
               "  lag(change) OVER w AS before, "
               "  row_number() OVER (PARTITION BY segment, profile_id ORDER BY position DESC) AS "
               "  from_end "
               "  FROM customer_profile.segment_outbox WINDOW w AS (PARTITION BY segment, profile_id "
               "  ORDER BY position)) "
               "SELECT count(*) FROM h WHERE change = before OR (before IS NULL AND change <> "
               "'enter') OR (from_end = 1 AND (change = 'enter') IS DISTINCT FROM EXISTS ("
               "  SELECT 1 FROM customer_profile.segment_membership m JOIN customer_profile.segment "
               "  s USING (segment_id) WHERE s.name = h.segment AND m.profile_id = h.profile_id AND "
               "  m.exited_at IS NULL))");
    if (outbox_off != 0) return std::to_string(outbox_off) + " outbox rows break the enter/exit history";
    // Erasure: an erased profile id is nowhere.
    long long erased_left = scalar(tx,
                                   "SELECT count(*) FROM (SELECT unnest(profile_ids) AS id FROM "
                                   "customer_profile.erasure) x WHERE EXISTS (SELECT 1 FROM "
                                   "customer_profile.unified_profile u WHERE u.profile_id = x.id) OR EXISTS (SELECT 1 "
                                   "FROM customer_profile.segment_membership m WHERE m.profile_id = x.id) OR EXISTS "
                                   "(SELECT 1 FROM customer_profile.segment_outbox o WHERE o.profile_id = x.id)");
    if (erased_left != 0) return std::to_string(erased_left) + " erased profile ids are still present";
    // Traits: recompute every profile inside this transaction and compare
    // (last: a recomputation streams segment changes of its own).
    tx.exec("CREATE TEMP TABLE stored AS SELECT profile_id, data::text AS data FROM customer_profile.unified_profile");
    tx.exec("SELECT customer_profile._profile_recompute(profile_id, NULL) FROM customer_profile.unified_profile");
    long long traits_off = scalar(tx,
                                  "SELECT count(*) FROM stored s JOIN customer_profile.unified_profile u USING "
                                  "(profile_id) WHERE s.data IS DISTINCT FROM u.data::text");
    if (traits_off != 0) return std::to_string(traits_off) + " profiles' traits differ from their observations";
    tx.abort();
    return "";
}

}  // namespace

int main(int argc, char** argv) {
    if (argc < 2) return fail("usage: soak <conninfo> [threads] [operations per thread]");
    std::string admin_conninfo = argv[1];
    if (argc > 2 && std::string(argv[2]) == "check") {  // only the check, on an existing cp_soak
        try {
            pqxx::connection c(admin_conninfo + " dbname=cp_soak");
            std::string problem = check(c);
            if (!problem.empty()) return fail(problem);
        } catch (const std::exception& e) {
            return fail(e.what());
        }
        std::printf("consistent\n");
        return 0;
    }
    int threads = argc > 2 ? std::stoi(argv[2]) : 4;
    int operations = argc > 3 ? std::stoi(argv[3]) : 2500;
    try {
        {
            pqxx::connection admin(admin_conninfo);
            pqxx::nontransaction n(admin);
            n.exec("DROP DATABASE IF EXISTS cp_soak");
            n.exec("CREATE DATABASE cp_soak");
        }
        std::string conninfo = admin_conninfo + " dbname=cp_soak";
        {
            pqxx::connection c(conninfo);
            pqxx::work t(c);
            t.exec("CREATE EXTENSION customer_profile");
            t.exec("SELECT customer_profile.event_measure_define('purchase', 'amount')");
            t.exec("SELECT customer_profile.trait_define('score', 'number', 'max')");
            t.exec("SELECT customer_profile.segment_create('soak_buyers', 'count(purchase) >= 2')");
            t.exec("SELECT customer_profile.segment_create('soak_gold', 'tier = ''gold''')");
            t.exec("SELECT customer_profile.segment_create('soak_scored', 'score > 50')");
            t.exec(
                "SELECT customer_profile.segment_create('soak_mailable', "
                "'consent(email_marketing) AND in_segment(''soak_buyers'')')");
            t.commit();
        }
        Counters counters;
        std::mutex log_mutex, pid_mutex;
        std::vector<int> pids(threads, 0);
        std::atomic<bool> done{false};
        std::atomic<int> kills{0};
        auto started = std::chrono::steady_clock::now();
        std::thread chaos([&] {
            std::mt19937 rng(7);
            pqxx::connection admin(conninfo);
            while (!done) {
                std::this_thread::sleep_for(std::chrono::milliseconds(50 + rng() % 150));
                int pid;
                {
                    std::lock_guard<std::mutex> lock(pid_mutex);
                    pid = pids[rng() % pids.size()];
                }
                pqxx::nontransaction n(admin);
                if (n.exec_params("SELECT pg_terminate_backend($1)", pid)[0][0].as<bool>()) ++kills;
            }
        });
        std::vector<std::thread> pool;
        for (int t = 0; t < threads; ++t)
            pool.emplace_back(worker, conninfo, t, operations, std::ref(counters), std::ref(log_mutex), std::ref(pids),
                              std::ref(pid_mutex));
        for (auto& th : pool) th.join();
        done = true;
        chaos.join();
        double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
        std::printf(
            "%d operations on %d connections in %.1f s: %ld committed, %ld cancelled, %ld lost to %d terminated "
            "backends, %ld serialization retries, %ld unexpected errors\n",
            threads * operations, threads, seconds, counters.committed.load(), counters.cancelled.load(),
            counters.terminated.load(), kills.load(), counters.retried.load(), counters.unexpected.load());
        if (counters.unexpected > 0) return fail("operations failed with unexpected errors");
        if (counters.cancelled == 0 || kills == 0) return fail("no fault was injected");
        if (counters.committed < threads * operations / 2) return fail("fewer than half the operations committed");
        pqxx::connection c(conninfo);
        std::string problem = check(c);
        if (!problem.empty()) return fail(problem);
        pqxx::work tx(c);
        std::printf("consistent: %lld profiles, %lld events, %lld memberships, %lld erasures\n",
                    scalar(tx, "SELECT count(*) FROM customer_profile.unified_profile"),
                    scalar(tx, "SELECT count(*) FROM customer_profile.event"),
                    scalar(tx, "SELECT count(*) FROM customer_profile.segment_membership WHERE exited_at IS NULL"),
                    scalar(tx, "SELECT count(*) FROM customer_profile.erasure"));
    } catch (const std::exception& e) {
        return fail(e.what());
    }
    return 0;
}
