// Profile binary and text forms: exact round trips (also on random profiles)
// and strict rejection of malformed input.
#include <gtest/gtest.h>

#include <algorithm>

#include <cmath>
#include <random>

#include "core/profile_codec.hpp"
#include "core/profile_json.hpp"

using namespace customer_profile::core;

namespace {

Trait trait(std::string name, TraitValue v, std::string source = "crm", Micros at = 0) {
    Trait t;
    t.name = std::move(name);
    t.value = std::move(v);
    t.source = std::move(source);
    t.observed_at = at;
    return t;
}

TraitValue text(std::string s) {
    TraitValue v;
    v.type = TraitType::text;
    v.text = std::move(s);
    return v;
}

TraitValue number(double d) {
    TraitValue v;
    v.type = TraitType::number;
    v.number = d;
    return v;
}

Profile sample() {
    Profile p;
    p.put(trait("tier", text("gold"), "crm", 820540800000000));
    p.put(trait("ltv", number(1234.5), "web", -5));
    TraitValue b;
    b.type = TraitType::boolean;
    b.boolean = true;
    p.put(trait("vip", b));
    TraitValue ts;
    ts.type = TraitType::timestamp;
    ts.timestamp = 123456789;
    p.put(trait("signed_up", ts, "app"));
    TraitValue arr;
    arr.type = TraitType::text_array;
    arr.array = {"a", "b", "ünï"};
    p.put(trait("tags", arr, "support"));
    p.put(trait("nothing", TraitValue{}));
    return p;
}

Profile random_profile(std::mt19937_64& rng) {
    Profile p;
    int n = static_cast<int>(rng() % 12);
    auto random_string = [&](std::size_t max) {
        std::string s;
        std::size_t len = rng() % (max + 1);
        for (std::size_t i = 0; i < len; ++i) {
            int kind = static_cast<int>(rng() % 10);
            if (kind == 0)
                s += "\xC3\xA9";  // é
            else if (kind == 1)
                s += "\"\\\n\t";  // JSON escapes
            else
                s += static_cast<char>('a' + rng() % 26);
        }
        return s;
    };
    for (int i = 0; i < n; ++i) {
        TraitValue v;
        v.type = static_cast<TraitType>(rng() % 6);
        switch (v.type) {
            case TraitType::boolean:
                v.boolean = rng() % 2;
                break;
            case TraitType::number: {
                double choices[] = {0.0, -0.5, 1e300, 3.0, 1.0 / 3.0, -123456789.125, 9007199254740993.0};
                v.number = rng() % 2 ? choices[rng() % 7]
                                     : std::ldexp(static_cast<double>(rng() % 1000000), -static_cast<int>(rng() % 40));
                break;
            }
            case TraitType::text:
                v.text = random_string(40);
                break;
            case TraitType::timestamp:
                v.timestamp = kMinTimestamp +
                              static_cast<Micros>(rng() % static_cast<std::uint64_t>(kMaxTimestamp - kMinTimestamp));
                break;
            case TraitType::text_array:
                for (int k = static_cast<int>(rng() % 4); k > 0; --k) v.array.push_back(random_string(10));
                break;
            default:
                break;
        }
        std::string name = random_string(12);
        if (name.empty()) name = "x";
        if (name.find('\n') != std::string::npos || name.find('\t') != std::string::npos)
            name = "n" + std::to_string(i);
        p.put(trait(name, v, random_string(8), static_cast<Micros>(rng() % 1000000000000000ULL)));
    }
    return p;
}

}  // namespace

TEST(ProfileCodec, BinaryRoundTripIsExact) {
    Profile p = sample();
    std::string bytes = encode_profile(p);
    EXPECT_EQ(static_cast<unsigned char>(bytes[0]), kProfileFormatVersion);
    EXPECT_EQ(decode_profile(bytes), p);
    EXPECT_EQ(encode_profile(decode_profile(bytes)), bytes);
}

TEST(ProfileCodec, TraitsAreKeptSortedAndUnique) {
    Profile p;
    p.put(trait("b", text("1")));
    p.put(trait("a", text("2")));
    p.put(trait("b", text("3")));
    ASSERT_EQ(p.traits.size(), 2u);
    EXPECT_EQ(p.traits[0].name, "a");
    EXPECT_EQ(p.find("b")->value.text, "3");
    EXPECT_EQ(p.find("c"), nullptr);
}

