// Behavior summaries in unified_profile.behavior (see behavior_store.hpp).
#include "pg/behavior/behavior_store.hpp"

#include <map>

#include "pg/behavior/behavior_catalog.hpp"
#include "pg/infra/boundary.hpp"
#include "core/behavior_codec.hpp"
#include "core/event_input.hpp"
#include "pg/identity/identity_catalog.hpp"
#include "pg/infra/guc.hpp"
#include "pg/infra/spi_util.hpp"

namespace customer_profile::pg {
namespace {

// Locking read: it returns the newest committed version of each row and, run
// with a fresh snapshot (read_only = false), this transaction's own earlier
// writes, even those of the same statement (several merges in one SELECT).
CachedPlan read_behaviors_plan{
    "SELECT profile_id, behavior FROM customer_profile.unified_profile WHERE profile_id = ANY($1) "
    "ORDER BY profile_id FOR UPDATE",
    1,
    {INT8ARRAYOID}};
CachedPlan write_behavior_plan{
    "UPDATE customer_profile.unified_profile SET behavior = $2, updated_at = now() WHERE profile_id = $1",
    2,
    {INT8OID, BYTEAOID},
    nullptr,
    0,
    Replan::as_tables_grow};
CachedPlan lock_profile_plan{"SELECT 1 FROM customer_profile.unified_profile WHERE profile_id = $1 FOR UPDATE",
                             1,
                             {INT8OID},
                             nullptr,
                             0,
                             Replan::as_tables_grow};
// The events of a profile's identities, read through event_identity_idx.
CachedPlan profile_events_plan{
    "SELECT e.event_type, e.occurred_at, e.properties FROM customer_profile.identity i "
    "JOIN customer_profile.event e ON e.identity_id = i.identity_id WHERE i.profile_id = $1",
    1,
    {INT8OID}};

Datum spi_datum(std::uint64_t row, int attno, bool* isnull) {
    Datum d = (Datum)0;
    pg_guard([&] { d = SPI_getbinval(SPI_tuptable->vals[row], SPI_tuptable->tupdesc, attno, isnull); });
    return d;
}

}  // namespace

core::Day horizon_oldest_day() {
    return core::oldest_kept_day(GetCurrentTransactionStartTimestamp(), guc_behavior_horizon_days);
}

core::Behavior behavior_from_datum(Datum bytes) {
    if (bytes == (Datum)0) return {};
    struct varlena* v = nullptr;
    pg_guard([&] { v = PG_DETOAST_DATUM_PACKED(bytes); });
    return core::decode_behavior(std::string_view(VARDATA_ANY(v), VARSIZE_ANY_EXHDR(v)));
}

Datum behavior_to_datum(const core::Behavior& behavior) {
    std::string bytes = core::encode_behavior(behavior);
    Datum d = (Datum)0;
    pg_guard([&] {
        bytea* out = static_cast<bytea*>(palloc(VARHDRSZ + bytes.size()));
        SET_VARSIZE(out, VARHDRSZ + bytes.size());
        memcpy(VARDATA(out), bytes.data(), bytes.size());
        d = PointerGetDatum(out);
    });
    return d;
}

std::vector<std::pair<std::string, double>> event_measures(Jsonb* properties,
                                                           const std::vector<std::string>* declared) {
    std::vector<std::pair<std::string, double>> out;
    if (declared == nullptr || properties == nullptr) return out;
    for (const std::string& name : *declared) {
        bool present = false, numeric = false;
        double value = 0;
        pg_guard([&] {
            JsonbValue key;
            key.type = jbvString;
            key.val.string.val = const_cast<char*>(name.c_str());
            key.val.string.len = static_cast<int>(name.size());
            JsonbValue* v = findJsonbValueFromContainer(&properties->root, JB_FOBJECT, &key);
            if (v == nullptr || v->type == jbvNull) return;
            present = true;
            if (v->type != jbvNumeric) return;
            numeric = true;
            value = DatumGetFloat8(DirectFunctionCall1(numeric_float8, NumericGetDatum(v->val.numeric)));
        });
        if (!present) continue;
        if (!numeric)
            throw core::Error(core::ErrorCode::invalid_parameter,
                              "property \"" + name + "\" is a declared measure and must be a JSON number");
        core::check_measure_value(name, value);
        out.emplace_back(name, value);
    }
    return out;
}

void merge_profile_behaviors(std::int64_t survivor, const std::vector<std::int64_t>& merged) {
    if (!behavior_catalog().installed || merged.empty()) return;
    std::vector<std::int64_t> ids = merged;
    ids.push_back(survivor);
    Datum args[1] = {int8_array(ids)};
    std::uint64_t n = spi_run(read_behaviors_plan, args, nullptr, false);
    core::Day oldest = horizon_oldest_day();
    core::Behavior total;
    bool any = false;
    for (std::uint64_t row = 0; row < n; ++row) {
        bool isnull = false;
        Datum d = spi_datum(row, 2, &isnull);
        if (isnull) continue;
        core::merge_behavior(total, behavior_from_datum(d), oldest);
        any = true;
    }
    if (!any) return;
    Datum write_args[2] = {Int64GetDatum(survivor), behavior_to_datum(total)};
    spi_run(write_behavior_plan, write_args, nullptr, false);
}

void recompute_profile_behavior(std::int64_t profile_id) {
    take_identity_gate();  // before the profile lock (a no-op when the caller took it)
    const BehaviorCatalog& catalog = behavior_catalog();
    if (!catalog.installed) return;
    spi_connect();
    Datum args[1] = {Int64GetDatum(profile_id)};
    spi_run(lock_profile_plan, args, nullptr, false);
    std::uint64_t n = spi_run(profile_events_plan, args, nullptr, false);
    core::Day oldest = horizon_oldest_day();
    core::Behavior behavior;
    for (std::uint64_t row = 0; row < n; ++row) {
        core::EventFact fact;
        fact.event_type = spi_bytes(row, 1);
        fact.occurred_at = spi_timestamptz(row, 2);
        bool isnull = false;
        Datum props = spi_datum(row, 3, &isnull);
        Jsonb* properties = nullptr;
        pg_guard([&] { properties = DatumGetJsonbP(props); });
        // A measure declared after the event was stored counts now too; a
        // stored value that no longer qualifies is left out, not an error.
        try {
            fact.measures = event_measures(properties, catalog.measures_of(fact.event_type));
        } catch (const core::Error&) {
            fact.measures.clear();
        }
        core::add_event(behavior, fact, oldest);
    }
    Datum write_args[2] = {Int64GetDatum(profile_id), behavior_to_datum(behavior)};
    char nulls[3] = "  ";
    if (behavior.types.empty()) nulls[1] = 'n';
    spi_run(write_behavior_plan, write_args, nulls, false);
    spi_finish();
}

}  // namespace customer_profile::pg
