// The writers of the model-based concurrency test: random transactions of
// one to four operations that change people (every kind the extension
// offers), with random rollbacks and statement timeouts. What committed is
// recorded in Shared for the reference; everything else the check needs is
// read from the database.
#include "model_check.hpp"

#include <chrono>
#include <cstdio>
#include <thread>

namespace model_check {

namespace {

std::vector<Identifier> identifiers_of(const json& identities) {
    std::vector<Identifier> out;
    for (const auto& [ns, v] : identities.items()) {
        if (v.is_array())
            for (const auto& one : v) out.push_back({ns, one.get<std::string>()});
        else
            out.push_back({ns, v.get<std::string>()});
    }
    return out;
}

json candidates_json(const std::vector<Identifier>& ids) {
    json a = json::array();
    for (const auto& i : ids) a.push_back({{"ns", i.ns}, {"v", i.value}});
    return a;
}

// One transaction's record: what it will have done if it commits, and the
// erasable people it holds until it ends.
struct Txn {
    std::vector<CommittedEvent> events;
    std::vector<std::string> created_segments;
    std::vector<std::string> ops;
    std::map<int, std::string> held;  // erasable person -> token of the generation in use
    std::vector<std::shared_lock<std::shared_mutex>> holds;
};

class Writer {
public:
    Writer(Shared& sh, int index) : sh_(sh), index_(index), rng_(sh.cfg.seed * 1000003ULL + index) {}

    void run() {
        connect();
        while (!sh_.stop) {
            if (chance(3))
                forget();
            else if (chance(0.4))
                solo("identity_rebuild", "SELECT * FROM customer_profile.identity_rebuild()");
            else
                transaction();
        }
    }

private:
    int pick(long n) { return static_cast<int>(rng_() % static_cast<std::uint64_t>(n)); }
    bool chance(double percent) { return static_cast<double>(rng_() % 100000) < percent * 1000; }
    template <typename T>
    const T& one_of(const std::vector<T>& v) {
        return v[pick(static_cast<long>(v.size()))];
    }

    void connect() {
        for (;;) {
            try {
                sh_.backend_pids[index_] = 0;
                c_ = std::make_unique<pqxx::connection>(sh_.cfg.conninfo);
                pqxx::nontransaction n(*c_);
                n.exec("SET client_min_messages = error");
                sh_.backend_pids[index_] = c_->backendpid();
                return;
            } catch (const std::exception&) {
                ++sh_.counters.reconnects;
                std::this_thread::sleep_for(std::chrono::milliseconds(50));
            }
        }
    }

    // After an error the connection may still be inside the failed
    // transaction (a cancel can also hit the client's ROLLBACK).
    void end_failed_transaction() {
        try {
            pqxx::nontransaction n(*c_);
            n.exec("ROLLBACK");
        } catch (const std::exception&) {
            ++sh_.counters.reconnects;
            connect();
        }
    }

    // Counts an error by kind; an unexpected one is recorded for the report.
    void failed(const std::string& state, const std::string& what, const std::string& query, bool committing) {
        auto& k = sh_.counters;
        if (committing) ++k.commit_unknown;
        if (state == "57014")
            ++k.cancelled;
        else if (state == "40P01")
            ++k.deadlocks;
        else if (state == "40001")
            ++k.serialization;
        else if (state == "42704" && (current_op_ == "identity_unlink" || current_op_ == "identity_remove"))
            ++k.vanished;  // the link or identifier picked went away meanwhile
        else {
            ++k.unexpected;
            std::lock_guard<std::mutex> lock(sh_.mutex);
            auto& ex = sh_.unexpected[state.empty() ? "(none)" : state];
            if (++ex.count <= 5)
                ex.examples.push_back(current_op_ + ": " + what.substr(0, 300) + " [" + query.substr(0, 200) + "]");
        }
    }

    void maybe_timeout(pqxx::work& tx) {
        if (chance(8)) tx.exec("SET LOCAL statement_timeout = '" + std::to_string(1 + pick(6)) + "ms'");
    }

