// SQL-callable matching functions: the rule check, matching one record,
// match_run(), match_estimate(), match_explain() and the review's link.
#include <algorithm>
#include <cmath>
#include <optional>
#include <random>

#include "core/match_em.hpp"
#include "core/match_rule.hpp"
#include "core/pair_sample.hpp"
#include "pg/identity/resolve_identity.hpp"
#include "pg/infra/boundary.hpp"
#include "pg/infra/datum_convert.hpp"
#include "pg/infra/owner_context.hpp"
#include "pg/infra/spi_util.hpp"
#include "pg/matching/match_catalog.hpp"
#include "pg/matching/match_engine.hpp"

namespace cp = customer_profile;
using cp::pg::spi_run;

namespace {

// How many records match_run() reads per statement.
constexpr int kRunChunk = 1000;
// Random pairs are drawn among at most this many sampled records.
constexpr int kSampleRecords = 20000;
constexpr std::size_t kMinEstimateRecords = 100;  // fewer records or blocked pairs: a warning
// The sample's pairs, their values and comparisons live in the backend's C++
// heap, which work_mem does not bound: about 250 bytes a pair (sixth review:
// 2.7 GB at 10,000,000).
constexpr int kMaxSamplePairs = 1000000;

cp::pg::CachedPlan run_state_plan{
    "SELECT coalesce(run_next, 0) FROM customer_profile.match_rule WHERE rule_id = $1 FOR UPDATE", 1, {INT4OID}};
cp::pg::CachedPlan run_records_plan{
    "SELECT identity_id FROM customer_profile.identity WHERE namespace_id = ANY($1) AND identity_id > $2 "
    "ORDER BY identity_id LIMIT $3",
    3,
    {INT4ARRAYOID, INT8OID, INT4OID},
    nullptr,
    CURSOR_OPT_CUSTOM_PLAN};
cp::pg::CachedPlan run_count_plan{
    "SELECT count(*) FILTER (WHERE identity_id > $2), count(*) FROM customer_profile.identity "
    "WHERE namespace_id = ANY($1)",
    2,
    {INT4ARRAYOID, INT8OID}};
// NULL run_next: the run is complete (the next one starts from the first record).
cp::pg::CachedPlan run_progress_plan{
    "UPDATE customer_profile.match_rule SET run_next = $2, run_done = $3, run_total = $4 WHERE rule_id = $1",
    4,
    {INT4OID, INT8OID, INT8OID, INT8OID}};

cp::pg::CachedPlan sample_plan{
    "SELECT identity_id FROM customer_profile.identity WHERE namespace_id = ANY($1) ORDER BY random() LIMIT $2",
    2,
    {INT4ARRAYOID, INT4OID}};
cp::pg::CachedPlan all_records_plan{
    "SELECT identity_id FROM customer_profile.identity WHERE namespace_id = ANY($1) AND identity_id > $2 "
    "AND NOT EXISTS (SELECT 1 FROM customer_profile.match_key k WHERE k.identity_id = identity.identity_id "
    "AND k.rule_id = $3) ORDER BY identity_id LIMIT $4",
    4,
    {INT4ARRAYOID, INT8OID, INT4OID, INT4OID},
    nullptr,
    CURSOR_OPT_CUSTOM_PLAN};
// A blocking key's groups larger than kMaxJoinedGroup (a placeholder such as
// 000000000, a default date of birth that thousands of records carry) are
// left out of the estimate: their pairs are nearly all non-matches that
// agree on the key, and the few true matches among them say nothing the
// other groups do not.
constexpr int kMaxJoinedGroup = 1000;
// The pairs of a large group the sample draws from: each record with this
// many others of its group (core/pair_sample.hpp).
constexpr int kGroupBand = 10;
// A key's records group by group, in the primary key's order.
constexpr const char* kKeyGroupsSql =
    "SELECT key, identity_id FROM customer_profile.match_key WHERE rule_id = $1 AND key_no = $2 "
    "ORDER BY key, identity_id";

cp::pg::CachedPlan record_count_plan{
    "SELECT count(*)::float8 FROM customer_profile.identity WHERE namespace_id = ANY($1)", 1, {INT4ARRAYOID}};
cp::pg::CachedPlan labelled_pairs_plan{
    "SELECT v.identity_a, v.identity_b, v.status = 'accepted' FROM customer_profile.match_review v "
    "JOIN customer_profile.identity a ON a.identity_id = v.identity_a "
    "JOIN customer_profile.identity b ON b.identity_id = v.identity_b "
    "WHERE v.rule_id = $1 AND v.status <> 'pending' AND a.namespace_id = ANY($2) AND b.namespace_id = ANY($2)",
    2,
    {INT4OID, INT4ARRAYOID},
    nullptr,
    CURSOR_OPT_CUSTOM_PLAN};
cp::pg::CachedPlan store_estimate_plan{
    "UPDATE customer_profile.match_rule SET parameters = $2::jsonb, estimated_at = now(), estimate = $3::jsonb "
    "WHERE rule_id = $1",
    3,
    {INT4OID, TEXTOID, TEXTOID}};

std::vector<std::int64_t> ids_of_result(std::uint64_t n) {
    std::vector<std::int64_t> ids;
    for (std::uint64_t row = 0; row < n; ++row) ids.push_back(cp::pg::spi_int8(row, 1));
    return ids;
}

[[noreturn]] void rule_dropped(const std::string& name) {
    throw cp::core::Error(cp::core::ErrorCode::undefined_object,
                          "match rule \"" + name + "\" was dropped by a concurrent transaction");
}

// Stores the keys of every record of the rule that has none yet.
void store_missing_keys(const cp::pg::MatchRuleEntry& rule) {
    std::int64_t after = 0;
    for (;;) {
        cp::pg::throw_if_canceled();
        Datum args[4] = {cp::pg::int4_array(rule.namespaces), Int64GetDatum(after), Int32GetDatum(rule.rule_id),
                         Int32GetDatum(kRunChunk)};
        std::vector<std::int64_t> ids = ids_of_result(spi_run(all_records_plan, args, nullptr, false));
        if (ids.empty()) return;
        cp::pg::spi_connect();  // this chunk's results freed with it (see match_run)
        auto records = cp::pg::load_records(rule, ids);
        std::vector<cp::pg::StoredRecord> list;
        for (auto& kv : records) list.push_back(std::move(kv.second));
        cp::pg::store_keys(rule, list);
        cp::pg::spi_finish();
        after = ids.back();
    }
}

std::vector<cp::core::ComparisonVector> compare_pairs(const cp::pg::MatchRuleEntry& rule,
                                                      const std::vector<std::pair<std::int64_t, std::int64_t>>& pairs,
                                                      std::vector<bool>* found = nullptr) {
    std::vector<std::int64_t> ids;
    for (const auto& p : pairs) {
        ids.push_back(p.first);
        ids.push_back(p.second);
    }
    std::sort(ids.begin(), ids.end());
    ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
    auto records = cp::pg::load_records(rule, ids);
    std::vector<cp::core::ComparisonVector> out;
    std::size_t compared = 0;
    for (const auto& p : pairs) {
        if ((++compared & 0x3FF) == 0) cp::pg::throw_if_canceled();
        auto a = records.find(p.first), b = records.find(p.second);
        bool ok = a != records.end() && b != records.end();
        if (found) found->push_back(ok);
        if (ok) out.push_back(cp::core::compare_records(rule.rule, a->second.values, b->second.values));
    }
    return out;
}

// The sample of the pairs blocking key k gives, read group by group; groups
// over kMaxJoinedGroup are left out and counted in *large_groups.
cp::core::PairSampler sample_key_pairs(const cp::pg::MatchRuleEntry& entry, std::size_t k, std::size_t capacity,
                                       std::int64_t* large_groups) {
    cp::core::PairSampler sampler(capacity, cp::core::multi_valued(entry.rule.blocking[k]), kGroupBand);
    Portal portal = nullptr;
    cp::pg::pg_guard([&] {
        Oid types[2] = {INT4OID, INT4OID};
        Datum args[2] = {Int32GetDatum(entry.rule_id), Int32GetDatum(static_cast<std::int32_t>(k))};
        // Not read-only: the keys store_missing_keys() wrote in this call must be seen.
        portal = SPI_cursor_open_with_args(nullptr, kKeyGroupsSql, 2, types, args, nullptr, false, 0);
    });
    std::string key;
    std::vector<std::int64_t> group;
    bool too_large = false;
    auto close_group = [&] {
        if (too_large)
            ++*large_groups;
        else
            sampler.add_group(group);
        group.clear();
        too_large = false;
    };
    for (;;) {
        cp::pg::throw_if_canceled();
        std::uint64_t n = 0;
        cp::pg::pg_guard([&] {
            SPI_cursor_fetch(portal, true, 10000);
            n = SPI_processed;
        });
        if (n == 0) break;
        for (std::uint64_t row = 0; row < n; ++row) {
            std::string row_key = cp::pg::spi_bytes(row, 1);
            if (row_key != key) {
                close_group();
                key = std::move(row_key);
            }
            if (too_large) continue;
            group.push_back(cp::pg::spi_int8(row, 2));
            if (group.size() > static_cast<std::size_t>(kMaxJoinedGroup)) {
                too_large = true;
                group.clear();
            }
        }
        cp::pg::pg_guard([&] { SPI_freetuptable(SPI_tuptable); });
    }
    close_group();
    cp::pg::pg_guard([&] { SPI_cursor_close(portal); });
    return sampler;
}

}  // namespace

