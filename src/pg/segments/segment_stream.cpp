// Streaming re-evaluation (see segment_stream.hpp, which states the lock
// order).
#include "pg/infra/catalog_cache.hpp"
#include "pg/segments/segment_stream.hpp"

#include <algorithm>
#include <map>
#include <memory>
#include <optional>
#include <set>

#include "pg/infra/boundary.hpp"
#include "core/predicate_codec.hpp"
#include "pg/infra/datum_convert.hpp"
#include "pg/segments/score_catalog.hpp"
#include "pg/segments/segment_eval.hpp"
#include "pg/infra/spi_util.hpp"

extern "C" {
#include "commands/async.h"
}

namespace cp = customer_profile;

namespace customer_profile::pg {
namespace {

struct SegmentDef {
    std::int32_t id = 0;
    std::string name;
    core::PredicateNode tree;
    core::PredicateDeps deps;
    std::vector<std::string> refers_to;
    bool disabled = false;  // kept, not evaluated: only the exits of deleted profiles
};

struct SegmentCatalog {
    Oid relid = InvalidOid;
    Oid score_relid = InvalidOid;  // 1.6: customer_profile.score
    bool has_state = false;        // 1.6: segment.state (a disabled segment is not evaluated)
    bool has_schedule = false;     // 1.4: segment_schedule (and the profiles_deleted trigger) exist
    std::vector<SegmentDef> segments;
};

std::unique_ptr<SegmentCatalog> cached;
bool stale = true;

CachedPlan definitions_plan{
    "SELECT segment_id, name, customer_profile.segment_predicate_send(predicate), false FROM customer_profile.segment "
    "ORDER BY segment_id",
    0,
    {}};
// From 1.6 on a segment can be disabled: kept, not evaluated; its members
// still leave it when their profile is deleted (merged away, erased, purged).
CachedPlan stated_definitions_plan{
    "SELECT segment_id, name, customer_profile.segment_predicate_send(predicate), state = 'disabled' "
    "FROM customer_profile.segment ORDER BY segment_id",
    0,
    {}};
// By profile only: segment_membership_profile_current_idx reads a few index
// entries per profile whatever the size of the segments.
CachedPlan current_plan{
    "SELECT profile_id, segment_id FROM customer_profile.segment_membership "
    "WHERE profile_id = ANY($1) AND exited_at IS NULL",
    1,
    {INT8ARRAYOID}};
// Which of the profiles (or the profiles they were merged into) are known, in one query.
CachedPlan known_plan{
    "SELECT DISTINCT i.profile_id FROM customer_profile.identity i JOIN customer_profile.namespace n "
    "USING (namespace_id) WHERE i.profile_id = ANY($1) AND n.is_known ORDER BY 1",
    1,
    {INT8ARRAYOID}};
CachedPlan exit_plan{
    "UPDATE customer_profile.segment_membership m SET exited_at = clock_timestamp() "
    "FROM unnest($1::int8[], $2::int4[]) AS x(p, s) "
    "WHERE m.profile_id = x.p AND m.segment_id = x.s AND m.exited_at IS NULL RETURNING m.profile_id, m.segment_id",
    2,
    {INT8ARRAYOID, INT4ARRAYOID}};
CachedPlan enter_plan{
    "INSERT INTO customer_profile.segment_membership (profile_id, segment_id) "
    "SELECT * FROM unnest($1::int8[], $2::int4[]) ON CONFLICT DO NOTHING RETURNING profile_id, segment_id",
    2,
    {INT8ARRAYOID, INT4ARRAYOID}};
CachedPlan schedule_plan{
    "INSERT INTO customer_profile.segment_schedule (profile_id, due_at) "
    "SELECT * FROM unnest($1::int8[], $2::timestamptz[]) "
    "ON CONFLICT (profile_id) DO UPDATE SET due_at = excluded.due_at",
    2,
    {INT8ARRAYOID, TIMESTAMPTZARRAYOID}};
CachedPlan unschedule_plan{
    "DELETE FROM customer_profile.segment_schedule WHERE profile_id = ANY($1)", 1, {INT8ARRAYOID}};
CachedPlan outbox_plan{
    "INSERT INTO customer_profile.segment_outbox (segment, profile_id, change) "
    "SELECT * FROM unnest($1::text[], $2::int8[], $3::text[]) RETURNING position",
    3,
    {TEXTARRAYOID, INT8ARRAYOID, TEXTARRAYOID}};

// The definitions as one snapshot sees them (id and stored predicate).
std::vector<std::pair<std::int32_t, std::string>> definitions_under(Snapshot snapshot, bool has_state) {
    std::uint64_t n =
        spi_run_snapshot(has_state ? stated_definitions_plan : definitions_plan, nullptr, nullptr, snapshot);
    std::vector<std::pair<std::int32_t, std::string>> out;
    for (std::uint64_t row = 0; row < n; ++row) out.emplace_back(spi_int4(row, 1), spi_bytes(row, 3));
    return out;
}

// Called with the definitions lock held (lock_definitions): an invalidation
// sent by a definition that committed while we waited for the lock has been
// received, and the reload reads with a new snapshot, taken after the lock
// (the statement's snapshot may predate the commit we waited for).
const SegmentCatalog& segment_catalog() {
    if (stale || !cached) {
        retire(cached);  // a caller may still read the old one
        stale = false;
        auto c = std::make_unique<SegmentCatalog>();
        pg_guard([&] {
            c->relid = RangeVarGetRelid(
                makeRangeVar(const_cast<char*>("customer_profile"), const_cast<char*>("segment"), -1), NoLock, true);
        });
        pg_guard([&] {
            c->has_schedule = OidIsValid(RangeVarGetRelid(
                makeRangeVar(const_cast<char*>("customer_profile"), const_cast<char*>("segment_schedule"), -1), NoLock,
                true));
        });
        if (OidIsValid(c->relid)) pg_guard([&] { c->has_state = get_attnum(c->relid, "state") != InvalidAttrNumber; });
        c->score_relid = score_catalog().relid;
        if (OidIsValid(c->relid)) {
            std::uint64_t n = spi_run(c->has_state ? stated_definitions_plan : definitions_plan, nullptr, nullptr,
                                      false);  // a new snapshot
            std::vector<std::pair<std::int32_t, std::string>> seen;
            for (std::uint64_t row = 0; row < n; ++row) {
                SegmentDef d;
                d.id = spi_int4(row, 1);
                d.name = spi_bytes(row, 2);
                std::string stored = spi_bytes(row, 3);
                d.tree = core::cheapest_first(core::decode_predicate(stored));
                d.deps = with_score_dependencies(core::predicate_dependencies(d.tree), score_catalog());
                d.refers_to = core::referenced_segments(d.tree);
                d.disabled = spi_bool(row, 4);
                c->segments.push_back(std::move(d));
                seen.emplace_back(c->segments.back().id, std::move(stored));
            }
            // REPEATABLE READ and SERIALIZABLE read with the transaction's
            // snapshot: definitions committed after it cannot be evaluated
            // on data read with it, nor ignored (the refresh that came with
            // them did not see this transaction's changes).
            bool newer = false;
            if (IsolationUsesXactSnapshot()) {
                Snapshot latest = nullptr;
                pg_guard([&] { latest = RegisterSnapshot(GetLatestSnapshot()); });
                try {
                    newer = definitions_under(latest, c->has_state) != seen;
                } catch (...) {
                    pg_guard([&] { UnregisterSnapshot(latest); });
                    throw;
                }
                pg_guard([&] { UnregisterSnapshot(latest); });
            }
            if (newer)
                throw core::Error(core::ErrorCode::serialization_failure,
                                  "segment definitions changed after this transaction's snapshot was taken");
        }
        cached = std::move(c);
    }
    return *cached;
}

bool intersects(const std::vector<std::string>& sorted, const std::vector<std::string>& items) {
    for (const auto& i : items)
        if (std::binary_search(sorted.begin(), sorted.end(), i)) return true;
    return false;
}

// The segments a change can affect, including those that refer to an
// affected one through in_segment().
std::vector<const SegmentDef*> affected(const SegmentCatalog& c, const ProfileChange& change) {
    std::set<std::string> hit;
    for (const auto& s : c.segments) {
        if (s.disabled && !change.everything) continue;  // only a deletion reaches it
        bool a = change.everything || (change.time_passed && s.deps.time) || intersects(s.deps.traits, change.traits) ||
                 intersects(s.deps.consents, change.consents) || (change.clusters && s.deps.clusters) ||
                 intersects(s.deps.event_types, change.event_types) ||
                 (s.deps.any_event && !change.event_types.empty()) ||
                 std::find(change.segments.begin(), change.segments.end(), s.id) != change.segments.end();
        if (a) hit.insert(s.name);
    }
    for (bool grew = true; grew;) {
        grew = false;
        for (const auto& s : c.segments)
            if (!hit.count(s.name) && !s.disabled)
                for (const auto& r : s.refers_to)
                    if (hit.count(r)) {
                        hit.insert(s.name);
                        grew = true;
                        break;
                    }
    }
    std::vector<const SegmentDef*> out;
    for (const auto& s : c.segments)
        if (hit.count(s.name)) out.push_back(&s);
    return out;
}

// The outbox position makes every payload distinct: PostgreSQL folds
// identical notifications of one transaction into one, which would hide an
// enter, exit, enter of the same person in one transaction.
std::string notify_payload(const std::string& segment, std::int64_t profile, const std::string& change,
                           std::int64_t position) {
    std::string json = "{\"segment\": \"";
    for (char ch : segment) {
        if (ch == '"' || ch == '\\') json += '\\';
        json += ch;
    }
    return json + "\", \"profile_id\": " + std::to_string(profile) + ", \"change\": \"" + change +
           "\", \"position\": " + std::to_string(position) + "}";
}

// Takes the segment definitions lock in ROW SHARE mode, held to commit (see
// segment_stream.hpp); InvalidOid before 1.3 (no segment table). Acquiring
// it processes the invalidations that arrived meanwhile.
Oid lock_definitions() {
    Oid relid = InvalidOid;
    pg_guard([&] {
        relid = RangeVarGetRelid(makeRangeVar(const_cast<char*>("customer_profile"), const_cast<char*>("segment"), -1),
                                 RowShareLock, true);
    });
    return relid;
}

}  // namespace

void stream_segments(const ProfileChange& change) {
    if (change.profiles.empty()) return;
    lock_definitions();  // first: the definitions read below must stay current until we commit
    const SegmentCatalog& catalog = segment_catalog();
    if (catalog.segments.empty()) return;
    std::vector<const SegmentDef*> segments = affected(catalog, change);
    if (segments.empty()) return;

    std::vector<std::int64_t> profiles = change.profiles;
    std::sort(profiles.begin(), profiles.end());
    profiles.erase(std::unique(profiles.begin(), profiles.end()), profiles.end());
    std::vector<std::int32_t> ids;
    for (const auto* s : segments) ids.push_back(s->id);

    // Sorted pairs, searched per profile and segment: a batch reads tens of
    // thousands, which a std::set spent a tenth of a worker's time on.
    std::vector<std::pair<std::int64_t, std::int32_t>> current;
    {
        Datum args[1] = {int8_array(profiles)};
        std::uint64_t n = spi_run(current_plan, args, nullptr, false);
        current.reserve(n);
        for (std::uint64_t row = 0; row < n; ++row) current.emplace_back(spi_int8(row, 1), spi_int4(row, 2));
        std::sort(current.begin(), current.end());
    }
    std::vector<std::int64_t> known_ids;
    {
        Datum args[1] = {int8_array(profiles)};
        std::uint64_t n = spi_run(known_plan, args, nullptr, false);
        for (std::uint64_t row = 0; row < n; ++row) known_ids.push_back(spi_int8(row, 1));
    }
    bool reschedule = catalog.has_schedule && std::any_of(segments.begin(), segments.end(),
                                                          [](auto* s) { return s->deps.time && !s->disabled; });
    // A profile that is gone keeps no schedule row, whatever the segments
    // read (a refresh may have scheduled it while its deletion was pending).
    bool unschedule_gone = catalog.has_schedule;
    std::vector<std::int64_t> enter_p, exit_p, out_p, due_p, due_at, undue_p;
    std::vector<std::int32_t> enter_s, exit_s;
    std::vector<std::string> out_seg, out_change;
    std::vector<std::int32_t> out_sid;
    for (std::int64_t p : profiles) {
        auto facts = load_profile_facts(p, true, &known_ids);
        bool live = facts && facts->profile_id == p;
        std::optional<ProfileEvaluation> evaluation;
        if (live) evaluation.emplace(*facts, true);
        for (const auto* s : segments) {
            if (s->disabled && live) continue;  // frozen: only a deleted profile leaves it
            bool member = live && evaluation->matches(s->tree);
            bool was = std::binary_search(current.begin(), current.end(), std::make_pair(p, s->id));
            if (member == was) continue;
            (member ? enter_p : exit_p).push_back(p);
            (member ? enter_s : exit_s).push_back(s->id);
            out_seg.push_back(s->name);
            out_sid.push_back(s->id);
            out_p.push_back(p);
            out_change.push_back(member ? "enter" : "exit");
        }
        if (!live && unschedule_gone) {
            undue_p.push_back(p);
            continue;
        }
        if (!reschedule) continue;
        std::optional<core::Micros> due;
        if (live)
            for (const auto& s : catalog.segments)
                if (s.deps.time && !s.disabled)
                    if (auto at = evaluation->next_change(s.tree); at && (!due || *at < *due)) due = at;
        if (due) {
            due_p.push_back(p);
            due_at.push_back(*due);
        } else {
            undue_p.push_back(p);
        }
    }
    if (!undue_p.empty()) {
        Datum args[1] = {int8_array(undue_p)};
        spi_run(unschedule_plan, args, nullptr, false);
    }
    if (!due_p.empty()) {
        Datum args[2] = {int8_array(due_p), timestamptz_array(due_at)};
        spi_run(schedule_plan, args, nullptr, false);
    }
    if (out_p.empty()) return;
    // Only the changes that happened are announced: a concurrent refresh may
    // have made the same entry or exit a moment earlier.
    std::set<std::pair<std::int64_t, std::int32_t>> exited, entered;
    if (!exit_p.empty()) {
        Datum args[2] = {int8_array(exit_p), int4_array(exit_s)};
        std::uint64_t n = spi_run(exit_plan, args, nullptr, false);
        for (std::uint64_t row = 0; row < n; ++row) exited.insert({spi_int8(row, 1), spi_int4(row, 2)});
    }
    if (!enter_p.empty()) {
        Datum args[2] = {int8_array(enter_p), int4_array(enter_s)};
        std::uint64_t n = spi_run(enter_plan, args, nullptr, false);
        for (std::uint64_t row = 0; row < n; ++row) entered.insert({spi_int8(row, 1), spi_int4(row, 2)});
    }
    std::size_t kept = 0;
    for (std::size_t i = 0; i < out_p.size(); ++i) {
        const auto& done = out_change[i] == "enter" ? entered : exited;
        if (!done.count({out_p[i], out_sid[i]})) continue;
        out_seg[kept] = out_seg[i];
        out_p[kept] = out_p[i];
        out_change[kept] = out_change[i];
        ++kept;
    }
    out_seg.resize(kept);
    out_p.resize(kept);
    out_change.resize(kept);
    if (out_p.empty()) return;
    std::vector<bool> no_nulls(out_p.size(), false);
    Datum args[3] = {text_array(out_seg, no_nulls), int8_array(out_p), text_array(out_change, no_nulls)};
    std::uint64_t n = spi_run(outbox_plan, args, nullptr, false);
    std::vector<std::int64_t> positions;
    for (std::uint64_t row = 0; row < n; ++row) positions.push_back(spi_int8(row, 1));
    if (positions.size() != out_p.size())
        throw core::Error(core::ErrorCode::internal, "segment outbox returned another number of rows");
    std::sort(positions.begin(), positions.end());  // identity values follow the input order
    for (std::size_t i = 0; i < out_p.size(); ++i) {
        std::string payload = notify_payload(out_seg[i], out_p[i], out_change[i], positions[i]);
        pg_guard([&] { Async_Notify("customer_profile_segment", payload.c_str()); });
    }
}

void stream_deleted_profiles(const std::vector<std::int64_t>& profiles) {
    if (profiles.empty() || segment_catalog().has_schedule) return;  // 1.4: the trigger streams them
    ProfileChange gone;
    gone.profiles = profiles;
    gone.everything = true;
    stream_segments(gone);
}

void segment_catalog_invalidate(Datum, Oid relid) {
    // A score's rules are part of what its segments read.
    if (relid == InvalidOid || !cached || relid == cached->relid || !OidIsValid(cached->relid) ||
        relid == cached->score_relid)
        stale = true;
}

}  // namespace customer_profile::pg

