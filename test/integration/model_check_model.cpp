// The test's model: the identifier pools the sessions draw from, and the
// segment predicates it uses (random predicates for segment_create and
// segment_alter, written in the documented language, and their three-valued
// evaluation from facts the test computes itself).
#include "model_check.hpp"

namespace model_check {

std::string merge_crm(int p) {
    return "mc-crm-" + std::to_string(p);
}
std::string merge_email(int p) {
    return "mc" + std::to_string(p) + "@example.com";
}
std::string cookie(long k) {
    return "mc-ck-" + std::to_string(k);
}
std::string device(int k) {
    return "mc-dev-" + std::to_string(k);
}
std::string erasure_token(int p, int generation) {
    return "mcf" + std::to_string(p) + "g" + std::to_string(generation) + "x";
}
std::vector<Identifier> erasable_identifiers(const std::string& token) {
    return {{"crm_id", token}, {"email", token + "@forget.example"}, {"cookie", "ck-" + token}};
}

std::vector<Identifier> merge_pool_candidates(const Shared& sh) {
    std::vector<Identifier> all;
    for (int p = 0; p < sh.cfg.merge_people; ++p) {
        all.push_back({"crm_id", merge_crm(p)});
        all.push_back({"email", merge_email(p)});
    }
    for (int d = 0; d < sh.cfg.devices; ++d) all.push_back({"device_id", device(d)});
    long base = sh.cookie_base();
    for (long k = std::max(0L, base - 3L * sh.cfg.cookie_window); k < base + sh.cfg.cookie_window; ++k)
        all.push_back({"cookie", cookie(k)});
    return all;
}

Shared::Shared(const Config& c) : cfg(c), backend_pids(c.writers + c.drainers) {
    for (int p = 0; p < cfg.erasable_people; ++p) erasable.push_back(std::make_unique<ErasablePerson>());
    for (const char* op :
         {"resolve", "resolve_batch", "track", "track_batch", "inbox", "trait_observe", "consent_set",
          "identity_unlink", "identity_remove", "identity_rebuild", "profile_forget", "crm_upsert", "crm_update",
          "crm_delete", "segment_refresh", "segment_alter", "segment_create", "redeliver"}) {
        counters.ops[op];
        counters.op_us[op];
    }
    for (auto& pid : backend_pids) pid = 0;
}

// libpqxx 6 reports deadlocks and serialization failures as
// transaction_rollback, which is not an sql_error: recover the SQLSTATE.
std::string rollback_state(const pqxx::transaction_rollback& e) {
    if (dynamic_cast<const pqxx::deadlock_detected*>(&e)) return "40P01";
    if (dynamic_cast<const pqxx::serialization_failure*>(&e)) return "40001";
    return "40000";
}

namespace {

PredicatePtr atom(Predicate::Kind kind, std::string name = "", std::string text = "", double number = 0,
                  bool within_30d = false) {
    auto p = std::make_shared<Predicate>();
    p->kind = kind;
    p->name = std::move(name);
    p->text = std::move(text);
    p->number = number;
    p->within_30d = within_30d;
    return p;
}

PredicatePtr node(Predicate::Kind kind, std::vector<PredicatePtr> args) {
    auto p = std::make_shared<Predicate>();
    p->kind = kind;
    p->args = std::move(args);
    return p;
}

std::string number_text(double n) {
    return std::to_string(static_cast<long long>(n));
}

Tri from_bool(bool b) {
    return b ? Tri::True : Tri::False;
}

PredicatePtr random_atom(std::mt19937_64& rng) {
    using K = Predicate::Kind;
    auto pick = [&](int n) { return static_cast<int>(rng() % static_cast<std::uint64_t>(n)); };
    switch (pick(12)) {
        case 0:
            return atom(K::CountGe, "visit", "", 1 + pick(3));
        case 1:
            return atom(K::CountGe, "purchase", "", 1 + pick(3));
        case 2:
            return atom(K::CountGe, "signup", "", 1);
        case 3:
            return atom(K::CountGe, "visit", "", 2 + pick(2), true);
        case 4:
            return atom(K::SumGe, "purchase", "amount", pick(2) ? 50 : 100);
        case 5:
            return atom(K::TraitText, "tier", pick(2) ? "gold" : "silver");
        case 6:
            return atom(K::TraitText, "city", "Lyon");
        case 7:
            return atom(K::TraitText, "tags", pick(2) ? "red" : "blue");
        case 8:
            return pick(2) ? atom(K::TraitNum, "score", ">", pick(2) ? 50 : 80) : atom(K::TraitNum, "nps", "<", 5);
        case 9:
            return atom(K::TraitNum, "ltv", ">=", pick(2) ? 40 : 100);
        case 10:
            return atom(K::Consent, "email_marketing");
        default:
            return atom(K::Known);
    }
}

}  // namespace

std::string Predicate::to_text() const {
    switch (kind) {
        case Kind::CountGe:
            return "count(" + name + (within_30d ? " within 30 days" : "") + ") >= " + number_text(number);
        case Kind::SumGe:
            return "sum(" + name + "." + text + ") >= " + number_text(number);
        case Kind::TraitText:
            return name + " = '" + text + "'";
        case Kind::TraitNum:
            return name + " " + text + " " + number_text(number);
        case Kind::Consent:
            return "consent(" + name + ")";
        case Kind::Known:
            return "known";
        case Kind::InSegment:
            return "in_segment('" + name + "')";
        case Kind::And:
            return "(" + args[0]->to_text() + ") AND (" + args[1]->to_text() + ")";
        case Kind::Or:
            return "(" + args[0]->to_text() + ") OR (" + args[1]->to_text() + ")";
        case Kind::Not:
            return "NOT (" + args[0]->to_text() + ")";
    }
    return "";
}

PredicatePtr random_predicate(std::mt19937_64& rng) {
    using K = Predicate::Kind;
    PredicatePtr p = random_atom(rng);
    int shape = static_cast<int>(rng() % 100);
    if (shape < 35)
        p = node(K::And, {p, random_atom(rng)});
    else if (shape < 60)
        p = node(K::Or, {p, random_atom(rng)});
    if (rng() % 100 < 15) p = node(K::Not, {p});
    return p;
}

std::vector<std::pair<std::string, PredicatePtr>> fixed_segments() {
    using K = Predicate::Kind;
    return {
        {"mc_visitors", atom(K::CountGe, "visit", "", 1)},
        {"mc_buyers", node(K::And, {atom(K::CountGe, "purchase", "", 2), atom(K::SumGe, "purchase", "amount", 50)})},
        {"mc_gold", node(K::Or, {atom(K::TraitText, "tier", "gold"), atom(K::TraitNum, "score", ">", 80)})},
        {"mc_mailable", node(K::And, {atom(K::Consent, "email_marketing"), atom(K::InSegment, "mc_visitors")})},
        {"mc_regulars", node(K::And, {atom(K::CountGe, "visit", "", 3, true), atom(K::Known)})},
        {"mc_tagged", node(K::And, {atom(K::TraitText, "tags", "red"), atom(K::TraitNum, "ltv", ">=", 100)})},
        {"mc_prospects", node(K::Not, {atom(K::CountGe, "purchase", "", 1)})},  // true for a new, empty profile
    };
}

// SQL's three-valued logic: a missing trait is unknown, NOT unknown is
// unknown, and a profile is a member only when the whole predicate is true.
Tri evaluate(const Predicate& p, const Facts& f, const std::function<Tri(const std::string&)>& segment_of) {
    using K = Predicate::Kind;
    switch (p.kind) {
        case K::CountGe: {
            const auto& counts = p.within_30d ? f.count_30d : f.count;
            auto it = counts.find(p.name);
            return from_bool((it == counts.end() ? 0 : it->second) >= p.number);
        }
        case K::SumGe:
            return from_bool(f.purchase_amount >= p.number);
        case K::TraitText: {
            if (!f.traits.contains(p.name) || f.traits[p.name].is_null()) return Tri::Unknown;
            const json& v = f.traits[p.name];
            if (v.is_array()) {
                for (const auto& item : v)
                    if (item.is_string() && item.get<std::string>() == p.text) return Tri::True;
                return Tri::False;
            }
            if (!v.is_string()) return Tri::Unknown;
            return from_bool(v.get<std::string>() == p.text);
        }
        case K::TraitNum: {
            if (!f.traits.contains(p.name) || !f.traits[p.name].is_number()) return Tri::Unknown;
            double v = f.traits[p.name].get<double>();
            if (p.text == ">") return from_bool(v > p.number);
            if (p.text == "<") return from_bool(v < p.number);
            return from_bool(v >= p.number);
        }
        case K::Consent:
            return from_bool(f.consent == 1);
        case K::Known:
            return from_bool(f.known);
        case K::InSegment:
            return segment_of(p.name);
        case K::And: {
            Tri a = evaluate(*p.args[0], f, segment_of), b = evaluate(*p.args[1], f, segment_of);
            if (a == Tri::False || b == Tri::False) return Tri::False;
            return a == Tri::True && b == Tri::True ? Tri::True : Tri::Unknown;
        }
        case K::Or: {
            Tri a = evaluate(*p.args[0], f, segment_of), b = evaluate(*p.args[1], f, segment_of);
            if (a == Tri::True || b == Tri::True) return Tri::True;
            return a == Tri::False && b == Tri::False ? Tri::False : Tri::Unknown;
        }
        case K::Not: {
            Tri a = evaluate(*p.args[0], f, segment_of);
            return a == Tri::Unknown ? a : from_bool(a == Tri::False);
        }
    }
    return Tri::Unknown;
}

}  // namespace model_check
