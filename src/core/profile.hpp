// The unified profile as plain C++ values: merged traits, each with its
// value, the source it came from and when it was observed. Serialized by
// profile_codec (binary, the stored form) and profile_json (text form).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "timestamp_text.hpp"

namespace customer_profile::core {

enum class TraitType : std::uint8_t {
    null = 0,
    boolean = 1,
    number = 2,
    text = 3,
    timestamp = 4,
    text_array = 5,
    point = 6,        // a place: latitude and longitude in degrees (WGS 84)
    object_array = 7  // a list of small objects whose fields are null, boolean, number or text
};

const char* trait_type_name(TraitType t);
// Throws Error(invalid_parameter) for an unknown name.
TraitType trait_type_from_name(std::string_view name);

struct ObjectField;
// One object of an object_array: its fields sorted by name, names unique.
using TraitObject = std::vector<ObjectField>;

struct TraitValue {
    TraitType type = TraitType::null;
    bool boolean = false;
    double number = 0;  // finite
    std::string text;
    Micros timestamp = 0;              // microseconds since 2000-01-01 UTC
    std::vector<std::string> array;    // text_array
    double lat = 0, lon = 0;           // point: -90..90, -180..180
    std::vector<TraitObject> objects;  // object_array

    bool operator==(const TraitValue& o) const;
};

struct ObjectField {
    std::string name;
    TraitValue value;  // null, boolean, number or text
    bool operator==(const ObjectField& o) const { return name == o.name && value == o.value; }
};

// The field of an object, or nullptr.
const TraitValue* object_field(const TraitObject& object, std::string_view name);

struct Trait {
    std::string name;
    TraitValue value;
    std::string source;
    Micros observed_at = 0;

    bool operator==(const Trait& o) const {
        return name == o.name && value == o.value && source == o.source && observed_at == o.observed_at;
    }
};

// Limits, checked by every decoder so stored profiles never exceed them.
constexpr std::size_t kMaxTraits = 1000;
constexpr std::size_t kMaxTraitNameBytes = 63;
constexpr std::size_t kMaxTraitSourceBytes = 200;
constexpr std::size_t kMaxTraitTextBytes = 65536;
constexpr std::size_t kMaxTraitArrayItems = 1000;  // also objects of an object_array
constexpr std::size_t kMaxObjectFields = 32;
constexpr std::size_t kMaxObjectFieldNameBytes = 63;

struct Profile {
    std::vector<Trait> traits;  // sorted by name (bytewise), names unique

    const Trait* find(std::string_view name) const;
    // Inserts or replaces, keeping the order.
    void put(Trait trait);
    bool operator==(const Profile& o) const { return traits == o.traits; }
};

// Throws Error naming the trait when a trait breaks a limit or rule
// (empty or control-character name, non-finite number, invalid UTF-8...).
void validate_trait(const Trait& trait);

bool valid_utf8(std::string_view s);

}  // namespace customer_profile::core