namespace {
// 'segment:<id>': a positive segment id in decimal.
std::optional<std::int32_t> segment_reason(const std::string& reason) {
    if (reason.rfind("segment:", 0) != 0) return std::nullopt;
    std::string digits = reason.substr(8);
    // Up to 2147483647, the largest segment_id (an int4 has 10 digits).
    if (digits.empty() || digits.size() > 10 || digits[0] == '0') return std::nullopt;
    std::int64_t id = 0;
    for (char ch : digits) {
        if (ch < '0' || ch > '9') return std::nullopt;
        id = id * 10 + (ch - '0');
    }
    if (id > INT32_MAX) return std::nullopt;
    return static_cast<std::int32_t>(id);
}
}  // namespace

// _segment_stream(profiles bigint[], reason text) returns void: re-evaluates
// the profiles after time passed ('time': the segments that read time),
// after they were deleted ('gone': they leave every segment) or after a
// consent statement ('consent:<purpose>': the segments that read it) or
// after profile_cluster()/feature_refresh() moved them ('cluster'), or for
// one segment whose membership is being built ('segment:<id>')
CP_FUNCTION(segment_stream) {
    if (PG_ARGISNULL(0)) PG_RETURN_VOID();
    cp::pg::ProfileChange change;
    change.profiles = cp::pg::int8_array_arg(fcinfo, 0);
    std::string reason = PG_ARGISNULL(1) ? "" : cp::pg::text_arg(fcinfo, 1);
    if (reason == "time")
        change.time_passed = true;
    else if (reason == "gone")
        change.everything = true;
    else if (reason == "cluster")
        change.clusters = true;
    else if (reason.rfind("consent:", 0) == 0 && cp::core::valid_consent_purpose(reason.substr(8)))
        change.consents.push_back(reason.substr(8));
    else if (auto id = segment_reason(reason))
        change.segments.push_back(*id);
    else
        throw cp::core::Error(cp::core::ErrorCode::invalid_parameter,
                              "reason must be 'time', 'gone', 'cluster', 'consent:<purpose>' or 'segment:<id>'");
    cp::pg::spi_connect();
    cp::pg::stream_segments(change);
    cp::pg::spi_finish();
    PG_RETURN_VOID();
}

// _segment_definitions_lock() returns boolean: takes the segment definitions
// lock in ROW SHARE mode, as a stream does (segment_windows_run calls it
// before it takes schedule rows); true when this transaction also holds it
// in EXCLUSIVE mode (segment_create, segment_alter or segment_drop ran in it,
// or the refresh took it to schedule a definition's windows).
CP_FUNCTION(segment_definitions_lock) {
    Oid relid = cp::pg::lock_definitions();
    bool exclusive = false;
    cp::pg::pg_guard([&] {
        if (!OidIsValid(relid)) return;
        LOCKTAG tag;
        SET_LOCKTAG_RELATION(tag, MyDatabaseId, relid);
        exclusive = LockHeldByMe(&tag, ExclusiveLock) || LockHeldByMe(&tag, AccessExclusiveLock);
    });
    PG_RETURN_BOOL(exclusive);
}
