// The trait value codec (see trait_value_codec.hpp for the layout).
#include "trait_value_codec.hpp"

#include <cmath>
#include <string>

#include "predicate.hpp"
#include "timestamp_text.hpp"

namespace customer_profile::core {

void write_trait_value(Writer& w, const TraitValue& v) {
    w.u8(static_cast<std::uint8_t>(v.type));
    switch (v.type) {
        case TraitType::null:
            break;
        case TraitType::boolean:
            w.u8(v.boolean ? 1 : 0);
            break;
        case TraitType::number:
            w.f64(v.number);
            break;
        case TraitType::text:
            w.bytes(v.text);
            break;
        case TraitType::timestamp:
            w.zvar(v.timestamp);
            break;
        case TraitType::text_array:
            w.var(v.array.size());
            for (const auto& s : v.array) w.bytes(s);
            break;
        case TraitType::point:
            w.f64(v.lat);
            w.f64(v.lon);
            break;
        case TraitType::object_array:
            w.var(v.objects.size());
            for (const auto& object : v.objects) {
                w.var(object.size());
                for (const auto& f : object) {
                    w.bytes(f.name);
                    write_trait_value(w, f.value);
                }
            }
            break;
    }
}

TraitValue read_trait_value(Reader& r, TraitValueUse use, bool keep) {
    const bool literal = use == TraitValueUse::predicate_literal;
    TraitValue v;
    std::uint8_t type = r.u8();
    if (literal && type > static_cast<std::uint8_t>(TraitType::timestamp)) r.fail("invalid value type");
    if (type > static_cast<std::uint8_t>(TraitType::object_array)) r.fail("unknown trait type " + std::to_string(type));
    v.type = static_cast<TraitType>(type);
    switch (v.type) {
        case TraitType::null:
            break;
        case TraitType::boolean: {
            std::uint8_t b = r.u8();
            if (b > 1) r.fail(literal ? "flag is neither 0 nor 1" : "boolean is neither 0 nor 1");
            v.boolean = b == 1;
            break;
        }
        case TraitType::number:
            v.number = r.f64();
            if (literal && !std::isfinite(v.number)) r.fail("non-finite number");
            break;
        case TraitType::text: {
            std::string_view s = r.bytes(literal ? kMaxPredicateBytes : kMaxTraitTextBytes);
            if (keep) v.text.assign(s);
            break;
        }
        case TraitType::timestamp:
            v.timestamp = r.zvar();
            if (literal && !timestamp_in_range(v.timestamp)) r.fail("timestamp out of range");
            break;
        case TraitType::text_array: {
            std::uint64_t n = r.var();
            if (n > kMaxTraitArrayItems) r.fail("array longer than its limit");
            for (std::uint64_t i = 0; i < n; ++i) {
                std::string_view s = r.bytes(kMaxTraitTextBytes);
                if (keep) v.array.emplace_back(s);
            }
            break;
        }
        case TraitType::point:
            v.lat = r.f64();
            v.lon = r.f64();
            break;
        case TraitType::object_array: {
            std::uint64_t n = r.var();
            if (n > kMaxTraitArrayItems) r.fail("list longer than its limit");
            for (std::uint64_t i = 0; i < n; ++i) {
                std::uint64_t fields = r.var();
                if (fields > kMaxObjectFields) r.fail("object with more fields than its limit");
                TraitObject object;
                for (std::uint64_t k = 0; k < fields; ++k) {
                    ObjectField f;
                    f.name.assign(r.bytes(kMaxObjectFieldNameBytes));
                    f.value = read_trait_value(r, use, keep);
                    if (f.value.type != TraitType::null && f.value.type != TraitType::boolean &&
                        f.value.type != TraitType::number && f.value.type != TraitType::text)
                        r.fail("object field of another type than null, boolean, number or text");
                    if (keep) object.push_back(std::move(f));
                }
                if (keep) v.objects.push_back(std::move(object));
            }
            break;
        }
    }
    return v;
}

}  // namespace customer_profile::core
