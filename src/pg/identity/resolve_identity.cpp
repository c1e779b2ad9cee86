// resolve_identity(identities jsonb, source text): who is this person?
//
// Concurrency, so that concurrent calls end as a serial run would:
//  - the common case (all identifiers known, one profile) takes no lock;
//    when it refreshes last_seen (at most hourly per identifier), it takes
//    the identity gate and the profile's lock first, as a writer does: a
//    merge holding the profile moves those identity rows, so they come
//    after the profile in the lock order;
//  - otherwise every profile involved is locked FOR UPDATE (sorted by id) and
//    re-read: a profile merged or split meanwhile makes the attempt retry;
//  - new identifiers are inserted ON CONFLICT DO NOTHING in hash order: if a
//    concurrent transaction created one first, we wait for it, undo our
//    inserts and retry, now seeing its identifier. The unique index is the
//    lock, so a bulk transaction holds no lock-table entry per identifier.
// Where these locks stand in the global order: docs/concurrency.md.
#include <algorithm>
#include <map>
#include <optional>

#include "pg/infra/boundary.hpp"
#include "pg/infra/datum_convert.hpp"
#include "core/merge_planner.hpp"
#include "pg/identity/identity_input.hpp"
#include "pg/identity/identity_lookup.hpp"
#include "pg/identity/merge_writer.hpp"
#include "pg/profile/profile_recompute.hpp"
#include "pg/identity/resolve_identity.hpp"
#include "pg/segments/segment_stream.hpp"
#include "pg/infra/spi_util.hpp"

namespace customer_profile::pg {
namespace {

constexpr int kMaxAttempts = 50;
// A source names a system ("crm", "web"); it is stored with every link.
constexpr int kMaxSourceBytes = 200;
// last_seen is refreshed at most this often, so repeat lookups stay read-only.
constexpr int64 kTouchIntervalUsec = INT64CONST(3600) * 1000000;

// Only the rows still in the profile whose lock is held: a merge or split
// committed while we waited for that lock has moved the others to a profile
// we do not hold (they are refreshed by a later call).
CachedPlan touch_plan{
    "UPDATE customer_profile.identity SET last_seen = now() WHERE identity_id = ANY($1) AND profile_id = $2",
    2,
    {INT8ARRAYOID, INT8OID}};
CachedPlan lock_profiles_plan{
    "SELECT profile_id FROM customer_profile.unified_profile WHERE profile_id = ANY($1) "
    "ORDER BY profile_id FOR UPDATE",
    1,
    {INT8ARRAYOID}};
CachedPlan profile_counts_plan{
    "SELECT profile_id, namespace_id, count(*)::int4 FROM customer_profile.identity "
    "WHERE profile_id = ANY($1) GROUP BY 1, 2",
    1,
    {INT8ARRAYOID},
    nullptr,
    0,
    Replan::as_tables_grow};
CachedPlan delete_identities_plan{
    "DELETE FROM customer_profile.identity WHERE identity_id = ANY($1)", 1, {INT8ARRAYOID}};
CachedPlan touch_profile_plan{
    "UPDATE customer_profile.unified_profile SET updated_at = now() WHERE profile_id = $1", 1, {INT8OID}};
CachedPlan insert_identities_plan{
    "INSERT INTO customer_profile.identity (namespace_id, value_hash, raw_value, profile_id) "
    "SELECT * FROM unnest($1::int4[], $2::bytea[], $3::text[], $4::int8[]) "
    "ON CONFLICT (value_hash) DO NOTHING RETURNING identity_id, value_hash",
    4,
    {INT4ARRAYOID, BYTEAARRAYOID, TEXTARRAYOID, INT8ARRAYOID}};
// New profile rows and the call's evidence in one statement (one executor run).
CachedPlan create_profiles_and_links_plan{
    "WITH created AS (INSERT INTO customer_profile.unified_profile (profile_id) SELECT unnest($1::int8[])) "
    "INSERT INTO customer_profile.identity_link (identity_a, identity_b, source) "
    "SELECT least(a, b), greatest(a, b), $4 FROM unnest($2::int8[], $3::int8[]) AS t(a, b) "
    "ON CONFLICT DO NOTHING",
    4,
    {INT8ARRAYOID, INT8ARRAYOID, INT8ARRAYOID, TEXTOID}};
// A probabilistic link (1.6 and later: the rule and score columns) creates no profile.
CachedPlan create_match_links_plan{
    "INSERT INTO customer_profile.identity_link (identity_a, identity_b, source, rule, score) "
    "SELECT least(a, b), greatest(a, b), $3, $4, $5 FROM unnest($1::int8[], $2::int8[]) AS t(a, b) "
    "ON CONFLICT DO NOTHING",
    5,
    {INT8ARRAYOID, INT8ARRAYOID, TEXTOID, TEXTOID, FLOAT8OID}};
// A pair someone rejected (match_review_reject) that the link would put in one profile.
// One branch per orientation rather than an OR: each starts from one
// profile's identities (identity_profile_idx) and probes the rejected pairs'
// partial index, a plan the planner picks without statistics too (with the
// OR, a freshly loaded database's custom plans hash-joined both tables in
// full for every record observed).
CachedPlan rejected_between_plan{
    "(SELECT 1 FROM customer_profile.identity i "
    "JOIN customer_profile.match_review v ON v.identity_a = i.identity_id AND v.status = 'rejected' "
    "JOIN customer_profile.identity o ON o.identity_id = v.identity_b "
    "WHERE i.profile_id = $1 AND o.profile_id = $2) "
    "UNION ALL "
    "(SELECT 1 FROM customer_profile.identity i "
    "JOIN customer_profile.match_review v ON v.identity_a = i.identity_id AND v.status = 'rejected' "
    "JOIN customer_profile.identity o ON o.identity_id = v.identity_b "
    "WHERE i.profile_id = $2 AND o.profile_id = $1) LIMIT 1",
    2,
    {INT8OID, INT8OID},
    nullptr,
    0,
    Replan::as_tables_grow};
CachedPlan identity_rows_plan{
    "SELECT identity_id, namespace_id, value_hash FROM customer_profile.identity WHERE identity_id = ANY($1)",
    1,
    {INT8ARRAYOID},
    nullptr,
    0,
    Replan::as_tables_grow};
CachedPlan insert_conflicts_plan{
    "INSERT INTO customer_profile.identity_conflict "
    "(rule, namespace_id, kept_profile_id, refused_profile_id, refused_identity_id, detail, source) "
    "SELECT r, nullif(n, 0), nullif(k, 0), nullif(p, 0), nullif(i, 0), d, $7 "
    "FROM unnest($1::text[], $2::int4[], $3::int8[], $4::int8[], $5::int8[], $6::text[]) AS t(r, n, k, p, i, d)",
    7,
    {TEXTARRAYOID, INT4ARRAYOID, INT8ARRAYOID, INT8ARRAYOID, INT8ARRAYOID, TEXTARRAYOID, TEXTOID}};

using Found = FoundIdentity;

struct Conflicts {
    std::vector<std::string> rule, detail;
    std::vector<std::int32_t> namespace_id;
    std::vector<std::int64_t> kept, refused_profile, refused_identity;

