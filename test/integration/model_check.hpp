// Shared pieces of the model-based concurrency test: the identifier pools
// the sessions draw from and the predicate model (model_check_model.cpp),
// what the sessions record about what they committed, the writers
// (model_check_workload.cpp) and the invariants (model_check_verify.cpp);
// model_check.cpp sets up, runs the drainers, the outbox consumer, the
// LISTENer and the cancels, and reports.
//
// Locking: Shared is written by every session thread; its containers are
// guarded by Shared::mutex, the counters are atomics. A person of the erasure pool is used
// under a shared lock held until the transaction ends, and retired (its
// generation bumped) under an exclusive try-lock, so that no identifier of a
// generation is ever written again once its erasure starts.
#pragma once

#include <pqxx/pqxx>

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <random>
#include <set>
#include <shared_mutex>
#include <string>
#include <tuple>
#include <vector>

namespace model_check {

using json = nlohmann::json;

struct Config {
    std::string conninfo;  // of the test database
    std::uint64_t seed = 0;
    int seconds = 90;
    int writers = 4;
    int drainers = 2;
    int merge_people = 24;   // crm ids and emails that merges and splits play with
    int cookie_window = 24;  // cookies in use at a time; the window slides, so new visitors keep arriving
    int devices = 8;
    int erasable_people = 10;    // people of the erasure pool: only their own identifiers, forgotten now and then
    long long time_base_us = 0;  // observations and consents are dated base + a unique offset (no ties)
};

// An identifier the workload writes: namespace and raw value.
struct Identifier {
    std::string ns, value;
    bool operator<(const Identifier& o) const { return std::tie(ns, value) < std::tie(o.ns, o.value); }
};

// An event whose transaction committed (track() or an inbox row).
struct CommittedEvent {
    std::string event_id;
    std::vector<Identifier> identifiers;
    std::string erasure_token;  // the erasable person and generation it belongs to, "" for the merge pool
};

// A person of the erasure pool: generation g of person p owns the token
// "mcf<p>g<g>x" (crm id, email and cookie are built from it).
struct ErasablePerson {
    std::shared_mutex in_use;
    std::atomic<int> generation{0};
};

// ---------------------------------------------------------------------------
// Predicates: generated for segment_create/segment_alter and evaluated by the
// test itself from what is stored (events, consents, identities, traits).
enum class Tri { False, Unknown, True };

struct Facts {
    std::map<std::string, long long> count, count_30d;  // events per type, all time and within 30 days
    double purchase_amount = 0;
    bool known = false;
    int consent = -1;  // latest email_marketing statement: -1 never asked, 0 withdrawn, 1 granted
    json traits = json::object();
};

struct Predicate {
    enum class Kind { CountGe, SumGe, TraitText, TraitNum, Consent, Known, InSegment, And, Or, Not } kind;
    std::string name;   // event type, trait, or segment
    std::string text;   // text value for TraitText; comparison operator for TraitNum
    double number = 0;  // threshold
    bool within_30d = false;
    std::vector<std::shared_ptr<Predicate>> args;

    std::string to_text() const;
};
using PredicatePtr = std::shared_ptr<Predicate>;

PredicatePtr random_predicate(std::mt19937_64& rng);
// The fixed segments (never altered): name -> predicate.
std::vector<std::pair<std::string, PredicatePtr>> fixed_segments();
// `segment_of` evaluates in_segment() by name (the test's own evaluation).
Tri evaluate(const Predicate& p, const Facts& f, const std::function<Tri(const std::string&)>& segment_of);

struct Counters {
    std::atomic<long> transactions{0}, committed{0}, rolled_back{0}, cancelled{0}, deadlocks{0}, serialization{0},
        vanished{0}, commit_unknown{0}, unexpected{0}, reconnects{0}, forgets{0}, forget_retries{0}, rebuilds{0},
        drained{0}, drain_failures{0}, cancels_sent{0};
    std::map<std::string, std::atomic<long>> ops;    // committed operations per kind (keys fixed at start)
    std::map<std::string, std::atomic<long>> op_us;  // time spent in each kind, committed or not
};

struct Shared {
    Config cfg;
    Counters counters;
    std::atomic<bool> stop{false};
    std::atomic<long> transactions_started{0};
    std::atomic<long> unique_time{0};
    std::vector<std::unique_ptr<ErasablePerson>> erasable;
    std::vector<std::atomic<int>> backend_pids;  // writers, then drainers (0 while reconnecting)

    std::mutex mutex;  // guards everything below
    std::vector<CommittedEvent> events;
    std::set<Identifier> removed;                    // identity_remove() was called on these (committed or not)
    std::set<std::string> erased_tokens;             // erasable generations whose profile_forget() committed
    std::map<std::string, PredicatePtr> predicates;  // every predicate given to segment_create/alter, by text
    std::vector<std::string> dynamic_segments;       // created segments (committed)
    struct Unexpected {
        long count = 0;
        std::vector<std::string> examples;  // the first few
    };
    std::map<std::string, Unexpected> unexpected;  // by SQLSTATE

    explicit Shared(const Config& c);
    // The window of cookies in use: it slides as transactions start.
    long cookie_base() const { return transactions_started.load() / 40; }
    // A timestamp (microseconds since the epoch) no other call gets.
    long long unique_us() {
        std::uint64_t n = static_cast<std::uint64_t>(unique_time.fetch_add(1));
        return cfg.time_base_us + static_cast<long long>((n * 2654435761ULL) % 4294967296ULL);
    }
};

// Names of the pools.
std::string merge_crm(int p);
std::string merge_email(int p);
std::string cookie(long k);
std::string device(int k);
std::string erasure_token(int p, int generation);
std::vector<Identifier> erasable_identifiers(const std::string& token);
std::vector<Identifier> merge_pool_candidates(const Shared& sh);  // every merge-pool identifier that may exist

// libpqxx 6 reports deadlocks and serialization failures as
// transaction_rollback, which is not an sql_error: the SQLSTATE it stands for.
std::string rollback_state(const pqxx::transaction_rollback& e);

// What reached the systems of action during the run.
using Change = std::tuple<long long, std::string, long long, std::string>;  // position, segment, profile, change
struct Deliveries {
    std::vector<Change> consumed;                        // read by the outbox consumer, in the order it read them
    std::vector<Change> heard;                           // NOTIFY payloads of single changes, in arrival order
    std::map<std::string, long long> refresh_announced;  // segment -> entries + exits announced by refreshes
};

// The two halves: writers changing people until sh.stop, each on its own
// connection, and the comparison of the stored state with the reference;
// verify() returns how many invariants failed.
void run_writer(Shared& sh, int index);
int verify(Shared& sh, const Deliveries& deliveries);

}  // namespace model_check
