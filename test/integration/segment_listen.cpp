// Activation, end to end: a client LISTENs on customer_profile_segment
// while several connections change people concurrently (track(), the inbox
// drained by two connections at once, trait changes that leave and re-enter
// a segment inside one transaction, and transactions that roll back).
// Every expected entry and exit must arrive exactly once, as a notification
// and in the outbox (read by a consumer from its position), and nothing may
// arrive for rolled-back work.
//
// Usage: segment_listen "<libpq connection string>" [people per kind]
#include <pqxx/notification>
#include <pqxx/pqxx>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

namespace {

using Change = std::tuple<std::string, long long, std::string>;  // segment, profile, enter/exit

int failures = 0;
void check(bool ok, const std::string& what) {
    std::printf("%s - %s\n", ok ? "ok" : "FAILED", what.c_str());
    if (!ok) ++failures;
}

class Listener : public pqxx::notification_receiver {
public:
    explicit Listener(pqxx::connection_base& c) : pqxx::notification_receiver(c, "customer_profile_segment") {}
    void operator()(const std::string& payload, int) override {
        auto j = nlohmann::json::parse(payload);
        std::lock_guard<std::mutex> lock(mutex);
        heard.push_back({j.at("segment").get<std::string>(), j.at("profile_id").get<long long>(),
                         j.at("change").get<std::string>()});
        positions.push_back(j.at("position").get<long long>());
    }
    std::mutex mutex;
    std::vector<Change> heard;
    std::vector<long long> positions;
};

std::string who(const char* kind, int i) {
    return std::string("{\"crm_id\": \"") + kind + "-" + std::to_string(i) + "\"}";
}

}  // namespace

