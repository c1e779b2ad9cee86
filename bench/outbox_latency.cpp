// Benchmark helper: how long after its commit a segment change becomes
// visible to an outbox consumer. One writer commits one change at a time
// (a trait flip that enters or exits a segment) and notes when COMMIT
// returned; three consumers poll every millisecond and note when each
// change arrived:
//   position   1.5's rule, rows above the last position seen (skips late
//              committers: shown for its latency only)
//   horizon    segment_outbox_read()/segment_outbox_ack() (snapshot batches)
//   xmin       the simpler rule "only rows of transactions older than the
//              oldest running one" (pg_snapshot_xmin of the current snapshot)
// Phase "idle xid" repeats the run while another session holds a
// transaction id open, as a long report or an idle-in-transaction client does.
// Prints one line per phase and consumer: median, p95, p99 and max in ms.
//
// Usage: outbox_latency "<libpq connection string>" [changes per phase]
#include <pqxx/pqxx>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;

struct Seen {
    std::mutex mutex;
    std::map<long long, Clock::time_point> at;  // position -> first time seen
    void note(long long position, Clock::time_point t) {
        std::lock_guard<std::mutex> lock(mutex);
        at.emplace(position, t);
    }
};

double percentile(std::vector<double> v, double p) {
    if (v.empty()) return 0;
    std::sort(v.begin(), v.end());
    std::size_t i = static_cast<std::size_t>(p * (v.size() - 1) + 0.5);
    return v[std::min(i, v.size() - 1)];
}

}  // namespace

