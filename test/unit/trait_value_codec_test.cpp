// The trait value codec on its own: every type round-trips in both uses, a
// skipped value is read past exactly, and each use admits and refuses what
// its codec always did (binary_format_test.cpp pins the bytes in context).
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "core/error.hpp"
#include "core/trait_value_codec.hpp"

using namespace customer_profile::core;

namespace {

std::vector<TraitValue> one_of_each_scalar() {
    std::vector<TraitValue> out(5);
    out[0].type = TraitType::null;
    out[1].type = TraitType::boolean;
    out[1].boolean = true;
    out[2].type = TraitType::number;
    out[2].number = -1234.5;
    out[3].type = TraitType::text;
    out[3].text = "gold \xc3\xbc";
    out[4].type = TraitType::timestamp;
    out[4].timestamp = -86400000000;
    return out;
}

TraitValue tags() {
    TraitValue v;
    v.type = TraitType::text_array;
    v.array = {"a", "", "b"};
    return v;
}

std::string written(const TraitValue& v) {
    Writer w;
    write_trait_value(w, v);
    return w.take();
}

std::string refusal(const std::string& bytes, TraitValueUse use) {
    Reader r(bytes, "test");
    try {
        read_trait_value(r, use);
    } catch (const Error& e) {
        return e.what();
    }
    return "no error";
}

}  // namespace

TEST(TraitValueCodec, EveryTypeRoundTripsInBothUses) {
    for (const TraitValue& v : one_of_each_scalar()) {
        for (TraitValueUse use : {TraitValueUse::stored_trait, TraitValueUse::predicate_literal}) {
            std::string bytes = written(v);
            Reader r(bytes, "test");
            EXPECT_EQ(read_trait_value(r, use), v);
            EXPECT_TRUE(r.done());
        }
    }
    std::string bytes = written(tags());
    Reader r(bytes, "test");
    EXPECT_EQ(read_trait_value(r, TraitValueUse::stored_trait), tags());
    EXPECT_TRUE(r.done());
}

TEST(TraitValueCodec, TheTypeByteComesFirst) {
    EXPECT_EQ(written(TraitValue{}), std::string(1, '\0'));
    EXPECT_EQ(written(tags()), std::string("\x05\x03\x01"
                                           "a"
                                           "\x00\x01"
                                           "b",
                                           7));
}

TEST(TraitValueCodec, ASkippedValueIsReadPastWithoutCopies) {
    std::string bytes = written(one_of_each_scalar()[3]) + written(tags()) + "x";
    Reader r(bytes, "test");
    EXPECT_TRUE(read_trait_value(r, TraitValueUse::stored_trait, false).text.empty());
    EXPECT_TRUE(read_trait_value(r, TraitValueUse::stored_trait, false).array.empty());
    EXPECT_EQ(r.u8(), 'x');
    EXPECT_TRUE(r.done());
}

TEST(TraitValueCodec, EachUseRefusesInItsOwnWords) {
    using U = TraitValueUse;
    EXPECT_EQ(refusal(written(tags()), U::predicate_literal), "invalid binary test: invalid value type (at byte 1)");
    EXPECT_EQ(refusal("\x08", U::stored_trait), "invalid binary test: unknown trait type 8 (at byte 1)");
    EXPECT_EQ(refusal("\x06", U::predicate_literal), "invalid binary test: invalid value type (at byte 1)");
    EXPECT_EQ(refusal("\x01\x02", U::stored_trait), "invalid binary test: boolean is neither 0 nor 1 (at byte 2)");
    EXPECT_EQ(refusal("\x01\x02", U::predicate_literal), "invalid binary test: flag is neither 0 nor 1 (at byte 2)");
    TraitValue inf;
    inf.type = TraitType::number;
    inf.number = std::numeric_limits<double>::infinity();
    // A stored trait's number is checked with the whole trait, after reading.
    EXPECT_EQ(refusal(written(inf), U::stored_trait), "no error");
    EXPECT_EQ(refusal(written(inf), U::predicate_literal), "invalid binary test: non-finite number (at byte 9)");
    TraitValue far;
    far.type = TraitType::timestamp;
    far.timestamp = std::numeric_limits<std::int64_t>::max();
    EXPECT_EQ(refusal(written(far), U::stored_trait), "no error");
    EXPECT_EQ(refusal(written(far), U::predicate_literal), "invalid binary test: timestamp out of range (at byte 11)");
    EXPECT_EQ(refusal("\x03\x05"
                      "abc",
                      U::stored_trait),
              "invalid binary test: truncated (at byte 2)");
    EXPECT_EQ(refusal(std::string("\x05\xe9\x07", 3), U::stored_trait),
              "invalid binary test: array longer than its limit (at byte 3)");
}