// _match_rule_check(fields, blocking, link_threshold, review_threshold, parameters) returns boolean
CP_FUNCTION(match_rule_check) {
    for (int i = 0; i < 4; ++i)
        if (PG_ARGISNULL(i))
            throw cp::core::Error(cp::core::ErrorCode::invalid_parameter,
                                  "fields, blocking and thresholds of a match rule must not be NULL");
    cp::core::MatchRule rule = cp::core::parse_match_rule(cp::pg::jsonb_arg(fcinfo, 0), cp::pg::jsonb_arg(fcinfo, 1),
                                                          PG_GETARG_FLOAT8(2), PG_GETARG_FLOAT8(3));
    if (!PG_ARGISNULL(4)) cp::core::parse_match_parameters(cp::pg::jsonb_arg(fcinfo, 4), rule.level_counts());
    PG_RETURN_BOOL(true);
}

// _match_identity(identity_id bigint) returns integer: links made
CP_FUNCTION(match_identity) {
    std::int64_t id = PG_GETARG_INT64(0);
    const cp::pg::MatchCatalog& catalog = cp::pg::match_catalog();
    std::int64_t links = 0;
    cp::pg::spi_connect();
    for (const auto& rule : catalog.rules)
        if (rule.enabled) links += cp::pg::match_record(rule, id).links;
    cp::pg::spi_finish();
    PG_RETURN_INT32(static_cast<std::int32_t>(links));
}

