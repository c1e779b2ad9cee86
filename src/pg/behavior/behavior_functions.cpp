// SQL functions for events and behavior: track(), event_inbox_drain(),
// profile_behavior(), event_count(), event_sum(), last_seen().
#include <algorithm>

#include "pg/behavior/behavior_catalog.hpp"
#include "pg/behavior/behavior_store.hpp"
#include "pg/infra/boundary.hpp"
#include "core/predicate.hpp"
#include "core/profile_json.hpp"
#include "pg/infra/datum_convert.hpp"
#include "pg/behavior/event_ingest.hpp"
#include "pg/infra/guc.hpp"
#include "pg/identity/identity_catalog.hpp"
#include "pg/identity/identity_lookup.hpp"
#include "pg/infra/spi_util.hpp"

namespace cp = customer_profile;

namespace customer_profile::pg {
namespace {

CachedPlan resolve_merged_plan{"SELECT customer_profile.profile_resolve($1)", 1, {INT8OID}};

// The behavior of a live profile, following merges of an old id; nullopt
// when the id is unknown.
std::optional<core::Behavior> behavior_of(std::int64_t profile_id) {
    const IdentityCatalog& catalog = identity_catalog();
    if (!behavior_catalog().installed || catalog.attr_profile_behavior == InvalidAttrNumber)
        throw core::Error(core::ErrorCode::undefined_object, "behavior needs extension version 1.2", {},
                          "ALTER EXTENSION customer_profile UPDATE");
    bool found = false;
    Datum d = fetch_profile_column(catalog, profile_id, catalog.attr_profile_behavior, false, &found);
    if (!found) {
        spi_connect();
        Datum args[1] = {Int64GetDatum(profile_id)};
        spi_run(resolve_merged_plan, args, nullptr, true);
        bool live = !spi_isnull(0, 1);
        std::int64_t into = spi_int8(0, 1);
        spi_finish();
        if (!live) return std::nullopt;
        d = fetch_profile_column(catalog, into, catalog.attr_profile_behavior, false, &found);
        if (!found) return std::nullopt;
    }
    return behavior_from_datum(d);
}

// First day of a window of `within` (whole UTC days ending today).
core::Day window_first_day(Interval* within) {
    // Bounded before adding up: an interval of a million years would overflow.
    std::int64_t whole_days = static_cast<std::int64_t>(within->day) + static_cast<std::int64_t>(within->month) * 30;
    constexpr std::int64_t kMaxDays = core::kMaxPredicateInterval / core::kMicrosPerDay;
    if (whole_days > kMaxDays || within->time > core::kMaxPredicateInterval)
        throw core::Error(core::ErrorCode::invalid_parameter, "the window must be at most 36500 days");
    if (whole_days < -kMaxDays || within->time < -core::kMaxPredicateInterval)
        throw core::Error(core::ErrorCode::invalid_parameter, "the window must be a positive interval");
    core::Micros total = within->time + whole_days * core::kMicrosPerDay;
    if (total <= 0) throw core::Error(core::ErrorCode::invalid_parameter, "the window must be a positive interval");
    core::Micros days = (total + core::kMicrosPerDay - 1) / core::kMicrosPerDay;
    if (days > guc_behavior_horizon_days)
        throw core::Error(
            core::ErrorCode::invalid_parameter,
            "the window is longer than the behavior horizon of " + std::to_string(guc_behavior_horizon_days) + " days",
            {}, "Raise customer_profile.behavior_horizon, or pass NULL for all-time figures.");
    return core::day_of(GetCurrentTransactionStartTimestamp()) - static_cast<core::Day>(days) + 1;
}

}  // namespace
}  // namespace customer_profile::pg