    void add(const char* r, std::int32_t ns, std::int64_t k, std::int64_t p, std::int64_t i, std::string d) {
        rule.emplace_back(r);
        namespace_id.push_back(ns);
        kept.push_back(k);
        refused_profile.push_back(p);
        refused_identity.push_back(i);
        detail.push_back(std::move(d));
    }
    void write(Datum source, bool source_null) {
        if (rule.empty()) return;
        std::vector<bool> no_nulls(rule.size(), false);
        Datum args[7] = {text_array(rule, no_nulls),
                         int4_array(namespace_id),
                         int8_array(kept),
                         int8_array(refused_profile),
                         int8_array(refused_identity),
                         text_array(detail, no_nulls),
                         source};
        char nulls[8] = "      ";
        nulls[6] = source_null ? 'n' : ' ';
        spi_run(insert_conflicts_plan, args, nulls, false);
    }
};

std::map<std::string, Found> lookup(const IdentityCatalog& catalog, const std::vector<PreparedIdentifier>& ids) {
    std::vector<std::string> hashes;
    for (const auto& id : ids) hashes.push_back(id.hash);
    return find_identities_by_hash(catalog, hashes);
}

std::vector<std::int64_t> profiles_of(const std::map<std::string, Found>& found) {
    std::vector<std::int64_t> profiles;
    for (const auto& kv : found) profiles.push_back(kv.second.profile_id);
    std::sort(profiles.begin(), profiles.end());
    profiles.erase(std::unique(profiles.begin(), profiles.end()), profiles.end());
    return profiles;
}

// The same identity rows with the same owners: an identifier removed and
// created again meanwhile (same hash, same profile) has another identity id,
// and a link to the old one would point at nothing.
bool same_owners(const std::map<std::string, Found>& a, const std::map<std::string, Found>& b) {
    return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](const auto& x, const auto& y) {
               return x.first == y.first && x.second.profile_id == y.second.profile_id &&
                      x.second.identity_id == y.second.identity_id;
           });
}

