// Live segment evaluation for one profile: segment_matches(profile_id,
// predicate) and profile_segment(profile_id[, segment]). The profile's
// traits and behavior summary are read with index probes; in_segment()
// evaluates the named segment's stored predicate (definitions are acyclic,
// and depth is bounded anyway); a count/sum filtered on event properties
// reads that profile's events of the type inside the window; consent()
// reads the person's latest statement on the purpose.
#include <algorithm>
#include <map>
#include <memory>

#include "pg/behavior/behavior_catalog.hpp"
#include "pg/behavior/behavior_store.hpp"
#include "pg/infra/boundary.hpp"
#include "core/behavior_codec.hpp"
#include "core/predicate_codec.hpp"
#include "core/predicate_eval.hpp"
#include "core/predicate_index.hpp"
#include "core/predicate_schedule.hpp"
#include "core/profile_codec.hpp"
#include "core/profile_json.hpp"
#include "pg/infra/datum_convert.hpp"
#include "pg/identity/identity_catalog.hpp"
#include "pg/identity/identity_lookup.hpp"
#include "pg/profile/profile_datum.hpp"
#include "pg/segments/score_catalog.hpp"
#include "pg/segments/segment_eval.hpp"
#include "pg/infra/spi_util.hpp"
#include "pg/infra/time_zone.hpp"

namespace cp = customer_profile;

namespace customer_profile::pg {
namespace {

constexpr int kMaxSegmentDepth = 32;

CachedPlan resolve_merged_plan{"SELECT customer_profile.profile_resolve($1)", 1, {INT8OID}};
CachedPlan known_plan{
    "SELECT EXISTS (SELECT 1 FROM customer_profile.identity i JOIN customer_profile.namespace n USING (namespace_id) "
    "WHERE i.profile_id = $1 AND n.is_known)",
    1,
    {INT8OID}};
// The state column came in 1.6: read through the row's JSON so that the
// same query serves older installs (no state: never disabled).
CachedPlan segment_plan{
    "SELECT customer_profile.segment_predicate_send(s.predicate), s.segment_id, "
    "coalesce(to_jsonb(s) ->> 'state', 'active') = 'disabled' FROM customer_profile.segment s WHERE s.name = $1",
    1,
    {TEXTOID}};
// A disabled segment is read as its members were when it was disabled.
CachedPlan frozen_member_plan{
    "SELECT EXISTS (SELECT 1 FROM customer_profile.segment_membership m "
    "WHERE m.segment_id = $1 AND m.profile_id = $2 AND m.exited_at IS NULL)",
    2,
    {INT4OID, INT8OID}};
CachedPlan all_segments_plan{
    "SELECT name, customer_profile.segment_predicate_send(predicate) FROM customer_profile.segment ORDER BY name",
    0,
    {}};
// Consents are kept per identifier; the profile's identifiers carry them.
CachedPlan consent_plan{
    "SELECT c.granted FROM customer_profile.consent c JOIN customer_profile.identity i USING (identity_id) "
    "WHERE i.profile_id = $1 AND c.purpose = $2 ORDER BY c.observed_at DESC, c.consent_id DESC LIMIT 1",
    2,
    {INT8OID, TEXTOID}};
CachedPlan cluster_plan{
    "SELECT cluster FROM customer_profile.profile_feature WHERE profile_id = $1 AND cluster IS NOT NULL", 1, {INT8OID}};
CachedPlan events_plan{
    "SELECT e.properties::text FROM customer_profile.identity i JOIN customer_profile.event e "
    "ON e.identity_id = i.identity_id WHERE i.profile_id = $1 AND e.event_type = $2 AND e.occurred_at >= $3 "
    "AND e.occurred_at < $4",
    4,
    {INT8OID, TEXTOID, TIMESTAMPTZOID, TIMESTAMPTZOID}};

std::optional<ProfileFacts> load_profile(std::int64_t profile_id, bool fresh = false,
                                         const std::vector<std::int64_t>* known_ids = nullptr) {
    const IdentityCatalog& catalog = identity_catalog();
    bool found = false;
    Datum data = fetch_profile_column(catalog, profile_id, catalog.attr_profile_data, fresh, &found);
    if (!found) {
        Datum args[1] = {Int64GetDatum(profile_id)};
        spi_run(resolve_merged_plan, args, nullptr, !fresh);
        if (spi_isnull(0, 1)) return std::nullopt;
        profile_id = spi_int8(0, 1);
        data = fetch_profile_column(catalog, profile_id, catalog.attr_profile_data, fresh, &found);
        if (!found) return std::nullopt;
    }
    ProfileFacts facts;
    facts.profile_id = profile_id;
    if (data != (Datum)0) {
        struct varlena* v = reinterpret_cast<struct varlena*>(DatumGetPointer(data));
        facts.traits = core::decode_profile(std::string_view(VARDATA_ANY(v), VARSIZE_ANY_EXHDR(v)));
    }
    if (catalog.attr_profile_behavior != InvalidAttrNumber)
        facts.behavior =
            behavior_from_datum(fetch_profile_column(catalog, profile_id, catalog.attr_profile_behavior, fresh));
    if (known_ids != nullptr) facts.known = std::binary_search(known_ids->begin(), known_ids->end(), profile_id);
    return facts;
}

bool lookup_known(std::int64_t profile_id, bool fresh) {
    Datum args[1] = {Int64GetDatum(profile_id)};
    spi_run(known_plan, args, nullptr, !fresh);
    return spi_bool(0, 1);
}

std::optional<int> lookup_cluster(std::int64_t profile_id, bool fresh) {
    Datum args[1] = {Int64GetDatum(profile_id)};
    if (spi_run(cluster_plan, args, nullptr, !fresh) == 0) return std::nullopt;
    return spi_int4(0, 1);
}

std::optional<bool> lookup_consent(std::int64_t profile_id, const std::string& purpose, bool fresh) {
    Datum args[2] = {Int64GetDatum(profile_id), text_datum(purpose)};
    if (spi_run(consent_plan, args, nullptr, !fresh) == 0) return std::nullopt;
    return spi_bool(0, 1);
}

class Evaluator {
public:
    explicit Evaluator(const ProfileFacts& facts, bool fresh = false)
        : facts_(facts), known_(facts.known), fresh_(fresh) {}

