// JSON text form of profiles (see profile_json.hpp).
#include "profile_json.hpp"

#include <cmath>
#include <cstdlib>
#include <nlohmann/json.hpp>

#include "error.hpp"

namespace customer_profile::core {
namespace {

using nlohmann::json;

[[noreturn]] void shape(const std::string& what) {
    throw Error(ErrorCode::invalid_parameter, "invalid profile: " + what, {},
                "Expected {\"traits\": {\"name\": {\"value\": ..., \"source\": \"crm\", "
                "\"observed_at\": \"2026-01-02T03:04:05Z\"}}}.");
}

// Integral numbers print without ".0" while exact in a double.
json number_json(double d) {
    if (std::trunc(d) == d && std::fabs(d) <= 9007199254740992.0) return json(static_cast<std::int64_t>(d));
    return json(d);
}

json value_to_json(const TraitValue& v) {
    switch (v.type) {
        case TraitType::null:
            return json(nullptr);
        case TraitType::boolean:
            return json(v.boolean);
        case TraitType::number:
            return number_json(v.number);
        case TraitType::text:
            return json(v.text);
        case TraitType::timestamp:
            return json(format_timestamp(v.timestamp));
        case TraitType::text_array:
            return json(v.array);
        case TraitType::point:
            return json{{"lat", number_json(v.lat)}, {"lon", number_json(v.lon)}};
        case TraitType::object_array: {
            json list = json::array();
            for (const auto& object : v.objects) {
                json o = json::object();
                for (const auto& f : object) o[f.name] = value_to_json(f.value);
                list.push_back(std::move(o));
            }
            return list;
        }
    }
    return json(nullptr);
}

// {"lat": 48.85, "lon": 2.35}: the only object a trait value may be by itself.
bool is_point(const json& v) {
    return v.is_object() && v.size() == 2 && v.contains("lat") && v.contains("lon") && v["lat"].is_number() &&
           v["lon"].is_number();
}

TraitType infer_type(const json& v, const std::string& name) {
    switch (v.type()) {
        case json::value_t::null:
            return TraitType::null;
        case json::value_t::boolean:
            return TraitType::boolean;
        case json::value_t::number_integer:
        case json::value_t::number_unsigned:
        case json::value_t::number_float:
            return TraitType::number;
        case json::value_t::string:
            return TraitType::text;
        case json::value_t::array:
            return !v.empty() && v.front().is_object() ? TraitType::object_array : TraitType::text_array;
        case json::value_t::object:
            if (is_point(v)) return TraitType::point;
            [[fallthrough]];
        default:
            throw Error(ErrorCode::invalid_parameter,
                        "trait \"" + name +
                            "\": value must be null, a boolean, a number, a string, an array of strings, a point "
                            "({\"lat\": ..., \"lon\": ...}) or an array of objects");
    }
}

TraitValue value_from_json(const json& v, TraitType type, const std::string& name) {
    auto mismatch = [&]() {
        throw Error(ErrorCode::invalid_parameter,
                    "trait \"" + name + "\": value does not match type " + trait_type_name(type));
    };
    TraitValue out;
    out.type = type;
    switch (type) {
        case TraitType::null:
            if (!v.is_null()) mismatch();
            break;
        case TraitType::boolean:
            if (!v.is_boolean()) mismatch();
            out.boolean = v.get<bool>();
            break;
        case TraitType::number:
            if (!v.is_number()) mismatch();
            out.number = v.get<double>();
            break;
        case TraitType::text:
            if (!v.is_string()) mismatch();
            out.text = v.get<std::string>();
            break;
        case TraitType::timestamp:
            if (!v.is_string()) mismatch();
            try {
                out.timestamp = parse_timestamp(v.get<std::string>());
            } catch (const Error& e) {
                throw Error(e.code(), "trait \"" + name + "\": " + e.what(), e.detail(), e.hint());
            }
            break;
        case TraitType::text_array:
            if (!v.is_array()) mismatch();
            for (const auto& item : v) {
                if (!item.is_string())
                    throw Error(ErrorCode::invalid_parameter, "trait \"" + name + "\": array items must be strings");
                out.array.push_back(item.get<std::string>());
            }
            break;
        case TraitType::point:
            if (!is_point(v)) mismatch();
            out.lat = v["lat"].get<double>();
            out.lon = v["lon"].get<double>();
            break;
        case TraitType::object_array:
            if (!v.is_array()) mismatch();
            for (const auto& item : v) {
                if (!item.is_object())
                    throw Error(ErrorCode::invalid_parameter, "trait \"" + name + "\": list items must be objects");
                TraitObject object;
                for (auto it = item.begin(); it != item.end(); ++it) {  // keys in sorted order
                    ObjectField f;
                    f.name = it.key();
                    const json& field = it.value();
                    if (field.is_null()) {
                    } else if (field.is_boolean()) {
                        f.value.type = TraitType::boolean;
                        f.value.boolean = field.get<bool>();
                    } else if (field.is_number()) {
                        f.value.type = TraitType::number;
                        f.value.number = field.get<double>();
                    } else if (field.is_string()) {
                        f.value.type = TraitType::text;
                        f.value.text = field.get<std::string>();
                    } else {
                        throw Error(ErrorCode::invalid_parameter,
                                    "trait \"" + name + "\": object fields hold null, a boolean, a number or text");
                    }
                    object.push_back(std::move(f));
                }
                out.objects.push_back(std::move(object));
            }
            break;
    }
    return out;
}

Trait trait_from_json(const std::string& name, const json& body) {
    if (!body.is_object()) shape("trait \"" + name + "\" must be an object");
    for (const auto& [key, _] : body.items())
        if (key != "value" && key != "type" && key != "source" && key != "observed_at")
            shape("trait \"" + name + "\": unknown key \"" + key + "\"");
    if (!body.contains("value")) shape("trait \"" + name + "\" has no \"value\"");
    if (!body.contains("source") || !body["source"].is_string())
        shape("trait \"" + name + "\" needs a \"source\" string");
    if (!body.contains("observed_at") || !body["observed_at"].is_string())
        shape("trait \"" + name + "\" needs an \"observed_at\" timestamp string");
    Trait t;
    t.name = name;
    t.source = body["source"].get<std::string>();
    try {
        t.observed_at = parse_timestamp(body["observed_at"].get<std::string>());
    } catch (const Error& e) {
        throw Error(e.code(), "trait \"" + name + "\" observed_at: " + e.what(), e.detail(), e.hint());
    }
    TraitType type;
    if (body.contains("type")) {
        if (!body["type"].is_string()) shape("trait \"" + name + "\": \"type\" must be a string");
        try {
            type = trait_type_from_name(body["type"].get<std::string>());
        } catch (const Error& e) {
            throw Error(e.code(), "trait \"" + name + "\": " + e.what(), e.detail(), e.hint());
        }
    } else {
        type = infer_type(body["value"], name);
    }
    t.value = value_from_json(body["value"], type, name);
    validate_trait(t);
    return t;
}

}  // namespace

Profile parse_profile_json(std::string_view text) {
    json doc = json::parse(text.begin(), text.end(), nullptr, false);
    if (doc.is_discarded())
        throw Error(ErrorCode::invalid_text, "invalid profile: malformed JSON", {},
                    "The text form of a profile is a JSON object.");
    if (!doc.is_object()) shape("the top level must be an object");
    for (const auto& [key, _] : doc.items())
        if (key != "traits") shape("unknown top-level key \"" + key + "\"");
    Profile p;
    if (!doc.contains("traits")) return p;
    const json& traits = doc["traits"];
    if (!traits.is_object()) shape("\"traits\" must be an object");
    if (traits.size() > kMaxTraits) throw Error(ErrorCode::value_too_long, "invalid profile: more than 1000 traits");
    for (const auto& [name, body] : traits.items()) p.put(trait_from_json(name, body));
    return p;
}

std::string format_profile_json(const Profile& profile) {
    json traits = json::object();
    for (const auto& t : profile.traits) {
        json body = json::object();
        body["observed_at"] = format_timestamp(t.observed_at);
        body["source"] = t.source;
        body["type"] = trait_type_name(t.value.type);
        body["value"] = value_to_json(t.value);
        traits[t.name] = std::move(body);
    }
    json doc = json::object();
    doc["traits"] = std::move(traits);
    return doc.dump();
}

std::string trait_value_json(const TraitValue& value) {
    return value_to_json(value).dump();
}

TraitValue parse_trait_value(std::string_view json_value, std::optional<TraitType> type, const std::string& name) {
    json v = json::parse(json_value.begin(), json_value.end(), nullptr, false);
    if (v.is_discarded()) throw Error(ErrorCode::invalid_text, "trait \"" + name + "\": malformed JSON value");
    return value_from_json(v, type ? *type : infer_type(v, name), name);
}

namespace {

// [+-]digits[.digits][(e|E)[+-]digits], finite: what a decimal string may be.
std::optional<double> decimal_number(const std::string& s) {
    std::size_t i = 0, n = s.size(), digits = 0;
    if (i < n && (s[i] == '+' || s[i] == '-')) ++i;
    for (; i < n && s[i] >= '0' && s[i] <= '9'; ++i) ++digits;
    if (i < n && s[i] == '.')
        for (++i; i < n && s[i] >= '0' && s[i] <= '9'; ++i) ++digits;
    if (digits == 0) return std::nullopt;
    if (i < n && (s[i] == 'e' || s[i] == 'E')) {
        std::size_t exponent = 0;
        if (++i < n && (s[i] == '+' || s[i] == '-')) ++i;
        for (; i < n && s[i] >= '0' && s[i] <= '9'; ++i) ++exponent;
        if (exponent == 0) return std::nullopt;
    }
    if (i != n) return std::nullopt;
    double d = std::strtod(s.c_str(), nullptr);
    if (!std::isfinite(d)) return std::nullopt;
    return d;
}

TraitValue property_from_json(const json& v, TraitType type) {
    TraitValue out;
    switch (type) {
        case TraitType::number:
            if (v.is_number() && std::isfinite(v.get<double>())) {
                out.number = v.get<double>();
            } else if (auto d = v.is_string() ? decimal_number(v.get_ref<const std::string&>()) : std::nullopt) {
                out.number = *d;
            } else {
                return {};
            }
            break;
        case TraitType::text:
            if (!v.is_string()) return {};
            out.text = v.get<std::string>();
            break;
        case TraitType::boolean:
            if (v.is_boolean()) {
                out.boolean = v.get<bool>();
            } else if (v.is_string() &&
                       (v.get_ref<const std::string&>() == "true" || v.get_ref<const std::string&>() == "false")) {
                out.boolean = v.get_ref<const std::string&>() == "true";
            } else {
                return {};
            }
            break;
        case TraitType::timestamp: {
            auto t = v.is_string() ? parse_property_timestamp(v.get_ref<const std::string&>()) : std::nullopt;
            if (!t) return {};
            out.timestamp = *t;
            break;
        }
        default:
            return {};
    }
    out.type = type;
    return out;
}

}  // namespace

TraitValue property_value_as(std::string_view json_value, TraitType type) {
    json v = json::parse(json_value.begin(), json_value.end(), nullptr, false);
    if (v.is_discarded()) return {};
    return property_from_json(v, type);
}

Profile properties_as_traits(std::string_view json_object, const PropertyTypes& declared) {
    json v = json::parse(json_object.begin(), json_object.end(), nullptr, false);
    if (v.is_discarded() || !v.is_object()) throw Error(ErrorCode::invalid_text, "properties are not a JSON object");
    Profile out;
    for (auto it = v.begin(); it != v.end(); ++it) {
        if (it.key().empty() || it.key().size() > kMaxTraitNameBytes) continue;
        Trait t;
        t.name = it.key();
        if (auto d = declared.find(t.name); d != declared.end()) {
            t.value = property_from_json(it.value(), d->second);
            if (t.value.type != TraitType::null) out.put(std::move(t));
            continue;
        }
        try {
            t.value = value_from_json(it.value(), infer_type(it.value(), t.name), t.name);
            out.put(std::move(t));
        } catch (const Error&) {
        }
    }
    return out;
}

std::string measure_totals_json(const EventSummary& summary) {
    json out = json::object();
    for (std::size_t i = 0; i < summary.measures.size(); ++i) {
        double v = summary.totals[i];
        // Whole numbers print as 2, not 2.0 (jsonb keeps what it is given).
        if (std::trunc(v) == v && std::fabs(v) < 1e15)
            out[summary.measures[i]] = static_cast<std::int64_t>(v);
        else
            out[summary.measures[i]] = v;
    }
    return out.dump();
}

std::optional<std::string> trait_value_text(const TraitValue& value) {
    switch (value.type) {
        case TraitType::null:
            return std::nullopt;
        case TraitType::text:
            return value.text;
        case TraitType::timestamp:
            return format_timestamp(value.timestamp);
        default:
            return value_to_json(value).dump();
    }
}

std::string profile_traits_json(const Profile& profile) {
    json out = json::object();
    for (const auto& t : profile.traits) out[t.name] = value_to_json(t.value);
    return out.dump();
}

}  // namespace customer_profile::core