    // A transaction of 1-4 operations, committed or rolled back at random.
    void transaction() {
        ++sh_.transactions_started;
        ++sh_.counters.transactions;
        Txn t;
        bool committing = false;
        try {
            pqxx::work tx(*c_);
            maybe_timeout(tx);
            int n = 1 + pick(4);
            for (int i = 0; i < n; ++i) operation(tx, t);
            if (chance(10)) {
                tx.abort();
                ++sh_.counters.rolled_back;
                return;
            }
            committing = true;
            current_op_ = "COMMIT";
            tx.commit();
        } catch (const pqxx::broken_connection&) {
            if (committing) ++sh_.counters.commit_unknown;
            connect();
            return;
        } catch (const pqxx::in_doubt_error&) {
            ++sh_.counters.commit_unknown;
            connect();
            return;
        } catch (const pqxx::sql_error& e) {
            failed(e.sqlstate(), e.what(), e.query(), committing);
            end_failed_transaction();
            return;
        } catch (const pqxx::transaction_rollback& e) {
            failed(rollback_state(e), e.what(), "", committing);
            end_failed_transaction();
            return;
        } catch (const std::exception& e) {
            failed("", e.what(), "", committing);
            if (!c_->is_open()) connect();
            return;
        }
        ++sh_.counters.committed;
        for (const auto& op : t.ops) ++sh_.counters.ops.find(op)->second;
        std::lock_guard<std::mutex> lock(sh_.mutex);
        for (auto& e : t.events) {
            if (e.erasure_token.empty()) tracked_.push_back(e);
            sh_.events.push_back(std::move(e));
        }
        for (auto& s : t.created_segments) sh_.dynamic_segments.push_back(s);
    }

    void solo(const char* op, const std::string& sql) {
        ++sh_.counters.transactions;
        current_op_ = op;
        try {
            pqxx::work tx(*c_);
            tx.exec(sql);
            tx.commit();
            ++sh_.counters.committed;
            ++sh_.counters.ops.find(op)->second;
            ++sh_.counters.rebuilds;
        } catch (const pqxx::sql_error& e) {
            failed(e.sqlstate(), e.what(), e.query(), false);
            end_failed_transaction();
        } catch (const pqxx::transaction_rollback& e) {
            failed(rollback_state(e), e.what(), "", false);
            end_failed_transaction();
        } catch (const std::exception& e) {
            failed("", e.what(), "", false);
            if (!c_->is_open()) connect();
        }
    }

    // An erasable person used by this transaction: held (shared) until it ends.
    std::string hold(Txn& t, int p) {
        auto it = t.held.find(p);
        if (it != t.held.end()) return it->second;
        t.holds.emplace_back(sh_.erasable[p]->in_use);
        std::string token = erasure_token(p, sh_.erasable[p]->generation.load());
        t.held[p] = token;
        return token;
    }

    // Identifiers of one call: a small pool, so merges are frequent.
    json merge_identities() {
        int p = pick(sh_.cfg.merge_people);
        long base = sh_.cookie_base();
        auto ck = [&] { return cookie(base + pick(sh_.cfg.cookie_window)); };
        auto dev = [&] { return device(pick(sh_.cfg.devices)); };
        int r = pick(100);
        json j = json::object();
        if (r < 28) {
            j["cookie"] = ck();
        } else if (r < 35) {
            j["device_id"] = dev();
        } else if (r < 48) {
            j["email"] = merge_email(p);
        } else if (r < 56) {
            j["crm_id"] = merge_crm(p);
        } else if (r < 72) {
            j["email"] = merge_email(p);
            j["cookie"] = ck();
        } else if (r < 82) {
            j["crm_id"] = merge_crm(p);
            j["email"] = merge_email(p);
        } else if (r < 88) {
            j["email"] = merge_email(p);
            j["device_id"] = dev();
        } else if (r < 95) {
            std::string a = ck(), b = cookie(base + pick(sh_.cfg.cookie_window) + 1);
            j["cookie"] = a == b ? json(a) : json::array({a, b});
        } else {
            j["cookie"] = ck();
            j["device_id"] = dev();
        }
        return j;
    }

    json erasable_identities(const std::string& token) {
        auto ids = erasable_identifiers(token);
        int r = pick(100);
        json j = json::object();
        if (r < 35) {
            j[ids[2].ns] = ids[2].value;
        } else if (r < 55) {
            j[ids[1].ns] = ids[1].value;
        } else if (r < 65) {
            j[ids[0].ns] = ids[0].value;
        } else if (r < 85) {
            j[ids[1].ns] = ids[1].value;
            j[ids[2].ns] = ids[2].value;
        } else {
            j[ids[0].ns] = ids[0].value;
            j[ids[1].ns] = ids[1].value;
        }
        return j;
    }