TEST(ProfileCodec, FindTraitWithoutDecodingTheRest) {
    std::string bytes = encode_profile(sample());
    auto tier = find_trait(bytes, "tier");
    ASSERT_TRUE(tier.has_value());
    EXPECT_EQ(tier->value.text, "gold");
    EXPECT_EQ(tier->observed_at, 820540800000000);
    EXPECT_FALSE(find_trait(bytes, "zzz").has_value());
    EXPECT_FALSE(find_trait(bytes, "a").has_value());
}

TEST(ProfileCodec, RefusesOverlongVarints) {
    // Found by the fuzzer: 0x80 0x00 is a padded zero; a decoder that takes
    // it gives one profile two binary forms.
    EXPECT_THROW(decode_profile(std::string("\x01\x80\x00", 3)), Error);
    EXPECT_EQ(decode_profile(std::string("\x01\x00", 2)), Profile{});
}

TEST(ProfileCodec, DecodesOnlyTheNamedTraits) {
    Profile full = sample();
    std::string bytes = encode_profile(full);
    ASSERT_GE(full.traits.size(), 2u);
    std::vector<std::string> names = {full.traits.back().name, "absent", full.traits.front().name};
    std::sort(names.begin(), names.end());
    Profile subset = decode_profile_traits(bytes, names);
    ASSERT_EQ(subset.traits.size(), 2u);
    EXPECT_EQ(subset.traits.front(), full.traits.front());
    EXPECT_EQ(subset.traits.back(), full.traits.back());
    EXPECT_TRUE(decode_profile_traits(bytes, {}).traits.empty());
}

TEST(ProfileCodec, RejectsMalformedBinary) {
    std::string good = encode_profile(sample());
    auto rejects = [](const std::string& bytes) {
        try {
            decode_profile(bytes);
        } catch (const Error& e) {
            return e.code() == ErrorCode::invalid_text;
        }
        return false;
    };
    EXPECT_TRUE(rejects(""));
    EXPECT_TRUE(rejects(std::string("\x02\x00", 2))) << "unknown version";
    EXPECT_TRUE(rejects(good + "x")) << "trailing bytes";
    for (std::size_t cut = 1; cut < good.size(); ++cut) EXPECT_TRUE(rejects(good.substr(0, cut))) << cut;
    Profile unsorted = sample();
    std::swap(unsorted.traits[0], unsorted.traits[1]);
    EXPECT_TRUE(rejects(encode_profile(unsorted)));
    Profile nan;
    nan.traits.push_back(trait("n", number(std::nan(""))));
    EXPECT_TRUE(rejects(encode_profile(nan)));
    Profile bad_utf8;
    bad_utf8.traits.push_back(trait("t", text("\xC3\x28")));
    EXPECT_TRUE(rejects(encode_profile(bad_utf8)));
    std::string bad_type = encode_profile(sample());
    EXPECT_TRUE(rejects(std::string("\x01\x01\x01x\x00\x00\x09", 7))) << "type 9";
}

TEST(ProfileJson, TextRoundTripIsExactAndCanonical) {
    Profile p = sample();
    std::string text = format_profile_json(p);
    EXPECT_EQ(parse_profile_json(text), p);
    EXPECT_EQ(format_profile_json(parse_profile_json(text)), text);
    EXPECT_NE(text.find("\"tier\":{\"observed_at\":\"2026-01-01T00:00:00.000000Z\",\"source\":\"crm\",\"type\":"
                        "\"text\",\"value\":\"gold\"}"),
              std::string::npos)
        << text;
}

