// Concurrency stress for resolve_identity(): several connections make
// thousands of overlapping calls at once; afterwards the whole graph must be
// exactly what a serial run gives (the connected components of all calls),
// with no call failing (no deadlock or serialization error reaches a client).
//
// Usage: identity_stress "<libpq connection string>" [threads] [calls]
#include <pqxx/pqxx>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <map>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "core/union_find.hpp"

namespace {

struct Identifier {
    std::string ns, value;
};

struct Workload {
    std::vector<Identifier> identifiers;
    std::vector<std::vector<std::uint32_t>> calls;  // indices into identifiers
};

// Planted people with 1-5 identifiers each; calls show 1-3 of one person's
// identifiers, and 4% of calls bridge two people (forcing merges).
Workload make_workload(std::size_t call_count, std::uint32_t seed) {
    std::mt19937 rng(seed);
    Workload w;
    const char* namespaces[] = {"cookie", "device_id", "email"};
    // Few people for many calls: heavy overlap between concurrent calls.
    std::vector<std::vector<std::uint32_t>> people(std::max<std::size_t>(50, call_count / 20));
    for (std::size_t p = 0; p < people.size(); ++p) {
        int n = 1 + static_cast<int>(rng() % 5);
        for (int k = 0; k < n; ++k) {
            std::string ns = namespaces[rng() % 3];
            std::string value = "p" + std::to_string(p) + "-" + std::to_string(k);
            if (ns == "email") value += "@stress.example";
            people[p].push_back(static_cast<std::uint32_t>(w.identifiers.size()));
            w.identifiers.push_back({ns, value});
        }
    }
    for (std::size_t c = 0; c < call_count; ++c) {
        const auto& person = people[rng() % people.size()];
        std::vector<std::uint32_t> call;
        int n = 1 + static_cast<int>(rng() % 3);
        for (int k = 0; k < n; ++k) call.push_back(person[rng() % person.size()]);
        if (rng() % 25 == 0) {
            const auto& other = people[rng() % people.size()];
            call.push_back(other[rng() % other.size()]);
        }
        w.calls.push_back(call);
    }
    return w;
}

std::string json_for(const Workload& w, const std::vector<std::uint32_t>& call) {
    std::map<std::string, std::vector<std::string>> by_ns;
    for (auto i : call) by_ns[w.identifiers[i].ns].push_back(w.identifiers[i].value);
    std::string j = "{";
    for (const auto& [ns, values] : by_ns) {
        if (j.size() > 1) j += ",";
        j += "\"" + ns + "\":[";
        for (std::size_t k = 0; k < values.size(); ++k) j += (k ? ",\"" : "\"") + values[k] + "\"";
        j += "]";
    }
    return j + "}";
}

int fail(const std::string& what) {
    std::fprintf(stderr, "FAIL: %s\n", what.c_str());
    return 1;
}

}  // namespace

int main(int argc, char** argv) {
    if (argc < 2) return fail("usage: identity_stress <conninfo> [threads] [calls]");
    std::string admin_conninfo = argv[1];
    int threads = argc > 2 ? std::stoi(argv[2]) : 4;
    std::size_t call_count = argc > 3 ? std::stoul(argv[3]) : 4000;
    try {
        {
            pqxx::connection admin(admin_conninfo);
            pqxx::nontransaction n(admin);
            n.exec("DROP DATABASE IF EXISTS cp_stress");
            n.exec("CREATE DATABASE cp_stress");
        }
        std::string conninfo = admin_conninfo + " dbname=cp_stress";
        {
            pqxx::connection c(conninfo);
            pqxx::work t(c);
            t.exec("CREATE EXTENSION customer_profile");
            // Guard rails would make the outcome depend on call order; this
            // test is about concurrency, so lift the caps.
            t.exec("UPDATE customer_profile.namespace SET max_per_profile = NULL");
            t.exec("UPDATE customer_profile.settings SET max_identities_per_profile = 1000000");
            t.commit();
        }
        Workload w = make_workload(call_count, 20261129);

        std::atomic<std::size_t> next{0};
        std::atomic<int> errors{0};
        std::mutex log_mutex;
        auto started = std::chrono::steady_clock::now();
        std::vector<std::thread> pool;
        for (int t = 0; t < threads; ++t)
            pool.emplace_back([&] {
                pqxx::connection c(conninfo);
                c.prepare("resolve", "SELECT customer_profile.resolve_identity($1::jsonb, 'stress')");
                for (std::size_t i; (i = next.fetch_add(1)) < w.calls.size();) {
                    try {
                        pqxx::work tx(c);
                        pqxx::result r = tx.exec_prepared("resolve", json_for(w, w.calls[i]));
                        tx.commit();
                        if (r[0][0].is_null()) throw std::runtime_error("resolve_identity returned NULL");
                    } catch (const std::exception& e) {
                        std::lock_guard<std::mutex> lock(log_mutex);
                        if (errors++ < 5) std::fprintf(stderr, "call %zu failed: %s\n", i, e.what());
                    }
                }
            });
        for (auto& th : pool) th.join();
        double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
        std::printf("%zu calls on %d connections in %.2f s (%.0f calls/s), %d errors\n", w.calls.size(), threads,
                    seconds, w.calls.size() / seconds, errors.load());
        if (errors > 0) return fail("some calls failed");

        // Expected: the connected components of all calls (a serial run).
        customer_profile::core::UnionFind uf(static_cast<std::uint32_t>(w.identifiers.size()));
        std::vector<bool> seen(w.identifiers.size(), false);
        for (const auto& call : w.calls)
            for (auto i : call) {
                seen[i] = true;
                uf.unite(call[0], i);
            }
        pqxx::connection c(conninfo);
        pqxx::work tx(c);
        std::map<std::uint32_t, long long> profile_of_root;  // expected component -> observed profile
        std::map<long long, std::uint32_t> root_of_profile;
        std::size_t checked = 0;
        for (std::uint32_t i = 0; i < w.identifiers.size(); ++i) {
            pqxx::result r = tx.exec_params("SELECT customer_profile.identity_lookup($1, $2)", w.identifiers[i].ns,
                                            w.identifiers[i].value);
            if (!seen[i]) {
                if (!r[0][0].is_null()) return fail("an identifier never sent has a profile");
                continue;
            }
            if (r[0][0].is_null()) return fail("lost identifier " + w.identifiers[i].value);
            long long profile = r[0][0].as<long long>();
            std::uint32_t root = uf.find(i);
            auto [it, fresh] = profile_of_root.emplace(root, profile);
            if (!fresh && it->second != profile)
                return fail("one person split across profiles: " + w.identifiers[i].value);
            auto [jt, fresh2] = root_of_profile.emplace(profile, root);
            if (!fresh2 && jt->second != root) return fail("two people merged into profile " + std::to_string(profile));
            ++checked;
        }
        long long profiles = tx.exec("SELECT count(*) FROM customer_profile.unified_profile")[0][0].as<long long>();
        if (profiles != static_cast<long long>(profile_of_root.size()))
            return fail("profile rows " + std::to_string(profiles) + " != components " +
                        std::to_string(profile_of_root.size()));
        for (const auto& row : tx.exec("SELECT problem, count FROM customer_profile.identity_check()"))
            if (row[1].as<long long>() != 0) return fail(std::string("identity_check: ") + row[0].c_str());
        std::printf("consistent: %zu identifiers in %zu profiles, equal to the serial components\n", checked,
                    profile_of_root.size());
        tx.commit();
    } catch (const std::exception& e) {
        return fail(e.what());
    }
    return 0;
}