    // Who an operation is about: the merge pool, or now and then a person of
    // the erasure pool (then `token` is set).
    json who(Txn& t, std::string& token) {
        token.clear();
        if (sh_.cfg.erasable_people > 0 && chance(22)) {
            token = hold(t, pick(sh_.cfg.erasable_people));
            return erasable_identities(token);
        }
        return merge_identities();
    }

    // Several identity sets that chain into one person: an anchor (email or
    // crm id) with a different new cookie each, so that one statement or one
    // inbox batch merges several profiles that already hold events.
    std::vector<json> chain(int n) {
        int p = pick(sh_.cfg.merge_people);
        long base = sh_.cookie_base();
        std::vector<json> out;
        for (int i = 0; i < n; ++i) {
            json j = json::object();
            if (chance(70))
                j["email"] = merge_email(p);
            else
                j["crm_id"] = merge_crm(p);
            j["cookie"] = cookie(base + pick(sh_.cfg.cookie_window));
            out.push_back(j);
        }
        return out;
    }

    json event(const json& identities, const std::string& token, Txn& t) {
        int r = pick(100);
        std::string type = r < 55 ? "visit" : r < 85 ? "purchase" : "signup";
        json props = json::object();
        if (type == "purchase") props["amount"] = 1 + pick(60);
        if (type == "visit") props["page"] = "/p" + std::to_string(pick(5));
        std::string id = (token.empty() ? "mc" : token) + "-e" + std::to_string(index_) + "-" + std::to_string(++seq_);
        t.events.push_back({id, identifiers_of(identities), token});
        return {{"ids", identities}, {"type", type}, {"ago", pick(5 * 86400)}, {"props", props}, {"id", id}};
    }