    Evaluator(const Evaluator&) = delete;  // the context's callbacks point at this object
    Evaluator& operator=(const Evaluator&) = delete;

    bool matches(const core::PredicateNode& tree) { return core::matches(tree, context()); }

    // Built once: a stream evaluates dozens of predicates on one profile.
    const core::EvaluationContext& context() {
        if (context_) return *context_;
        context_.emplace();
        core::EvaluationContext& c = *context_;
        c.cancel = cancel_requested;
        c.traits = &facts_.traits;
        c.behavior = &facts_.behavior;
        c.trait_lookup = facts_.trait_source;
        const ScoreCatalog& scores = score_catalog();
        if (!scores.scores.empty())
            c.trait_lookup = [this, &scores](const std::string& name) -> const core::Trait* {
                if (const ScoreDef* score = scores.find(name)) return score_trait(*score);
                return facts_.trait_source ? facts_.trait_source(name) : facts_.traits.find(name);
            };
        c.behavior_lookup = facts_.behavior_source;
        c.known_lookup = [this] {
            if (!known_) known_ = lookup_known(facts_.profile_id, fresh_);
            return *known_;
        };
        c.now = GetCurrentTransactionStartTimestamp();
        c.consent = [this](const std::string& purpose) -> std::optional<bool> {
            if (facts_.consent_source) return facts_.consent_source(purpose);
            auto memo = consents_.find(purpose);
            if (memo == consents_.end())
                memo = consents_.emplace(purpose, lookup_consent(facts_.profile_id, purpose, fresh_)).first;
            return memo->second;
        };
        c.cluster = [this]() -> std::optional<int> {
            if (facts_.cluster_source) return facts_.cluster_source();
            if (!cluster_looked_up_) {
                cluster_ = lookup_cluster(facts_.profile_id, fresh_);
                cluster_looked_up_ = true;
            }
            return cluster_;
        };
        c.in_segment = [this](const std::string& name) { return segment(name); };
        c.filtered_aggregate = [this](const core::Operand& o, std::optional<core::Day> first) {
            return aggregate_events(
                o, first ? static_cast<core::Micros>(*first) * core::kMicrosPerDay : core::kMinTimestamp,
                core::kMaxTimestamp);
        };
        c.range_aggregate = [this](const core::Operand& o) { return aggregate_events(o, o.from, o.to); };
        c.day_start = day_start_at(c.now);
        return c;
    }