// _match_rekey(identity_ids bigint[]) returns integer: records whose keys were stored again.
// A record's values include what the identifiers seen with it observed; once
// such a lender is removed or unlinked, the keys made from its values are
// recomputed (not matched: an unlinked pair would be linked again at once).
CP_FUNCTION(match_rekey) {
    if (PG_ARGISNULL(0)) PG_RETURN_INT32(0);
    std::vector<std::int64_t> ids = cp::pg::int8_array_arg(fcinfo, 0);
    const cp::pg::MatchCatalog& catalog = cp::pg::match_catalog();
    std::int32_t rekeyed = 0;
    if (!catalog.installed || ids.empty()) PG_RETURN_INT32(0);
    cp::pg::spi_connect();
    for (const auto& rule : catalog.rules) {
        std::vector<cp::pg::StoredRecord> covered;
        for (auto& [id, record] : cp::pg::load_records(rule, ids))
            if (rule.covers(record.namespace_id)) covered.push_back(std::move(record));
        cp::pg::store_keys(rule, covered);
        rekeyed += static_cast<std::int32_t>(covered.size());
    }
    cp::pg::spi_finish();
    PG_RETURN_INT32(rekeyed);
}

// match_run(name, max_records) returns (records, comparisons, links, reviews, remaining)
CP_FUNCTION(match_run) {
    if (PG_ARGISNULL(0)) throw cp::core::Error(cp::core::ErrorCode::null_value, "the rule name must not be NULL");
    std::string name = cp::pg::text_arg(fcinfo, 0);
    int max_records = PG_ARGISNULL(1) ? 0 : PG_GETARG_INT32(1);
    if (!PG_ARGISNULL(1) && max_records < 1)
        throw cp::core::Error(cp::core::ErrorCode::invalid_parameter, "max_records must be at least 1 (or NULL: all)");
    TupleDesc desc = nullptr;
    cp::pg::pg_guard([&] {
        if (get_call_result_type(fcinfo, nullptr, &desc) != TYPEFUNC_COMPOSITE)
            elog(ERROR, "match_run must return a composite type");
        desc = BlessTupleDesc(desc);
    });
    const cp::pg::MatchRuleEntry& rule = cp::pg::match_rule_or_throw(cp::pg::match_catalog(), name);
    // A copy: the progress update below invalidates the catalog.
    cp::pg::MatchRuleEntry entry = rule;
    cp::pg::MatchStats stats;
    cp::pg::spi_connect();
    Datum state_args[1] = {Int32GetDatum(entry.rule_id)};
    // One run of a rule at a time. The row may be gone once we have waited
    // for it: a match_rule_drop() committed meanwhile.
    if (spi_run(run_state_plan, state_args, nullptr, false) == 0) rule_dropped(name);
    std::int64_t next = cp::pg::spi_int8(0, 1);
    for (;;) {
        cp::pg::throw_if_canceled();
        int chunk = max_records > 0 ? static_cast<int>(std::min<std::int64_t>(kRunChunk, max_records - stats.records))
                                    : kRunChunk;
        if (chunk <= 0) break;
        Datum args[3] = {cp::pg::int4_array(entry.namespaces), Int64GetDatum(next), Int32GetDatum(chunk)};
        std::vector<std::int64_t> ids = ids_of_result(spi_run(run_records_plan, args, nullptr, false));
        if (ids.empty()) break;
        for (std::int64_t id : ids) {
            // A connection of its own per record: SPI keeps every result until
            // its connection ends, and a million records' results exhausted
            // the memory (the backend was killed at 10 minutes).
            cp::pg::spi_connect();
            cp::pg::MatchStats s = cp::pg::match_record(entry, id, cp::pg::MatchCaller::run);
            cp::pg::spi_finish();
            stats.records += 1;
            stats.comparisons += s.comparisons;
            stats.links += s.links;
            stats.reviews += s.reviews;
            next = id;
        }
        if (static_cast<int>(ids.size()) < chunk) break;
    }
    Datum count_args[2] = {cp::pg::int4_array(entry.namespaces), Int64GetDatum(next)};
    spi_run(run_count_plan, count_args, nullptr, false);
    std::int64_t remaining = cp::pg::spi_int8(0, 1), total = cp::pg::spi_int8(0, 2);
    Datum progress[4] = {Int32GetDatum(entry.rule_id), Int64GetDatum(next), Int64GetDatum(total - remaining),
                         Int64GetDatum(total)};
    char nulls[5] = "    ";
    if (remaining == 0) nulls[1] = 'n';  // complete: the next run starts over
    spi_run(run_progress_plan, progress, nulls, false);
    cp::pg::spi_finish();
    Datum result = 0;
    cp::pg::pg_guard([&] {
        Datum values[5] = {Int64GetDatum(stats.records), Int64GetDatum(stats.comparisons), Int64GetDatum(stats.links),
                           Int64GetDatum(stats.reviews), Int64GetDatum(remaining)};
        bool rnulls[5] = {false, false, false, false, false};
        result = HeapTupleGetDatum(heap_form_tuple(desc, values, rnulls));
    });
    return result;
}