    void operation(pqxx::work& tx, Txn& t) {
        auto started = std::chrono::steady_clock::now();
        current_op_.clear();
        struct Timer {
            Writer& w;
            std::chrono::steady_clock::time_point started;
            ~Timer() {
                if (w.current_op_.empty()) return;
                auto us =
                    std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - started)
                        .count();
                w.sh_.counters.op_us.find(w.current_op_)->second += us;
            }
        } timer{*this, started};
        int r = pick(1000);
        std::string token;
        if (r < 120) {
            current_op_ = "resolve";
            tx.exec_params("SELECT customer_profile.resolve_identity($1::jsonb, 'mc')", who(t, token).dump());
        } else if (r < 210) {
            current_op_ = "resolve_batch";
            json calls = json::array();
            for (const auto& j : chain(2 + pick(3))) calls.push_back(j);
            if (chance(30)) calls.push_back(merge_identities());
            tx.exec_params(
                "SELECT customer_profile.resolve_identity(v.j, 'mc') FROM jsonb_array_elements($1::jsonb) "
                "WITH ORDINALITY AS v(j, n) ORDER BY v.n",
                calls.dump());
        } else if (r < 340) {
            current_op_ = "track";
            json e = event(who(t, token), token, t);
            tx.exec_params(
                "SELECT customer_profile.track($1::jsonb, $2, now() - $3 * interval '1 second', $4::jsonb, $5)",
                e["ids"].dump(), e["type"].get<std::string>(), e["ago"].get<int>(), e["props"].dump(),
                e["id"].get<std::string>());
        } else if (r < 420) {
            current_op_ = "track_batch";
            json events = json::array();
            int n = 0;
            for (const auto& j : chain(2 + pick(3))) {
                json e = event(j, "", t);
                e["n"] = ++n;
                events.push_back(e);
            }
            tx.exec_params(
                "SELECT customer_profile.track(x.ids, x.type, now() - x.ago * interval '1 second', x.props, x.id) "
                "FROM jsonb_to_recordset($1::jsonb) AS x(n int, ids jsonb, type text, ago int, props jsonb, id text) "
                "ORDER BY x.n",
                events.dump());
        } else if (r < 540) {
            current_op_ = "inbox";
            json rows = json::array();
            int n = 0;
            if (chance(50)) {
                for (const auto& j : chain(2 + pick(3))) {
                    json e = event(j, "", t);
                    e["n"] = ++n;
                    rows.push_back(e);
                }
            } else {
                for (int i = 1 + pick(4); i > 0; --i) {
                    json e = event(who(t, token), token, t);
                    e["n"] = ++n;
                    rows.push_back(e);
                }
            }
            tx.exec_params(
                "INSERT INTO customer_profile.event_inbox (identities, event_type, occurred_at, properties, event_id) "
                "SELECT x.ids, x.type, (now() - x.ago * interval '1 second')::text, x.props, x.id "
                "FROM jsonb_to_recordset($1::jsonb) AS x(n int, ids jsonb, type text, ago int, props jsonb, id text) "
                "ORDER BY x.n",
                rows.dump());
        } else if (r < 660) {
            current_op_ = "trait_observe";
            tx.exec_params(
                "SELECT customer_profile.trait_observe($1::jsonb, $2::jsonb, $3, "
                "timestamptz 'epoch' + $4::bigint * interval '1 microsecond')",
                who(t, token).dump(), traits().dump(), one_of<std::string>({"crm", "web", "app"}), sh_.unique_us());
        } else if (r < 710) {
            current_op_ = "consent_set";
            tx.exec_params(
                "SELECT customer_profile.consent_set($1::jsonb, 'email_marketing', $2, 'mc', "
                "timestamptz 'epoch' + $3::bigint * interval '1 microsecond')",
                who(t, token).dump(), chance(60), sh_.unique_us());
        } else if (r < 755) {
            current_op_ = "identity_unlink";
            // A link that exists among the pool's identifiers, picked in the statement.
            tx.exec_params(
                "WITH c AS (SELECT x.ns, x.v, customer_profile.identity_hash(x.ns, x.v) AS h "
                "  FROM jsonb_to_recordset($1::jsonb) AS x(ns text, v text)), "
                "pick AS (SELECT ca.ns AS na, ca.v AS va, cb.ns AS nb, cb.v AS vb "
                "  FROM customer_profile.identity_link l "
                "  JOIN customer_profile.identity ia ON ia.identity_id = l.identity_a "
                "  JOIN customer_profile.identity ib ON ib.identity_id = l.identity_b "
                "  JOIN c ca ON ca.h = ia.value_hash JOIN c cb ON cb.h = ib.value_hash "
                "  ORDER BY md5(ca.v || '/' || cb.v || $2) LIMIT 1) "
                "SELECT customer_profile.identity_unlink(na, va, nb, vb) FROM pick",
                candidates_json(merge_pool_candidates(sh_)).dump(), std::to_string(rng_()));
        } else if (r < 780) {
            current_op_ = "identity_remove";
            std::vector<Identifier> candidates;
            int kind = pick(100);
            for (const auto& i : merge_pool_candidates(sh_)) {
                bool anonymous = i.ns == "cookie" || i.ns == "device_id";
                if ((kind < 75 && anonymous) || (kind >= 75 && kind < 95 && i.ns == "email") ||
                    (kind >= 95 && i.ns == "crm_id"))
                    candidates.push_back(i);
            }
            auto rows = tx.exec_params(
                "WITH c AS (SELECT x.ns, x.v, customer_profile.identity_hash(x.ns, x.v) AS h "
                "  FROM jsonb_to_recordset($1::jsonb) AS x(ns text, v text)), "
                "pick AS (SELECT c.ns, c.v FROM c JOIN customer_profile.identity i ON i.value_hash = c.h "
                "  ORDER BY md5(c.v || $2) LIMIT 1) "
                "SELECT ns, v, customer_profile.identity_remove(ns, v) FROM pick",
                candidates_json(candidates).dump(), std::to_string(rng_()));
            // Recorded whatever the outcome: only used to excuse missing events.
            std::lock_guard<std::mutex> lock(sh_.mutex);
            for (const auto& row : rows) sh_.removed.insert({row[0].as<std::string>(), row[1].as<std::string>()});
        } else if (r < 830) {
            current_op_ = "crm_upsert";
            std::string crm, email;
            if (sh_.cfg.erasable_people > 0 && chance(20)) {
                token = hold(t, pick(sh_.cfg.erasable_people));
                auto ids = erasable_identifiers(token);
                crm = ids[0].value;
                if (chance(80)) email = ids[1].value;
            } else {
                int p = pick(sh_.cfg.merge_people);
                crm = merge_crm(p);
                int e = pick(100);
                if (e < 75)
                    email = merge_email(p);
                else if (e < 90)
                    email = merge_email(pick(sh_.cfg.merge_people));
            }
            tx.exec_params(
                "INSERT INTO public.mc_crm (crm_id, email, tier, ltv) VALUES ($1, nullif($2, ''), $3, $4) "
                "ON CONFLICT (crm_id) DO UPDATE SET email = EXCLUDED.email, tier = EXCLUDED.tier, ltv = EXCLUDED.ltv",
                crm, email, one_of<std::string>({"gold", "silver", "bronze"}), pick(50));
        } else if (r < 845) {
            current_op_ = "crm_update";
            int p = pick(sh_.cfg.merge_people);
            tx.exec_params("UPDATE public.mc_crm SET email = $2 WHERE crm_id = $1", merge_crm(p),
                           merge_email(chance(70) ? p : pick(sh_.cfg.merge_people)));
        } else if (r < 860) {
            current_op_ = "crm_delete";
            std::string crm = merge_crm(pick(sh_.cfg.merge_people));
            if (sh_.cfg.erasable_people > 0 && chance(25))
                crm = erasable_identifiers(hold(t, pick(sh_.cfg.erasable_people)))[0].value;
            tx.exec_params("DELETE FROM public.mc_crm WHERE crm_id = $1", crm);
        } else if (r < 890) {
            current_op_ = "segment_refresh";
            tx.exec_params("SELECT * FROM customer_profile.segment_refresh($1)", segment_name());
        } else if (r < 915) {
            current_op_ = "segment_alter";
            std::string name = dynamic_segment();
            if (name.empty()) return;
            std::string predicate = new_predicate();
            tx.exec_params("SELECT customer_profile.segment_alter($1, $2)", name, predicate);
            tx.exec_params("SELECT * FROM customer_profile.segment_refresh($1)", name);
        } else if (r < 925) {
            current_op_ = "segment_create";
            int n = ++segments_created_;
            if (n > 3) return;  // at most 3 per writer
            std::string name = "mc_dyn_" + std::to_string(index_) + "_" + std::to_string(n);
            tx.exec_params("SELECT customer_profile.segment_create($1, $2)", name, new_predicate());
            tx.exec_params("SELECT * FROM customer_profile.segment_refresh($1)", name);
            t.created_segments.push_back(name);
        } else {
            current_op_ = "redeliver";
            CommittedEvent e;
            {
                std::lock_guard<std::mutex> lock(sh_.mutex);
                if (tracked_.empty()) return;
                e = one_of(tracked_);
            }
            json ids = json::object();
            for (const auto& i : e.identifiers) {
                if (ids.contains(i.ns)) {
                    if (!ids[i.ns].is_array()) ids[i.ns] = json::array({ids[i.ns]});
                    ids[i.ns].push_back(i.value);
                } else {
                    ids[i.ns] = i.value;
                }
            }
            // The same event id again: a duplicate, by track() or the inbox.
            if (chance(50))
                tx.exec_params("SELECT customer_profile.track($1::jsonb, 'visit', now(), '{}', $2)", ids.dump(),
                               e.event_id);
            else
                tx.exec_params(
                    "INSERT INTO customer_profile.event_inbox (identities, event_type, occurred_at, event_id) "
                    "VALUES ($1::jsonb, 'visit', now()::text, $2)",
                    ids.dump(), e.event_id);
        }
        t.ops.push_back(current_op_);
    }