// track(identities jsonb, event_type text, occurred_at timestamptz,
//       properties jsonb default '{}', event_id text default null) returns bigint
CP_FUNCTION(track) {
    using cp::pg::IncomingEvent;
    for (int i = 0; i < 3; ++i)
        if (PG_ARGISNULL(i))
            throw cp::core::Error(cp::core::ErrorCode::invalid_parameter, i == 0   ? "identities are missing"
                                                                          : i == 1 ? "event type is missing"
                                                                                   : "occurred_at is missing");
    std::vector<IncomingEvent> events(1);
    IncomingEvent& e = events[0];
    e.raw[0] = PG_GETARG_DATUM(0);
    e.raw[1] = PG_GETARG_DATUM(1);
    e.raw_null[2] = true;  // given as a timestamptz instead of inbox text
    e.has_time = true;
    e.occurred_at = PG_GETARG_TIMESTAMPTZ(2);
    e.raw_null[3] = PG_ARGISNULL(3);
    e.raw[3] = PG_ARGISNULL(3) ? (Datum)0 : PG_GETARG_DATUM(3);
    e.raw_null[4] = PG_ARGISNULL(4);
    e.raw[4] = PG_ARGISNULL(4) ? (Datum)0 : PG_GETARG_DATUM(4);
    e.raw_null[5] = true;  // source: not part of track()'s signature
    e.raw[6] = TimestampTzGetDatum(GetCurrentTimestamp());
    cp::pg::spi_connect();
    cp::pg::ingest_events(events, false);
    cp::pg::spi_finish();
    PG_RETURN_INT64(e.profile_id);
}

// event_inbox_drain(batch_size int) returns (taken, applied, duplicates, dead_lettered)
CP_FUNCTION(event_inbox_drain) {
    int batch_size = PG_GETARG_INT32(0);
    if (batch_size < 1 || batch_size > 100000)
        throw cp::core::Error(cp::core::ErrorCode::invalid_parameter, "batch_size must be between 1 and 100000");
    cp::pg::spi_connect();
    cp::pg::IngestCounts counts = cp::pg::drain_inbox(batch_size);
    cp::pg::spi_finish();
    Datum result = (Datum)0;
    cp::pg::pg_guard([&] {
        TupleDesc desc;
        if (get_call_result_type(fcinfo, nullptr, &desc) != TYPEFUNC_COMPOSITE)
            elog(ERROR, "event_inbox_drain: return type must be a row type");
        desc = BlessTupleDesc(desc);
        Datum values[4] = {Int32GetDatum(counts.taken), Int32GetDatum(counts.applied), Int32GetDatum(counts.duplicates),
                           Int32GetDatum(counts.dead_lettered)};
        bool nulls[4] = {false, false, false, false};
        result = HeapTupleGetDatum(heap_form_tuple(desc, values, nulls));
    });
    return result;
}

// profile_behavior(profile_id bigint) returns table(event_type, event_count,
// first_at, last_at, totals jsonb, active_days)
CP_FUNCTION(profile_behavior) {
    auto behavior = cp::pg::behavior_of(PG_GETARG_INT64(0));
    cp::core::Day oldest = cp::pg::horizon_oldest_day();
    cp::pg::pg_guard([&] { InitMaterializedSRF(fcinfo, 0); });
    if (!behavior) return (Datum)0;
    ReturnSetInfo* rsinfo = reinterpret_cast<ReturnSetInfo*>(fcinfo->resultinfo);
    for (const auto& s : behavior->types) {
        std::string totals = cp::core::measure_totals_json(s);
        int active = 0;
        for (const auto& b : s.buckets)
            if (b.day >= oldest) ++active;
        cp::pg::pg_guard([&] {
            Datum values[6] = {PointerGetDatum(cstring_to_text_with_len(s.event_type.data(), s.event_type.size())),
                               Int64GetDatum(s.count),
                               TimestampTzGetDatum(s.first_at),
                               TimestampTzGetDatum(s.last_at),
                               DirectFunctionCall1(jsonb_in, CStringGetDatum(totals.c_str())),
                               Int32GetDatum(active)};
            bool nulls[6] = {false, false, false, false, false, false};
            tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
        });
    }
    return (Datum)0;
}

// event_count(profile_id bigint, event_type text, within interval default null) returns bigint
CP_FUNCTION(event_count) {
    if (PG_ARGISNULL(0) || PG_ARGISNULL(1)) PG_RETURN_NULL();
    std::string type = cp::pg::text_arg(fcinfo, 1);
    std::optional<cp::core::Day> first;
    if (!PG_ARGISNULL(2)) first = cp::pg::window_first_day(PG_GETARG_INTERVAL_P(2));
    auto behavior = cp::pg::behavior_of(PG_GETARG_INT64(0));
    if (!behavior) PG_RETURN_NULL();
    const cp::core::EventSummary* s = behavior->find(type);
    if (s == nullptr) PG_RETURN_INT64(0);
    PG_RETURN_INT64(first ? cp::core::count_since(*s, *first) : s->count);
}

