// Profile model: lookup, ordered insertion and validation rules.
#include "profile.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "error.hpp"

namespace customer_profile::core {

const char* trait_type_name(TraitType t) {
    switch (t) {
        case TraitType::null:
            return "null";
        case TraitType::boolean:
            return "boolean";
        case TraitType::number:
            return "number";
        case TraitType::text:
            return "text";
        case TraitType::timestamp:
            return "timestamp";
        case TraitType::text_array:
            return "text[]";
        case TraitType::point:
            return "point";
        case TraitType::object_array:
            return "object[]";
    }
    return "?";
}

TraitType trait_type_from_name(std::string_view name) {
    for (auto t : {TraitType::null, TraitType::boolean, TraitType::number, TraitType::text, TraitType::timestamp,
                   TraitType::text_array, TraitType::point, TraitType::object_array})
        if (name == trait_type_name(t)) return t;
    throw Error(ErrorCode::invalid_parameter, "unknown trait type \"" + std::string(name) + "\"", {},
                "Trait types are null, boolean, number, text, timestamp, text[], point and object[].");
}

bool TraitValue::operator==(const TraitValue& o) const {
    if (type != o.type) return false;
    switch (type) {
        case TraitType::null:
            return true;
        case TraitType::boolean:
            return boolean == o.boolean;
        case TraitType::number:
            return std::memcmp(&number, &o.number, sizeof number) == 0;
        case TraitType::text:
            return text == o.text;
        case TraitType::timestamp:
            return timestamp == o.timestamp;
        case TraitType::text_array:
            return array == o.array;
        case TraitType::point:
            return std::memcmp(&lat, &o.lat, sizeof lat) == 0 && std::memcmp(&lon, &o.lon, sizeof lon) == 0;
        case TraitType::object_array:
            return objects == o.objects;
    }
    return false;
}

const TraitValue* object_field(const TraitObject& object, std::string_view name) {
    auto it = std::lower_bound(object.begin(), object.end(), name,
                               [](const ObjectField& f, std::string_view n) { return f.name < n; });
    return it != object.end() && it->name == name ? &it->value : nullptr;
}

const Trait* Profile::find(std::string_view name) const {
    auto it = std::lower_bound(traits.begin(), traits.end(), name,
                               [](const Trait& t, std::string_view n) { return t.name < n; });
    return it != traits.end() && it->name == name ? &*it : nullptr;
}

void Profile::put(Trait trait) {
    auto it = std::lower_bound(traits.begin(), traits.end(), trait.name,
                               [](const Trait& t, const std::string& n) { return t.name < n; });
    if (it != traits.end() && it->name == trait.name)
        *it = std::move(trait);
    else
        traits.insert(it, std::move(trait));
}

bool valid_utf8(std::string_view s) {
    std::size_t i = 0;
    while (i < s.size()) {
        unsigned char c = static_cast<unsigned char>(s[i]);
        std::size_t n = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xE ? 3 : (c >> 3) == 0x1E ? 4 : 0;
        if (n == 0 || i + n > s.size() || c == 0) return false;
        if (n == 2 && c < 0xC2) return false;  // overlong
        for (std::size_t k = 1; k < n; ++k)
            if ((static_cast<unsigned char>(s[i + k]) >> 6) != 0x2) return false;
        if (n == 3) {
            unsigned char c1 = static_cast<unsigned char>(s[i + 1]);
            if ((c == 0xE0 && c1 < 0xA0) || (c == 0xED && c1 >= 0xA0)) return false;  // overlong, surrogates
        }
        if (n == 4) {
            unsigned char c1 = static_cast<unsigned char>(s[i + 1]);
            if ((c == 0xF0 && c1 < 0x90) || c > 0xF4 || (c == 0xF4 && c1 >= 0x90)) return false;
        }
        i += n;
    }
    return true;
}

void validate_trait(const Trait& t) {
    auto fail = [&](const std::string& why, ErrorCode code = ErrorCode::invalid_parameter) {
        throw Error(code, "trait \"" + (valid_utf8(t.name) ? t.name : std::string("?")) + "\": " + why);
    };
    if (t.name.empty()) fail("name is empty");
    if (t.name.size() > kMaxTraitNameBytes) fail("name is longer than 63 bytes", ErrorCode::value_too_long);
    if (!valid_utf8(t.name) || std::any_of(t.name.begin(), t.name.end(), [](unsigned char c) { return c < 0x20; }))
        fail("name is not printable UTF-8");
    if (t.source.size() > kMaxTraitSourceBytes) fail("source is longer than 200 bytes", ErrorCode::value_too_long);
    if (!valid_utf8(t.source)) fail("source is not valid UTF-8");
    if (!timestamp_in_range(t.observed_at)) fail("observed_at is outside years 0001-9999");
    const TraitValue& v = t.value;
    switch (v.type) {
        case TraitType::timestamp:
            if (!timestamp_in_range(v.timestamp)) fail("timestamp is outside years 0001-9999");
            break;
        case TraitType::number:
            if (!std::isfinite(v.number)) fail("number is not finite");
            break;
        case TraitType::text:
            if (v.text.size() > kMaxTraitTextBytes) fail("text is longer than 65536 bytes", ErrorCode::value_too_long);
            if (!valid_utf8(v.text)) fail("text is not valid UTF-8");
            break;
        case TraitType::text_array:
            if (v.array.size() > kMaxTraitArrayItems) fail("array has more than 1000 items", ErrorCode::value_too_long);
            for (const auto& s : v.array) {
                if (s.size() > kMaxTraitTextBytes)
                    fail("array item is longer than 65536 bytes", ErrorCode::value_too_long);
                if (!valid_utf8(s)) fail("array item is not valid UTF-8");
            }
            break;
        case TraitType::point:
            if (!(v.lat >= -90 && v.lat <= 90 && v.lon >= -180 && v.lon <= 180))
                fail("a point needs a latitude from -90 to 90 and a longitude from -180 to 180");
            break;
        case TraitType::object_array:
            if (v.objects.size() > kMaxTraitArrayItems)
                fail("list has more than 1000 objects", ErrorCode::value_too_long);
            for (const auto& object : v.objects) {
                if (object.size() > kMaxObjectFields)
                    fail("an object has more than 32 fields", ErrorCode::value_too_long);
                for (std::size_t i = 0; i < object.size(); ++i) {
                    const ObjectField& f = object[i];
                    if (f.name.empty() || f.name.size() > kMaxObjectFieldNameBytes || !valid_utf8(f.name))
                        fail("an object field needs a name of 1 to 63 bytes of UTF-8");
                    if (i > 0 && !(object[i - 1].name < f.name)) fail("object fields must be unique and sorted");
                    switch (f.value.type) {
                        case TraitType::null:
                        case TraitType::boolean:
                            break;
                        case TraitType::number:
                            if (!std::isfinite(f.value.number)) fail("number is not finite");
                            break;
                        case TraitType::text:
                            if (f.value.text.size() > kMaxTraitTextBytes)
                                fail("text is longer than 65536 bytes", ErrorCode::value_too_long);
                            if (!valid_utf8(f.value.text)) fail("text is not valid UTF-8");
                            break;
                        default:
                            fail("object fields hold null, a boolean, a number or text");
                    }
                }
            }
            break;
        default:
            break;
    }
}

}  // namespace customer_profile::core