    bool segment(const std::string& name) {
        auto memo = memo_.find(name);
        if (memo != memo_.end()) return memo->second;
        if (++depth_ > kMaxSegmentDepth)
            throw core::Error(core::ErrorCode::limit_exceeded, "segments refer to each other more than 32 levels deep");
        Datum args[1] = {text_datum(name)};
        if (spi_run(segment_plan, args, nullptr, !fresh_) == 0)
            throw core::Error(core::ErrorCode::undefined_object, "unknown segment \"" + name + "\"");
        bool result = false;
        if (spi_bool(0, 3)) {
            Datum member[2] = {Int32GetDatum(spi_int4(0, 2)), Int64GetDatum(facts_.profile_id)};
            spi_run(frozen_member_plan, member, nullptr, !fresh_);
            result = spi_bool(0, 1);
        } else {
            // segment_predicate_send() returns the stored form itself.
            core::PredicateNode tree = core::decode_predicate(spi_bytes(0, 1));
            result = matches(tree);
        }
        --depth_;
        memo_[name] = result;
        return result;
    }

    // The value of a score for this person (profile_score()).
    double score(const ScoreDef& def) { return score_trait(def)->value.number; }

private:
    // A score's value: the points of its rules that hold (never null).
    const core::Trait* score_trait(const ScoreDef& score) {
        auto memo = scores_.find(score.name);
        if (memo != scores_.end()) return &memo->second;
        double total = 0;
        for (const auto& [rule, points] : score.rules)
            if (matches(rule)) total += points;
        core::Trait t;
        t.name = score.name;
        t.source = "score";
        t.value.type = core::TraitType::number;
        t.value.number = total;
        return &scores_.emplace(score.name, std::move(t)).first->second;
    }

    // count/sum over the stored events of the operand's type in [since, until),
    // through its where filter when it has one.
    double aggregate_events(const core::Operand& o, core::Micros since, core::Micros until) {
        Datum args[4] = {Int64GetDatum(facts_.profile_id), text_datum(o.name), TimestampTzGetDatum(since),
                         TimestampTzGetDatum(until)};
        // Streaming (fresh_) runs after this transaction stored the events:
        // read them with a new snapshot, as every other lookup here.
        std::uint64_t n = spi_run(events_plan, args, nullptr, !fresh_);
        std::vector<std::string> rows;
        for (std::uint64_t row = 0; row < n; ++row) rows.push_back(spi_bytes(row, 1));
        // Declared properties are read as their types (stay as a timestamp).
        const core::PropertyTypes declared = behavior_catalog().property_types_of(o.name);
        double total = 0;
        for (const auto& json : rows) {
            core::Profile properties = core::properties_as_traits(json, declared);
            core::EvaluationContext c;
            c.cancel = cancel_requested;
            c.traits = &properties;
            c.now = GetCurrentTransactionStartTimestamp();
            c.day_start = day_start_at(c.now);
            if (!o.where.empty() && !core::matches(o.where.front(), c)) continue;
            if (o.counts()) {
                total += 1;
            } else if (const core::Trait* t = properties.find(o.property);
                       t != nullptr && t->value.type == core::TraitType::number) {
                total += t->value.number;
            }
        }
        return total;
    }

