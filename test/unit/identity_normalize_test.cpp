// Normalizer rules: what is accepted, what canonical form it takes, what is refused.
#include <gtest/gtest.h>

#include "core/identity_normalize.hpp"

using namespace customer_profile::core;

namespace {
ErrorCode code_of(Normalizer n, const std::string& v, const NormalizeOptions& o = {}) {
    try {
        normalize_identifier(n, v, o);
    } catch (const Error& e) {
        return e.code();
    }
    ADD_FAILURE() << "expected an error for '" << v << "'";
    return ErrorCode::internal;
}
}  // namespace

TEST(EmailNormalizer, TrimsAndLowercases) {
    EXPECT_EQ(normalize_identifier(Normalizer::email, "  Ann.Lee@Example.COM\t"), "ann.lee@example.com");
}

TEST(EmailNormalizer, RejectsMalformed) {
    for (const char* bad :
         {"", "ann", "a@@b.com", "a@b", "@b.com", "a@.com", "a@b.com.", "a b@c.com", "a..b@c.com", ".a@c.com"})
        EXPECT_EQ(code_of(Normalizer::email, bad), ErrorCode::invalid_text) << bad;
}

TEST(EmailNormalizer, EnforcesLengths) {
    EXPECT_EQ(code_of(Normalizer::email, std::string(65, 'a') + "@x.com"), ErrorCode::invalid_text);
    EXPECT_EQ(normalize_identifier(Normalizer::email, std::string(64, 'a') + "@x.com").size(), 70u);
}

TEST(PhoneNormalizer, FormatsE164WithDefaultRegion) {
    EXPECT_EQ(normalize_identifier(Normalizer::phone, "(202) 456-1111"), "+12024561111");
    NormalizeOptions de;
    de.default_phone_region = "DE";
    EXPECT_EQ(normalize_identifier(Normalizer::phone, "030 901820", de), "+4930901820");
    EXPECT_EQ(normalize_identifier(Normalizer::phone, "+44 20 7946 0958", de), "+442079460958");
}

TEST(PhoneNormalizer, RejectsInvalid) {
    EXPECT_EQ(code_of(Normalizer::phone, "call me"), ErrorCode::invalid_text);
    EXPECT_EQ(code_of(Normalizer::phone, "123"), ErrorCode::invalid_text);
    EXPECT_EQ(code_of(Normalizer::phone, "   "), ErrorCode::invalid_text);
}

TEST(TrimNormalizer, KeepsCaseAndRejectsEmptyOrHuge) {
    EXPECT_EQ(normalize_identifier(Normalizer::trim, "  C-42 "), "C-42");
    EXPECT_EQ(normalize_identifier(Normalizer::lowercase, " AbC "), "abc");
    EXPECT_EQ(code_of(Normalizer::trim, " \t "), ErrorCode::invalid_text);
    EXPECT_EQ(code_of(Normalizer::trim, std::string(kMaxIdentifierBytes + 1, 'x')), ErrorCode::value_too_long);
    EXPECT_EQ(code_of(Normalizer::trim, std::string(10'000'000, 'x')), ErrorCode::value_too_long);
}

TEST(Normalizers, NamesRoundTrip) {
    for (auto n : {Normalizer::trim, Normalizer::lowercase, Normalizer::email, Normalizer::phone})
        EXPECT_EQ(normalizer_from_name(normalizer_name(n)), n);
    EXPECT_THROW(normalizer_from_name("soundex"), Error);
}

TEST(PhoneRegions, KnownAndUnknown) {
    EXPECT_TRUE(phone_region_supported("US"));
    EXPECT_TRUE(phone_region_supported("DE"));
    EXPECT_FALSE(phone_region_supported("XX"));
    EXPECT_FALSE(phone_region_supported("USA"));
}

TEST(PhoneNormalizer, MemoizedResultsAreKeyedByRegion) {
    NormalizeOptions de, us;
    de.default_phone_region = "DE";
    us.default_phone_region = "US";
    EXPECT_EQ(normalize_identifier(Normalizer::phone, "030 901820", de), "+4930901820");
    EXPECT_EQ(normalize_identifier(Normalizer::phone, "030 901820", de), "+4930901820");
    EXPECT_EQ(code_of(Normalizer::phone, "030 901820", us), ErrorCode::invalid_text);
    // Many distinct numbers overflow the memo; results stay right.
    for (int i = 0; i < 5000; ++i) {
        std::string local = "202456" + std::to_string(1000 + i % 9000);
        EXPECT_EQ(normalize_identifier(Normalizer::phone, local, us), "+1" + local);
    }
}

TEST(Normalizers, RefuseInvalidUtf8WithoutEchoingIt) {
    for (Normalizer n : {Normalizer::trim, Normalizer::lowercase, Normalizer::email, Normalizer::phone}) {
        try {
            normalize_identifier(n, "  Ann@E\xffxample.com ");
            ADD_FAILURE() << normalizer_name(n) << " accepted invalid UTF-8";
        } catch (const Error& e) {
            EXPECT_EQ(e.code(), ErrorCode::invalid_text);
            EXPECT_STREQ(e.what(), "identifier is not valid UTF-8");
        }
    }
}