// match_estimate(name, sample_pairs) returns (random_pairs, blocked_pairs, labelled_pairs, iterations, converged,
// lambda)
CP_FUNCTION(match_estimate) {
    if (PG_ARGISNULL(0) || PG_ARGISNULL(1))
        throw cp::core::Error(cp::core::ErrorCode::null_value, "name and sample_pairs must not be NULL");
    std::string name = cp::pg::text_arg(fcinfo, 0);
    int sample = PG_GETARG_INT32(1);
    if (sample < 10 || sample > kMaxSamplePairs)
        throw cp::core::Error(cp::core::ErrorCode::invalid_parameter, "sample_pairs must be from 10 to 1,000,000", {},
                              "Each sampled pair costs about 250 bytes of memory outside work_mem, per key in turn.");
    TupleDesc desc = nullptr;
    cp::pg::pg_guard([&] {
        if (get_call_result_type(fcinfo, nullptr, &desc) != TYPEFUNC_COMPOSITE)
            elog(ERROR, "match_estimate must return a composite type");
        desc = BlessTupleDesc(desc);
    });
    cp::pg::MatchRuleEntry entry = cp::pg::match_rule_or_throw(cp::pg::match_catalog(), name);
    std::vector<int> levels = entry.rule.level_counts();
    cp::pg::spi_connect();
    store_missing_keys(entry);

    // u: random pairs of records (nearly all of them two different people).
    int sample_records = std::min(kSampleRecords, std::max(2, sample));
    Datum sargs[2] = {cp::pg::int4_array(entry.namespaces), Int32GetDatum(sample_records)};
    std::vector<std::int64_t> sampled = ids_of_result(spi_run(sample_plan, sargs, nullptr, false));
    std::vector<std::pair<std::int64_t, std::int64_t>> random_pairs;
    std::mt19937_64 rng(20261202);
    if (sampled.size() >= 2) {
        std::uniform_int_distribution<std::size_t> pick(0, sampled.size() - 1);
        for (int i = 0; i < sample; ++i) {
            std::size_t a = pick(rng), b = pick(rng);
            if (a != b) random_pairs.emplace_back(sampled[a], sampled[b]);
        }
    }
    std::vector<cp::core::ComparisonVector> random_vectors = compare_pairs(entry, random_pairs);
    if (random_vectors.empty())
        throw cp::core::Error(cp::core::ErrorCode::invalid_parameter,
                              "match rule \"" + name + "\" has fewer than two records to estimate from");

    // m by EM over the pairs each blocking key picks, as Splink trains: the
    // fields a key is made of agree in its pairs whatever the truth, so each
    // round leaves them out and estimates the others; a field's m is the mean
    // of its rounds. Reviewed pairs are labels in every round.
    Datum largs[2] = {Int32GetDatum(entry.rule_id), cp::pg::int4_array(entry.namespaces)};
    std::uint64_t n = spi_run(labelled_pairs_plan, largs, nullptr, false);
    std::vector<std::pair<std::int64_t, std::int64_t>> labelled_pairs;
    std::vector<cp::core::PairLabel> pair_labels;
    for (std::uint64_t row = 0; row < n; ++row) {
        labelled_pairs.emplace_back(cp::pg::spi_int8(row, 1), cp::pg::spi_int8(row, 2));
        pair_labels.push_back(cp::pg::spi_bool(row, 3) ? cp::core::PairLabel::match : cp::core::PairLabel::non_match);
    }
    std::vector<bool> labelled_found;
    std::vector<cp::core::ComparisonVector> labelled_vectors = compare_pairs(entry, labelled_pairs, &labelled_found);
    std::vector<cp::core::PairLabel> labels_kept;
    for (std::size_t i = 0; i < labelled_found.size(); ++i)
        if (labelled_found[i]) labels_kept.push_back(pair_labels[i]);
    std::int64_t labelled = static_cast<std::int64_t>(labels_kept.size());

    cp::core::MatchParameters start = entry.rule.parameters;
    start.u = cp::core::estimate_u(random_vectors, levels);
    std::size_t fields = levels.size();
    std::vector<std::vector<double>> m_sum(fields);
    std::vector<int> m_rounds(fields, 0);
    for (std::size_t f = 0; f < fields; ++f) m_sum[f].assign(static_cast<std::size_t>(levels[f]), 0.0);
    double expected_matches = 0;
    std::size_t blocked = 0;
    std::int64_t large_groups = 0;
    int iterations = 0;
    bool converged = true;
    for (std::size_t k = 0; k < entry.rule.blocking.size(); ++k) {
        cp::pg::throw_if_canceled();
        std::vector<bool> masked(fields, false);
        for (const auto& part : entry.rule.blocking[k]) masked[static_cast<std::size_t>(part.field)] = true;
        if (std::all_of(masked.begin(), masked.end(), [](bool m) { return m; })) continue;
        cp::core::PairSampler sampler = sample_key_pairs(entry, k, static_cast<std::size_t>(sample), &large_groups);
        std::vector<std::pair<std::int64_t, std::int64_t>> pairs;
        std::vector<double> pair_weights;
        for (const auto& p : sampler.sample()) {
            pairs.emplace_back(p.a, p.b);
            pair_weights.push_back(p.weight);
        }
        std::vector<bool> found;
        std::vector<cp::core::ComparisonVector> vectors = compare_pairs(entry, pairs, &found);
        if (vectors.empty()) continue;
        std::vector<double> weights;  // of the pairs compared (a record removed meanwhile is not)
        for (std::size_t i = 0; i < found.size(); ++i)
            if (found[i]) weights.push_back(pair_weights[i]);
        blocked += vectors.size();
        std::size_t unlabelled = vectors.size();
        vectors.insert(vectors.end(), labelled_vectors.begin(), labelled_vectors.end());
        std::vector<cp::core::PairLabel> labels(unlabelled, cp::core::PairLabel::unknown);
        labels.insert(labels.end(), labels_kept.begin(), labels_kept.end());
        for (auto& v : vectors)
            for (std::size_t f = 0; f < fields; ++f)
                if (masked[f]) v[f] = cp::core::kMissing;
        cp::core::EmResult em = cp::core::estimate_parameters(vectors, levels, start, labels);
        iterations = std::max(iterations, em.iterations);
        converged = converged && em.converged;
        for (std::size_t f = 0; f < fields; ++f) {
            if (masked[f]) continue;
            for (std::size_t l = 0; l < m_sum[f].size(); ++l) m_sum[f][l] += em.parameters.m[f][l];
            ++m_rounds[f];
        }
        // The key's matches in all its pairs: each pair compared stands for
        // pairs_given() / unlabelled of the pairs the groups gave, and each of
        // those for `weight` of its group's pairs.
        double share = 0;
        for (std::size_t i = 0; i < unlabelled; ++i)
            share += weights[i] / (1.0 + std::exp2(-(std::log2(em.parameters.lambda / (1 - em.parameters.lambda)) +
                                                     cp::core::pair_weight(em.parameters, vectors[i]))));
        expected_matches = std::max(expected_matches, share / static_cast<double>(unlabelled) * sampler.pairs_given());
    }
    if (blocked == 0)
        throw cp::core::Error(cp::core::ErrorCode::invalid_parameter,
                              "match rule \"" + name + "\" has no blocked pair to estimate m from", {},
                              "Records that share a blocking key are compared, except in groups of more than 1,000 "
                              "records (placeholders, defaults), which are left out; a field that is in every key "
                              "cannot be estimated.");
    cp::core::EmResult em;
    em.parameters = start;
    em.iterations = iterations;
    em.converged = converged;
    for (std::size_t f = 0; f < fields; ++f) {
        if (m_rounds[f] == 0) continue;  // in every key: its m stays as it was
        double total = 0;
        for (double& v : m_sum[f]) total += v /= m_rounds[f];
        for (double& v : m_sum[f]) v /= total;
        em.parameters.m[f] = m_sum[f];
    }
    // lambda: the prior of a random pair (the weights compare with random
    // pairs), from the matches the most productive key finds.
    Datum cargs[1] = {cp::pg::int4_array(entry.namespaces)};
    spi_run(record_count_plan, cargs, nullptr, false);
    double records = cp::pg::spi_float8(0, 1);
    double all_pairs = records * (records - 1) / 2;
    em.parameters.lambda = std::clamp(all_pairs > 0 ? expected_matches / all_pairs : 0.5, 1e-12, 0.5);
    std::string estimate = "{\"random_pairs\": " + std::to_string(random_vectors.size()) +
                           ", \"blocked_pairs\": " + std::to_string(blocked) +
                           ", \"labelled_pairs\": " + std::to_string(labelled) +
                           ", \"groups_left_out\": " + std::to_string(large_groups) +
                           ", \"iterations\": " + std::to_string(em.iterations) +
                           ", \"converged\": " + (em.converged ? "true" : "false") + "}";
    Datum store[3] = {Int32GetDatum(entry.rule_id), cp::pg::text_datum(cp::core::match_parameters_json(em.parameters)),
                      cp::pg::text_datum(estimate)};
    if (spi_run(store_estimate_plan, store, nullptr, false) == 0) rule_dropped(name);
    // Stored anyway (the caller may have no more data), but said: on a few
    // records m can come out equal to u (every weight 0), or lambda far off.
    if (sampled.size() < kMinEstimateRecords || blocked < kMinEstimateRecords) {
        std::string message = "match rule \"" + name + "\" was estimated from only " + std::to_string(sampled.size()) +
                              " records and " + std::to_string(blocked) + " blocked pairs";
        cp::pg::pg_guard([&] {
            ereport(WARNING, (errmsg_internal("%s", message.c_str()),
                              errhint("Estimates from fewer than %d of each may not separate matches from "
                                      "non-matches; check match_explain() before relying on the rule.",
                                      static_cast<int>(kMinEstimateRecords))));
        });
    }
    cp::pg::spi_finish();
    Datum result = 0;
    cp::pg::pg_guard([&] {
        Datum values[6] = {Int64GetDatum(static_cast<std::int64_t>(random_vectors.size())),
                           Int64GetDatum(static_cast<std::int64_t>(blocked)),
                           Int64GetDatum(labelled),
                           Int32GetDatum(em.iterations),
                           BoolGetDatum(em.converged),
                           Float8GetDatum(em.parameters.lambda)};
        bool rnulls[6] = {false, false, false, false, false, false};
        result = HeapTupleGetDatum(heap_form_tuple(desc, values, rnulls));
    });
    return result;
}