int main(int argc, char** argv) {
    if (argc < 2) {
        std::fprintf(stderr, "usage: segment_listen <conninfo> [people per kind]\n");
        return 2;
    }
    std::string admin_conninfo = argv[1];
    int people = argc > 2 ? std::stoi(argv[2]) : 120;
    try {
        {
            pqxx::connection admin(admin_conninfo);
            pqxx::nontransaction n(admin);
            n.exec("DROP DATABASE IF EXISTS cp_listen");
            n.exec("CREATE DATABASE cp_listen");
        }
        std::string conninfo = admin_conninfo + " dbname=cp_listen";
        {
            pqxx::connection c(conninfo);
            pqxx::work t(c);
            t.exec("CREATE EXTENSION customer_profile");
            t.exec("SELECT customer_profile.trait_define('score', 'number', 'latest')");
            t.exec("SELECT customer_profile.segment_create('buyers', 'count(purchase) >= 2')");
            t.exec("SELECT customer_profile.segment_create('high', 'score >= 50')");
            t.exec(
                "SELECT customer_profile.segment_create('high_buyers', "
                "'in_segment(''high'') AND in_segment(''buyers'')')");
            t.commit();
        }

        pqxx::connection listen_conn(conninfo);
        Listener listener(listen_conn);
        std::atomic<bool> done{false};
        std::thread listen_thread([&] {
            auto quiet_since = std::chrono::steady_clock::now();
            for (;;) {
                if (listen_conn.await_notification(0, 100000) > 0) quiet_since = std::chrono::steady_clock::now();
                if (done && std::chrono::steady_clock::now() - quiet_since > std::chrono::seconds(2)) break;
            }
        });

        // Kind "t": two track() calls (enter buyers), score 80 (enter high and
        // high_buyers), then in ONE transaction scores 10, 90, 10, 90 (exit
        // both, enter both, exit both, enter both). Kind "i": two purchases through the inbox.
        // Kind "r": the same as "t" but every transaction rolls back.
        auto writer = [&](int first, int step) {
            pqxx::connection c(conninfo);
            for (int i = first; i < people; i += step) {
                for (int k = 0; k < 2; ++k) {
                    pqxx::work t(c);
                    t.exec_params("SELECT customer_profile.track($1::jsonb, 'purchase', now())", who("t", i));
                    t.commit();
                }
                {
                    pqxx::work t(c);
                    t.exec_params(
                        "SELECT customer_profile.trait_observe($1::jsonb, '{\"score\": 80}', 'crm', "
                        "now() - interval '1 hour')",
                        who("t", i));
                    t.commit();
                }
                {
                    // Identical changes inside one transaction: PostgreSQL folds identical
                    // notifications, so each must carry something distinct (its position).
                    pqxx::work t(c);
                    for (int round = 4; round >= 1; --round)
                        t.exec_params(
                            "SELECT customer_profile.trait_observe($1::jsonb, $2::jsonb, 'crm', "
                            "now() - make_interval(mins => $3))",
                            who("t", i), round % 2 == 0 ? "{\"score\": 10}" : "{\"score\": 90}", round);
                    t.commit();
                }
                {
                    pqxx::work t(c);
                    t.exec_params(
                        "INSERT INTO customer_profile.event_inbox (identities, event_type, occurred_at) "
                        "SELECT $1::jsonb, 'purchase', (now() - g * interval '1 second')::text "
                        "FROM generate_series(1, 2) g",
                        who("i", i));
                    t.commit();
                }
                {
                    pqxx::work t(c);
                    t.exec_params("SELECT customer_profile.track($1::jsonb, 'purchase', now() - interval '1 day')",
                                  who("r", i));
                    t.exec_params("SELECT customer_profile.track($1::jsonb, 'purchase', now())", who("r", i));
                    t.exec_params("SELECT customer_profile.trait_observe($1::jsonb, '{\"score\": 80}', 'crm')",
                                  who("r", i));
                    t.abort();
                }
            }
        };
        std::atomic<int> writers_left{3};
        auto drainer = [&] {
            pqxx::connection c(conninfo);
            for (;;) {
                bool writing = writers_left > 0;
                pqxx::work t(c);
                long long taken =
                    t.exec("SELECT taken FROM customer_profile.event_inbox_drain(50)")[0][0].as<long long>();
                t.commit();
                if (taken == 0 && !writing) break;
                if (taken == 0) std::this_thread::sleep_for(std::chrono::milliseconds(20));
            }
        };
        auto started = std::chrono::steady_clock::now();
        std::vector<std::thread> threads;
        for (int w = 0; w < 3; ++w)
            threads.emplace_back([&, w] {
                writer(w, 3);
                --writers_left;
            });
        threads.emplace_back(drainer);
        threads.emplace_back(drainer);
        for (auto& t : threads) t.join();
        done = true;
        listen_thread.join();
        double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();

        // The truth: the outbox, and the people who exist.
        std::map<Change, int> outbox;
        std::set<long long> outbox_positions;
        std::map<long long, std::string> kind_of;
        {
            pqxx::connection c(conninfo);
            pqxx::work t(c);
            for (const auto& row :
                 t.exec("SELECT segment, profile_id, change, position FROM customer_profile.segment_outbox")) {
                ++outbox[{row[0].as<std::string>(), row[1].as<long long>(), row[2].as<std::string>()}];
                outbox_positions.insert(row[3].as<long long>());
            }
            long long rolled_back_people = 0;
            for (const auto& row : t.exec_params("SELECT k, customer_profile.identity_lookup('crm_id', k || '-' || g) "
                                                 "FROM unnest(ARRAY['t', 'i', 'r']) k, generate_series(0, $1 - 1) g",
                                                 people)) {
                if (row[1].is_null())
                    ++rolled_back_people;
                else
                    kind_of[row[1].as<long long>()] = row[0].as<std::string>();
            }
            check(rolled_back_people == people && kind_of.size() == static_cast<std::size_t>(people) * 2,
                  "the rolled-back people do not exist, the others do");
            check(t.exec("SELECT count(*) FROM customer_profile.event_inbox")[0][0].as<long long>() == 0,
                  "the inbox was drained");
        }
        std::map<Change, int> heard;
        for (const auto& c : listener.heard) ++heard[c];
        std::set<long long> heard_positions(listener.positions.begin(), listener.positions.end());
        std::printf("# %zu notifications in %.2f s\n", listener.heard.size(), seconds);

        check(listener.heard.size() == static_cast<std::size_t>(people) * 12,
              "12 notifications per person (11 for the track/trait person, 1 for the inbox person): " +
                  std::to_string(listener.heard.size()));
        check(heard_positions.size() == listener.positions.size(), "no notification arrived twice");
        check(heard_positions == outbox_positions, "every outbox row was announced, and nothing else");
        check(heard == outbox, "notifications and outbox agree change by change");
        int wrong = 0, rolled_back = 0;
        for (const auto& [change, n] : heard) {
            const auto& [segment, profile, what] = change;
            std::string kind = kind_of.count(profile) ? kind_of[profile] : "?";
            int expected = 0;
            if (kind == "t") {
                if (segment == "buyers")
                    expected = what == "enter" ? 1 : 0;
                else
                    expected = what == "enter" ? 3 : 2;  // high, high_buyers: enter, (exit, enter) x 2
            } else if (kind == "i") {
                expected = segment == "buyers" && what == "enter" ? 1 : 0;
            } else {
                ++rolled_back;
            }
            if (n != expected) ++wrong;
        }
        check(wrong == 0, "each person's entries and exits arrived exactly as often as they happened");
        check(rolled_back == 0, "nothing was announced for rolled-back transactions");

        // A consumer that was not listening reads the same changes from the outbox.
        {
            pqxx::connection c(conninfo);
            std::map<Change, int> read;
            for (;;) {
                pqxx::work t(c);
                auto rows = t.exec(
                    "SELECT outbox_position, segment, profile_id, change "
                    "FROM customer_profile.segment_outbox_read('late_consumer', 97)");
                if (rows.empty()) break;
                for (const auto& row : rows)
                    ++read[{row[1].as<std::string>(), row[2].as<long long>(), row[3].as<std::string>()}];
                t.exec_params("SELECT customer_profile.segment_outbox_ack('late_consumer', $1)",
                              rows[rows.size() - 1][0].as<long long>());
                t.commit();
            }
            check(read == outbox, "a consumer reading from its position gets every change once");
        }
    } catch (const std::exception& e) {
        std::fprintf(stderr, "segment_listen: %s\n", e.what());
        return 1;
    }
    std::printf("%s\n", failures == 0 ? "segment_listen: all checks passed" : "segment_listen: FAILED");
    return failures == 0 ? 0 : 1;
}
