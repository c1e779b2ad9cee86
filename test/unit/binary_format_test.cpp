// The binary forms that hold trait values, pinned byte for byte: a trait's
// value in a stored profile and a literal in a compiled segment predicate
// (both written by the trait value codec since issue 15). The bytes and the
// refusals were taken from the profile and predicate codecs before that
// codec was extracted from them: stored profiles and predicates must keep
// decoding, and a changed encoding is a new format version, never an edit.
#include <gtest/gtest.h>

#include <string>

#include "core/error.hpp"
#include "core/predicate_codec.hpp"
#include "core/predicate_parser.hpp"
#include "core/profile_codec.hpp"

using namespace customer_profile::core;

namespace {

std::string hex(const std::string& bytes) {
    static const char digits[] = "0123456789abcdef";
    std::string out;
    for (unsigned char c : bytes) {
        out += digits[c >> 4];
        out += digits[c & 15];
    }
    return out;
}

std::string unhex(const std::string& text) {
    std::string out;
    for (std::size_t i = 0; i + 1 < text.size(); i += 2)
        out += static_cast<char>(std::stoi(text.substr(i, 2), nullptr, 16));
    return out;
}

Trait trait(std::string name, TraitValue value, std::string source, Micros observed_at) {
    Trait t;
    t.name = std::move(name);
    t.value = std::move(value);
    t.source = std::move(source);
    t.observed_at = observed_at;
    return t;
}

TraitValue of(TraitType type) {
    TraitValue v;
    v.type = type;
    return v;
}

TraitValue boolean(bool b) {
    TraitValue v = of(TraitType::boolean);
    v.boolean = b;
    return v;
}

TraitValue number(double d) {
    TraitValue v = of(TraitType::number);
    v.number = d;
    return v;
}

TraitValue text(std::string s) {
    TraitValue v = of(TraitType::text);
    v.text = std::move(s);
    return v;
}

TraitValue timestamp(Micros m) {
    TraitValue v = of(TraitType::timestamp);
    v.timestamp = m;
    return v;
}

TraitValue text_array(std::vector<std::string> items) {
    TraitValue v = of(TraitType::text_array);
    v.array = std::move(items);
    return v;
}

// The message of the error decoding throws.
template <typename Decode>
std::string refusal(Decode decode, const std::string& hex_bytes) {
    try {
        decode(unhex(hex_bytes));
    } catch (const Error& e) {
        return e.what();
    }
    return "no error";
}

}  // namespace

// One trait "k" from "crm" observed at 7 us, with a value of each type.
TEST(BinaryFormat, TraitValuesInAProfileArePinned) {
    struct Case {
        TraitValue value;
        const char* bytes;
    };
    const Case cases[] = {
        {of(TraitType::null), "0101016b0363726d0e00"},                              // null
        {boolean(true), "0101016b0363726d0e0101"},                                  // true
        {boolean(false), "0101016b0363726d0e0100"},                                 // false
        {number(1234.5), "0101016b0363726d0e0200000000004a9340"},                   // number
        {number(-0.25), "0101016b0363726d0e02000000000000d0bf"},                    // negative
        {text("gold"), "0101016b0363726d0e0304676f6c64"},                           // text
        {text("\xc3\xbcn\xc3\xaf"), "0101016b0363726d0e0305c3bc6ec3af"},            // utf8
        {timestamp(820540800000000), "0101016b0363726d0e048080c3aee191f502"},       // timestamp
        {timestamp(-5), "0101016b0363726d0e0409"},                                  // before2000
        {text_array({"a", "", "\xc3\xbc"}), "0101016b0363726d0e050301610002c3bc"},  // array
        {text_array({}), "0101016b0363726d0e0500"},                                 // empty_array
    };
    for (const Case& c : cases) {
        Profile p;
        p.put(trait("k", c.value, "crm", 7));
        EXPECT_EQ(hex(encode_profile(p)), c.bytes);
        EXPECT_EQ(decode_profile(unhex(c.bytes)), p) << c.bytes;
    }
}