// _match_explain_ids(rule, identity_a, identity_b) returns table(field, value_a, value_b, level, comparison, weight,
// probability)
CP_FUNCTION(match_explain_ids) {
    if (PG_ARGISNULL(0) || PG_ARGISNULL(1) || PG_ARGISNULL(2))
        throw cp::core::Error(cp::core::ErrorCode::null_value, "rule and identities must not be NULL");
    std::string name = cp::pg::text_arg(fcinfo, 0);
    std::int64_t a = PG_GETARG_INT64(1), b = PG_GETARG_INT64(2);
    cp::pg::MatchRuleEntry entry = cp::pg::match_rule_or_throw(cp::pg::match_catalog(), name);
    cp::pg::spi_connect();
    auto records = cp::pg::load_records(entry, {a, b});
    cp::pg::spi_finish();
    if (!records.count(a) || !records.count(b))
        throw cp::core::Error(cp::core::ErrorCode::undefined_object, "an identity of the pair does not exist");
    const cp::core::MatchRecord& ra = records[a].values;
    const cp::core::MatchRecord& rb = records[b].values;
    cp::core::PairScore score = cp::core::score_pair(entry.rule, ra, rb);
    struct Row {
        std::string field, comparison;
        std::optional<std::string> a, b;
        std::optional<int> level;
        double weight;
        std::optional<double> probability;
    };
    std::vector<Row> rows;
    for (std::size_t f = 0; f < entry.rule.fields.size(); ++f) {
        const auto& fs = score.fields[f];
        rows.push_back({entry.rule.fields[f].trait, cp::core::level_name(entry.rule.fields[f], fs.level), ra[f], rb[f],
                        fs.level == cp::core::kMissing ? std::nullopt : std::optional<int>(fs.level), fs.weight,
                        std::nullopt});
    }
    rows.push_back({"total", cp::core::match_decision_name(score.decision), std::nullopt, std::nullopt, std::nullopt,
                    score.weight, score.probability});
    cp::pg::pg_guard([&] {
        InitMaterializedSRF(fcinfo, 0);
        ReturnSetInfo* rsinfo = reinterpret_cast<ReturnSetInfo*>(fcinfo->resultinfo);
        for (const auto& r : rows) {
            Datum values[7] = {cp::pg::text_datum(r.field),
                               r.a ? cp::pg::text_datum(*r.a) : 0,
                               r.b ? cp::pg::text_datum(*r.b) : 0,
                               Int32GetDatum(r.level.value_or(0)),
                               cp::pg::text_datum(r.comparison),
                               Float8GetDatum(r.weight),
                               Float8GetDatum(r.probability.value_or(0))};
            bool nulls[7] = {false, !r.a, !r.b, !r.level, false, false, !r.probability};
            tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
        }
    });
    return (Datum)0;
}