    json traits() {
        json t = json::object();
        for (int n = 1 + pick(3); n > 0; --n) {
            switch (pick(7)) {
                case 0:
                    t["tier"] = one_of<std::string>({"gold", "silver", "bronze"});
                    break;
                case 1:
                    t["score"] = pick(101);
                    break;
                case 2:
                    t["ltv"] = pick(80);
                    break;
                case 3: {
                    if (chance(30)) {
                        t["tags"] = one_of<std::string>({"red", "blue", "green"});
                    } else {
                        json a = json::array();
                        for (const char* tag : {"red", "blue", "green"})
                            if (chance(50)) a.push_back(tag);
                        t["tags"] = a;
                    }
                    break;
                }
                case 4:
                    t["city"] = one_of<std::string>({"Lyon", "Paris", "Oslo", "Rome"});
                    break;
                case 5:
                    t["first_channel"] = one_of<std::string>({"ads", "seo", "mail"});
                    break;
                default:
                    t["nps"] = pick(11);
            }
        }
        return t;
    }

    std::string segment_name() {
        std::vector<std::string> names;
        for (const auto& [name, p] : fixed_segments()) names.push_back(name);
        std::lock_guard<std::mutex> lock(sh_.mutex);
        for (const auto& n : sh_.dynamic_segments) names.push_back(n);
        return one_of(names);
    }

