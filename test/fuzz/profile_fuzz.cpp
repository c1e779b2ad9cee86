// libFuzzer target for the profile type's inputs (make fuzz): the JSON text
// form (profile_in) and, for inputs starting with 0x00, the binary form
// (profile_recv). Text must be refused with core::Error or parse into a
// profile whose text form parses back to the same profile and whose binary
// form decodes to it; accepted binary must re-encode to the same bytes
// (the decoder accepts only the canonical form). Text is also read as event
// properties (where filters), declared and undeclared: a value of the
// declared type or null, never an exception for a JSON value. Anything else
// is a finding.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "core/error.hpp"
#include "core/profile_codec.hpp"
#include "core/profile_json.hpp"

using namespace customer_profile::core;

namespace {

void require(bool ok, const char* what) {
    if (!ok) {
        std::fprintf(stderr, "profile_fuzz: %s\n", what);
        std::abort();
    }
}

void exercise(const Profile& p) {
    (void)profile_traits_json(p);
    for (const auto& t : p.traits) {
        (void)trait_value_json(t.value);
        (void)trait_value_text(t.value);
    }
}

// An event's properties, as a where filter reads them.
void fuzz_properties(std::string_view json) {
    for (TraitType type : {TraitType::number, TraitType::text, TraitType::boolean, TraitType::timestamp}) {
        TraitValue v = property_value_as(json, type);
        require(v.type == type || v.type == TraitType::null, "a property converts to another type");
    }
    try {
        (void)properties_as_traits(json, {{"stay", TraitType::timestamp}, {"n", TraitType::number}});
    } catch (const Error&) {
        // not a JSON object: refused
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    std::string_view input(reinterpret_cast<const char*>(data), size);
    if (!input.empty() && input[0] == '\0') {
        Profile p;
        try {
            p = decode_profile(input.substr(1));
        } catch (const Error&) {
            return 0;
        }
        require(encode_profile(p) == input.substr(1), "accepted binary form is not canonical");
        require(parse_profile_json(format_profile_json(p)) == p, "binary profile does not survive its text form");
        exercise(p);
        return 0;
    }
    fuzz_properties(input);
    Profile p;
    try {
        p = parse_profile_json(input);
    } catch (const Error&) {
        return 0;
    }
    std::string text = format_profile_json(p);
    require(parse_profile_json(text) == p, "text form parses to another profile");
    require(format_profile_json(parse_profile_json(text)) == text, "text form is not stable");
    require(decode_profile(encode_profile(p)) == p, "binary form decodes to another profile");
    exercise(p);
    return 0;
}