    const ProfileFacts& facts_;
    std::optional<bool> known_;
    bool fresh_;
    std::map<std::string, bool> memo_;
    std::map<std::string, core::Trait> scores_;
    std::optional<core::EvaluationContext> context_;
    std::map<std::string, std::optional<bool>> consents_;
    std::optional<int> cluster_;
    bool cluster_looked_up_ = false;
    int depth_ = 0;
};

}  // namespace
}  // namespace customer_profile::pg

namespace customer_profile::pg {
namespace {

CachedPlan known_profiles_plan{
    "SELECT DISTINCT i.profile_id FROM customer_profile.identity i JOIN customer_profile.namespace n "
    "USING (namespace_id) WHERE n.is_known",
    0,
    {}};

// For each tree, every live profile that matches: one pass through a cursor,
// each profile decoded once.
std::vector<std::vector<std::int64_t>> evaluate_each(const std::vector<core::PredicateNode>& trees) {
    std::vector<std::int64_t> known_ids;
    std::uint64_t n = spi_run(known_profiles_plan, nullptr, nullptr, true);
    for (std::uint64_t row = 0; row < n; ++row) known_ids.push_back(spi_int8(row, 1));
    std::sort(known_ids.begin(), known_ids.end());
    std::vector<std::vector<std::int64_t>> members(trees.size());
    Portal portal = nullptr;
    pg_guard([&] {
        portal = SPI_cursor_open_with_args(nullptr,
                                           "SELECT profile_id, data, behavior FROM customer_profile.unified_profile", 0,
                                           nullptr, nullptr, nullptr, true, 0);
    });
    for (;;) {
        std::vector<ProfileFacts> batch;
        pg_guard([&] {
            SPI_cursor_fetch(portal, true, 10000);
            for (std::uint64_t row = 0; row < SPI_processed; ++row) {
                bool isnull = false;
                HeapTuple tuple = SPI_tuptable->vals[row];
                TupleDesc desc = SPI_tuptable->tupdesc;
                ProfileFacts& f = batch.emplace_back();
                f.profile_id = DatumGetInt64(SPI_getbinval(tuple, desc, 1, &isnull));
                Datum data = SPI_getbinval(tuple, desc, 2, &isnull);
                if (!isnull) {
                    struct varlena* v = PG_DETOAST_DATUM_PACKED(data);
                    f.traits = core::decode_profile(std::string_view(VARDATA_ANY(v), VARSIZE_ANY_EXHDR(v)));
                }
                Datum behavior = SPI_getbinval(tuple, desc, 3, &isnull);
                if (!isnull) {
                    struct varlena* v = PG_DETOAST_DATUM_PACKED(behavior);
                    f.behavior = core::decode_behavior(std::string_view(VARDATA_ANY(v), VARSIZE_ANY_EXHDR(v)));
                }
            }
            SPI_freetuptable(SPI_tuptable);
        });
        if (batch.empty()) break;
        for (auto& f : batch) {
            throw_if_canceled();
            f.known = std::binary_search(known_ids.begin(), known_ids.end(), f.profile_id);
            Evaluator evaluator(f);
            for (std::size_t i = 0; i < trees.size(); ++i)
                if (evaluator.matches(trees[i])) members[i].push_back(f.profile_id);
        }
    }
    pg_guard([&] { SPI_cursor_close(portal); });
    for (auto& m : members) std::sort(m.begin(), m.end());
    return members;
}

std::vector<std::int64_t> evaluate_all(const core::PredicateNode& tree) {
    return evaluate_each({tree}).front();
}

}  // namespace
}  // namespace customer_profile::pg

