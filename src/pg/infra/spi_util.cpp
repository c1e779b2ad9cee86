// Guarded SPI helpers used by the identity glue.
#include "pg/infra/spi_util.hpp"

#include <vector>

#include "pg/infra/datum_convert.hpp"

extern "C" {
#include "access/relation.h"
#include "storage/bufmgr.h"
#include "utils/guc.h"
#include "utils/plancache.h"
#include "utils/rel.h"
}

namespace customer_profile::pg {
namespace {

// A table may grow this many blocks past twice its planned size before the
// statement is prepared again: an empty table is not replanned at every page.
constexpr std::uint64_t kReplanSlackBlocks = 16;

// The blocks of each table a prepared statement reads (its plan sources'
// relation dependencies, in their order; a dropped one counts 0, its plan is
// invalid anyway). The lock taken is the one the execution takes next.
std::vector<std::uint64_t> statement_blocks(SPIPlanPtr plan) {
    std::vector<std::uint64_t> blocks;
    ListCell* sc;
    foreach (sc, SPI_plan_get_plan_sources(plan)) {
        auto* source = static_cast<CachedPlanSource*>(lfirst(sc));
        ListCell* rc;
        foreach (rc, source->relationOids) {
            Relation rel = try_relation_open(lfirst_oid(rc), AccessShareLock);
            std::uint64_t n = 0;
            if (rel != nullptr && RELKIND_HAS_STORAGE(rel->rd_rel->relkind)) n = RelationGetNumberOfBlocks(rel);
            if (rel != nullptr) relation_close(rel, NoLock);
            blocks.push_back(n);
        }
    }
    return blocks;
}

// Whether one of the tables has more than doubled (or shrunk to less than
// half) since the statement was prepared. Per table: a small table read with
// a large one (identity_link with trait_observation) can grow a hundredfold
// under a sequential scan while the total has not doubled.
bool tables_changed(const std::vector<std::uint64_t>& planned, const std::vector<std::uint64_t>& now) {
    if (planned.size() != now.size()) return true;
    for (std::size_t i = 0; i < now.size(); ++i)
        if (now[i] > 2 * planned[i] + kReplanSlackBlocks || 2 * now[i] + kReplanSlackBlocks < planned[i]) return true;
    return false;
}

// Prepares the statement on first use, and again (as_tables_grow) once one of
// its tables has more than doubled. Inside pg_guard.
// A plan some call is still executing (a trigger under it reached the same
// statement) is not freed: the outer SPI_execute_plan still walks it.
void ensure_prepared(CachedPlan& plan) {
    if (plan.plan != nullptr && plan.replan == Replan::as_tables_grow && plan.executing == 0 &&
        tables_changed(plan.planned_blocks, statement_blocks(plan.plan))) {
        SPI_freeplan(plan.plan);
        plan.plan = nullptr;
    }
    if (plan.plan != nullptr) return;
    SPIPlanPtr p = SPI_prepare_cursor(plan.sql, plan.nargs, plan.argtypes, plan.cursor_options);
    if (p == nullptr) elog(ERROR, "customer_profile: SPI_prepare failed: %s", SPI_result_code_string(SPI_result));
    SPI_keepplan(p);
    plan.plan = p;
    if (plan.replan == Replan::as_tables_grow) plan.planned_blocks = statement_blocks(p);
}

// Counts a call executing the plan, also when it fails (pg_guard throws).
struct Executing {
    explicit Executing(CachedPlan& p) : plan(p) { ++plan.executing; }
    ~Executing() { --plan.executing; }
    Executing(const Executing&) = delete;
    Executing& operator=(const Executing&) = delete;
    CachedPlan& plan;
};

}  // namespace

std::uint64_t spi_run(CachedPlan& plan, const Datum* values, const char* nulls, bool read_only, long max_rows) {
    std::uint64_t processed = 0;
    pg_guard([&] { ensure_prepared(plan); });
    Executing executing(plan);
    pg_guard([&] {
        int rc = SPI_execute_plan(plan.plan, const_cast<Datum*>(values), nulls, read_only, max_rows);
        if (rc < 0) elog(ERROR, "customer_profile: SPI_execute_plan failed: %s", SPI_result_code_string(rc));
        processed = SPI_processed;
    });
    return processed;
}

std::uint64_t spi_run_snapshot(CachedPlan& plan, const Datum* values, const char* nulls, Snapshot snapshot) {
    std::uint64_t processed = 0;
    pg_guard([&] { ensure_prepared(plan); });
    Executing executing(plan);
    pg_guard([&] {
        int rc = SPI_execute_snapshot(plan.plan, const_cast<Datum*>(values), nulls, snapshot, InvalidSnapshot, true,
                                      false, 0);
        if (rc < 0) elog(ERROR, "customer_profile: SPI_execute_snapshot failed: %s", SPI_result_code_string(rc));
        processed = SPI_processed;
    });
    return processed;
}

std::uint64_t spi_exec(const char* sql, bool read_only) {
    std::uint64_t processed = 0;
    pg_guard([&] {
        int rc = SPI_execute(sql, read_only, 0);
        if (rc < 0) elog(ERROR, "customer_profile: SPI_execute failed: %s", SPI_result_code_string(rc));
        processed = SPI_processed;
    });
    return processed;
}

namespace {

// GUC nest levels of the open spi_connect() calls, innermost last. After an
// error PostgreSQL unwinds the levels itself; entries left from an aborted
// call are dropped by the next spi_connect().
std::vector<int> pinned_levels;

}  // namespace

// Every query of ours runs with search_path = pg_catalog, pg_temp: the
// queries name our objects with their schema, and an operator or function
// that a caller's search_path puts before pg_catalog must not replace
// PostgreSQL's own (sql/search_path.sql tries).
void spi_connect() {
    int level = 0;
    pg_guard([&] {
        if (SPI_connect() != SPI_OK_CONNECT) elog(ERROR, "customer_profile: SPI_connect failed");
        level = NewGUCNestLevel();
        (void)set_config_option("search_path", "pg_catalog, pg_temp", PGC_USERSET, PGC_S_SESSION, GUC_ACTION_SAVE, true,
                                0, false);
    });
    while (!pinned_levels.empty() && pinned_levels.back() >= level) pinned_levels.pop_back();
    pinned_levels.push_back(level);
}

void spi_finish() {
    int level = pinned_levels.empty() ? 0 : pinned_levels.back();
    if (!pinned_levels.empty()) pinned_levels.pop_back();
    pg_guard([&] {
        if (level > 0) AtEOXact_GUC(true, level);
        SPI_finish();
    });
}

namespace {

// bigint and timestamptz are both 8-byte integers.
Datum int64_array_of(const std::vector<std::int64_t>& values, Oid element_type) {
    Datum result = 0;
    pg_guard([&] {
        Datum* elems = static_cast<Datum*>(palloc(sizeof(Datum) * (values.size() + 1)));
        for (std::size_t i = 0; i < values.size(); ++i) elems[i] = Int64GetDatum(values[i]);
        result = PointerGetDatum(
            construct_array(elems, static_cast<int>(values.size()), element_type, 8, FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
    });
    return result;
}

}  // namespace

Datum int8_array(const std::vector<std::int64_t>& values) {
    return int64_array_of(values, INT8OID);
}

Datum timestamptz_array(const std::vector<std::int64_t>& values) {
    return int64_array_of(values, TIMESTAMPTZOID);
}

Datum int4_array(const std::vector<std::int32_t>& values) {
    Datum result = 0;
    pg_guard([&] {
        Datum* elems = static_cast<Datum*>(palloc(sizeof(Datum) * (values.size() + 1)));
        for (std::size_t i = 0; i < values.size(); ++i) elems[i] = Int32GetDatum(values[i]);
        result =
            PointerGetDatum(construct_array(elems, static_cast<int>(values.size()), INT4OID, 4, true, TYPALIGN_INT));
    });
    return result;
}

Datum datum_array(const std::vector<Datum>& values, const std::vector<bool>& nulls, Oid element_type) {
    Datum result = 0;
    pg_guard([&] {
        int n = static_cast<int>(values.size());
        Datum* elems = static_cast<Datum*>(palloc(sizeof(Datum) * (n + 1)));
        bool* isnull = static_cast<bool*>(palloc0(sizeof(bool) * (n + 1)));
        for (int i = 0; i < n; ++i) {
            isnull[i] = !nulls.empty() && nulls[i];
            elems[i] = isnull[i] ? (Datum)0 : values[i];
        }
        int16 typlen;
        bool typbyval;
        char typalign;
        get_typlenbyvalalign(element_type, &typlen, &typbyval, &typalign);
        int dims[1] = {n};
        int lbs[1] = {1};
        result =
            PointerGetDatum(construct_md_array(elems, isnull, 1, dims, lbs, element_type, typlen, typbyval, typalign));
    });
    return result;
}

namespace {
Datum varlena_array(const std::vector<std::string>& values, const std::vector<bool>* nulls, Oid type) {
    Datum result = 0;
    pg_guard([&] {
        int n = static_cast<int>(values.size());
        Datum* elems = static_cast<Datum*>(palloc(sizeof(Datum) * (n + 1)));
        bool* isnull = static_cast<bool*>(palloc0(sizeof(bool) * (n + 1)));
        for (int i = 0; i < n; ++i) {
            isnull[i] = nulls != nullptr && (*nulls)[i];
            elems[i] =
                isnull[i]
                    ? (Datum)0
                    : PointerGetDatum(cstring_to_text_with_len(values[i].data(), static_cast<int>(values[i].size())));
        }
        int dims[1] = {n};
        int lbs[1] = {1};
        result = PointerGetDatum(construct_md_array(elems, isnull, 1, dims, lbs, type, -1, false, TYPALIGN_INT));
    });
    return result;
}
}  // namespace

Datum bytea_array(const std::vector<std::string>& values) {
    return varlena_array(values, nullptr, BYTEAOID);
}

Datum text_array(const std::vector<std::string>& values, const std::vector<bool>& nulls) {
    return varlena_array(values, &nulls, TEXTOID);
}

namespace {
Datum spi_value(std::uint64_t row, int attno, bool* isnull) {
    Datum d = 0;
    pg_guard([&] { d = SPI_getbinval(SPI_tuptable->vals[row], SPI_tuptable->tupdesc, attno, isnull); });
    return d;
}
}  // namespace

std::int64_t spi_int8(std::uint64_t row, int attno, std::int64_t fallback) {
    bool isnull = false;
    Datum d = spi_value(row, attno, &isnull);
    return isnull ? fallback : DatumGetInt64(d);
}

double spi_float8(std::uint64_t row, int attno, double fallback) {
    bool isnull = false;
    Datum d = spi_value(row, attno, &isnull);
    return isnull ? fallback : DatumGetFloat8(d);
}

std::int32_t spi_int4(std::uint64_t row, int attno, std::int32_t fallback) {
    bool isnull = false;
    Datum d = spi_value(row, attno, &isnull);
    return isnull ? fallback : DatumGetInt32(d);
}

bool spi_bool(std::uint64_t row, int attno, bool fallback) {
    bool isnull = false;
    Datum d = spi_value(row, attno, &isnull);
    return isnull ? fallback : DatumGetBool(d);
}

TimestampTz spi_timestamptz(std::uint64_t row, int attno, TimestampTz fallback) {
    bool isnull = false;
    Datum d = spi_value(row, attno, &isnull);
    return isnull ? fallback : DatumGetTimestampTz(d);
}

bool spi_isnull(std::uint64_t row, int attno) {
    bool isnull = false;
    spi_value(row, attno, &isnull);
    return isnull;
}

std::string spi_bytes(std::uint64_t row, int attno) {
    bool isnull = false;
    Datum d = spi_value(row, attno, &isnull);
    if (isnull) return {};
    const char* data = nullptr;
    std::size_t len = 0;
    pg_guard([&] {
        struct varlena* v = PG_DETOAST_DATUM_PACKED(d);
        data = VARDATA_ANY(v);
        len = VARSIZE_ANY_EXHDR(v);
    });
    return std::string(data, len);
}

std::vector<std::string> spi_text_array(std::uint64_t row, int attno) {
    bool isnull = false;
    Datum d = spi_value(row, attno, &isnull);
    if (isnull) return {};
    return text_array_values(d, true);
}

}  // namespace customer_profile::pg
