// Blocked values and RE2 patterns.
#include <gtest/gtest.h>

#include "core/blocklist.hpp"

using namespace customer_profile::core;

TEST(Blocklist, ExactValuesAreCaseInsensitive) {
    Blocklist b({"null", "Test@Example.com"}, {});
    EXPECT_EQ(b.check("NULL").rule, BlockMatch::Rule::blocked_value);
    EXPECT_EQ(b.check("test@example.com").rule, BlockMatch::Rule::blocked_value);
    EXPECT_EQ(b.check("ann@example.com").rule, BlockMatch::Rule::none);
}

TEST(Blocklist, PlaceholderCheckTrimsRawValues) {
    Blocklist b({"", "null"}, {"^x"});
    EXPECT_EQ(b.check_placeholder("   ").rule, BlockMatch::Rule::blocked_value);
    EXPECT_EQ(b.check_placeholder(" Null ").rule, BlockMatch::Rule::blocked_value);
    EXPECT_EQ(b.check_placeholder("xyz").rule, BlockMatch::Rule::none) << "patterns apply after normalization only";
}

TEST(Blocklist, PatternsSearchAnywhere) {
    Blocklist b({}, {"^(no-?reply)@", "qa[0-9]+"});
    auto m = b.check("noreply@shop.com");
    EXPECT_EQ(m.rule, BlockMatch::Rule::blocked_pattern);
    EXPECT_EQ(m.what, "^(no-?reply)@");
    EXPECT_EQ(b.check("user-qa17-device").rule, BlockMatch::Rule::blocked_pattern);
    EXPECT_EQ(b.check("reply@shop.com").rule, BlockMatch::Rule::none);
}

TEST(Blocklist, BadPatternsAreRefusedWithTheirText) {
    try {
        validate_block_patterns({"ok", "(unclosed"});
        FAIL() << "expected an error";
    } catch (const Error& e) {
        EXPECT_EQ(e.code(), ErrorCode::invalid_text);
        EXPECT_NE(std::string(e.what()).find("(unclosed"), std::string::npos);
    }
    EXPECT_THROW(validate_block_patterns({"(a)\\1"}), Error) << "backreferences are not linear-time";
}

TEST(Blocklist, HostilePatternRunsInLinearTime) {
    Blocklist b({}, {"(a+)+$"});
    std::string evil(100000, 'a');
    evil += "!";
    // Catastrophic for a backtracking engine; RE2 answers at once.
    EXPECT_EQ(b.check(evil).rule, BlockMatch::Rule::none);
    EXPECT_EQ(b.check(std::string(100000, 'a')).rule, BlockMatch::Rule::blocked_pattern);
}
