// The outbox under load: four writers change people (each transaction moves
// three people in or out of a segment, then waits a moment before it
// commits, so outbox positions are committed out of order), while a
// consumer polls segment_outbox_read() and acknowledges what it read, as a
// system of action does. Every committed change must reach the consumer
// (1.5 lost a few in every run: it read "above the acknowledged position"),
// none twice, and each person's entries and exits must arrive in the order
// they happened (enter, exit, enter, ...).
//
// Usage: outbox_stress "<libpq connection string>" [transactions per writer]
#include <pqxx/pqxx>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <map>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace {

int failures = 0;
void check(bool ok, const std::string& what) {
    std::printf("%s - %s\n", ok ? "ok" : "FAILED", what.c_str());
    if (!ok) ++failures;
}

constexpr int writers = 4;
constexpr int people_per_writer = 12;
constexpr int people_per_transaction = 3;

std::string who(int writer, int person) {
    return "{\"crm_id\": \"w" + std::to_string(writer) + "-" + std::to_string(person) + "\"}";
}

}  // namespace

int main(int argc, char** argv) {
    if (argc < 2) {
        std::fprintf(stderr, "usage: outbox_stress <conninfo> [transactions per writer]\n");
        return 2;
    }
    std::string admin_conninfo = argv[1];
    int transactions = argc > 2 ? std::stoi(argv[2]) : 300;
    try {
        {
            pqxx::connection admin(admin_conninfo);
            pqxx::nontransaction n(admin);
            n.exec("DROP DATABASE IF EXISTS cp_outbox_stress");
            n.exec("CREATE DATABASE cp_outbox_stress");
        }
        std::string conninfo = admin_conninfo + " dbname=cp_outbox_stress";
        {
            pqxx::connection c(conninfo);
            pqxx::work t(c);
            t.exec("CREATE EXTENSION customer_profile");
            t.exec("SELECT customer_profile.trait_define('score', 'number', 'latest')");
            t.exec("SELECT customer_profile.segment_create('high', 'score >= 50')");
            t.commit();
        }

        // Writer w owns its people, so writers never wait for each other;
        // each person's score goes 80, 10, 80, ... (enter, exit, enter, ...).
        std::atomic<int> writers_left{writers};
        auto writer = [&](int w) {
            pqxx::connection c(conninfo);
            std::mt19937 random(1000 + w);
            std::vector<int> round(people_per_writer, 0);
            for (int n = 0; n < transactions; ++n) {
                pqxx::work t(c);
                for (int k = 0; k < people_per_transaction; ++k) {
                    int person = (n * people_per_transaction + k) % people_per_writer;
                    int score = round[person]++ % 2 == 0 ? 80 : 10;
                    t.exec_params(
                        "SELECT customer_profile.trait_observe($1::jsonb, jsonb_build_object('score', $2::int), 'crm', "
                        "clock_timestamp())",
                        who(w, person), score);
                }
                // Positions are taken; commit a little later than a writer that took later ones.
                std::this_thread::sleep_for(std::chrono::microseconds(random() % 3000));
                t.commit();
            }
            --writers_left;
        };

        // The consumer: read, act, acknowledge the last position read.
        std::vector<std::pair<long long, std::string>> delivered;  // position, "segment profile change"
        std::map<std::string, std::vector<std::string>> per_person;
        std::thread consumer([&] {
            pqxx::connection c(conninfo);
            int empty_after_writers = 0;
            while (empty_after_writers < 3) {
                bool writing = writers_left > 0;
                pqxx::work t(c);
                auto rows = t.exec(
                    "SELECT outbox_position, segment, profile_id, change "
                    "FROM customer_profile.segment_outbox_read('stress', 50)");
                if (!rows.empty())
                    t.exec_params("SELECT customer_profile.segment_outbox_ack('stress', $1)",
                                  rows[rows.size() - 1][0].as<long long>());
                t.commit();
                for (const auto& row : rows) {
                    std::string key = row[1].as<std::string>() + " " + row[2].as<std::string>();
                    delivered.push_back({row[0].as<long long>(), key + " " + row[3].as<std::string>()});
                    per_person[key].push_back(row[3].as<std::string>());
                }
                if (rows.empty()) {
                    if (!writing) ++empty_after_writers;
                    std::this_thread::sleep_for(std::chrono::milliseconds(2));
                }
            }
        });
        auto started = std::chrono::steady_clock::now();
        std::vector<std::thread> threads;
        for (int w = 0; w < writers; ++w) threads.emplace_back(writer, w);
        for (auto& t : threads) t.join();
        consumer.join();
        double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();

        // The truth: every committed outbox row.
        std::set<long long> committed;
        {
            pqxx::connection c(conninfo);
            pqxx::work t(c);
            for (const auto& row : t.exec("SELECT position FROM customer_profile.segment_outbox"))
                committed.insert(row[0].as<long long>());
        }
        // A change delivered after a higher position: its transaction took
        // the position first and committed later (what 1.5 skipped).
        std::set<long long> seen;
        long long twice = 0, late = 0, highest = 0;
        for (const auto& d : delivered) {
            if (!seen.insert(d.first).second) ++twice;
            if (d.first < highest) ++late;
            highest = std::max(highest, d.first);
        }
        long long lost = 0;
        for (long long p : committed)
            if (!seen.count(p)) ++lost;
        long long out_of_order = 0;
        for (const auto& [key, changes] : per_person)
            for (std::size_t i = 0; i < changes.size(); ++i)
                if (changes[i] != (i % 2 == 0 ? "enter" : "exit")) {
                    ++out_of_order;
                    break;
                }
        std::printf("# %zu changes committed in %.2f s, %zu delivered, %lld of them after a higher position\n",
                    committed.size(), seconds, delivered.size(), late);
        long long expected = static_cast<long long>(writers) * transactions * people_per_transaction;
        check(static_cast<long long>(committed.size()) == expected,
              "every transaction's changes are in the outbox: " + std::to_string(committed.size()));
        check(lost == 0, "every committed change reached the consumer (lost: " + std::to_string(lost) + ")");
        check(twice == 0,
              "no change was delivered twice to a consumer that acknowledged (twice: " + std::to_string(twice) + ")");
        check(out_of_order == 0, "each person's entries and exits arrived in the order they happened (wrong: " +
                                     std::to_string(out_of_order) + ")");
    } catch (const std::exception& e) {
        std::fprintf(stderr, "outbox_stress: %s\n", e.what());
        return 1;
    }
    std::printf("%s\n", failures == 0 ? "outbox_stress: all checks passed" : "outbox_stress: FAILED");
    return failures == 0 ? 0 : 1;
}