// Locks the profiles; returns false when one of them no longer exists.
bool lock_profiles(const std::vector<std::int64_t>& profiles) {
    Datum args[1] = {int8_array(profiles)};
    return spi_run(lock_profiles_plan, args, nullptr, false) == profiles.size();
}

std::vector<core::ProfileState> profile_states(const std::vector<std::int64_t>& profiles,
                                               const IdentityCatalog& catalog) {
    Datum args[1] = {int8_array(profiles)};
    std::uint64_t n = spi_run(profile_counts_plan, args, nullptr, false);
    std::map<std::int64_t, core::ProfileState> states;
    for (auto p : profiles) states[p].profile_id = p;
    for (std::uint64_t row = 0; row < n; ++row) {
        auto& state = states[spi_int8(row, 1)];
        std::int32_t ns = spi_int4(row, 2);
        state.namespace_counts[ns] = spi_int4(row, 3);
        if (const NamespaceConfig* cfg = catalog.by_id(ns))
            state.best_priority = std::max(state.best_priority, cfg->priority);
    }
    std::vector<core::ProfileState> out;
    for (auto& kv : states) out.push_back(std::move(kv.second));
    return out;
}

std::vector<std::int64_t> fresh_profile_ids(const IdentityCatalog& catalog, int count) {
    std::vector<std::int64_t> ids(count);
    pg_guard([&] {
        for (auto& id : ids) id = nextval_internal(catalog.profile_seq_relid, false);
    });
    return ids;
}