TEST(BinaryFormat, AWholeProfileIsPinned) {
    Profile p;
    p.put(trait("tier", text("gold"), "crm", 820540800000000));
    p.put(trait("ltv", number(1234.5), "web", -5));
    p.put(trait("vip", boolean(true), "crm", 0));
    p.put(trait("signed_up", timestamp(820540800000000), "app", 1));
    p.put(trait("tags", text_array({"a", "", "\xc3\xbc"}), "support", 2));
    p.put(trait("nothing", of(TraitType::null), "x", 3));
    const char* bytes =
        "0106036c747603776562090200000000004a9340076e6f7468696e6701780600097369676e65645f75700361707002048080"
        "c3aee191f502047461677307737570706f727404050301610002c3bc04746965720363726d8080c3aee191f5020304676f6c6403766970"
        "0363726d000101";
    EXPECT_EQ(hex(encode_profile(p)), bytes);
    EXPECT_EQ(decode_profile(unhex(bytes)), p);
    EXPECT_EQ(find_trait(unhex(bytes), "ltv")->value, number(1234.5));
}

// Literals of every type a predicate holds.
TEST(BinaryFormat, PredicateLiteralsArePinned) {
    struct Case {
        const char* text;
        const char* bytes;
    };
    const Case cases[] = {
        {"tier = 'gold'", "010300000474696572010304676f6c64"},
        {"ltv > 1234.5", "01030400036c7476010200000000004a9340"},
        {"vip = TRUE AND churned = FALSE AND note = NULL",
         "0100030300000376697001010103000007636875726e6564010100030000046e6f74650100"},
        {"signup_at > timestamp '2026-01-02T02:04:05.000000Z'", "01030400097369676e75705f6174010480bd8bc89c97f502"},
        {"city IN ('Lyon', NULL, TRUE, -2.5, timestamp '1999-12-31T23:59:59.999999Z', '\xc3\xbcn\xc3\xaf')",
         "0104000004636974790603044c796f6e0001010200000000000004c004010305c3bc6ec3af"},
        {"count(email_open where campaign = 'spring' within 14 days) > 0",
         "010304040a656d61696c5f6f70656e008080ba9cb446010300000863616d706169676e"
         "010306737072696e6701020000000000000000"},
    };
    for (const Case& c : cases) {
        PredicateNode tree = parse_predicate(c.text);
        EXPECT_EQ(hex(encode_predicate(tree)), c.bytes) << c.text;
        EXPECT_EQ(decode_predicate(unhex(c.bytes)), tree) << c.text;
    }
}

// Binary input is user-visible (profile_recv, segment_predicate_recv,
// profile_from_binary): each codec keeps its wording and byte positions.
TEST(BinaryFormat, RefusalsKeepTheirWording) {
    auto profile = [](const std::string& b) { decode_profile(b); };
    auto predicate = [](const std::string& b) { decode_predicate(b); };
    // A profile with one trait "k" from "crm" observed at 7 us, then the value.
    // (types 6 and 7, point and object[], came in 1.6)
    EXPECT_EQ(refusal(profile, "0101016b0363726d0e08"), "invalid binary profile: unknown trait type 8 (at byte 10)");
    EXPECT_EQ(refusal(profile, "0101016b0363726d0e0102"),
              "invalid binary profile: boolean is neither 0 nor 1 (at byte 11)");
    EXPECT_EQ(refusal(profile, "0101016b0363726d0e0200"), "invalid binary profile: truncated (at byte 11)");
    EXPECT_EQ(refusal(profile, "0101016b0363726d0e02000000000000f07f"),
              "invalid binary profile: trait \"k\": number is not finite (at byte 18)");
    EXPECT_EQ(refusal(profile, "0101016b0363726d0e04feffffffffffffffff01"),
              "invalid binary profile: trait \"k\": timestamp is outside years 0001-9999 (at byte 20)");
    EXPECT_EQ(refusal(profile, "0101016b0363726d0e05ffffffff0f"),
              "invalid binary profile: array longer than its limit (at byte 15)");
    // tier = <literal>, ltv > <literal>: a literal is never an array.
    EXPECT_EQ(refusal(predicate, "010300000474696572010504"),
              "invalid binary segment predicate: invalid value type (at byte 11)");
    EXPECT_EQ(refusal(predicate, "01030000047469657201050100"),
              "invalid binary segment predicate: invalid value type (at byte 11)");
    EXPECT_EQ(refusal(predicate, "010300000474696572010102"),
              "invalid binary segment predicate: flag is neither 0 nor 1 (at byte 12)");
    EXPECT_EQ(refusal(predicate, "01030400036c74760102000000000000f07f"),
              "invalid binary segment predicate: non-finite number (at byte 18)");
    EXPECT_EQ(refusal(predicate, "01030400036c74760104feffffffffffffffff01"),
              "invalid binary segment predicate: timestamp out of range (at byte 20)");
    EXPECT_EQ(refusal(predicate, "010300000474696572010304676f"),
              "invalid binary segment predicate: truncated (at byte 12)");
}
