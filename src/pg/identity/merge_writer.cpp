// The merge writer (see merge_writer.hpp, which states the locking).
#include "pg/identity/merge_writer.hpp"

#include "pg/behavior/behavior_store.hpp"
#include "pg/infra/boundary.hpp"
#include "pg/infra/spi_util.hpp"

namespace customer_profile::pg {
namespace {

// Every identity of the merged profiles, in one statement. Prepared again as
// the table grows (see spi_util.hpp): a plan cached while the table was small
// (a fresh database, no statistics yet) would scan the whole table at every merge.
CachedPlan move_profiles_plan{"UPDATE customer_profile.identity SET profile_id = $1 WHERE profile_id = ANY($2)",
                              2,
                              {INT8OID, INT8ARRAYOID},
                              nullptr,
                              0,
                              Replan::as_tables_grow};
// Identities one by one, each to its own profile.
CachedPlan move_identities_plan{
    "UPDATE customer_profile.identity AS i SET profile_id = u.p "
    "FROM unnest($1::int8[], $2::int8[]) AS u(id, p) WHERE i.identity_id = u.id",
    2,
    {INT8ARRAYOID, INT8ARRAYOID}};
CachedPlan record_merges_plan{
    "INSERT INTO customer_profile.profile_merge (merged_profile_id, into_profile_id, cause, source) "
    "SELECT m, i, $3, $4 FROM unnest($1::int8[], $2::int8[]) AS t(m, i)",
    4,
    {INT8ARRAYOID, INT8ARRAYOID, TEXTOID, TEXTOID}};
CachedPlan drop_profiles_plan{
    "DELETE FROM customer_profile.unified_profile WHERE profile_id = ANY($1)", 1, {INT8ARRAYOID}};

Datum cause_datum(const std::string& cause) {
    Datum d = 0;
    pg_guard([&] { d = CStringGetTextDatum(cause.c_str()); });
    return d;
}

void record_merges(const std::vector<std::int64_t>& from, const std::vector<std::int64_t>& into,
                   const std::string& cause, Datum source, bool source_null) {
    Datum args[4] = {int8_array(from), int8_array(into), cause_datum(cause), source};
    char nulls[5] = "    ";
    nulls[3] = source_null ? 'n' : ' ';
    spi_run(record_merges_plan, args, nulls, false);
}

void drop_profiles(const std::vector<std::int64_t>& profiles) {
    Datum args[1] = {int8_array(profiles)};
    spi_run(drop_profiles_plan, args, nullptr, false);
}

}  // namespace

void write_merge_into(std::int64_t survivor, const std::vector<std::int64_t>& merged, const std::string& cause,
                      Datum source, bool source_null) {
    if (merged.empty()) return;
    Datum move_args[2] = {Int64GetDatum(survivor), int8_array(merged)};
    spi_run(move_profiles_plan, move_args, nullptr, false);
    record_merges(merged, std::vector<std::int64_t>(merged.size(), survivor), cause, source, source_null);
    merge_profile_behaviors(survivor, merged);  // before the merged rows go
    drop_profiles(merged);
}

void write_repartition(const std::vector<std::int64_t>& moved_ids, const std::vector<std::int64_t>& moved_to,
                       const std::vector<std::int64_t>& merged_from, const std::vector<std::int64_t>& merged_into,
                       const std::string& cause) {
    if (!moved_ids.empty()) {
        Datum args[2] = {int8_array(moved_ids), int8_array(moved_to)};
        spi_run(move_identities_plan, args, nullptr, false);
    }
    if (!merged_from.empty()) {
        record_merges(merged_from, merged_into, cause, (Datum)0, true);
        drop_profiles(merged_from);
    }
}

}  // namespace customer_profile::pg