// One attempt at changing the graph. Returns the survivor, or nullopt when
// the attempt must be retried: a profile changed before we locked it, or a
// concurrent transaction created one of our new identifiers first (the
// attempt's inserts are then deleted, so it leaves no trace).
std::optional<Resolution> try_write(const PreparedInput& input, const IdentityCatalog& catalog,
                                    std::map<std::string, Found> found, Datum source, bool source_null,
                                    const MatchEvidence* evidence = nullptr, bool* refused = nullptr,
                                    bool* kept_apart = nullptr) {
    core::MergeInput merge_input;
    if (!found.empty()) {  // all-new input has no profile to lock
        std::vector<std::int64_t> profiles = profiles_of(found);
        if (!lock_profiles(profiles) || !same_owners(found, lookup(catalog, input.identifiers))) return std::nullopt;
        // A rejection is read again under the profiles' locks: one committed
        // while we waited for them (match_review_reject holds them) must win.
        if (evidence && kept_apart && profiles.size() == 2) {
            Datum rej_args[2] = {Int64GetDatum(profiles[0]), Int64GetDatum(profiles[1])};
            if (spi_run(rejected_between_plan, rej_args, nullptr, false) > 0) {
                *kept_apart = true;
                return std::nullopt;
            }
        }
        merge_input.profiles = profile_states(profiles, catalog);
    }
    for (const auto& id : input.identifiers) {
        auto it = found.find(id.hash);
        merge_input.identities.push_back({id.ns->id, id.ns->priority, it == found.end() ? 0 : it->second.profile_id});
    }
    for (const auto& ns : catalog.namespaces) merge_input.namespace_caps[ns.id] = ns.max_per_profile;
    if (evidence)  // the namespaces a match rule deduplicates: its links may exceed their caps
        for (std::int32_t ns : evidence->uncapped_namespaces) merge_input.namespace_caps[ns] = 0;
    merge_input.max_identities_per_profile = catalog.max_identities_per_profile;
    core::MergePlan plan = core::plan_merge(merge_input);

    // New identities first, under profile ids whose rows do not exist yet.
    std::vector<std::int64_t> fresh =
        fresh_profile_ids(catalog, static_cast<int>(plan.own_profile.size()) + (plan.survivor == 0 ? 1 : 0));
    std::int64_t survivor = plan.survivor != 0 ? plan.survivor : fresh.back();
    struct NewIdentity {
        int index;
        std::int64_t owner;
    };
    std::vector<NewIdentity> rows;
    for (int i : plan.attach) rows.push_back({i, survivor});
    for (std::size_t k = 0; k < plan.own_profile.size(); ++k) rows.push_back({plan.own_profile[k], fresh[k]});
    // Inserting in hash order means two sessions never wait on each other in a cycle.
    std::sort(rows.begin(), rows.end(), [&](const NewIdentity& a, const NewIdentity& b) {
        return input.identifiers[a.index].hash < input.identifiers[b.index].hash;
    });
    if (!rows.empty()) {
        std::vector<std::int32_t> ns_ids;
        std::vector<std::string> hashes, raws;
        std::vector<bool> raw_nulls;
        std::vector<std::int64_t> owners;
        for (const auto& r : rows) {
            const auto& id = input.identifiers[r.index];
            ns_ids.push_back(id.ns->id);
            hashes.push_back(id.hash);
            raws.push_back(id.ns->keep_raw ? id.normalized : std::string());
            raw_nulls.push_back(!id.ns->keep_raw);
            owners.push_back(r.owner);
        }
        Datum args[4] = {int4_array(ns_ids), bytea_array(hashes), text_array(raws, raw_nulls), int8_array(owners)};
        std::uint64_t n = spi_run(insert_identities_plan, args, nullptr, false);
        std::vector<std::int64_t> inserted;
        for (std::uint64_t row = 0; row < n; ++row) {
            inserted.push_back(spi_int8(row, 1));
            found[spi_bytes(row, 2)] = {inserted.back(), 0, 0};
        }
        if (inserted.size() != rows.size()) {
            Datum undo_args[1] = {int8_array(inserted)};
            spi_run(delete_identities_plan, undo_args, nullptr, false);
            return std::nullopt;
        }
    }
    if (refused) *refused = plan.merged_profiles.empty() && !plan.refusals.empty();
    write_merge_into(survivor, plan.merged_profiles, evidence ? "match" : "resolve_identity", source, source_null);
    auto identity_id = [&](int index) { return found.at(input.identifiers[index].hash).identity_id; };
    std::vector<std::int64_t> link_a, link_b;
    for (int i : plan.linked) {
        link_a.push_back(identity_id(plan.anchor));
        link_b.push_back(identity_id(i));
    }
    if (evidence) {
        if (!fresh.empty()) throw core::Error(core::ErrorCode::internal, "a match link would create a profile");
        Datum args[5] = {int8_array(link_a), int8_array(link_b), source, text_datum(evidence->rule),
                         Float8GetDatum(evidence->score)};
        if (!link_a.empty()) spi_run(create_match_links_plan, args, nullptr, false);
    } else if (!fresh.empty() || !link_a.empty()) {
        Datum args[4] = {int8_array(fresh), int8_array(link_a), int8_array(link_b), source};
        char nulls[5] = "    ";
        nulls[3] = source_null ? 'n' : ' ';
        spi_run(create_profiles_and_links_plan, args, nulls, false);
    }
    Conflicts refusals;
    for (const auto& r : plan.refusals)
        refusals.add(core::refusal_rule_name(r.rule), r.namespace_id, survivor, r.refused_profile_id,
                     r.refused_identity >= 0 ? identity_id(r.refused_identity) : 0, r.detail);
    refusals.write(source, source_null);
    if (plan.survivor != 0 && (!plan.merged_profiles.empty() || !plan.attach.empty())) {
        Datum args[1] = {Int64GetDatum(survivor)};
        spi_run(touch_profile_plan, args, nullptr, false);
    }
    // Merged traits follow the identities: recompute from their observations
    // (which re-evaluates the survivor's segments).
    if (!plan.merged_profiles.empty()) {
        recompute_profile_traits(survivor, nullptr);
        // The merged-away profiles leave their segments (they resolve to the survivor now).
        stream_deleted_profiles(plan.merged_profiles);
    }
    // New profiles enter the segments an empty profile matches (NOT count(...),
    // anonymous, ...); a known identifier joining an existing profile may
    // change `known`. Both re-evaluate every segment.
    ProfileChange created;
    created.profiles = fresh;
    created.everything = true;
    if (plan.merged_profiles.empty() && plan.survivor != 0 &&
        std::any_of(plan.attach.begin(), plan.attach.end(), [&](int i) { return input.identifiers[i].ns->is_known; }))
        created.profiles.push_back(survivor);
    stream_segments(created);
    // The call is about its strongest identifier: answer with that
    // identifier's profile, even when a guard rail kept it out of the survivor
    // (a second crm_id sharing a family email is its own person).
    auto final_profile = [&](int index) {
        std::int64_t before = merge_input.identities[index].profile_id;
        if (before == 0) {
            for (const auto& r : rows)
                if (r.index == index) return r.owner;
            return survivor;
        }
        bool merged = before == plan.survivor || std::find(plan.merged_profiles.begin(), plan.merged_profiles.end(),
                                                           before) != plan.merged_profiles.end();
        return merged ? survivor : before;
    };
    int strongest = 0;
    for (int i = 1; i < static_cast<int>(input.identifiers.size()); ++i) {
        int p = input.identifiers[i].ns->priority, best = input.identifiers[strongest].ns->priority;
        // Among equals, prefer one that ended in the survivor, then input order.
        if (p > best || (p == best && final_profile(i) == survivor && final_profile(strongest) != survivor))
            strongest = i;
    }
    return Resolution{final_profile(strongest), identity_id(strongest)};
}