TEST(ProfileJson, InfersTypesAndAcceptsOffsets) {
    Profile p = parse_profile_json(
        R"({"traits": {"n": {"value": 42, "source": "crm", "observed_at": "2026-01-02T03:04:05+02:00"},
                       "s": {"value": "x", "source": "web", "observed_at": "2026-01-02 01:04:05.5Z"},
                       "t": {"value": "2026-01-02T03:04:05Z", "type": "timestamp", "source": "a", "observed_at": "2026-01-02T03:04:05Z"},
                       "a": {"value": ["p", "q"], "source": "a", "observed_at": "2026-01-02T03:04:05Z"}}})");
    EXPECT_EQ(p.find("n")->value.type, TraitType::number);
    EXPECT_EQ(p.find("n")->value.number, 42.0);
    EXPECT_EQ(p.find("n")->observed_at + 500000, p.find("s")->observed_at);
    EXPECT_EQ(p.find("t")->value.type, TraitType::timestamp);
    EXPECT_EQ(p.find("a")->value.array.size(), 2u);
    EXPECT_EQ(trait_value_json(p.find("n")->value), "42");
    EXPECT_EQ(*trait_value_text(p.find("s")->value), "x");
    EXPECT_EQ(trait_value_json(p.find("a")->value), R"(["p","q"])");
    EXPECT_EQ(profile_traits_json(p), R"({"a":["p","q"],"n":42,"s":"x","t":"2026-01-02T03:04:05.000000Z"})");
    EXPECT_TRUE(parse_profile_json("{}").traits.empty());
}

TEST(ProfileJson, RejectsBadShapesWithTheTraitName) {
    auto code_of = [](const std::string& text) {
        try {
            parse_profile_json(text);
        } catch (const Error& e) {
            return std::make_pair(e.code(), std::string(e.what()));
        }
        return std::make_pair(ErrorCode::internal, std::string("no error"));
    };
    const std::string at = R"("source": "crm", "observed_at": "2026-01-02T03:04:05Z")";
    EXPECT_EQ(code_of("{not json").first, ErrorCode::invalid_text);
    EXPECT_EQ(code_of("[]").first, ErrorCode::invalid_parameter);
    EXPECT_EQ(code_of(R"({"trait": {}})").first, ErrorCode::invalid_parameter);
    auto e = code_of(R"({"traits": {"age": {"value": "x", "type": "number", )" + at + "}}}");
    EXPECT_EQ(e.first, ErrorCode::invalid_parameter);
    EXPECT_NE(e.second.find("\"age\""), std::string::npos) << e.second;
    EXPECT_EQ(code_of(R"({"traits": {"t": {"value": "2026-13-01T00:00:00Z", "type": "timestamp", )" + at + "}}}").first,
              ErrorCode::invalid_text);
    EXPECT_EQ(code_of(R"({"traits": {"t": {"value": 1, "type": "decimal", )" + at + "}}}").first,
              ErrorCode::invalid_parameter);
    EXPECT_EQ(code_of(R"({"traits": {"t": {"value": 1}}})").first, ErrorCode::invalid_parameter);
    EXPECT_EQ(code_of(R"({"traits": {"t": {"value": [1], )" + at + "}}}").first, ErrorCode::invalid_parameter);
    EXPECT_EQ(code_of(R"({"traits": {"t": {"value": {"x": 1}, )" + at + "}}}").first, ErrorCode::invalid_parameter);
    EXPECT_EQ(code_of(R"({"traits": {"": {"value": 1, )" + at + "}}}").first, ErrorCode::invalid_parameter);
    EXPECT_EQ(code_of(R"({"traits": {")" + std::string(64, 'n') + R"(": {"value": 1, )" + at + "}}}").first,
              ErrorCode::value_too_long);
    EXPECT_EQ(code_of(R"({"traits": {"t": {"value": ")" + std::string(70000, 'x') + "\", " + at + "}}}").first,
              ErrorCode::value_too_long);
    EXPECT_EQ(code_of(R"({"traits": {"t": {"value": 1, "color": "red", )" + at + "}}}").first,
              ErrorCode::invalid_parameter);
}

// Fuzz-style property test: random profiles survive both forms exactly.
TEST(ProfileRoundTrip, RandomProfilesSurviveBothForms) {
    std::mt19937_64 rng(20261129);
    for (int i = 0; i < 3000; ++i) {
        Profile p = random_profile(rng);
        std::string bytes = encode_profile(p);
        ASSERT_EQ(decode_profile(bytes), p) << i;
        std::string text = format_profile_json(p);
        Profile back = parse_profile_json(text);
        ASSERT_EQ(encode_profile(back), bytes) << i << " " << text;
        ASSERT_EQ(format_profile_json(back), text) << i;
    }
}