// _segment_evaluate_all(predicate segment_predicate) returns bigint[]: every live profile that matches
// From 1.4 on, a query over the columns with a parallel-safe function, run
// so that PostgreSQL may use parallel workers (a one-shot plan, no row
// limit: PL/pgSQL's SELECT INTO and expressions never run in parallel).
// Before 1.4 (no such function), one pass through a cursor.
CP_FUNCTION(segment_evaluate_all) {
    cp::core::PredicateNode tree = cp::core::decode_predicate(std::string(cp::pg::profile_arg(fcinfo, 0)));
    Oid predicate_type = get_fn_expr_argtype(fcinfo->flinfo, 0);
    cp::pg::spi_connect();
    bool parallel_function = false;
    cp::pg::pg_guard([&] {
        // to_regprocedure() returns NULL for a missing function, which
        // DirectFunctionCall1 turned into "function ... returned NULL": with
        // this library, segment_refresh() of a 1.3 install always failed.
        LOCAL_FCINFO(call, 1);
        InitFunctionCallInfoData(*call, nullptr, 1, InvalidOid, nullptr, nullptr);
        call->args[0].value = CStringGetTextDatum(
            "customer_profile._segment_matches_columns(bigint, customer_profile.profile, bytea, "
            "customer_profile.segment_predicate)");
        call->args[0].isnull = false;
        Datum oid = to_regprocedure(call);
        parallel_function = !call->isnull && OidIsValid(DatumGetObjectId(oid));
    });
    std::vector<std::int64_t> members;
    if (parallel_function && OidIsValid(predicate_type)) {
        // From 1.6, a GIN index over the keys of the profiles' traits and
        // behavior: when the predicate says which keys a member must carry,
        // the index picks the candidates and only they are evaluated
        // (predicate_index.hpp).
        const cp::pg::ScoreCatalog& scores = cp::pg::score_catalog();
        auto clauses =
            cp::core::candidate_clauses(cp::core::cheapest_first(tree), GetCurrentTransactionStartTimestamp(),
                                        [&scores](const std::string& name) { return scores.find(name) != nullptr; });
        bool indexed = false;
        if (clauses)
            cp::pg::pg_guard([&] {
                indexed =
                    OidIsValid(RangeVarGetRelid(makeRangeVar(const_cast<char*>("customer_profile"),
                                                             const_cast<char*>("unified_profile_index_keys_idx"), -1),
                                                NoLock, true));
            });
        std::string query = "SELECT u.profile_id FROM customer_profile.unified_profile u WHERE ";
        std::vector<Oid> types{predicate_type};
        std::vector<Datum> values{PG_GETARG_DATUM(0)};
        if (indexed)
            for (const auto& clause : *clauses) {
                types.push_back(TEXTARRAYOID);
                values.push_back(cp::pg::text_array(clause, std::vector<bool>(clause.size(), false)));
                query += "customer_profile._profile_index_keys(u.data, u.behavior_keys) && $" +
                         std::to_string(values.size()) + " AND ";
            }
        query += "customer_profile._segment_matches_columns(u.profile_id, u.data, u.behavior, $1)";
        cp::pg::pg_guard([&] {
            int rc = SPI_execute_with_args(query.c_str(), static_cast<int>(values.size()), types.data(), values.data(),
                                           nullptr, true, 0);
            if (rc != SPI_OK_SELECT)
                elog(ERROR, "customer_profile: segment scan failed: %s", SPI_result_code_string(rc));
        });
        for (std::uint64_t row = 0; row < SPI_processed; ++row) members.push_back(cp::pg::spi_int8(row, 1));
        std::sort(members.begin(), members.end());
    } else {
        members = cp::pg::evaluate_all(tree);
    }
    cp::pg::spi_finish();
    return cp::pg::int8_array(members);
}