int main(int argc, char** argv) {
    if (argc < 2) {
        std::fprintf(stderr, "usage: outbox_latency <conninfo> [changes per phase]\n");
        return 2;
    }
    std::string conninfo = argv[1];
    int changes = argc > 2 ? std::stoi(argv[2]) : 300;
    try {
        {
            pqxx::connection c(conninfo);
            pqxx::work t(c);
            t.exec("SELECT customer_profile.trait_define('score', 'number', 'latest')");
            t.exec("SELECT customer_profile.segment_create('high', 'score >= 50')");
            t.commit();
        }
        for (const char* phase : {"no other transaction", "idle xid held open"}) {
            bool hold = std::string(phase) != "no other transaction";
            pqxx::connection idle(conninfo);
            pqxx::work idle_tx(idle);
            if (hold) idle_tx.exec("SELECT pg_current_xact_id()");

            std::map<long long, Clock::time_point> committed;
            Seen position_seen, horizon_seen, xmin_seen;
            std::atomic<bool> writing{true};
            std::string consumer = std::string("bench_") + (hold ? "idle" : "plain");
            auto poll = [&](const char* kind, Seen& seen) {
                pqxx::connection c(conninfo);
                long long after = 0;
                std::string xmin_after = "0";
                {
                    pqxx::work t(c);
                    after = t.exec("SELECT coalesce(max(position), 0) FROM customer_profile.segment_outbox")[0][0]
                                .as<long long>();
                    xmin_after = t.exec("SELECT pg_snapshot_xmin(pg_current_snapshot())")[0][0].as<std::string>();
                    if (std::string(kind) == "horizon") {  // start this phase's consumer at the end of the outbox
                        t.exec_params("SELECT count(*) FROM customer_profile.segment_outbox_read($1)", consumer);
                        t.exec_params("SELECT customer_profile.segment_outbox_ack($1, $2)", consumer, after);
                        t.exec_params("SELECT count(*) FROM customer_profile.segment_outbox_read($1)", consumer);
                    }
                    t.commit();
                }
                int quiet = 0;
                while (writing || quiet < 200) {
                    pqxx::work t(c);
                    pqxx::result rows;
                    if (std::string(kind) == "position") {
                        rows = t.exec_params(
                            "SELECT position FROM customer_profile.segment_outbox WHERE position > $1 "
                            "ORDER BY position",
                            after);
                    } else if (std::string(kind) == "horizon") {
                        rows = t.exec_params("SELECT outbox_position FROM customer_profile.segment_outbox_read($1)",
                                             consumer);
                        if (!rows.empty())
                            t.exec_params("SELECT customer_profile.segment_outbox_ack($1, $2)", consumer,
                                          rows[rows.size() - 1][0].as<long long>());
                    } else {
                        auto r = t.exec_params(
                            "WITH h AS (SELECT pg_snapshot_xmin(pg_current_snapshot()) AS upto) "
                            "SELECT o.position, h.upto FROM h LEFT JOIN customer_profile.segment_outbox o "
                            "ON o.xact_id >= $1::xid8 AND o.xact_id < h.upto ORDER BY o.position",
                            xmin_after);
                        xmin_after = r[0][1].as<std::string>();
                        for (const auto& row : r)
                            if (!row[0].is_null()) seen.note(row[0].as<long long>(), Clock::now());
                    }
                    t.commit();
                    auto now = Clock::now();
                    for (const auto& row : rows) {
                        seen.note(row[0].as<long long>(), now);
                        after = std::max(after, row[0].as<long long>());
                    }
                    quiet = writing ? 0 : quiet + 1;
                    std::this_thread::sleep_for(std::chrono::milliseconds(1));
                }
            };
            std::vector<std::thread> consumers;
            consumers.emplace_back(poll, "position", std::ref(position_seen));
            consumers.emplace_back(poll, "horizon", std::ref(horizon_seen));
            consumers.emplace_back(poll, "xmin", std::ref(xmin_seen));
            std::this_thread::sleep_for(std::chrono::milliseconds(200));
            {
                pqxx::connection c(conninfo);
                for (int i = 0; i < changes; ++i) {
                    pqxx::work t(c);
                    t.exec_params(
                        "SELECT customer_profile.trait_observe(jsonb_build_object('crm_id', 'bench-' || $1::int % 20), "
                        "jsonb_build_object('score', CASE WHEN $1::int / 20 % 2 = 0 THEN 80 ELSE 10 END), 'crm', "
                        "clock_timestamp())",
                        i);
                    auto mine = t.exec(
                        "SELECT position FROM customer_profile.segment_outbox WHERE xact_id = pg_current_xact_id()");
                    t.commit();
                    auto at = Clock::now();
                    for (const auto& row : mine) committed[row[0].as<long long>()] = at;
                    std::this_thread::sleep_for(std::chrono::milliseconds(5));
                }
            }
            // Let the holder of the old xid end after a while, as a report would.
            if (hold) std::this_thread::sleep_for(std::chrono::milliseconds(500));
            idle_tx.commit();
            writing = false;
            for (auto& t : consumers) t.join();

            for (auto [name, seen] : {std::pair<const char*, Seen*>{"position", &position_seen},
                                      {"horizon", &horizon_seen},
                                      {"xmin", &xmin_seen}}) {
                std::vector<double> ms;
                long long missing = 0;
                for (const auto& [position, at] : committed) {
                    auto it = seen->at.find(position);
                    if (it == seen->at.end()) {
                        ++missing;
                        continue;
                    }
                    ms.push_back(std::max(0.0, std::chrono::duration<double, std::milli>(it->second - at).count()));
                }
                std::printf("%-22s %-9s changes %4zu  median %7.2f ms  p95 %7.2f ms  p99 %7.2f ms  max %8.2f ms%s\n",
                            phase, name, committed.size(), percentile(ms, 0.5), percentile(ms, 0.95),
                            percentile(ms, 0.99), percentile(ms, 1.0),
                            missing ? ("  (" + std::to_string(missing) + " never seen)").c_str() : "");
            }
        }
    } catch (const std::exception& e) {
        std::fprintf(stderr, "outbox_latency: %s\n", e.what());
        return 1;
    }
    return 0;
}