// event_sum(profile_id bigint, event_type text, property text, within interval default null)
CP_FUNCTION(event_sum) {
    if (PG_ARGISNULL(0) || PG_ARGISNULL(1) || PG_ARGISNULL(2)) PG_RETURN_NULL();
    std::string type = cp::pg::text_arg(fcinfo, 1);
    std::string property = cp::pg::text_arg(fcinfo, 2);
    const auto* declared = cp::pg::behavior_catalog().measures_of(type);
    if (declared == nullptr || std::find(declared->begin(), declared->end(), property) == declared->end())
        throw cp::core::Error(cp::core::ErrorCode::undefined_object,
                              "property \"" + property + "\" is not a declared measure of event type \"" + type + "\"",
                              {}, "Declare it with customer_profile.event_measure_define(event_type, property).");
    std::optional<cp::core::Day> first;
    if (!PG_ARGISNULL(3)) first = cp::pg::window_first_day(PG_GETARG_INTERVAL_P(3));
    auto behavior = cp::pg::behavior_of(PG_GETARG_INT64(0));
    if (!behavior) PG_RETURN_NULL();
    const cp::core::EventSummary* s = behavior->find(type);
    if (s == nullptr) PG_RETURN_FLOAT8(0);
    if (first) PG_RETURN_FLOAT8(cp::core::sum_since(*s, property, *first));
    int at = s->measure_index(property);
    PG_RETURN_FLOAT8(at < 0 ? 0 : s->totals[static_cast<std::size_t>(at)]);
}

// last_seen(profile_id bigint, event_type text default null) returns timestamptz
CP_FUNCTION(last_seen) {
    if (PG_ARGISNULL(0)) PG_RETURN_NULL();
    auto behavior = cp::pg::behavior_of(PG_GETARG_INT64(0));
    if (!behavior) PG_RETURN_NULL();
    if (PG_ARGISNULL(1)) {
        auto last = cp::core::last_seen(*behavior);
        if (!last) PG_RETURN_NULL();
        PG_RETURN_TIMESTAMPTZ(*last);
    }
    const cp::core::EventSummary* s = behavior->find(cp::pg::text_arg(fcinfo, 1));
    if (s == nullptr) PG_RETURN_NULL();
    PG_RETURN_TIMESTAMPTZ(s->last_at);
}

// _event_property(value jsonb, as_type anyelement) returns anyelement: one
// event property read as a declared type (as_type is NULL::float8, text,
// boolean or timestamptz), converted as where filters convert it
// (core::property_value_as); NULL when missing or when it does not convert.
// The equivalent SQL of segment_explain reads declared properties with it.
CP_FUNCTION(event_property) {
    Oid type = get_fn_expr_argtype(fcinfo->flinfo, 1);
    cp::core::TraitType as;
    switch (type) {
        case FLOAT8OID:
            as = cp::core::TraitType::number;
            break;
        case TEXTOID:
            as = cp::core::TraitType::text;
            break;
        case BOOLOID:
            as = cp::core::TraitType::boolean;
            break;
        case TIMESTAMPTZOID:
            as = cp::core::TraitType::timestamp;
            break;
        default:
            throw cp::core::Error(cp::core::ErrorCode::invalid_parameter,
                                  "_event_property() reads float8, text, boolean or timestamptz values");
    }
    if (PG_ARGISNULL(0)) PG_RETURN_NULL();
    std::string json = cp::pg::jsonb_arg(fcinfo, 0);
    cp::core::TraitValue v = cp::core::property_value_as(json, as);
    switch (v.type) {
        case cp::core::TraitType::number:
            PG_RETURN_FLOAT8(v.number);
        case cp::core::TraitType::text:
            return cp::pg::text_datum(v.text);
        case cp::core::TraitType::boolean:
            PG_RETURN_BOOL(v.boolean);
        case cp::core::TraitType::timestamp:
            PG_RETURN_TIMESTAMPTZ(v.timestamp);
        default:
            PG_RETURN_NULL();
    }
}