// _segment_evaluate_many(predicates segment_predicate[]) returns table(n int,
// members bigint[]): for the predicate at place n (from 1), every live
// profile that matches, from one scan of the profiles (segment_refresh_all).
CP_FUNCTION(segment_evaluate_many) {
    std::vector<cp::core::PredicateNode> trees;
    cp::pg::pg_guard([&] {
        ArrayType* array = PG_GETARG_ARRAYTYPE_P(0);
        Oid element = ARR_ELEMTYPE(array);
        int16 typlen = 0;
        bool typbyval = false;
        char typalign = 'i';
        get_typlenbyvalalign(element, &typlen, &typbyval, &typalign);
        Datum* items = nullptr;
        bool* nulls = nullptr;
        int count = 0;
        deconstruct_array(array, element, typlen, typbyval, typalign, &items, &nulls, &count);
        for (int i = 0; i < count; ++i) {
            if (nulls[i]) elog(ERROR, "customer_profile: a NULL predicate");
            struct varlena* v = PG_DETOAST_DATUM_PACKED(items[i]);
            trees.push_back(cp::core::cheapest_first(
                cp::core::decode_predicate(std::string(VARDATA_ANY(v), VARSIZE_ANY_EXHDR(v)))));
        }
    });
    cp::pg::spi_connect();
    std::vector<std::vector<std::int64_t>> members = cp::pg::evaluate_each(trees);
    cp::pg::spi_finish();
    cp::pg::pg_guard([&] {
        InitMaterializedSRF(fcinfo, 0);
        ReturnSetInfo* rsinfo = reinterpret_cast<ReturnSetInfo*>(fcinfo->resultinfo);
        for (std::size_t i = 0; i < members.size(); ++i) {
            Datum values[2] = {Int32GetDatum(static_cast<int32>(i + 1)), (Datum)0};
            bool nulls[2] = {false, false};
            values[1] = cp::pg::int8_array(members[i]);
            tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
        }
    });
    return (Datum)0;
}

namespace customer_profile::pg {

std::optional<ProfileFacts> load_profile_facts(std::int64_t profile_id, bool fresh_snapshot,
                                               const std::vector<std::int64_t>* known_ids) {
    return load_profile(profile_id, fresh_snapshot, known_ids);
}

bool profile_matches(const ProfileFacts& facts, const core::PredicateNode& tree, bool fresh_snapshot) {
    return Evaluator(facts, fresh_snapshot).matches(tree);
}

struct ProfileEvaluation::Impl {
    Impl(const ProfileFacts& facts, bool fresh) : evaluator(facts, fresh) {}
    Evaluator evaluator;
};

ProfileEvaluation::ProfileEvaluation(const ProfileFacts& facts, bool fresh_snapshot)
    : impl_(std::make_unique<Impl>(facts, fresh_snapshot)) {}
ProfileEvaluation::~ProfileEvaluation() = default;

bool ProfileEvaluation::matches(const core::PredicateNode& tree) {
    return impl_->evaluator.matches(tree);
}

namespace {

// The next change of a predicate, and of the rules of the scores it reads.
std::optional<core::Micros> next_change_in(const core::PredicateNode& tree, const core::EvaluationContext& c) {
    std::optional<core::Micros> next = core::next_change(tree, c);
    // A score changes when one of its rules can: its time terms count too.
    const ScoreCatalog& scores = score_catalog();
    if (scores.scores.empty()) return next;
    for (const auto& name : core::predicate_dependencies(tree).traits)
        if (const ScoreDef* score = scores.find(name))
            for (const auto& [rule, points] : score->rules)
                if (auto at = core::next_change(rule, c); at && (!next || *at < *next)) next = at;
    return next;
}

}  // namespace

std::optional<core::Micros> profile_next_change(const ProfileFacts& facts, const core::PredicateNode& tree) {
    core::EvaluationContext c;
    c.cancel = cancel_requested;
    c.traits = &facts.traits;
    c.behavior = &facts.behavior;
    c.trait_lookup = facts.trait_source;
    c.behavior_lookup = facts.behavior_source;
    c.now = GetCurrentTransactionStartTimestamp();
    c.day_start = day_start_at(c.now);
    return next_change_in(tree, c);
}

std::optional<core::Micros> ProfileEvaluation::next_change(const core::PredicateNode& tree) {
    return next_change_in(tree, impl_->evaluator.context());
}

bool profile_is_known(std::int64_t profile_id, bool fresh_snapshot) {
    return lookup_known(profile_id, fresh_snapshot);
}

std::optional<bool> profile_consent(std::int64_t profile_id, const std::string& purpose, bool fresh_snapshot) {
    return lookup_consent(profile_id, purpose, fresh_snapshot);
}

std::optional<int> profile_cluster_of(std::int64_t profile_id, bool fresh_snapshot) {
    return lookup_cluster(profile_id, fresh_snapshot);
}

}  // namespace customer_profile::pg