namespace {

// A review is written as the owner of match_review (the writer has no write
// grant on it, so that its processes cannot forge a review's probability),
// but scored as the caller, with the values the caller's own matching read:
// scored as the owner, a caller kept from some observations by a policy
// read in the probability stored what it may not select (review 5).
cp::pg::CachedPlan review_store_plan{"SELECT customer_profile._match_review_store($1, $2, $3, $4, $5, $6, $7)",
                                     7,
                                     {INT4OID, INT8OID, INT8OID, BOOLOID, BOOLOID, FLOAT8OID, FLOAT8OID}};

Datum queue_review(FunctionCallInfo fcinfo, bool enabled_only) {
    std::int32_t rule_id = PG_GETARG_INT32(0);
    std::int64_t a = PG_GETARG_INT64(1), b = PG_GETARG_INT64(2);
    bool refused = PG_GETARG_BOOL(3);
    std::optional<cp::pg::MatchRuleEntry> entry;
    for (const auto& r : cp::pg::match_catalog().rules)
        if (r.rule_id == rule_id) entry = r;
    if (!entry || a == b) return BoolGetDatum(false);
    cp::pg::spi_connect();
    auto records = cp::pg::load_records(*entry, {a, b});
    bool stored = false;
    if (records.count(a) && records.count(b)) {
        cp::core::PairScore score = cp::core::score_pair(entry->rule, records[a].values, records[b].values);
        Datum args[7] = {Int32GetDatum(rule_id),
                         Int64GetDatum(a),
                         Int64GetDatum(b),
                         BoolGetDatum(refused),
                         BoolGetDatum(enabled_only),
                         Float8GetDatum(score.weight),
                         Float8GetDatum(score.probability)};
        cp::pg::AsTableOwner owner("match_review");
        spi_run(review_store_plan, args, nullptr, false);
        stored = cp::pg::spi_bool(0, 1);
    }
    cp::pg::spi_finish();
    return BoolGetDatum(stored);
}

}  // namespace

// _match_review_queue(rule_id, identity_a, identity_b, refused) returns boolean: the writer's trait_observe queues a
// pair of an enabled rule
CP_FUNCTION(match_review_queue) {
    return queue_review(fcinfo, true);
}

// _match_run_review_queue(rule_id, identity_a, identity_b, refused) returns boolean: match_run() queues a pair of any
// rule
CP_FUNCTION(match_run_review_queue) {
    return queue_review(fcinfo, false);
}

// _match_link(rule, identity_a, identity_b, score, source) returns text: linked, already, refused or missing
CP_FUNCTION(match_link) {
    std::string name = cp::pg::text_arg(fcinfo, 0);
    cp::pg::MatchRuleEntry entry = cp::pg::match_rule_or_throw(cp::pg::match_catalog(), name);
    cp::pg::MatchEvidence evidence{entry.name, PG_GETARG_FLOAT8(3), entry.deduplicates};
    cp::pg::LinkOutcome outcome =
        cp::pg::link_identities(PG_GETARG_INT64(1), PG_GETARG_INT64(2), PG_GETARG_DATUM(4), evidence);
    const char* names[] = {"linked", "already", "refused", "missing", "kept_apart"};
    return cp::pg::text_datum(names[static_cast<int>(outcome)]);
}
