// Local calendar days (see time_zone.hpp).
#include "pg/infra/time_zone.hpp"

#include <map>
#include <tuple>

#include "pg/infra/boundary.hpp"
#include "pg/infra/pg_headers.hpp"

extern "C" {
#include "pgtime.h"
}

namespace customer_profile::pg {
namespace {

// Evaluations of one transaction ask for the same few days again and again.
constexpr std::size_t kMaxCachedDays = 256;
std::map<std::tuple<std::string, core::Micros, std::int64_t>, core::Micros> cached_days;

}  // namespace

bool time_zone_known(const std::string& zone) {
    bool known = false;
    pg_guard([&] { known = pg_tzset(zone.c_str()) != nullptr; });
    return known;
}

std::optional<core::Micros> local_day_start(const std::string& zone, core::Micros now, std::int64_t days) {
    auto key = std::make_tuple(zone, now, days);
    if (auto hit = cached_days.find(key); hit != cached_days.end()) return hit->second;
    if (!time_zone_known(zone)) return std::nullopt;
    core::Micros start = 0;
    pg_guard([&] {
        Datum zone_text = CStringGetTextDatum(zone.c_str());
        Datum local = DirectFunctionCall2(timestamptz_zone, zone_text, TimestampTzGetDatum(now));
        Datum midnight = DirectFunctionCall2(timestamp_trunc, CStringGetTextDatum("day"), local);
        Interval shift{};
        shift.day = static_cast<int32>(days);
        Datum shifted = DirectFunctionCall2(timestamp_pl_interval, midnight, IntervalPGetDatum(&shift));
        start = DatumGetTimestampTz(DirectFunctionCall2(timestamp_zone, zone_text, shifted));
    });
    if (cached_days.size() >= kMaxCachedDays) cached_days.clear();
    cached_days.emplace(std::move(key), start);
    return start;
}

std::function<std::optional<core::Micros>(const std::string&, std::int64_t)> day_start_at(core::Micros now) {
    return [now](const std::string& zone, std::int64_t days) { return local_day_start(zone, now, days); };
}

}  // namespace customer_profile::pg
