// Matching records under a rule (see match_engine.hpp).
#include "pg/matching/match_engine.hpp"

#include <algorithm>
#include <set>

#include "pg/identity/identity_catalog.hpp"
#include "pg/identity/resolve_identity.hpp"
#include "pg/infra/boundary.hpp"
#include "pg/infra/datum_convert.hpp"
#include "pg/infra/index_probe.hpp"
#include "pg/infra/sha256.hpp"
#include "pg/infra/spi_util.hpp"
#include "pg/profile/trait_catalog.hpp"

extern "C" {
#include "utils/acl.h"
}

namespace customer_profile::pg {
namespace {

// The statements over tables a bulk load grows in one transaction
// (match_key, identity, trait_observation) are prepared again as those grow
// (Replan::as_tables_grow, see spi_util.hpp): a generic plan made while
// match_key was nearly empty scanned all of it once per record, and
// match_estimate() over 100,000 new records had run 14 minutes when stopped.

// A record's values: the latest observation of each field's trait (any
// source; the newest observed_at, then the newest recorded_at, then the
// first source by name: the primary key's order, which the direct reads
// follow and the statements say, so that both read the same value when two
// sources were observed in one transaction), JSON scalars
// as text, null as missing. A trait the identity has no observation of is
// taken from the identifiers it was seen with (its deterministic links): a
// call's observations land on its strongest identifier, which need not be
// the record ({"email", "support_id"} observes on the email). Set-wise: one
// statement for the identities, direct reads of trait_observation's primary
// key for their observations (read_observed), one statement for the
// neighbours of those that lack a value.
CachedPlan identities_plan{
    "SELECT identity_id, profile_id, namespace_id FROM customer_profile.identity WHERE identity_id = ANY($1)",
    1,
    {INT8ARRAYOID},
    nullptr,
    0,
    Replan::as_tables_grow};
// The same as a statement, for a caller the direct reads must not serve
// (see direct_reads_allowed).
CachedPlan observations_plan{
    "SELECT DISTINCT ON (x.identity_id, x.trait) x.identity_id, x.trait, x.value #>> '{}' "
    "FROM customer_profile.trait_observation x WHERE x.identity_id = ANY($1) AND x.trait = ANY($2) "
    "ORDER BY x.identity_id, x.trait, x.observed_at DESC, x.recorded_at DESC, x.source",
    2,
    {INT8ARRAYOID, TEXTARRAYOID},
    nullptr,
    0,
    Replan::as_tables_grow};
// Any source's observations: the link records one source (the first call
// that saw the two together), and later calls naming both, from other
// sources, must lend too. A shared identifier can therefore lend another
// person's value (docs/matching.md, "Values").
CachedPlan neighbour_observations_plan{
    "SELECT DISTINCT ON (n.id, x.trait) n.id, x.trait, x.value #>> '{}' FROM ("
    "  SELECT l.identity_a AS id, l.identity_b AS other FROM customer_profile.identity_link l "
    "   WHERE l.identity_a = ANY($1) AND l.rule IS NULL "
    "  UNION ALL SELECT l.identity_b, l.identity_a FROM customer_profile.identity_link l "
    "   WHERE l.identity_b = ANY($1) AND l.rule IS NULL) n "
    "JOIN customer_profile.trait_observation x ON x.identity_id = n.other AND x.trait = ANY($2) "
    "ORDER BY n.id, x.trait, x.observed_at DESC, x.recorded_at DESC, x.source, x.identity_id",
    2,
    {INT8ARRAYOID, TEXTARRAYOID},
    nullptr,
    0,
    Replan::as_tables_grow};
// The identifiers seen with this one (its deterministic links).
CachedPlan neighbours_plan{
    "SELECT identity_b FROM customer_profile.identity_link WHERE identity_a = $1 AND rule IS NULL "
    "UNION SELECT identity_a FROM customer_profile.identity_link WHERE identity_b = $1 AND rule IS NULL",
    1,
    {INT8OID},
    nullptr,
    0,
    Replan::as_tables_grow};
// A record's keys are read first and only the difference written: a new
// record's keys are inserted without a delete, and a record observed again
// with the same keys writes nothing (a delete and insert of every key cost a
// fifth of the time per record at 1,000,000 records).
CachedPlan stored_keys_plan{"SELECT key FROM customer_profile.match_key WHERE identity_id = $2 AND rule_id = $1",
                            2,
                            {INT4OID, INT8OID},
                            nullptr,
                            0,
                            Replan::as_tables_grow};
CachedPlan delete_keys_plan{
    "DELETE FROM customer_profile.match_key WHERE rule_id = $1 AND key = ANY($3) AND identity_id = $2",
    3,
    {INT4OID, INT8OID, BYTEAARRAYOID},
    nullptr,
    0,
    Replan::as_tables_grow};
CachedPlan insert_keys_plan{
    "INSERT INTO customer_profile.match_key (rule_id, key_no, key, identity_id) "
    "SELECT $1, n::int2, k, $2 FROM unnest($3::bytea[], $4::int4[]) AS t(k, n) ON CONFLICT DO NOTHING",
    4,
    {INT4OID, INT8OID, BYTEAARRAYOID, INT4ARRAYOID},
    nullptr,
    0,
    Replan::as_tables_grow};
// Key locks are striped over kKeyLockSlots advisory locks of one class: a
// transaction that matches many records (a bulk load, match_run() over a
// million) holds at most that many, where a lock per key would exhaust the
// shared lock table. Two records whose keys share a slot by chance wait for
// each other, which costs time, never correctness.
constexpr int kKeyLockSlots = 1024;
constexpr std::int32_t kKeyLockClass = 0x63704d4b;  // "cpMK"

// Takes the key locks in slot order, through the function
// pg_advisory_xact_lock(int4, int4) calls: no statement per record. A call
// takes all the slots it will need in one go (match_observed: every record and
// rule of the call), so two calls never wait for each other's next slot in
// opposite orders; slots it holds already are taken again without waiting.
void lock_key_slots(std::vector<std::int32_t>* slots) {
    std::sort(slots->begin(), slots->end());
    slots->erase(std::unique(slots->begin(), slots->end()), slots->end());
    pg_guard([&] {
        for (std::int32_t slot : *slots)
            DirectFunctionCall2(pg_advisory_xact_lock_int4, Int32GetDatum(kKeyLockClass), Int32GetDatum(slot));
    });
}
// Candidates in identifier order, so that a limited list is the same on every run.
CachedPlan candidates_plan{
    "SELECT DISTINCT k.identity_id FROM customer_profile.match_key k "
    "WHERE k.rule_id = $1 AND k.key = ANY($2) AND k.identity_id <> $3 ORDER BY 1 LIMIT $4",
    4,
    {INT4OID, BYTEAARRAYOID, INT8OID, INT4OID},
    nullptr,
    0,
    Replan::as_tables_grow};
CachedPlan rejected_plan{
    "SELECT identity_a + identity_b - $2 FROM customer_profile.match_review "
    "WHERE rule_id = $1 AND status = 'rejected' AND (identity_a = $2 OR identity_b = $2)",
    2,
    {INT4OID, INT8OID},
    nullptr,
    0,
    Replan::as_tables_grow};
// Scored again by the queue functions, as the caller, and written as the
// owner of match_review: the writer has no write grant on it, so its
// processes cannot forge a review. The writer's door takes an enabled rule
// only; match_run()'s (the admin's) any rule.
CachedPlan review_plan{
    "SELECT customer_profile._match_review_queue($1, $2, $3, $4)", 4, {INT4OID, INT8OID, INT8OID, BOOLOID}};
CachedPlan run_review_plan{
    "SELECT customer_profile._match_run_review_queue($1, $2, $3, $4)", 4, {INT4OID, INT8OID, INT8OID, BOOLOID}};

std::vector<std::string> rule_traits(const MatchRuleEntry& rule) {
    std::vector<std::string> traits;
    for (const auto& f : rule.rule.fields) traits.push_back(f.trait);
    return traits;
}

// 16 bytes of SHA-256 under the installation's salt (as identifiers are
// hashed): the stored form of a key. Unsalted, a key over a date of birth
// could be reversed by trying every date.
std::string key_hash(const std::string& key) {
    return sha256({identity_catalog().salt, "customer_profile.match_key", key}).substr(0, 16);
}

// The lock slot of a key: its hash's first 4 bytes with the rule, modulo the slots.
std::int32_t key_lock(std::int32_t rule_id, const std::string& hash) {
    std::uint32_t v = static_cast<std::uint32_t>(rule_id) * 0x9E3779B1U;
    for (int i = 0; i < 4; ++i) v ^= static_cast<std::uint32_t>(static_cast<unsigned char>(hash[i])) << (8 * i);
    return static_cast<std::int32_t>(v % kKeyLockSlots);
}

void add_key_slots(const MatchRuleEntry& rule, const std::vector<std::string>& hashes,
                   std::vector<std::int32_t>* slots) {
    for (const auto& h : hashes) slots->push_back(key_lock(rule.rule_id, h));
}

struct RecordKeys {
    std::vector<std::string> hashes;    // sorted
    std::vector<std::int32_t> numbers;  // the key's position in the rule, per hash
};

// Each key string starts with its number ("2:..."), so equal hashes are equal keys of one number.
RecordKeys record_keys(const MatchRuleEntry& rule, const StoredRecord& record) {
    std::vector<std::pair<std::string, std::int32_t>> keys;
    for (const auto& k : core::blocking_keys(rule.rule, record.values))
        keys.emplace_back(key_hash(k), static_cast<std::int32_t>(std::atoi(k.c_str())));
    std::sort(keys.begin(), keys.end());
    keys.erase(std::unique(keys.begin(), keys.end()), keys.end());
    RecordKeys out;
    for (auto& [h, n] : keys) {
        out.hashes.push_back(h);
        out.numbers.push_back(n);
    }
    return out;
}

// The text of a JSON value as `value #>> '{}'` gives it: a scalar's text
// (a string unquoted), an object or array as JSON; false for JSON null.
bool json_text(Jsonb* value, std::string* out) {
    JsonbValue scalar;
    if (!JsonbExtractScalar(&value->root, &scalar)) {
        out->assign(JsonbToCString(nullptr, &value->root, VARSIZE(value)));
        return true;
    }
    switch (scalar.type) {
        case jbvNull:
            return false;
        case jbvString:
            out->assign(scalar.val.string.val, static_cast<std::size_t>(scalar.val.string.len));
            return true;
        case jbvBool:
            out->assign(scalar.val.boolean ? "true" : "false");
            return true;
        default:
            out->assign(DatumGetCString(DirectFunctionCall1(numeric_out, NumericGetDatum(scalar.val.numeric))));
            return true;
    }
}

// The latest observation of each of the rule's traits per record, through
// trait_observation's primary key (identity_id, trait, source) with direct
// index reads: a candidate costs one index descent and its heap page, with
// no statement, sort or result set per call (the statement this replaced
// was a third of the time per record at 1,000,000 records). Sees this
// transaction's own writes, as a statement would.
// Direct reads check neither grants nor row security, and the matching
// functions run with the caller's rights (match_explain returns the values
// read): only a caller who may select every row of trait_observation gets
// them; any other reads through the statement, which raises 42501 or applies
// its policies as before.
bool direct_reads_allowed(const TraitCatalog& c) {
    bool allowed = false;
    pg_guard([&] {
        allowed = pg_class_aclcheck(c.observation_relid, GetUserId(), ACL_SELECT) == ACLCHECK_OK &&
                  check_enable_rls(c.observation_relid, InvalidOid, true) == RLS_NONE;
    });
    return allowed;
}

struct Observed {
    bool seen = false;  // an observation exists (its value may be JSON null)
    bool has_value = false;
    TimestampTz observed_at = 0, recorded_at = 0;
    std::string value;
};
std::map<std::int64_t, std::vector<Observed>> read_observed(const std::vector<std::int64_t>& ids,
                                                            const std::vector<std::string>& traits) {
    const TraitCatalog& c = trait_catalog();
    std::map<std::int64_t, std::vector<Observed>> out;
    for (std::int64_t id : ids) out[id].resize(traits.size());
    std::string text_value;  // owned outside the guarded lambda
    pg_guard([&] {
        Snapshot snapshot = probe_snapshot(true);
        IndexProbe probe = index_probe_open(c.observation_relid, c.observation_pkey, snapshot);
        for (auto& [id, fields] : out)
            index_probe(probe, F_INT8EQ, Int64GetDatum(id), [&](TupleTableSlot* slot) {
                bool isnull = false;
                text* trait = DatumGetTextPP(slot_getattr(slot, c.obs_trait, &isnull));
                std::string_view name(VARDATA_ANY(trait), VARSIZE_ANY_EXHDR(trait));
                for (std::size_t f = 0; f < traits.size(); ++f) {
                    if (traits[f] != name) continue;
                    TimestampTz observed_at = DatumGetTimestampTz(slot_getattr(slot, c.obs_observed_at, &isnull));
                    TimestampTz recorded_at = DatumGetTimestampTz(slot_getattr(slot, c.obs_recorded_at, &isnull));
                    Observed& o = fields[f];
                    if (o.seen &&
                        (observed_at < o.observed_at || (observed_at == o.observed_at && recorded_at <= o.recorded_at)))
                        continue;
                    o.seen = true;
                    o.observed_at = observed_at;
                    o.recorded_at = recorded_at;
                    o.has_value = json_text(DatumGetJsonbP(slot_getattr(slot, c.obs_value, &isnull)), &text_value);
                    if (o.has_value) o.value = text_value;
                }
            });
        index_probe_close(probe);
        UnregisterSnapshot(snapshot);
    });
    return out;
}

// Reads the values of the records in *records (their identity ids set).
void read_values(const MatchRuleEntry& rule, std::map<std::int64_t, StoredRecord>* records) {
    if (records->empty()) return;
    std::vector<std::int64_t> ids;
    for (const auto& entry : *records) ids.push_back(entry.first);
    std::vector<std::string> traits = rule_traits(rule);
    std::vector<bool> no_nulls(traits.size(), false);
    std::map<std::int64_t, std::vector<bool>> observed;  // per record: which fields have an observation
    auto read = [&](std::uint64_t rows) {
        for (std::uint64_t row = 0; row < rows; ++row) {
            auto it = records->find(spi_int8(row, 1));
            if (it == records->end()) continue;
            std::vector<bool>& seen = observed[it->first];
            seen.resize(traits.size(), false);
            std::string trait = spi_bytes(row, 2);
            for (std::size_t f = 0; f < traits.size(); ++f) {
                if (traits[f] != trait || seen[f]) continue;
                seen[f] = true;
                if (!spi_isnull(row, 3)) it->second.values[f] = core::normalize_match_value(spi_bytes(row, 3));
            }
        }
    };
    if (direct_reads_allowed(trait_catalog())) {
        for (auto& [id, fields] : read_observed(ids, traits)) {
            StoredRecord& record = records->at(id);
            std::vector<bool>& seen = observed[id];
            seen.resize(traits.size(), false);
            for (std::size_t f = 0; f < traits.size(); ++f) {
                seen[f] = fields[f].seen;
                if (fields[f].has_value) record.values[f] = core::normalize_match_value(fields[f].value);
            }
        }
    } else {
        Datum obs_args[2] = {int8_array(ids), text_array(traits, no_nulls)};
        read(spi_run(observations_plan, obs_args, nullptr, false));
    }
    std::vector<std::int64_t> lacking;
    for (const auto& entry : *records) {
        auto it = observed.find(entry.first);
        if (it == observed.end() || std::find(it->second.begin(), it->second.end(), false) != it->second.end())
            lacking.push_back(entry.first);
    }
    if (!lacking.empty()) {
        Datum nb_args[2] = {int8_array(lacking), text_array(traits, no_nulls)};
        read(spi_run(neighbour_observations_plan, nb_args, nullptr, false));
    }
}

// Sets the profile and namespace of the records in *records; drops those whose identity no longer exists.
void read_identities(std::map<std::int64_t, StoredRecord>* records) {
    if (records->empty()) return;
    std::vector<std::int64_t> ids;
    for (const auto& entry : *records) ids.push_back(entry.first);
    Datum id_args[1] = {int8_array(ids)};
    std::uint64_t n = spi_run(identities_plan, id_args, nullptr, false);
    std::set<std::int64_t> found;
    for (std::uint64_t row = 0; row < n; ++row) {
        auto it = records->find(spi_int8(row, 1));
        if (it == records->end()) continue;
        found.insert(it->first);
        it->second.profile_id = spi_int8(row, 2);
        it->second.namespace_id = spi_int4(row, 3);
    }
    for (auto it = records->begin(); it != records->end();)
        it = found.count(it->first) ? std::next(it) : records->erase(it);
}

// Entries for these identities, their values all missing until read_values.
std::map<std::int64_t, StoredRecord> blank_records(const MatchRuleEntry& rule, const std::vector<std::int64_t>& ids) {
    std::map<std::int64_t, StoredRecord> out;
    for (std::int64_t id : ids) {
        StoredRecord& r = out[id];
        r.identity_id = id;
        r.values.assign(rule.rule.fields.size(), std::nullopt);
    }
    return out;
}

}  // namespace

std::map<std::int64_t, StoredRecord> load_records(const MatchRuleEntry& rule, const std::vector<std::int64_t>& ids) {
    std::map<std::int64_t, StoredRecord> out = blank_records(rule, ids);
    read_identities(&out);
    read_values(rule, &out);
    return out;
}

void store_keys(const MatchRuleEntry& rule, const std::vector<StoredRecord>& records) {
    for (const auto& r : records) {
        RecordKeys keys = record_keys(rule, r);
        Datum id_args[2] = {Int32GetDatum(rule.rule_id), Int64GetDatum(r.identity_id)};
        std::uint64_t n = spi_run(stored_keys_plan, id_args, nullptr, false);
        std::set<std::string> stored;
        for (std::uint64_t row = 0; row < n; ++row) stored.insert(spi_bytes(row, 1));
        std::vector<std::string> gone;
        for (const auto& h : stored)
            if (!std::binary_search(keys.hashes.begin(), keys.hashes.end(), h)) gone.push_back(h);
        RecordKeys added;
        for (std::size_t k = 0; k < keys.hashes.size(); ++k)
            if (!stored.count(keys.hashes[k])) {
                added.hashes.push_back(keys.hashes[k]);
                added.numbers.push_back(keys.numbers[k]);
            }
        if (!gone.empty()) {
            Datum args[3] = {id_args[0], id_args[1], bytea_array(gone)};
            spi_run(delete_keys_plan, args, nullptr, false);
        }
        if (!added.hashes.empty()) {
            Datum args[4] = {id_args[0], id_args[1], bytea_array(added.hashes), int4_array(added.numbers)};
            spi_run(insert_keys_plan, args, nullptr, false);
        }
    }
}

namespace {

// Matches a loaded record of a namespace the rule covers (see match_record).
MatchStats match_loaded(const MatchRuleEntry& rule, const StoredRecord& record, MatchCaller caller) {
    MatchStats stats;
    std::int64_t identity_id = record.identity_id;
    stats.records = 1;
    std::vector<std::string> hashes = record_keys(rule, record).hashes;
    std::vector<std::int32_t> locks;
    add_key_slots(rule, hashes, &locks);
    lock_key_slots(&locks);
    store_keys(rule, {record});
    if (hashes.empty()) return stats;

    Datum cand_args[4] = {Int32GetDatum(rule.rule_id), bytea_array(hashes), Int64GetDatum(identity_id),
                          Int32GetDatum(rule.max_candidates)};
    std::uint64_t n = spi_run(candidates_plan, cand_args, nullptr, false);
    std::vector<std::int64_t> candidate_ids;
    for (std::uint64_t row = 0; row < n; ++row) candidate_ids.push_back(spi_int8(row, 1));
    if (candidate_ids.empty()) return stats;
    Datum rej_args[2] = {Int32GetDatum(rule.rule_id), Int64GetDatum(identity_id)};
    n = spi_run(rejected_plan, rej_args, nullptr, false);
    std::set<std::int64_t> rejected;
    for (std::uint64_t row = 0; row < n; ++row) rejected.insert(spi_int8(row, 1));

    struct Scored {
        std::int64_t identity_id;
        core::PairScore score;
    };
    // Scored first, and only the few that pass a threshold looked up in
    // identity (their profile, their namespace): a lookup per candidate was
    // a fifth of the time per record at 1,000,000 records. A candidate of
    // the record's own profile is then left alone, as is one removed since
    // its keys were read.
    std::map<std::int64_t, StoredRecord> candidates = blank_records(rule, candidate_ids);
    read_values(rule, &candidates);
    std::map<std::int64_t, StoredRecord> passing;
    std::map<std::int64_t, core::PairScore> scores;
    for (auto& [id, candidate] : candidates) {
        if (rejected.count(id)) continue;
        ++stats.comparisons;
        core::PairScore score = core::score_pair(rule.rule, record.values, candidate.values);
        if (score.decision == core::MatchDecision::none) continue;
        passing.emplace(id, std::move(candidate));
        scores.emplace(id, std::move(score));
    }
    read_identities(&passing);
    std::vector<Scored> decided;
    for (auto& [id, candidate] : passing)
        if (candidate.profile_id != record.profile_id && rule.covers(candidate.namespace_id))
            decided.push_back({id, std::move(scores.at(id))});
    // The likeliest first: when a guard rail lets only one in, it is the best.
    std::stable_sort(decided.begin(), decided.end(),
                     [](const Scored& a, const Scored& b) { return a.score.probability > b.score.probability; });
    MatchEvidence evidence{rule.name, 0, rule.deduplicates};
    Datum source = text_datum("match");
    for (const auto& d : decided) {
        bool refused = false;
        if (d.score.decision == core::MatchDecision::link) {
            evidence.score = d.score.probability;
            LinkOutcome outcome = link_identities(identity_id, d.identity_id, source, evidence);
            if (outcome == LinkOutcome::linked) ++stats.links;
            if (outcome != LinkOutcome::refused) continue;
            refused = true;  // reviewed with the guard rail's refusal as the reason
        }
        Datum args[4] = {Int32GetDatum(rule.rule_id), Int64GetDatum(identity_id), Int64GetDatum(d.identity_id),
                         BoolGetDatum(refused)};
        spi_run(caller == MatchCaller::run ? run_review_plan : review_plan, args, nullptr, false);
        if (spi_bool(0, 1)) ++stats.reviews;
    }
    return stats;
}

}  // namespace

MatchStats match_record(const MatchRuleEntry& rule, std::int64_t identity_id, MatchCaller caller) {
    auto loaded = load_records(rule, {identity_id});
    auto self = loaded.find(identity_id);
    if (self == loaded.end() || !rule.covers(self->second.namespace_id)) return MatchStats{};
    return match_loaded(rule, self->second, caller);
}

MatchStats match_observed(std::int64_t identity_id, const std::vector<std::string>& observed_traits) {
    MatchStats total;
    const MatchCatalog& catalog = match_catalog();
    if (!catalog.installed) return total;
    std::vector<const MatchRuleEntry*> reading;
    for (const auto& rule : catalog.rules) {
        bool reads = std::any_of(rule.rule.fields.begin(), rule.rule.fields.end(), [&](const core::MatchField& f) {
            return std::find(observed_traits.begin(), observed_traits.end(), f.trait) != observed_traits.end();
        });
        if (rule.enabled && reads) reading.push_back(&rule);
    }
    if (reading.empty()) return total;
    // The observations are the call's strongest identifier's; the records
    // they belong to are it and the identifiers seen with it (whose values
    // include its observations, see records_plan).
    std::vector<std::int64_t> targets{identity_id};
    Datum args[1] = {Int64GetDatum(identity_id)};
    std::uint64_t n = spi_run(neighbours_plan, args, nullptr, false);
    for (std::uint64_t row = 0; row < n; ++row) targets.push_back(spi_int8(row, 1));
    // Every slot of every record and rule first, in one sorted pass: locked
    // record by record, two calls could each hold a slot the other's next
    // record needs (a deadlock between two single-call transactions).
    // A profile id that an earlier target's link made stale costs a
    // comparison, never a wrong link: linking and the review read the
    // current profiles.
    std::vector<std::int32_t> slots;
    std::vector<std::vector<StoredRecord>> records(reading.size());
    for (std::size_t r = 0; r < reading.size(); ++r)
        for (auto& [id, record] : load_records(*reading[r], targets))
            if (reading[r]->covers(record.namespace_id)) {
                add_key_slots(*reading[r], record_keys(*reading[r], record).hashes, &slots);
                records[r].push_back(std::move(record));
            }
    lock_key_slots(&slots);
    for (std::size_t r = 0; r < reading.size(); ++r) {
        for (const StoredRecord& record : records[r]) {
            MatchStats s = match_loaded(*reading[r], record, MatchCaller::arrival);
            total.records += s.records;
            total.comparisons += s.comparisons;
            total.links += s.links;
            total.reviews += s.reviews;
        }
    }
    return total;
}

}  // namespace customer_profile::pg