std::optional<Resolution> resolve(Jsonb* identities, Datum source, bool source_null) {
    const IdentityCatalog& catalog = identity_catalog();
    PreparedInput input = prepare_identities(identities, catalog);
    spi_connect();
    Conflicts conflicts;
    for (const auto& b : input.blocked) conflicts.add(b.rule, b.ns->id, 0, 0, 0, b.matched);

    // Fast path: everything known and already one profile.
    auto found = lookup(catalog, input.identifiers);
    if (!input.identifiers.empty() && found.size() == input.identifiers.size()) {
        std::int64_t profile = found.begin()->second.profile_id;
        bool one_profile =
            std::all_of(found.begin(), found.end(), [&](const auto& kv) { return kv.second.profile_id == profile; });
        if (one_profile) {
            TimestampTz now = GetCurrentTransactionStartTimestamp();
            std::vector<std::int64_t> stale;
            for (const auto& kv : found)
                if (now - kv.second.last_seen > kTouchIntervalUsec) stale.push_back(kv.second.identity_id);
            if (!stale.empty()) {
                // The identity rows come after their profile's row (a merge
                // holding the profile moves them): lock it first, as a writer
                // does. A merge or erasure we waited for is the caller's to
                // find, as one committed just after this call would be.
                take_identity_gate();
                lock_profiles({profile});
                Datum args[2] = {int8_array(stale), Int64GetDatum(profile)};
                spi_run(touch_plan, args, nullptr, false);
            }
            conflicts.write(source, source_null);
            spi_finish();
            const PreparedIdentifier* strongest = &input.identifiers.front();
            for (const auto& id : input.identifiers)
                if (id.ns->priority > strongest->ns->priority) strongest = &id;
            return Resolution{profile, found.at(strongest->hash).identity_id};
        }
    }
    if (input.identifiers.empty()) {
        conflicts.write(source, source_null);
        spi_finish();
        return std::nullopt;
    }

    // Waits for a running identity_rebuild(), which holds SHARE ROW EXCLUSIVE.
    take_identity_gate();
    for (int attempt = 0;; ++attempt) {
        if (attempt > 0) found = lookup(catalog, input.identifiers);
        if (std::optional<Resolution> survivor = try_write(input, catalog, std::move(found), source, source_null)) {
            conflicts.write(source, source_null);
            spi_finish();
            return survivor;
        }
        if (attempt == kMaxAttempts)
            throw core::Error(core::ErrorCode::serialization_failure,
                              "could not resolve identities: their profiles kept changing concurrently", {},
                              "Retry the transaction.");
    }
}

LinkOutcome link(std::int64_t identity_a, std::int64_t identity_b, Datum source, const MatchEvidence& evidence) {
    const IdentityCatalog& catalog = identity_catalog();
    spi_connect();
    take_identity_gate();
    for (int attempt = 0;; ++attempt) {
        Datum args[1] = {int8_array({identity_a, identity_b})};
        std::uint64_t n = spi_run(identity_rows_plan, args, nullptr, false);
        PreparedInput input;
        for (std::uint64_t row = 0; row < n; ++row) {
            PreparedIdentifier id;
            id.ns = catalog.by_id(spi_int4(row, 2));
            id.hash = spi_bytes(row, 3);
            if (id.ns == nullptr) break;
            // The first identity anchors the link (plan_merge links the others to the first).
            if (spi_int8(row, 1) == identity_a)
                input.identifiers.insert(input.identifiers.begin(), id);
            else
                input.identifiers.push_back(id);
        }
        if (input.identifiers.size() != 2) {
            spi_finish();
            return LinkOutcome::missing;  // erased or removed meanwhile
        }
        auto found = lookup(catalog, input.identifiers);
        if (found.size() != 2) {
            spi_finish();
            return LinkOutcome::missing;
        }
        std::vector<std::int64_t> profiles = profiles_of(found);
        if (profiles.size() == 1) {
            spi_finish();
            return LinkOutcome::already;
        }
        Datum rej_args[2] = {Int64GetDatum(profiles[0]), Int64GetDatum(profiles[1])};
        if (spi_run(rejected_between_plan, rej_args, nullptr, false) > 0) {
            spi_finish();
            return LinkOutcome::kept_apart;
        }
        bool refused = false, kept_apart = false;
        if (try_write(input, catalog, std::move(found), source, false, &evidence, &refused, &kept_apart)) {
            spi_finish();
            return refused ? LinkOutcome::refused : LinkOutcome::linked;
        }
        if (kept_apart) {
            spi_finish();
            return LinkOutcome::kept_apart;
        }
        if (attempt == kMaxAttempts)
            throw core::Error(core::ErrorCode::serialization_failure,
                              "could not link the records: their profiles kept changing concurrently", {},
                              "Retry the transaction.");
    }
}

}  // namespace

