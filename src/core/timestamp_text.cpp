// Civil-date arithmetic after Howard Hinnant's days_from_civil algorithms.
#include "timestamp_text.hpp"

#include <cstdio>

namespace customer_profile::core {
namespace {

constexpr Micros kMicrosPerSecond = 1000000;
constexpr Micros kMicrosPerDay = 86400 * kMicrosPerSecond;
constexpr std::int64_t kUnixToPostgresDays = 10957;  // 1970-01-01 .. 2000-01-01

std::int64_t days_from_civil(std::int64_t y, unsigned m, unsigned d) {
    y -= m <= 2;
    const std::int64_t era = (y >= 0 ? y : y - 399) / 400;
    const unsigned yoe = static_cast<unsigned>(y - era * 400);
    const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + static_cast<std::int64_t>(doe) - 719468;
}

void civil_from_days(std::int64_t z, std::int64_t& y, unsigned& m, unsigned& d) {
    z += 719468;
    const std::int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    const unsigned doe = static_cast<unsigned>(z - era * 146097);
    const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    y = static_cast<std::int64_t>(yoe) + era * 400;
    const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    const unsigned mp = (5 * doy + 2) / 153;
    d = doy - (153 * mp + 2) / 5 + 1;
    m = mp < 10 ? mp + 3 : mp - 9;
    y += m <= 2;
}

bool is_leap(std::int64_t y) {
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

unsigned days_in_month(std::int64_t y, unsigned m) {
    static const unsigned days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return m == 2 && is_leap(y) ? 29 : days[m - 1];
}

[[noreturn]] void bad(const std::string& why) {
    throw Error(ErrorCode::invalid_text, "invalid timestamp: " + why, {},
                "Use ISO 8601, e.g. 2026-01-02T03:04:05Z or 2026-01-02 03:04:05.5+01:00.");
}

// Reads exactly n digits at pos.
int digits(std::string_view s, std::size_t& pos, int n) {
    int v = 0;
    for (int i = 0; i < n; ++i, ++pos) {
        if (pos >= s.size() || s[pos] < '0' || s[pos] > '9')
            bad("expected a digit at position " + std::to_string(pos + 1));
        v = v * 10 + (s[pos] - '0');
    }
    return v;
}

void expect(std::string_view s, std::size_t& pos, char c) {
    if (pos >= s.size() || s[pos] != c) bad(std::string("expected '") + c + "' at position " + std::to_string(pos + 1));
    ++pos;
}

}  // namespace

std::string format_timestamp(Micros t) {
    Micros day = t >= 0 ? t / kMicrosPerDay : -((-t + kMicrosPerDay - 1) / kMicrosPerDay);
    Micros rem = t - day * kMicrosPerDay;
    std::int64_t y;
    unsigned m, d;
    civil_from_days(day + kUnixToPostgresDays, y, m, d);
    char buf[64];
    std::snprintf(buf, sizeof buf, "%04lld-%02u-%02uT%02lld:%02lld:%02lld.%06lldZ", static_cast<long long>(y), m, d,
                  static_cast<long long>(rem / (3600 * kMicrosPerSecond)),
                  static_cast<long long>(rem / (60 * kMicrosPerSecond) % 60),
                  static_cast<long long>(rem / kMicrosPerSecond % 60), static_cast<long long>(rem % kMicrosPerSecond));
    return buf;
}

namespace {

// lenient: a missing zone is UTC, a date alone is its midnight.
Micros parse(std::string_view s, bool lenient) {
    std::size_t pos = 0;
    int year = digits(s, pos, 4);
    expect(s, pos, '-');
    int month = digits(s, pos, 2);
    expect(s, pos, '-');
    int day = digits(s, pos, 2);
    bool date_only = lenient && pos == s.size();
    int hour = 0, minute = 0, second = 0;
    if (!date_only) {
        if (pos >= s.size() || (s[pos] != 'T' && s[pos] != ' ')) bad("expected 'T' between date and time");
        ++pos;
        hour = digits(s, pos, 2);
        expect(s, pos, ':');
        minute = digits(s, pos, 2);
        expect(s, pos, ':');
        second = digits(s, pos, 2);
    }
    Micros fraction = 0;
    if (pos < s.size() && s[pos] == '.') {
        ++pos;
        int n = 0;
        while (pos < s.size() && s[pos] >= '0' && s[pos] <= '9') {
            if (++n > 6) bad("more than 6 fractional digits");
            fraction = fraction * 10 + (s[pos++] - '0');
        }
        if (n == 0) bad("expected digits after '.'");
        for (; n < 6; ++n) fraction *= 10;
    }
    Micros offset = 0;
    if (lenient && pos == s.size()) {
        // no zone: UTC
    } else if (pos < s.size() && s[pos] == 'Z') {
        ++pos;
    } else if (pos < s.size() && (s[pos] == '+' || s[pos] == '-')) {
        int sign = s[pos++] == '-' ? -1 : 1;
        int oh = digits(s, pos, 2), om = 0;
        if (pos < s.size() && s[pos] == ':') ++pos;
        if (pos < s.size()) om = digits(s, pos, 2);
        if (oh > 15 || om > 59) bad("time zone offset out of range");
        offset = sign * (oh * 3600 + om * 60) * kMicrosPerSecond;
    } else {
        bad("expected a time zone (Z or +HH:MM)");
    }
    if (pos != s.size()) bad("unexpected text after the time zone");
    if (year < 1 || month < 1 || month > 12 || day < 1 || static_cast<unsigned>(day) > days_in_month(year, month))
        bad("no such date");
    if (hour > 23 || minute > 59 || second > 59) bad("no such time of day");
    Micros days = days_from_civil(year, month, day) - kUnixToPostgresDays;
    Micros t = days * kMicrosPerDay + ((hour * 60 + minute) * 60 + second) * kMicrosPerSecond + fraction - offset;
    if (!timestamp_in_range(t)) bad("outside years 0001-9999 once converted to UTC");
    return t;
}

}  // namespace

Micros parse_timestamp(std::string_view s) {
    return parse(s, false);
}

std::optional<Micros> parse_property_timestamp(std::string_view s) {
    try {
        return parse(s, true);
    } catch (const Error&) {
        return std::nullopt;
    }
}

}  // namespace customer_profile::core
