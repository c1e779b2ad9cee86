// The invariants of the model-based concurrency test: once the sessions have
// stopped, the whole stored state is compared with a reference the test
// computes itself, from the raw facts that committed (links, events,
// observations, consents) and from what its sessions, its outbox consumer
// and its LISTENer recorded. Each failed invariant prints a few concrete
// examples; verify() returns how many failed.
#include "model_check.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <functional>
#include <numeric>
#include <sstream>

namespace model_check {

namespace {

constexpr std::size_t kExamples = 3;

struct Invariant {
    std::string title;
    long problems = 0;
    std::map<std::string, long> kinds;  // kind of problem -> how many
    std::vector<std::string> examples;  // a few of each kind
    void add(const std::string& kind, std::string example) {
        ++problems;
        if (kinds[kind]++ >= 3 || examples.size() >= 4 * kExamples) return;
        for (auto& ch : example)
            if (ch == '\n') ch = ' ';
        examples.push_back("[" + kind + "] " + example.substr(0, 700));
    }
};

int report(const Invariant& inv) {
    if (inv.problems == 0) {
        std::printf("ok - %s\n", inv.title.c_str());
        return 0;
    }
    std::string kinds;
    for (const auto& [kind, n] : inv.kinds) kinds += (kinds.empty() ? "" : ", ") + kind + ": " + std::to_string(n);
    std::printf("FAILED - %s: %ld problem(s) (%s)\n", inv.title.c_str(), inv.problems, kinds.c_str());
    for (const auto& e : inv.examples) std::printf("    %s\n", e.c_str());
    std::fflush(stdout);
    return 1;
}

std::string set_text(const std::set<long long>& s) {
    std::string out = "{";
    for (long long v : s) out += (out.size() > 1 ? "," : "") + std::to_string(v);
    return out + "}";
}

using Tx = pqxx::transaction<pqxx::repeatable_read>;

// What happened to each profile, for the examples: merges it absorbed,
// splits it went through, and the profile it was carved out of.
std::map<long long, std::string> history(Tx& tx) {
    std::map<long long, std::string> out;
    for (const auto& row : tx.exec(
             "SELECT p, string_agg(what, ', ') FROM ("
             "  SELECT into_profile_id AS p, 'absorbed ' || count(*) || ' merged profile(s)' AS what "
             "    FROM customer_profile.profile_merge GROUP BY 1 "
             "  UNION ALL SELECT profile_id, 'split ' || count(*) || ' time(s)' FROM customer_profile.profile_split "
             "    GROUP BY 1 "
             "  UNION ALL SELECT new_profile_id, 'carved out of ' || string_agg(profile_id::text || ' by ' || cause, "
             "    ', ') FROM customer_profile.profile_split GROUP BY 1) h GROUP BY 1"))
        out[row[0].as<long long>()] = row[1].as<std::string>();
    return out;
}

std::string history_of(const std::map<long long, std::string>& h, long long p) {
    auto it = h.find(p);
    return it == h.end() ? "(never merged or split)" : "(" + it->second + ")";
}

// 1. The partition of identities into profiles is the union-find of the
// surviving links (computed here), and identity_check() finds nothing.
Invariant identity_partition(Tx& tx, const std::set<long long>& live) {
    Invariant inv{"identity partition = union-find of the surviving identity_link rows"};
    std::map<long long, long long> profile_of;
    for (const auto& row : tx.exec("SELECT identity_id, profile_id FROM customer_profile.identity"))
        profile_of[row[0].as<long long>()] = row[1].as<long long>();
    std::map<long long, long long> parent;
    for (const auto& [id, p] : profile_of) parent[id] = id;
    std::function<long long(long long)> find = [&](long long x) {
        while (parent[x] != x) x = parent[x] = parent[parent[x]];
        return x;
    };
    for (const auto& row : tx.exec("SELECT identity_a, identity_b FROM customer_profile.identity_link")) {
        long long a = row[0].as<long long>(), b = row[1].as<long long>();
        if (!profile_of.count(a) || !profile_of.count(b)) {
            inv.add("link to a missing identity",
                    "link " + std::to_string(a) + "-" + std::to_string(b) + " names an identity that does not exist");
            continue;
        }
        long long ra = find(a), rb = find(b);
        if (ra != rb) parent[std::max(ra, rb)] = std::min(ra, rb);
    }
    std::map<long long, std::set<long long>> profiles_of_component, components_of_profile, members;
    for (const auto& [id, p] : profile_of) {
        long long root = find(id);
        profiles_of_component[root].insert(p);
        components_of_profile[p].insert(root);
        members[root].insert(id);
        if (!live.count(p))
            inv.add("identity in a profile that is not live",
                    "identity " + std::to_string(id) + " is in profile " + std::to_string(p) + ", which is not live");
    }
    for (const auto& [root, profiles] : profiles_of_component)
        if (profiles.size() > 1)
            inv.add("linked identities in several profiles",
                    "linked identities " + set_text(members[root]) + " are spread over profiles " + set_text(profiles));
    for (const auto& [p, roots] : components_of_profile)
        if (roots.size() > 1) {
            std::string parts;
            for (long long r : roots) parts += " " + set_text(members[r]);
            inv.add("profile that is not one component", "profile " + std::to_string(p) + " holds " +
                                                             std::to_string(roots.size()) +
                                                             " unlinked groups of identities:" + parts);
        }
    for (long long p : live)
        if (!components_of_profile.count(p))
            inv.add("profile without identities", "live profile " + std::to_string(p) + " has no identity");
    for (const auto& row : tx.exec("SELECT problem, count FROM customer_profile.identity_check() WHERE count <> 0"))
        inv.add("identity_check()", "identity_check(): " + row[0].as<std::string>() + ": " + row[1].as<std::string>());
    return inv;
}

// 2. Every behavior summary is the fold of its profile's stored events
// (computed here with plain SQL over event and identity).
Invariant behavior(Tx& tx, const std::map<long long, std::string>& h) {
    Invariant inv{"behavior summary (profile_behavior) = fold of the profile's stored events"};
    auto rows = tx.exec(
        "WITH ev AS (SELECT i.profile_id, e.event_type, e.occurred_at, e.properties "
        "  FROM customer_profile.event e JOIN customer_profile.identity i USING (identity_id)), "
        "truth AS (SELECT profile_id, event_type, count(*) AS n, min(occurred_at) AS first_at, "
        "  max(occurred_at) AS last_at, count(DISTINCT (occurred_at AT TIME ZONE 'UTC')::date)::int AS days "
        "  FROM ev GROUP BY 1, 2), "
        "measure_sums AS (SELECT ev.profile_id, ev.event_type, m.property, "
        "  sum((ev.properties ->> m.property)::numeric) AS total "
        "  FROM ev JOIN customer_profile.event_measure m ON m.event_type = ev.event_type "
        "  WHERE ev.properties ? m.property GROUP BY 1, 2, 3), "
        "totals AS (SELECT profile_id, event_type, jsonb_object_agg(property, total) AS totals "
        "  FROM measure_sums GROUP BY 1, 2), "
        "expected AS (SELECT t.*, coalesce(s.totals, '{}') AS totals FROM truth t "
        "  LEFT JOIN totals s USING (profile_id, event_type)), "
        "actual AS (SELECT u.profile_id, b.event_type, b.event_count AS n, b.first_at, b.last_at, "
        "  b.active_days AS days, b.totals FROM customer_profile.unified_profile u "
        "  CROSS JOIN LATERAL customer_profile.profile_behavior(u.profile_id) b) "
        "SELECT profile_id, event_type, "
        "  format('count %s, first %s, last %s, days %s, totals %s', e.n, e.first_at, e.last_at, e.days, e.totals), "
        "  format('count %s, first %s, last %s, days %s, totals %s', a.n, a.first_at, a.last_at, a.days, a.totals) "
        "FROM expected e FULL JOIN actual a USING (profile_id, event_type) "
        "WHERE (e.n, e.first_at, e.last_at, e.days) IS DISTINCT FROM (a.n, a.first_at, a.last_at, a.days) "
        "   OR e.totals IS DISTINCT FROM a.totals ORDER BY 1, 2");
    for (const auto& row : rows)
        inv.add("summary differs from the events",
                "profile " + row[0].as<std::string>() + " " + history_of(h, row[0].as<long long>()) + " " +
                    row[1].as<std::string>() + ": expected (events) " + row[2].as<std::string>() +
                    "; actual (summary) " + row[3].as<std::string>());
    return inv;
}

struct Observation {
    std::string source;
    json value;
    long long observed_us;
};

std::string json_text(const json& j) {
    return j.dump();
}

// What a trait's policy makes of its observations: either exact acceptable
// values (a tie on the deciding key accepts each tied value), or a number
// (sum), or a set of items (union).
bool trait_matches(const std::string& policy, const std::vector<std::string>& order,
                   const std::vector<Observation>& obs, const json& actual, std::string& expected) {
    auto rank = [&](const std::string& s) {
        auto it = std::find(order.begin(), order.end(), s);
        return static_cast<long>(it - order.begin());
    };
    if (policy == "sum") {
        double sum = 0;
        for (const auto& o : obs) sum += o.value.get<double>();
        expected = json(sum).dump();
        return actual.is_number() && std::fabs(actual.get<double>() - sum) <= 1e-9 * std::max(1.0, std::fabs(sum));
    }
    if (policy == "union") {
        std::set<std::string> items, got;
        for (const auto& o : obs) {
            if (o.value.is_array())
                for (const auto& i : o.value) items.insert(i.get<std::string>());
            else if (o.value.is_string())
                items.insert(o.value.get<std::string>());
        }
        expected = json(items).dump();
        if (!actual.is_array()) return false;
        for (const auto& i : actual) got.insert(i.is_string() ? i.get<std::string>() : i.dump());
        return got == items && got.size() == actual.size();
    }
    if (policy == "max" || policy == "min") {
        double best = obs[0].value.get<double>();
        for (const auto& o : obs)
            best = policy == "max" ? std::max(best, o.value.get<double>()) : std::min(best, o.value.get<double>());
        expected = json(best).dump();
        return actual.is_number() && actual.get<double>() == best;
    }
    // latest, earliest, source_priority: the best observation by the policy's key.
    auto key = [&](const Observation& o) {
        long r = policy == "source_priority" ? rank(o.source) : 0;
        long long t = policy == "earliest" ? -o.observed_us : o.observed_us;
        return std::make_pair(-r, t);  // greater is better
    };
    auto best = key(obs[0]);
    for (const auto& o : obs) best = std::max(best, key(o));
    std::set<std::string> acceptable;
    for (const auto& o : obs)
        if (key(o) == best) acceptable.insert(json_text(o.value));
    expected.clear();
    for (const auto& a : acceptable) expected += (expected.empty() ? "" : " or ") + a;
    return acceptable.count(json_text(actual)) > 0;
}

// 3. Every trait is its policy's fold of the observations of the profile's
// identities (recomputed here per policy from trait_observation).
Invariant traits(Tx& tx, std::map<long long, json>& stored) {
    Invariant inv{"every trait = its policy's fold of trait_observation"};
    std::map<std::string, std::pair<std::string, std::vector<std::string>>> defs;
    for (const auto& row : tx.exec("SELECT name, policy, array_to_json(source_order)::text FROM "
                                   "customer_profile.trait_definition"))
        defs[row[0].as<std::string>()] = {row[1].as<std::string>(),
                                          json::parse(row[2].as<std::string>()).get<std::vector<std::string>>()};
    std::map<long long, std::map<std::string, std::vector<Observation>>> obs;
    for (const auto& row : tx.exec(
             "SELECT i.profile_id, o.trait, o.source, o.value::text, "
             "(extract(epoch FROM o.observed_at) * 1000000)::bigint, i.identity_id IS NULL "
             "FROM customer_profile.trait_observation o LEFT JOIN customer_profile.identity i USING (identity_id)")) {
        if (row[5].as<bool>()) {
            inv.add("observation of no identity",
                    "an observation of " + row[1].as<std::string>() + " belongs to no identity");
            continue;
        }
        obs[row[0].as<long long>()][row[1].as<std::string>()].push_back(
            {row[2].as<std::string>(), json::parse(row[3].as<std::string>()), row[4].as<long long>()});
    }
    for (const auto& row : tx.exec("SELECT profile_id, customer_profile.profile_traits(data)::text "
                                   "FROM customer_profile.unified_profile"))
        stored[row[0].as<long long>()] = json::parse(row[1].as<std::string>());
    for (const auto& [profile, actual] : stored) {
        const auto& mine = obs[profile];
        for (const auto& [trait, value] : actual.items())
            if (!mine.count(trait))
                inv.add("trait without observations", "profile " + std::to_string(profile) + " " + trait +
                                                          ": expected nothing (no observation), " + "actual " +
                                                          value.dump());
        for (const auto& [trait, list] : mine) {
            auto d =
                defs.count(trait) ? defs[trait] : std::make_pair(std::string("latest"), std::vector<std::string>());
            std::string expected;
            if (!actual.contains(trait)) {
                trait_matches(d.first, d.second, list, json(), expected);
                inv.add("trait missing", "profile " + std::to_string(profile) + " " + trait + " (" + d.first +
                                             "): expected " + expected + ", actual nothing");
            } else if (!trait_matches(d.first, d.second, list, actual[trait], expected)) {
                inv.add("trait differs from the fold", "profile " + std::to_string(profile) + " " + trait + " (" +
                                                           d.first + ", " + std::to_string(list.size()) +
                                                           " observations): expected " + expected + ", actual " +
                                                           actual[trait].dump());
            }
        }
    }
    for (const auto& [profile, m] : obs)
        if (!stored.count(profile))
            inv.add("observations of a profile that is gone",
                    "observations of profile " + std::to_string(profile) + ", which is not live");
    return inv;
}

std::string facts_text(const Facts& f) {
    std::ostringstream s;
    s << "events {";
    for (const auto& [t, n] : f.count) s << t << ":" << n << " ";
    s << "} amount " << f.purchase_amount << ", consent " << f.consent << ", known " << f.known << ", traits "
      << f.traits.dump();
    return s.str();
}

// 4. Stored memberships = live evaluation (unified_profile @@ predicate, and
// profile_segment()) for every segment, and = the test's own evaluation of
// the predicate from the events, consents, identities and traits.
Invariant memberships(Tx& tx, Shared& sh, const std::set<long long>& live, const std::map<long long, json>& traits,
                      const std::map<long long, std::string>& h) {
    Invariant inv{"stored memberships = live evaluation (@@, profile_segment) = the test's own evaluation"};
    using Key = std::pair<std::string, long long>;
    std::set<Key> stored, live_eval, per_profile;
    for (const auto& row : tx.exec("SELECT s.name, m.profile_id FROM customer_profile.segment_membership m "
                                   "JOIN customer_profile.segment s USING (segment_id) WHERE m.exited_at IS NULL"))
        stored.insert({row[0].as<std::string>(), row[1].as<long long>()});
    for (const auto& row : tx.exec("SELECT s.name, u.profile_id FROM customer_profile.segment s "
                                   "CROSS JOIN customer_profile.unified_profile u "
                                   "WHERE u OPERATOR(customer_profile.@@) s.predicate"))
        live_eval.insert({row[0].as<std::string>(), row[1].as<long long>()});
    for (const auto& row : tx.exec("SELECT s.name, u.profile_id FROM customer_profile.segment s "
                                   "CROSS JOIN customer_profile.unified_profile u "
                                   "WHERE customer_profile.profile_segment(u.profile_id, s.name)"))
        per_profile.insert({row[0].as<std::string>(), row[1].as<long long>()});

    // The facts the predicates read, computed from the raw tables.
    std::map<long long, Facts> facts;
    for (long long p : live) facts[p].traits = traits.count(p) ? traits.at(p) : json::object();
    for (const auto& row :
         tx.exec("SELECT i.profile_id, e.event_type, count(*), count(*) FILTER (WHERE e.occurred_at >= "
                 "  (date_trunc('day', now() AT TIME ZONE 'UTC') - interval '29 days') AT TIME ZONE 'UTC'), "
                 "  coalesce(sum((e.properties ->> 'amount')::numeric) FILTER (WHERE e.event_type = 'purchase'), 0) "
                 "FROM customer_profile.event e JOIN customer_profile.identity i USING (identity_id) GROUP BY 1, 2")) {
        long long p = row[0].as<long long>();
        if (!facts.count(p)) continue;
        std::string type = row[1].as<std::string>();
        facts[p].count[type] = row[2].as<long long>();
        facts[p].count_30d[type] = row[3].as<long long>();
        if (type == "purchase") facts[p].purchase_amount = row[4].as<double>();
    }
    for (const auto& row : tx.exec("SELECT i.profile_id, bool_or(n.is_known) FROM customer_profile.identity i "
                                   "JOIN customer_profile.namespace n USING (namespace_id) GROUP BY 1"))
        if (facts.count(row[0].as<long long>())) facts[row[0].as<long long>()].known = row[1].as<bool>();
    for (const auto& row :
         tx.exec("SELECT DISTINCT ON (i.profile_id) i.profile_id, c.granted "
                 "FROM customer_profile.consent c JOIN customer_profile.identity i USING (identity_id) "
                 "WHERE c.purpose = 'email_marketing' ORDER BY i.profile_id, c.observed_at DESC"))
        if (facts.count(row[0].as<long long>())) facts[row[0].as<long long>()].consent = row[1].as<bool>() ? 1 : 0;

    // Each segment's stored (normalized) predicate, mapped back to the model
    // the workload generated it from.
    std::map<std::string, PredicatePtr> by_source;
    for (const auto& [name, p] : fixed_segments()) by_source[p->to_text()] = p;
    {
        std::lock_guard<std::mutex> lock(sh.mutex);
        for (const auto& [text, p] : sh.predicates) by_source[text] = p;
    }
    std::map<std::string, PredicatePtr> by_normalized;
    for (const auto& [text, p] : by_source) {
        try {  // a text the server refused (the refusal was reported as an error) maps to nothing
            pqxx::subtransaction sub(tx, "normalize");
            by_normalized[sub.exec_params("SELECT $1::customer_profile.segment_predicate::text", text)[0][0]
                              .as<std::string>()] = p;
            sub.commit();
        } catch (const pqxx::sql_error&) {
        }
    }
    std::map<std::string, PredicatePtr> model;
    for (const auto& row : tx.exec("SELECT name, predicate::text FROM customer_profile.segment ORDER BY name")) {
        auto it = by_normalized.find(row[1].as<std::string>());
        if (it == by_normalized.end())
            inv.add("predicate the test never wrote",
                    "segment " + row[0].as<std::string>() +
                        " holds a predicate the test never wrote: " + row[1].as<std::string>());
        else
            model[row[0].as<std::string>()] = it->second;
    }

    std::map<Key, Tri> memo;
    std::function<Tri(const std::string&, long long)> own = [&](const std::string& segment, long long p) {
        auto it = memo.find({segment, p});
        if (it != memo.end()) return it->second;
        Tri t = model.count(segment)
                    ? evaluate(*model[segment], facts[p], [&](const std::string& other) { return own(other, p); })
                    : Tri::Unknown;
        memo[{segment, p}] = t;
        return t;
    };
    auto yes = [](bool b) { return b ? "member" : "not a member"; };
    for (const auto& [segment, m] : model) {
        for (long long p : live) {
            Key k{segment, p};
            bool is_stored = stored.count(k) > 0, is_live = live_eval.count(k) > 0;
            bool is_per_profile = per_profile.count(k) > 0, is_own = own(segment, p) == Tri::True;
            if (is_stored != is_live || is_stored != is_per_profile || is_stored != is_own)
                inv.add(std::string(is_stored != is_live ? "stored differs from @@"
                                    : is_live != is_own  ? "@@ differs from the own evaluation"
                                                         : "profile_segment differs from @@") +
                            " in " + segment,
                        "segment " + segment + " (" + m->to_text() + ") profile " + std::to_string(p) + " " +
                            history_of(h, p) + ": stored " + yes(is_stored) + ", @@ " + yes(is_live) +
                            ", profile_segment " + yes(is_per_profile) + ", own evaluation " + yes(is_own) + "; " +
                            facts_text(facts[p]));
        }
    }
    for (const auto& [segment, p] : stored)
        if (!live.count(p))
            inv.add("membership of a profile that is gone",
                    "segment " + segment + " keeps profile " + std::to_string(p) + ", which is gone");
    return inv;
}

// 5. Every committed entry and exit reached the outbox consumer (which read
// and acknowledged while the sessions ran) and the LISTENer; nothing else
// did, and each (segment, profile)'s history alternates and ends in the
// current state.
Invariant outbox(Tx& tx, const Deliveries& d, const std::set<long long>& erased_ids) {
    Invariant inv{"every committed enter/exit reached the outbox consumer and the LISTENer, nothing skipped"};
    std::map<long long, Change> rows;
    for (const auto& row : tx.exec("SELECT position, segment, profile_id, change FROM customer_profile.segment_outbox"))
        rows[row[0].as<long long>()] = {row[0].as<long long>(), row[1].as<std::string>(), row[2].as<long long>(),
                                        row[3].as<std::string>()};
    auto text = [](const Change& c) {
        return "position " + std::to_string(std::get<0>(c)) + " (" + std::get<1>(c) + ", profile " +
               std::to_string(std::get<2>(c)) + ", " + std::get<3>(c) + ")";
    };
    std::map<long long, Change> consumed;
    std::map<std::pair<std::string, long long>, long long> last_read;
    for (const auto& c : d.consumed) {
        if (consumed.count(std::get<0>(c))) continue;  // read again: at least once is allowed
        consumed[std::get<0>(c)] = c;
        auto key = std::make_pair(std::get<1>(c), std::get<2>(c));
        auto it = last_read.find(key);
        if (it != last_read.end() && it->second > std::get<0>(c))
            inv.add("read out of commit order", "the consumer read " + text(c) + " after position " +
                                                    std::to_string(it->second) +
                                                    " of the same (segment, profile): not in commit order");
        last_read[key] = std::max(std::get<0>(c), it == last_read.end() ? 0 : it->second);
    }
    long skipped = 0;
    for (const auto& [pos, row] : rows) {
        auto it = consumed.find(pos);
        if (it == consumed.end()) {
            ++skipped;
            inv.add("skipped by the consumer", "skipped: the consumer never received " + text(row));
        } else if (it->second != row) {
            inv.add("consumer got another change",
                    "the consumer received " + text(it->second) + " but the outbox holds " + text(row));
        }
    }
    for (const auto& [pos, c] : consumed)
        if (!rows.count(pos) && !erased_ids.count(std::get<2>(c)))
            inv.add("consumer got a row that is not in the outbox",
                    "the consumer received " + text(c) + ", which is not in the outbox");

    std::map<long long, Change> heard;
    for (const auto& c : d.heard) {
        if (heard.count(std::get<0>(c))) inv.add("announced twice", "announced twice: " + text(c));
        heard[std::get<0>(c)] = c;
    }
    std::map<std::string, long long> unheard;
    std::map<std::string, std::string> unheard_example;
    for (const auto& [pos, row] : rows) {
        auto it = heard.find(pos);
        if (it == heard.end()) {
            ++unheard[std::get<1>(row)];
            if (!unheard_example.count(std::get<1>(row))) unheard_example[std::get<1>(row)] = text(row);
        } else if (it->second != row) {
            inv.add("announced another change",
                    "the LISTENer heard " + text(it->second) + " but the outbox holds " + text(row));
        }
    }
    // A refresh announces its changes in one summary notification, without
    // positions: the outbox rows nobody heard must be covered by those.
    for (const auto& [segment, n] : unheard) {
        auto a = d.refresh_announced.find(segment);
        long long announced = a == d.refresh_announced.end() ? 0 : a->second;
        if (n > announced)
            inv.add("never announced", std::to_string(n) + " outbox rows of " + segment +
                                           " were never announced, refreshes announced " + std::to_string(announced) +
                                           " changes; e.g. " + unheard_example[segment]);
    }
    for (const auto& [pos, c] : heard)
        if (!rows.count(pos) && !erased_ids.count(std::get<2>(c)))
            inv.add("announced but not in the outbox",
                    "the LISTENer heard " + text(c) + ", which is not in the outbox");

    for (const auto& row : tx.exec(
             "WITH h AS (SELECT segment, profile_id, change, position, lag(change) OVER w AS before, "
             "  row_number() OVER (PARTITION BY segment, profile_id ORDER BY position DESC) AS from_end "
             "  FROM customer_profile.segment_outbox WINDOW w AS (PARTITION BY segment, profile_id ORDER BY position)) "
             "SELECT segment, profile_id, position, change, before FROM h WHERE change = before "
             "   OR (before IS NULL AND change <> 'enter') "
             "   OR (from_end = 1 AND (change = 'enter') IS DISTINCT FROM EXISTS ("
             "     SELECT 1 FROM customer_profile.segment_membership m JOIN customer_profile.segment s USING "
             "(segment_id) "
             "     WHERE s.name = h.segment AND m.profile_id = h.profile_id AND m.exited_at IS NULL)) "
             "ORDER BY position"))
        inv.add("broken enter/exit history",
                "outbox history of (" + row[0].as<std::string>() + ", profile " + row[1].as<std::string>() +
                    ") breaks at position " + row[2].as<std::string>() + ": " + row[3].as<std::string>() + " after " +
                    (row[4].is_null() ? std::string("nothing") : row[4].as<std::string>()) +
                    " (or the last change is not the current membership)");
    std::printf("# outbox: %zu rows, %zu read by the consumer, %ld never read; %zu announced one by one\n", rows.size(),
                consumed.size(), skipped, heard.size());
    return inv;
}

// 6. An erased person leaves no trace: none of their raw values, hashes or
// event ids in any table of the extension, and no erased profile id outside
// the erasure record.
Invariant erasure(Tx& tx, Shared& sh, const std::set<long long>& erased_ids) {
    Invariant inv{"erased people leave no trace (raw values, hashes, event ids, profile ids)"};
    std::set<std::string> tokens;
    {
        std::lock_guard<std::mutex> lock(sh.mutex);
        tokens = sh.erased_tokens;
    }
    tx.exec("CREATE TEMP TABLE mc_trace (token text, pattern text) ON COMMIT DROP");
    for (const auto& token : tokens) {
        tx.exec_params("INSERT INTO mc_trace VALUES ($1, $1)", token);
        for (const auto& i : erasable_identifiers(token))
            tx.exec_params("INSERT INTO mc_trace SELECT $1, encode(customer_profile.identity_hash($2, $3), 'hex')",
                           token, i.ns, i.value);
    }
    std::string list;
    for (long long id : erased_ids) list += (list.empty() ? "" : ",") + std::to_string(id);
    std::string ids = "{" + list + "}";
    auto tables = tx.exec(
        "SELECT c.oid::regclass::text, c.relname FROM pg_class c "
        "WHERE c.relnamespace = 'customer_profile'::regnamespace AND c.relkind = 'r' ORDER BY c.relname");
    for (const auto& t : tables) {
        std::string rel = t[0].as<std::string>(), name = t[1].as<std::string>();
        if (!tokens.empty())
            for (const auto& row : tx.exec("SELECT p.token, count(*) FROM " + rel +
                                           " x JOIN mc_trace p ON strpos(lower(x::text), p.pattern) > 0 GROUP BY 1"))
                inv.add("erased person still named", name + ": " + row[1].as<std::string>() +
                                                         " row(s) still name erased person " +
                                                         row[0].as<std::string>());
        if (name == "erasure" || erased_ids.empty()) continue;
        for (const auto& col : tx.exec_params(
                 "SELECT attname FROM pg_attribute WHERE attrelid = $1::regclass AND attnum > 0 AND NOT attisdropped "
                 "AND atttypid = 'int8'::regtype AND attname LIKE '%profile_id'",
                 rel))
            for (const auto& row : tx.exec_params(
                     "SELECT x." + tx.quote_name(col[0].as<std::string>()) + ", count(*) FROM " + rel + " x WHERE x." +
                         tx.quote_name(col[0].as<std::string>()) + " = ANY($1::bigint[]) GROUP BY 1",
                     ids))
                inv.add("erased profile id still present", name + "." + col[0].as<std::string>() +
                                                               ": erased profile id " + row[0].as<std::string>() +
                                                               " in " + row[1].as<std::string>() + " row(s)");
    }
    std::printf("# erasure: %zu erasable generations forgotten, %zu profile ids erased\n", tokens.size(),
                erased_ids.size());
    return inv;
}

// 7. Every committed event is stored exactly once (unless its person was
// erased or one of its identifiers removed), belongs to an identifier, and
// the inbox ends empty with nothing dead-lettered.
Invariant events(Tx& tx, Shared& sh) {
    Invariant inv{"every committed event is stored once, on an existing identifier; inbox empty, no dead letters"};
    std::map<std::string, long long> stored;
    for (const auto& row : tx.exec("SELECT event_id, count(*) FROM customer_profile.event GROUP BY 1"))
        stored[row[0].as<std::string>()] = row[1].as<long long>();
    for (const auto& [id, n] : stored)
        if (n > 1) inv.add("stored more than once", "event " + id + " is stored " + std::to_string(n) + " times");
    long checked = 0;
    {
        std::lock_guard<std::mutex> lock(sh.mutex);
        for (const auto& e : sh.events) {
            if (!e.erasure_token.empty() && sh.erased_tokens.count(e.erasure_token)) continue;
            bool excused = false;
            for (const auto& i : e.identifiers) excused = excused || sh.removed.count(i);
            if (excused) continue;
            ++checked;
            if (!stored.count(e.event_id)) {
                std::string who;
                for (const auto& i : e.identifiers) who += " " + i.ns + ":" + i.value;
                inv.add("committed but not stored",
                        "event " + e.event_id + " (" + who.substr(1) + ") committed but not stored");
            }
        }
    }
    for (const auto& row : tx.exec("SELECT e.event_id, e.identity_id FROM customer_profile.event e WHERE NOT EXISTS "
                                   "(SELECT 1 FROM customer_profile.identity i WHERE i.identity_id = e.identity_id)"))
        inv.add("event of an identity that does not exist", "event " + row[0].as<std::string>() +
                                                                " belongs to identity " + row[1].as<std::string>() +
                                                                ", which does not exist");
    for (const auto& row : tx.exec("SELECT k.event_id FROM customer_profile.event_key k WHERE NOT EXISTS "
                                   "(SELECT 1 FROM customer_profile.event e WHERE e.event_id = k.event_id)"))
        inv.add("event id kept without its event",
                "event id " + row[0].as<std::string>() + " is kept as applied, but no such event is stored");
    long long queued = tx.exec("SELECT count(*) FROM customer_profile.event_inbox")[0][0].as<long long>();
    if (queued != 0) inv.add("inbox not empty", std::to_string(queued) + " events are still queued in the inbox");
    for (const auto& row : tx.exec("SELECT event_id, sqlstate, reason FROM customer_profile.event_dead_letter"))
        inv.add("dead letter", "dead letter " + row[0].as<std::string>() + ": " + row[1].as<std::string>() + " " +
                                   row[2].as<std::string>());
    std::printf("# events: %zu stored, %ld committed events checked\n", stored.size(), checked);
    return inv;
}

}  // namespace

int verify(Shared& sh, const Deliveries& deliveries) {
    pqxx::connection c(sh.cfg.conninfo);
    Tx tx(c);
    std::set<long long> live, erased_ids;
    for (const auto& row : tx.exec("SELECT profile_id FROM customer_profile.unified_profile"))
        live.insert(row[0].as<long long>());
    for (const auto& row : tx.exec("SELECT unnest(profile_ids) FROM customer_profile.erasure"))
        erased_ids.insert(row[0].as<long long>());
    std::printf(
        "# state: %zu profiles, %s identities, %s links, %s merges, %s splits, %s memberships\n", live.size(),
        tx.exec("SELECT count(*) FROM customer_profile.identity")[0][0].c_str(),
        tx.exec("SELECT count(*) FROM customer_profile.identity_link")[0][0].c_str(),
        tx.exec("SELECT count(*) FROM customer_profile.profile_merge")[0][0].c_str(),
        tx.exec("SELECT count(*) FROM customer_profile.profile_split")[0][0].c_str(),
        tx.exec("SELECT count(*) FROM customer_profile.segment_membership WHERE exited_at IS NULL")[0][0].c_str());
    int failed = 0;
    std::map<long long, json> stored_traits;
    failed += report(identity_partition(tx, live));
    auto h = history(tx);
    failed += report(behavior(tx, h));
    failed += report(traits(tx, stored_traits));
    failed += report(memberships(tx, sh, live, stored_traits, h));
    failed += report(outbox(tx, deliveries, erased_ids));
    failed += report(erasure(tx, sh, erased_ids));
    failed += report(events(tx, sh));
    Invariant errors{"no operation failed with an unexpected error"};
    {
        std::lock_guard<std::mutex> lock(sh.mutex);
        for (const auto& [state, u] : sh.unexpected) {
            for (const auto& e : u.examples) errors.add("unexpected " + state, state + " " + e);
            errors.problems += u.count - static_cast<long>(u.examples.size());
            errors.kinds["unexpected " + state] = u.count;
        }
    }
    failed += report(errors);
    tx.abort();
    return failed;
}

}  // namespace model_check