LinkOutcome link_identities(std::int64_t identity_a, std::int64_t identity_b, Datum source,
                            const MatchEvidence& evidence) {
    return link(identity_a, identity_b, source, evidence);
}

std::optional<Resolution> resolve_identities(Jsonb* identities, Datum source, bool source_null) {
    return resolve(identities, source, source_null);
}

std::vector<std::optional<Resolution>> resolve_known(const std::vector<Jsonb*>& inputs) {
    const IdentityCatalog& catalog = identity_catalog();
    std::vector<std::optional<PreparedInput>> prepared(inputs.size());
    std::vector<std::string> hashes;
    for (std::size_t i = 0; i < inputs.size(); ++i) {
        try {
            prepared[i] = prepare_identities(inputs[i], catalog);
        } catch (const core::Error&) {
            continue;  // the one-by-one path reports it
        }
        for (const auto& id : prepared[i]->identifiers) hashes.push_back(id.hash);
    }
    std::sort(hashes.begin(), hashes.end());
    hashes.erase(std::unique(hashes.begin(), hashes.end()), hashes.end());
    auto found = find_identities_by_hash(catalog, hashes);
    TimestampTz now = GetCurrentTransactionStartTimestamp();
    std::vector<std::optional<Resolution>> out(inputs.size());
    for (std::size_t i = 0; i < inputs.size(); ++i) {
        if (!prepared[i] || !prepared[i]->blocked.empty() || prepared[i]->identifiers.empty()) continue;
        const PreparedIdentifier* strongest = nullptr;
        std::int64_t profile = 0;
        bool fast = true;
        for (const auto& id : prepared[i]->identifiers) {
            auto it = found.find(id.hash);
            if (it == found.end() || (profile != 0 && it->second.profile_id != profile) ||
                now - it->second.last_seen > kTouchIntervalUsec) {
                fast = false;
                break;
            }
            profile = it->second.profile_id;
            if (strongest == nullptr || id.ns->priority > strongest->ns->priority) strongest = &id;
        }
        if (fast) out[i] = Resolution{profile, found.at(strongest->hash).identity_id};
    }
    return out;
}

}  // namespace customer_profile::pg

using customer_profile::pg::kMaxSourceBytes;
using customer_profile::pg::Resolution;
using customer_profile::pg::resolve;

// resolve_identity(identities jsonb, source text default null) returns bigint
CP_FUNCTION(resolve_identity) {
    if (PG_ARGISNULL(0))
        ereport(ERROR, (errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED), errmsg("identities must not be NULL")));
    Jsonb* identities = PG_GETARG_JSONB_P(0);
    Datum source = PG_ARGISNULL(1) ? (Datum)0 : PointerGetDatum(PG_GETARG_TEXT_PP(1));
    if (!PG_ARGISNULL(1) && VARSIZE_ANY_EXHDR(DatumGetPointer(source)) > kMaxSourceBytes)
        ereport(ERROR, (errcode(ERRCODE_STRING_DATA_RIGHT_TRUNCATION),
                        errmsg("source is longer than %d bytes", kMaxSourceBytes),
                        errhint("A source names a system, such as 'crm' or 'web'.")));
    std::optional<Resolution> r = resolve(identities, source, PG_ARGISNULL(1));
    if (!r) PG_RETURN_NULL();
    PG_RETURN_INT64(r->profile_id);
}