    std::string dynamic_segment() {
        std::lock_guard<std::mutex> lock(sh_.mutex);
        return sh_.dynamic_segments.empty() ? "" : one_of(sh_.dynamic_segments);
    }

    std::string new_predicate() {
        PredicatePtr p = random_predicate(rng_);
        std::string text = p->to_text();
        std::lock_guard<std::mutex> lock(sh_.mutex);
        sh_.predicates[text] = p;
        return text;
    }

    // Forgets one generation of an erasable person: retired first (nobody
    // uses it from then on), then erased by each of its identifiers, its CRM
    // row deleted in the same transaction, retried until it commits.
    void forget() {
        if (sh_.cfg.erasable_people == 0) return;
        int p = pick(sh_.cfg.erasable_people);
        std::string token;
        {
            std::unique_lock<std::shared_mutex> lock(sh_.erasable[p]->in_use, std::try_to_lock);
            if (!lock.owns_lock()) return;  // in use by an open transaction: never wait here
            token = erasure_token(p, sh_.erasable[p]->generation++);
        }
        auto ids = erasable_identifiers(token);
        for (int attempt = 0; attempt < 50; ++attempt) {
            ++sh_.counters.transactions;
            std::vector<long long> erasures;
            bool committing = false;
            current_op_ = "profile_forget";
            try {
                pqxx::work tx(*c_);
                maybe_timeout(tx);
                tx.exec_params("DELETE FROM public.mc_crm WHERE crm_id = $1", ids[0].value);
                for (const auto& i : ids)
                    erasures.push_back(
                        tx.exec_params("SELECT customer_profile.profile_forget($1, $2)", i.ns, i.value)[0][0]
                            .as<long long>());
                committing = true;
                tx.commit();
            } catch (const pqxx::failure& e) {
                auto sql = dynamic_cast<const pqxx::sql_error*>(&e);
                auto rollback = dynamic_cast<const pqxx::transaction_rollback*>(&e);
                if (!sql && !rollback && !c_->is_open()) connect();
                failed(sql        ? sql->sqlstate()
                       : rollback ? rollback_state(*rollback)
                                  : "",
                       e.what(), sql ? sql->query() : "", committing);
                end_failed_transaction();
                if (!(committing && erased(erasures))) {
                    ++sh_.counters.forget_retries;
                    continue;
                }
            } catch (const std::exception& e) {
                if (!c_->is_open()) connect();
                if (!(committing && erased(erasures))) {
                    ++sh_.counters.forget_retries;
                    continue;
                }
            }
            ++sh_.counters.committed;
            ++sh_.counters.forgets;
            ++sh_.counters.ops.find("profile_forget")->second;
            std::lock_guard<std::mutex> lock(sh_.mutex);
            sh_.erased_tokens.insert(token);
            return;
        }
    }

    // Whether the erasures of a commit that reported an error are there.
    bool erased(const std::vector<long long>& ids) {
        if (ids.size() != 3) return false;
        try {
            pqxx::work tx(*c_);
            return tx.exec_params("SELECT count(*) FROM customer_profile.erasure WHERE erasure_id IN ($1, $2, $3)",
                                  ids[0], ids[1], ids[2])[0][0]
                       .as<long long>() == 3;
        } catch (const std::exception&) {
            end_failed_transaction();
            return false;
        }
    }

    Shared& sh_;
    int index_;
    std::mt19937_64 rng_;
    std::unique_ptr<pqxx::connection> c_;
    std::string current_op_;
    std::vector<CommittedEvent> tracked_;  // this writer's committed merge-pool events (guarded by sh_.mutex)
    long seq_ = 0;
    int segments_created_ = 0;
};

}  // namespace

void run_writer(Shared& sh, int index) {
    Writer(sh, index).run();
}

}  // namespace model_check