// segment_matches(profile_id bigint, predicate segment_predicate) returns boolean; NULL for an unknown profile
CP_FUNCTION(segment_matches) {
    if (PG_ARGISNULL(0) || PG_ARGISNULL(1)) PG_RETURN_NULL();
    std::string bytes(cp::pg::profile_arg(fcinfo, 1));
    cp::core::PredicateNode tree = cp::core::decode_predicate(bytes);
    cp::pg::spi_connect();
    auto facts = cp::pg::load_profile(PG_GETARG_INT64(0));
    bool result = false;
    if (facts) result = cp::pg::Evaluator(*facts).matches(tree);
    cp::pg::spi_finish();
    if (!facts) PG_RETURN_NULL();
    PG_RETURN_BOOL(result);
}

// profile_score(profile_id bigint, score text) returns float8: the points of
// the score's rules that hold for the person now; NULL for an unknown profile
CP_FUNCTION(profile_score) {
    if (PG_ARGISNULL(0) || PG_ARGISNULL(1)) PG_RETURN_NULL();
    std::string name = cp::pg::text_arg(fcinfo, 1);
    const cp::pg::ScoreDef* def = cp::pg::score_catalog().find(name);
    if (def == nullptr) throw cp::core::Error(cp::core::ErrorCode::undefined_object, "unknown score \"" + name + "\"");
    cp::pg::spi_connect();
    auto facts = cp::pg::load_profile(PG_GETARG_INT64(0));
    double value = 0;
    if (facts) value = cp::pg::Evaluator(*facts).score(*def);
    cp::pg::spi_finish();
    if (!facts) PG_RETURN_NULL();
    PG_RETURN_FLOAT8(value);
}

// profile_segment(profile_id bigint, segment text) returns boolean
CP_FUNCTION(profile_in_segment) {
    if (PG_ARGISNULL(0) || PG_ARGISNULL(1)) PG_RETURN_NULL();
    std::string name = cp::pg::text_arg(fcinfo, 1);
    cp::pg::spi_connect();
    auto facts = cp::pg::load_profile(PG_GETARG_INT64(0));
    bool result = false;
    if (facts) {
        cp::pg::Evaluator evaluator(*facts);
        result = evaluator.segment(name);
    } else {
        Datum args[1] = {cp::pg::text_datum(name)};
        if (cp::pg::spi_run(cp::pg::segment_plan, args, nullptr, true) == 0)
            throw cp::core::Error(cp::core::ErrorCode::undefined_object, "unknown segment \"" + name + "\"");
    }
    cp::pg::spi_finish();
    if (!facts) PG_RETURN_NULL();
    PG_RETURN_BOOL(result);
}

// profile_segment(profile_id bigint) returns setof text: the segments the person is in now
CP_FUNCTION(profile_segments) {
    std::vector<std::string> names;
    if (!PG_ARGISNULL(0)) {
        cp::pg::spi_connect();
        auto facts = cp::pg::load_profile(PG_GETARG_INT64(0));
        if (facts) {
            std::uint64_t n = cp::pg::spi_run(cp::pg::all_segments_plan, nullptr, nullptr, true);
            std::vector<std::pair<std::string, std::string>> segments;
            for (std::uint64_t row = 0; row < n; ++row)
                segments.emplace_back(cp::pg::spi_bytes(row, 1), cp::pg::spi_bytes(row, 2));
            cp::pg::Evaluator evaluator(*facts);
            for (const auto& [name, bytes] : segments)
                if (evaluator.segment(name)) names.push_back(name);
        }
        cp::pg::spi_finish();
    }
    cp::pg::pg_guard([&] { InitMaterializedSRF(fcinfo, MAT_SRF_USE_EXPECTED_DESC); });
    ReturnSetInfo* rsinfo = reinterpret_cast<ReturnSetInfo*>(fcinfo->resultinfo);
    for (const auto& name : names)
        cp::pg::pg_guard([&] {
            Datum values[1] = {PointerGetDatum(cstring_to_text_with_len(name.data(), static_cast<int>(name.size())))};
            bool nulls[1] = {false};
            tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
        });
    return (Datum)0;
}
