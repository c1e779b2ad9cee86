// ISO 8601 timestamps in microseconds since 2000-01-01 UTC.
#include <gtest/gtest.h>

#include <random>

#include "core/timestamp_text.hpp"

using namespace customer_profile::core;

TEST(TimestampText, EpochAndKnownDates) {
    EXPECT_EQ(format_timestamp(0), "2000-01-01T00:00:00.000000Z");
    EXPECT_EQ(format_timestamp(-1), "1999-12-31T23:59:59.999999Z");
    EXPECT_EQ(parse_timestamp("2000-01-01T00:00:00Z"), 0);
    EXPECT_EQ(parse_timestamp("2000-03-01T00:00:00Z"), 60LL * 86400 * 1000000);  // 2000 is a leap year
    EXPECT_EQ(parse_timestamp("2026-01-02 03:04:05.5+01:00"), parse_timestamp("2026-01-02T02:04:05.500000Z"));
    EXPECT_EQ(parse_timestamp("1970-01-01T00:00:00Z"), -946684800LL * 1000000);
}

TEST(TimestampText, RejectsMalformed) {
    for (const char* bad : {"", "2026-01-02", "2026-01-02T03:04:05", "2026-02-30T00:00:00Z", "2026-01-02T24:00:00Z",
                            "2026-01-02T03:04:05.1234567Z", "2026-01-02T03:04:05Zjunk", "0000-01-01T00:00:00Z",
                            "2026-1-02T03:04:05Z", "2026-01-02T03:04:05+25:00"})
        EXPECT_THROW(parse_timestamp(bad), Error) << bad;
}

TEST(TimestampText, RangeIsYears1To9999) {
    EXPECT_EQ(format_timestamp(kMinTimestamp), "0001-01-01T00:00:00.000000Z");
    EXPECT_EQ(format_timestamp(kMaxTimestamp), "9999-12-31T23:59:59.999999Z");
    EXPECT_EQ(parse_timestamp("9999-12-31T23:59:59.999999Z"), kMaxTimestamp);
    EXPECT_THROW(parse_timestamp("9999-12-31T23:59:59-01:00"), Error);
}

TEST(TimestampText, RoundTripsRandomInstants) {
    std::mt19937_64 rng(7);
    for (int i = 0; i < 20000; ++i) {
        Micros t =
            kMinTimestamp + static_cast<Micros>(rng() % static_cast<std::uint64_t>(kMaxTimestamp - kMinTimestamp));
        ASSERT_EQ(parse_timestamp(format_timestamp(t)), t) << t;
    }
}
