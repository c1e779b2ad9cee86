// Loading and caching event measures; the partition-month cache.
#include "pg/infra/catalog_cache.hpp"
#include "pg/behavior/behavior_catalog.hpp"

#include <algorithm>
#include <memory>

#include "pg/infra/boundary.hpp"
#include "core/behavior.hpp"
#include "pg/infra/spi_util.hpp"

namespace customer_profile::pg {
namespace {

std::unique_ptr<BehaviorCatalog> cached;
bool stale = true;
std::set<std::int64_t> partition_months;  // months since 2000-01 known to have a partition

CachedPlan measures_plan{"SELECT event_type, property FROM customer_profile.event_measure ORDER BY 1, 2", 0, {}};
CachedPlan property_types_plan{"SELECT event_type, property, type FROM customer_profile.event_property", 0, {}};
CachedPlan ensure_plan{"SELECT customer_profile.event_partitions_ensure($1, $2)", 2, {TIMESTAMPTZOID, TIMESTAMPTZOID}};

Oid relation_oid(const char* name) {
    Oid relid = InvalidOid;
    pg_guard([&] {
        relid = RangeVarGetRelid(makeRangeVar(const_cast<char*>("customer_profile"), const_cast<char*>(name), -1),
                                 NoLock, true);
    });
    return relid;
}

std::unique_ptr<BehaviorCatalog> load() {
    auto catalog = std::make_unique<BehaviorCatalog>();
    catalog->measure_relid = relation_oid("event_measure");
    if (!OidIsValid(catalog->measure_relid)) return catalog;  // before 1.2
    catalog->event_relid = relation_oid("event");
    catalog->installed = true;
    catalog->property_relid = relation_oid("event_property");  // from 1.6 on
    spi_connect();
    std::uint64_t n = spi_run(measures_plan, nullptr, nullptr, true);
    for (std::uint64_t row = 0; row < n; ++row) catalog->measures[spi_bytes(row, 1)].push_back(spi_bytes(row, 2));
    if (OidIsValid(catalog->property_relid)) {
        n = spi_run(property_types_plan, nullptr, nullptr, true);
        for (std::uint64_t row = 0; row < n; ++row)
            catalog->property_types[spi_bytes(row, 1)][spi_bytes(row, 2)] =
                core::trait_type_from_name(spi_bytes(row, 3));
    }
    spi_finish();
    return catalog;
}

// Month number of a timestamp in UTC, and the timestamp of a month's start.
std::int64_t month_of(TimestampTz t) {
    struct pg_tm tm;
    fsec_t fsec;
    pg_guard([&] {
        if (timestamp2tm(t, nullptr, &tm, &fsec, nullptr, nullptr) != 0)
            ereport(ERROR, (errcode(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE), errmsg("timestamp out of range")));
    });
    return static_cast<std::int64_t>(tm.tm_year - 2000) * 12 + (tm.tm_mon - 1);
}

}  // namespace

const std::vector<std::string>* BehaviorCatalog::measures_of(const std::string& event_type) const {
    auto it = measures.find(event_type);
    return it == measures.end() ? nullptr : &it->second;
}

const core::PropertyTypes& BehaviorCatalog::property_types_of(const std::string& event_type) const {
    static const core::PropertyTypes none;
    auto it = property_types.find(event_type);
    return it == property_types.end() ? none : it->second;
}

const BehaviorCatalog& behavior_catalog() {
    if (stale || !cached) {
        retire(cached);  // a caller may still read the old one
        stale = false;
        cached = load();
    }
    return *cached;
}

void behavior_catalog_invalidate(Datum, Oid relid) {
    if (relid == InvalidOid || !cached || relid == cached->event_relid) partition_months.clear();
    if (relid == InvalidOid || !cached || !cached->installed || relid == cached->measure_relid ||
        relid == cached->property_relid || !OidIsValid(cached->property_relid))
        stale = true;
}

void ensure_event_partitions(const std::vector<TimestampTz>& times) {
    std::set<std::int64_t> missing;
    TimestampTz lo = 0, hi = 0;
    for (TimestampTz t : times) {
        std::int64_t m = month_of(t);
        if (partition_months.count(m)) continue;
        bool first = missing.empty();
        lo = first ? t : std::min(lo, t);
        hi = first ? t : std::max(hi, t);
        missing.insert(m);
    }
    if (missing.empty()) return;
    Datum args[2] = {TimestampTzGetDatum(lo), TimestampTzGetDatum(hi)};
    spi_run(ensure_plan, args, nullptr, false);
    // Months between lo and hi now exist too; remember only those asked for.
    partition_months.insert(missing.begin(), missing.end());
}

}  // namespace customer_profile::pg
