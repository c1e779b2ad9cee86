// The event pipeline (see event_ingest.hpp).
#include "pg/behavior/event_ingest.hpp"

#include <algorithm>
#include <map>
#include <set>

#include "pg/behavior/behavior_catalog.hpp"
#include "pg/behavior/behavior_store.hpp"
#include "core/behavior_codec.hpp"
#include "core/event_input.hpp"
#include "pg/infra/guc.hpp"
#include "pg/identity/identity_catalog.hpp"
#include "pg/identity/resolve_identity.hpp"
#include "pg/segments/segment_stream.hpp"
#include "pg/infra/sha256.hpp"
#include "pg/infra/spi_util.hpp"
#include "pg/infra/subtransaction.hpp"

namespace customer_profile::pg {
namespace {

enum Column { kIdentities, kEventType, kOccurredAt, kProperties, kEventId, kSource, kEnqueuedAt };
constexpr std::size_t kMaxSourceBytes = 200;
constexpr int kMaxLockAttempts = 50;

CachedPlan take_inbox_plan{
    "DELETE FROM customer_profile.event_inbox WHERE inbox_id IN ("
    "SELECT inbox_id FROM customer_profile.event_inbox WHERE inbox_id > $2 ORDER BY inbox_id LIMIT $1 "
    "FOR UPDATE SKIP LOCKED) "
    "RETURNING inbox_id, identities, event_type, occurred_at, properties, event_id, source, enqueued_at",
    2,
    {INT4OID, INT8OID},
    nullptr,
    CURSOR_OPT_CUSTOM_PLAN};  // planned for the queue's size at each batch (see spi_util.hpp)
// The same, of one lane: the rows whose identities hash to it.
CachedPlan take_lane_plan{
    "DELETE FROM customer_profile.event_inbox WHERE inbox_id IN ("
    "SELECT inbox_id FROM customer_profile.event_inbox WHERE inbox_id > $2 "
    "AND (pg_catalog.jsonb_hash(identities) & 2147483647) % $3 = $4 ORDER BY inbox_id LIMIT $1 "
    "FOR UPDATE SKIP LOCKED) "
    "RETURNING inbox_id, identities, event_type, occurred_at, properties, event_id, source, enqueued_at",
    4,
    {INT4OID, INT8OID, INT4OID, INT4OID},
    nullptr,
    CURSOR_OPT_CUSTOM_PLAN};

// Where this backend's next batch starts looking. Scanning from the start of
// the queue each time would walk over every row already taken but not yet
// vacuumed away, which makes draining a long queue quadratic. Rows below the
// mark that commit late (or come back from an aborted batch) are picked up
// when the mark goes back to 0: after a short batch, and every kRescanEvery
// batches.
struct ResumeMark {
    std::int64_t after = 0;
    int batches_since_rescan = 0;
};
ResumeMark any_lane_mark, own_lane_mark;
constexpr int kRescanEvery = 50;

// Lanes: workers that lock the same profile serialize (the second waits for
// the first to commit, and streaming to 100 segments made that wait a third
// of a worker's time). A worker therefore first takes the rows of its lane
// (identities hashed over the running workers), which no other worker
// prefers; then, if its batch is not full, any row. The lane is a
// preference only: every row stays free for any caller, so a stopped
// worker's lane, or rows of two lanes for one person, are still applied.
int inbox_lane = 0, inbox_lanes = 1;
CachedPlan claim_keys_plan{
    "INSERT INTO customer_profile.event_key (event_id, occurred_at) "
    "SELECT * FROM unnest($1::text[], $2::timestamptz[]) ON CONFLICT DO NOTHING RETURNING event_id",
    2,
    {TEXTARRAYOID, TIMESTAMPTZARRAYOID}};
CachedPlan store_events_plan{
    "INSERT INTO customer_profile.event "
    "(event_id, identity_id, event_type, occurred_at, properties, source, received_at, applied_at) "
    "SELECT k, i, t, o, p, s, r, clock_timestamp() "
    "FROM unnest($1::text[], $2::int8[], $3::text[], $4::timestamptz[], $5::jsonb[], $6::text[], "
    "$7::timestamptz[]) AS u(k, i, t, o, p, s, r)",
    7,
    {TEXTARRAYOID, INT8ARRAYOID, TEXTARRAYOID, TIMESTAMPTZARRAYOID, JSONBARRAYOID, TEXTARRAYOID, TIMESTAMPTZARRAYOID}};
CachedPlan identity_owners_plan{
    "SELECT identity_id, profile_id FROM customer_profile.identity WHERE identity_id = ANY($1)", 1, {INT8ARRAYOID}};
// Events whose identifier was deleted (erased, purged, removed) while they
// were being applied: deleted too, as if they had been stored a moment
// earlier, instead of staying behind attached to no one.
CachedPlan drop_orphans_plan{
    "WITH gone AS (DELETE FROM customer_profile.event WHERE identity_id = ANY($1) AND event_id = ANY($2) "
    "RETURNING event_id) "
    "DELETE FROM customer_profile.event_key k USING gone WHERE k.event_id = gone.event_id",
    2,
    {INT8ARRAYOID, TEXTARRAYOID}};
CachedPlan lock_behaviors_plan{
    "SELECT profile_id, behavior FROM customer_profile.unified_profile WHERE profile_id = ANY($1) "
    "ORDER BY profile_id FOR UPDATE",
    1,
    {INT8ARRAYOID}};
CachedPlan write_behaviors_plan{
    "UPDATE customer_profile.unified_profile p SET behavior = v.b, updated_at = now() "
    "FROM unnest($1::int8[], $2::bytea[]) AS v(id, b) WHERE p.profile_id = v.id",
    2,
    {INT8ARRAYOID, BYTEAARRAYOID}};
CachedPlan dead_letter_plan{
    "INSERT INTO customer_profile.event_dead_letter (inbox_id, identities, event_type, occurred_at, properties, "
    "event_id, source, enqueued_at, sqlstate, reason) "
    "SELECT * FROM unnest($1::int8[], $2::jsonb[], $3::text[], $4::text[], $5::jsonb[], $6::text[], $7::text[], "
    "$8::timestamptz[], $9::text[], $10::text[])",
    10,
    {INT8ARRAYOID, JSONBARRAYOID, TEXTARRAYOID, TEXTARRAYOID, JSONBARRAYOID, TEXTARRAYOID, TEXTARRAYOID,
     TIMESTAMPTZARRAYOID, TEXTARRAYOID, TEXTARRAYOID}};

std::string text_of(Datum d) {
    std::string out;
    pg_guard([&] {
        text* t = DatumGetTextPP(d);
        out.assign(VARDATA_ANY(t), VARSIZE_ANY_EXHDR(t));
    });
    return out;
}

std::string jsonb_text(Jsonb* j) {
    std::string out;
    pg_guard([&] { out = JsonbToCString(nullptr, &j->root, VARSIZE(j)); });
    return out;
}

std::string hex(const std::string& bytes) {
    static const char digits[] = "0123456789abcdef";
    std::string out;
    for (unsigned char c : bytes) {
        out.push_back(digits[c >> 4]);
        out.push_back(digits[c & 15]);
    }
    return out;
}

void refuse(IncomingEvent& e, int sqlstate, std::string reason) {
    e.state = IncomingEvent::State::dead;
    e.sqlstate = sqlstate;
    e.reason = std::move(reason);
}

// ISO 8601 is read exactly, whatever the session; any other form (e.g. a
// timestamptz inserted under DateStyle 'Postgres') is read by PostgreSQL
// with the draining session's DateStyle and TimeZone, in a subtransaction
// because an input function's error is only safe to catch that way.
TimestampTz inbox_time(const std::string& text) {
    try {
        return core::parse_event_time(text);
    } catch (const core::Error&) {
    }
    TimestampTz t = 0;
    auto error = run_in_subtransaction([&] {
        pg_guard([&] {
            t = DatumGetTimestampTz(DirectFunctionCall3(timestamptz_in, CStringGetDatum(text.c_str()),
                                                        ObjectIdGetDatum(InvalidOid), Int32GetDatum(-1)));
        });
    });
    if (error) throw core::Error(core::ErrorCode::invalid_text, "malformed occurred_at: " + error->message);
    return t;
}

// Checks one event and reads what the later steps need; throws on the first
// problem (core::Error or PgException).
void validate(IncomingEvent& e, const BehaviorCatalog& catalog, TimestampTz now) {
    if (e.raw_null[kIdentities]) throw core::Error(core::ErrorCode::invalid_parameter, "identities are missing");
    pg_guard([&] {
        e.identities = DatumGetJsonbP(e.raw[kIdentities]);
        e.properties = e.raw_null[kProperties] ? nullptr : DatumGetJsonbP(e.raw[kProperties]);
    });
    if (!JB_ROOT_IS_OBJECT(e.identities) || JB_ROOT_COUNT(e.identities) == 0)
        throw core::Error(core::ErrorCode::invalid_parameter, "identities must be a non-empty JSON object");
    if (e.raw_null[kEventType]) throw core::Error(core::ErrorCode::invalid_parameter, "event type is missing");
    e.event_type = text_of(e.raw[kEventType]);
    core::check_event_type(e.event_type);
    if (!e.has_time) {
        if (e.raw_null[kOccurredAt]) throw core::Error(core::ErrorCode::invalid_parameter, "occurred_at is missing");
        e.occurred_at = inbox_time(text_of(e.raw[kOccurredAt]));
    }
    core::check_event_time(e.occurred_at, now, guc_behavior_horizon_days);
    if (e.properties != nullptr && !JB_ROOT_IS_OBJECT(e.properties))
        throw core::Error(core::ErrorCode::invalid_parameter, "properties must be a JSON object");
    if (e.properties != nullptr && VARSIZE(e.properties) > core::kMaxEventPropertiesBytes)
        throw core::Error(core::ErrorCode::value_too_long,
                          "properties are larger than " + std::to_string(core::kMaxEventPropertiesBytes) + " bytes");
    if (!e.raw_null[kEventId]) core::check_event_id(text_of(e.raw[kEventId]));
    if (!e.raw_null[kSource] && text_of(e.raw[kSource]).size() > kMaxSourceBytes)
        throw core::Error(core::ErrorCode::value_too_long, "source is longer than 200 bytes");
    e.measures = event_measures(e.properties, catalog.measures_of(e.event_type));
}

// Validates every event. A core::Error (raised by C++ checks, with no
// PostgreSQL state to undo) refuses just that event. A PostgreSQL error (an
// input or conversion function, e.g. numeric_float8 on 1e400) can only be
// caught by rolling back a subtransaction: the batch is validated in one, and
// after such an error again with one subtransaction per event.
void validate_all(std::vector<IncomingEvent>& events, const BehaviorCatalog& catalog, TimestampTz now,
                  bool isolate_errors) {
    auto checked = [&](IncomingEvent& e) {
        try {
            validate(e, catalog, now);
        } catch (const core::Error& error) {
            if (!isolate_errors) throw;
            refuse(e, sqlstate_for(error.code()), error.what());
        }
    };
    if (!isolate_errors) {
        for (auto& e : events) checked(e);
        return;
    }
    if (!run_in_subtransaction([&] {
            for (auto& e : events) checked(e);
        }))
        return;
    for (auto& e : events) {
        e.state = IncomingEvent::State::pending;
        if (auto error = run_in_subtransaction([&] { checked(e); })) refuse(e, error->sqlstate, error->message);
    }
}

void resolve_one(IncomingEvent& e) {
    auto who = resolve_identities(e.identities, e.raw[kSource], e.raw_null[kSource]);
    if (!who) throw core::Error(core::ErrorCode::invalid_parameter, "every identifier of the event was blocked");
    e.identity_id = who->anchor_identity;
    e.profile_id = who->profile_id;
}

std::vector<IncomingEvent*> pending(std::vector<IncomingEvent>& events) {
    std::vector<IncomingEvent*> out;
    for (auto& e : events)
        if (e.state == IncomingEvent::State::pending) out.push_back(&e);
    return out;
}

// Resolves every pending event: the whole batch in one subtransaction, and
// only after a failure one subtransaction per event to find the bad ones.
void resolve_all(std::vector<IncomingEvent>& events, bool isolate_errors) {
    // Returning people first, in one pass; only the others take a full resolution.
    std::vector<IncomingEvent*> todo;
    {
        auto candidates = pending(events);
        std::vector<Jsonb*> inputs;
        for (auto* e : candidates) inputs.push_back(e->identities);
        auto known = resolve_known(inputs);
        for (std::size_t i = 0; i < candidates.size(); ++i) {
            if (known[i]) {
                candidates[i]->identity_id = known[i]->anchor_identity;
                candidates[i]->profile_id = known[i]->profile_id;
            } else {
                todo.push_back(candidates[i]);
            }
        }
    }
    if (!isolate_errors) {
        for (auto* e : todo) resolve_one(*e);
        return;
    }
    if (!run_in_subtransaction([&] {
            for (auto* e : todo) resolve_one(*e);
        }))
        return;
    for (auto* e : todo) {
        e->identity_id = e->profile_id = 0;
        if (auto error = run_in_subtransaction([&] { resolve_one(*e); })) refuse(*e, error->sqlstate, error->message);
    }
}

// The id an event is deduplicated by: its own, or one derived from what it
// says (person, type, time, properties), so a redelivered copy is a duplicate.
std::string event_key(const IncomingEvent& e) {
    if (!e.raw_null[kEventId]) return text_of(e.raw[kEventId]);
    std::string content = jsonb_text(e.identities);
    content += '\x1f';
    content += e.event_type;
    content += '\x1f';
    content += std::to_string(e.occurred_at);
    content += '\x1f';
    content += e.properties != nullptr ? jsonb_text(e.properties) : "{}";
    return "sha256:" + hex(sha256({content}));
}

// Claims the keys; marks the events whose key was already taken (earlier,
// or by an earlier event of this batch) as duplicates. The keys are inserted
// sorted: the insert waits for a concurrent inserter of the same key, and two
// batches carrying the same keys in opposite orders would each hold one the
// other waits for. (Stable: of two copies in the batch, the first is stored.)
void claim_keys(std::vector<IncomingEvent*>& todo) {
    std::vector<const IncomingEvent*> sorted(todo.begin(), todo.end());
    std::stable_sort(sorted.begin(), sorted.end(),
                     [](const IncomingEvent* a, const IncomingEvent* b) { return a->key < b->key; });
    std::vector<std::string> keys;
    std::vector<Datum> times;
    for (const auto* e : sorted) {
        keys.push_back(e->key);
        times.push_back(TimestampTzGetDatum(e->occurred_at));
    }
    Datum args[2] = {text_array(keys, std::vector<bool>(keys.size(), false)), datum_array(times, {}, TIMESTAMPTZOID)};
    std::uint64_t n = spi_run(claim_keys_plan, args, nullptr, false);
    std::set<std::string> claimed;
    for (std::uint64_t row = 0; row < n; ++row) claimed.insert(spi_bytes(row, 1));
    for (auto* e : todo) {
        auto it = claimed.find(e->key);
        if (it == claimed.end()) {
            e->state = IncomingEvent::State::duplicate;
        } else {
            claimed.erase(it);  // a second copy in this batch is a duplicate
            e->state = IncomingEvent::State::applied;
        }
    }
}

void store_events(const std::vector<IncomingEvent*>& fresh) {
    std::vector<std::string> keys, types, sources;
    std::vector<bool> no_nulls(fresh.size(), false), source_nulls;
    std::vector<std::int64_t> identities;
    std::vector<Datum> times, properties, received;
    Datum empty_object = (Datum)0;
    for (auto* e : fresh) {
        keys.push_back(e->key);
        identities.push_back(e->identity_id);
        types.push_back(e->event_type);
        times.push_back(TimestampTzGetDatum(e->occurred_at));
        if (e->properties == nullptr && empty_object == (Datum)0)
            pg_guard([&] { empty_object = DirectFunctionCall1(jsonb_in, CStringGetDatum("{}")); });
        properties.push_back(e->properties != nullptr ? JsonbPGetDatum(e->properties) : empty_object);
        sources.push_back(e->raw_null[kSource] ? std::string() : text_of(e->raw[kSource]));
        source_nulls.push_back(e->raw_null[kSource]);
        received.push_back(e->raw[kEnqueuedAt]);
    }
    Datum args[7] = {text_array(keys, no_nulls),
                     int8_array(identities),
                     text_array(types, no_nulls),
                     datum_array(times, {}, TIMESTAMPTZOID),
                     datum_array(properties, {}, JSONBOID),
                     text_array(sources, source_nulls),
                     datum_array(received, {}, TIMESTAMPTZOID)};
    spi_run(store_events_plan, args, nullptr, false);
}

std::map<std::int64_t, std::int64_t> owners_of(const std::vector<std::int64_t>& identities) {
    Datum args[1] = {int8_array(identities)};
    std::uint64_t n = spi_run(identity_owners_plan, args, nullptr, false);
    std::map<std::int64_t, std::int64_t> owners;
    for (std::uint64_t row = 0; row < n; ++row) owners[spi_int8(row, 1)] = spi_int8(row, 2);
    return owners;
}

// Locks the profiles now holding the events' identities and folds the
// events into their summaries. An identity moved by a concurrent merge or
// split between reading its owner and locking it makes the step re-read.
void update_summaries(const std::vector<IncomingEvent*>& fresh) {
    std::vector<std::int64_t> identities;
    for (auto* e : fresh) identities.push_back(e->identity_id);
    std::sort(identities.begin(), identities.end());
    identities.erase(std::unique(identities.begin(), identities.end()), identities.end());

    // First guess: the profiles the events resolved to; checked after locking.
    std::map<std::int64_t, std::int64_t> owners;
    for (auto* e : fresh) owners[e->identity_id] = e->profile_id;
    std::map<std::int64_t, core::Behavior> summaries;
    for (int attempt = 0;; ++attempt) {
        if (attempt == kMaxLockAttempts)
            throw core::Error(core::ErrorCode::serialization_failure,
                              "profiles kept changing while events were applied; retry");
        std::vector<std::int64_t> profiles;
        for (const auto& kv : owners) profiles.push_back(kv.second);
        std::sort(profiles.begin(), profiles.end());
        profiles.erase(std::unique(profiles.begin(), profiles.end()), profiles.end());
        Datum args[1] = {int8_array(profiles)};
        std::uint64_t n = spi_run(lock_behaviors_plan, args, nullptr, false);
        summaries.clear();
        for (std::uint64_t row = 0; row < n; ++row) {
            bool isnull = false;
            Datum d = (Datum)0;
            pg_guard([&] { d = SPI_getbinval(SPI_tuptable->vals[row], SPI_tuptable->tupdesc, 2, &isnull); });
            summaries[spi_int8(row, 1)] = isnull ? core::Behavior{} : behavior_from_datum(d);
        }
        auto now_owners = owners_of(identities);
        if (now_owners == owners) break;
        owners = std::move(now_owners);
    }

    std::vector<std::int64_t> orphan_identities;
    std::vector<std::string> orphan_keys;
    for (auto* e : fresh)
        if (!owners.count(e->identity_id)) {
            orphan_identities.push_back(e->identity_id);
            orphan_keys.push_back(e->key);
        }
    if (!orphan_identities.empty()) {
        std::vector<bool> no_nulls(orphan_keys.size(), false);
        Datum args[2] = {int8_array(orphan_identities), text_array(orphan_keys, no_nulls)};
        spi_run(drop_orphans_plan, args, nullptr, false);
    }

    core::Day oldest = horizon_oldest_day();
    for (auto* e : fresh) {
        auto owner = owners.find(e->identity_id);
        if (owner == owners.end()) continue;  // identity deleted meanwhile: the event went with it (above)
        e->profile_id = owner->second;
        auto s = summaries.find(owner->second);
        if (s == summaries.end()) continue;
        core::add_event(s->second, core::EventFact{e->event_type, e->occurred_at, e->measures}, oldest);
    }
    std::vector<std::int64_t> ids;
    std::vector<std::string> blobs;
    for (auto& [id, behavior] : summaries) {
        core::prune_buckets(behavior, oldest);
        ids.push_back(id);
        blobs.push_back(core::encode_behavior(behavior));
    }
    Datum args[2] = {int8_array(ids), bytea_array(blobs)};
    spi_run(write_behaviors_plan, args, nullptr, false);

    ProfileChange change;
    change.profiles = ids;
    for (auto* e : fresh) change.event_types.push_back(e->event_type);
    std::sort(change.event_types.begin(), change.event_types.end());
    change.event_types.erase(std::unique(change.event_types.begin(), change.event_types.end()),
                             change.event_types.end());
    stream_segments(change);
}

void write_dead_letters(const std::vector<IncomingEvent>& events) {
    std::vector<std::int64_t> inbox_ids;
    std::vector<Datum> cols[kInboxColumns];
    std::vector<bool> col_nulls[kInboxColumns];
    std::vector<std::string> states, reasons;
    for (const auto& e : events) {
        if (e.state != IncomingEvent::State::dead) continue;
        inbox_ids.push_back(e.inbox_id);
        for (int c = 0; c < kInboxColumns; ++c) {
            cols[c].push_back(e.raw[c]);
            col_nulls[c].push_back(e.raw_null[c]);
        }
        char code[6];
        pg_guard([&] { memcpy(code, unpack_sql_state(e.sqlstate), 6); });
        states.emplace_back(code);
        reasons.push_back(e.reason);
    }
    if (inbox_ids.empty()) return;
    static const Oid types[kInboxColumns] = {JSONBOID, TEXTOID, TEXTOID, JSONBOID, TEXTOID, TEXTOID, TIMESTAMPTZOID};
    Datum args[10];
    args[0] = int8_array(inbox_ids);
    for (int c = 0; c < kInboxColumns; ++c) args[c + 1] = datum_array(cols[c], col_nulls[c], types[c]);
    std::vector<bool> no_nulls(states.size(), false);
    args[8] = text_array(states, no_nulls);
    args[9] = text_array(reasons, no_nulls);
    spi_run(dead_letter_plan, args, nullptr, false);
}

}  // namespace

IngestCounts ingest_events(std::vector<IncomingEvent>& events, bool isolate_errors) {
    // Before anything is read (and before the catalogs are): the events'
    // profiles are locked and written below (docs/concurrency.md).
    if (!events.empty()) take_identity_gate();
    const BehaviorCatalog& catalog = behavior_catalog();
    if (!catalog.installed)
        throw core::Error(core::ErrorCode::undefined_object, "events need extension version 1.2", {},
                          "ALTER EXTENSION customer_profile UPDATE");
    TimestampTz now = GetCurrentTransactionStartTimestamp();
    IngestCounts counts;
    counts.taken = static_cast<int>(events.size());
    validate_all(events, catalog, now, isolate_errors);
    resolve_all(events, isolate_errors);
    auto todo = pending(events);
    if (!todo.empty()) {
        std::vector<TimestampTz> times;
        for (auto* e : todo) {
            e->key = event_key(*e);
            times.push_back(e->occurred_at);
        }
        ensure_event_partitions(times);
        claim_keys(todo);
        std::vector<IncomingEvent*> fresh;
        for (auto* e : todo)
            if (e->state == IncomingEvent::State::applied) fresh.push_back(e);
        if (!fresh.empty()) {
            store_events(fresh);
            update_summaries(fresh);
        }
    }
    if (isolate_errors) write_dead_letters(events);
    for (const auto& e : events) {
        if (e.state == IncomingEvent::State::applied) ++counts.applied;
        if (e.state == IncomingEvent::State::duplicate) ++counts.duplicates;
        if (e.state == IncomingEvent::State::dead) ++counts.dead_lettered;
    }
    return counts;
}

namespace {

// Takes up to batch_size rows after the mark (then, if none, from the start
// of the queue) and appends them to `events`.
void take_rows(CachedPlan& plan, Datum* args, ResumeMark& mark, int batch_size, std::vector<IncomingEvent>& events) {
    if (++mark.batches_since_rescan >= kRescanEvery) mark.after = 0;
    if (mark.after == 0) mark.batches_since_rescan = 0;
    args[0] = Int32GetDatum(batch_size);
    args[1] = Int64GetDatum(mark.after);
    std::uint64_t n = spi_run(plan, args, nullptr, false);
    if (n == 0 && mark.after != 0) {
        // Nothing after the mark: look again from the start of the queue.
        // (Only when nothing was taken: taken rows are deleted already.)
        mark.after = 0;
        mark.batches_since_rescan = 0;
        args[1] = Int64GetDatum(0);
        n = spi_run(plan, args, nullptr, false);
    }
    SPITupleTable* taken = SPI_tuptable;  // kept until SPI_finish; later statements replace SPI_tuptable
    std::size_t first = events.size();
    events.resize(first + n);
    std::int64_t last = 0;
    pg_guard([&] {
        for (std::uint64_t row = 0; row < n; ++row) {
            IncomingEvent& e = events[first + row];
            bool isnull = false;
            e.inbox_id = DatumGetInt64(SPI_getbinval(taken->vals[row], taken->tupdesc, 1, &isnull));
            for (int c = 0; c < kInboxColumns; ++c)
                e.raw[c] = SPI_getbinval(taken->vals[row], taken->tupdesc, c + 2, &e.raw_null[c]);
            last = std::max(last, e.inbox_id);
        }
    });
    mark.after = n == static_cast<std::uint64_t>(batch_size) ? last : 0;
}

}  // namespace

void set_inbox_lane(int lane, int lanes) noexcept {
    if (lanes < 1 || lane < 0 || lane >= lanes) lane = 0, lanes = 1;
    inbox_lane = lane;
    inbox_lanes = lanes;
}

IngestCounts drain_inbox(int batch_size) {
    std::vector<IncomingEvent> events;
    if (inbox_lanes > 1) {
        Datum args[4] = {0, 0, Int32GetDatum(inbox_lanes), Int32GetDatum(inbox_lane)};
        take_rows(take_lane_plan, args, own_lane_mark, batch_size, events);
    }
    if (static_cast<int>(events.size()) < batch_size) {
        Datum args[2] = {0, 0};
        take_rows(take_inbox_plan, args, any_lane_mark, batch_size - static_cast<int>(events.size()), events);
    }
    // DELETE ... RETURNING has no order: apply oldest first.
    std::sort(events.begin(), events.end(),
              [](const IncomingEvent& a, const IncomingEvent& b) { return a.inbox_id < b.inbox_id; });
    return ingest_events(events, true);
}

}  // namespace customer_profile::pg
