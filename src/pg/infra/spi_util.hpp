// Guarded SPI helpers: prepared plans kept for the backend's life, array
// builders, and execution that turns a PostgreSQL ERROR into PgException.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "pg/infra/boundary.hpp"

namespace customer_profile::pg {

// When a kept statement is planned again (see CachedPlan::replan).
enum class Replan : std::uint8_t {
    // PostgreSQL's plan cache decides (a generic plan after five custom ones),
    // or cursor_options CURSOR_OPT_CUSTOM_PLAN plans at every execution.
    as_cached,
    // Prepared again once one of the tables it reads has more than doubled
    // (or halved) since it was prepared. A generic plan made while a table
    // was a few pages (a seq scan) is otherwise kept while the table grows by
    // a million rows in one session or one transaction (no ANALYZE, hence no
    // invalidation, reaches it), and planning at every execution cost a
    // quarter of the CPU of matching a record (perf, 200,000 records). Per
    // table: identity_link read with trait_observation grew a hundredfold
    // under a seq scan while the two tables' total had not doubled.
    as_tables_grow,
};

// A statement prepared on first use and kept (SPI_keepplan) afterwards.
// cursor_options CURSOR_OPT_CUSTOM_PLAN plans it at every execution: for a
// statement over a table whose size swings (a queue), a generic plan made
// while the table was empty can be quadratic on the burst that follows (a
// nested loop rescanning a locking subquery per row), and no invalidation
// reaches a statement that is already running.
struct CachedPlan {
    const char* sql;
    int nargs;
    Oid argtypes[12];
    SPIPlanPtr plan = nullptr;
    int cursor_options = 0;
    Replan replan = Replan::as_cached;
    std::vector<std::uint64_t> planned_blocks;  // as_tables_grow: each table's blocks when prepared
    int executing = 0;                          // calls running it now (a nested call may not free it)
};

// Executes a cached plan; returns SPI_processed. Must be inside SPI_connect.
std::uint64_t spi_run(CachedPlan& plan, const Datum* values, const char* nulls, bool read_only, long max_rows = 0);
// Executes a cached plan read-only under the given snapshot (e.g. the latest
// one, to compare with what the transaction's snapshot sees).
std::uint64_t spi_run_snapshot(CachedPlan& plan, const Datum* values, const char* nulls, Snapshot snapshot);
// Executes one-off SQL without parameters; returns SPI_processed.
std::uint64_t spi_exec(const char* sql, bool read_only);

void spi_connect();
void spi_finish();

// Array Datums in the current (SPI) memory context.
Datum int8_array(const std::vector<std::int64_t>& values);
// timestamptz[] from microseconds since 2000-01-01 UTC.
Datum timestamptz_array(const std::vector<std::int64_t>& values);
Datum int4_array(const std::vector<std::int32_t>& values);
Datum bytea_array(const std::vector<std::string>& values);
// Text array; an element equal to `null_marker` pointer-identity is not used:
// nulls[i] == true makes element i NULL.
Datum text_array(const std::vector<std::string>& values, const std::vector<bool>& nulls);
// Array of any element type from Datums already of that type (nulls may be empty).
Datum datum_array(const std::vector<Datum>& values, const std::vector<bool>& nulls, Oid element_type);

// Column readers over SPI_tuptable (1-based attribute numbers); NULL -> fallback.
std::int64_t spi_int8(std::uint64_t row, int attno, std::int64_t fallback = 0);
std::int32_t spi_int4(std::uint64_t row, int attno, std::int32_t fallback = 0);
bool spi_bool(std::uint64_t row, int attno, bool fallback = false);
double spi_float8(std::uint64_t row, int attno, double fallback = 0);
std::string spi_bytes(std::uint64_t row, int attno);  // bytea or text contents
bool spi_isnull(std::uint64_t row, int attno);
std::vector<std::string> spi_text_array(std::uint64_t row, int attno);
TimestampTz spi_timestamptz(std::uint64_t row, int attno, TimestampTz fallback = 0);

}  // namespace customer_profile::pg
