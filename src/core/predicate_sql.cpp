// SQL and JSON renderings of a predicate (see predicate_sql.hpp).
#include "predicate_sql.hpp"

#include <nlohmann/json.hpp>
#include <optional>
#include <utility>

#include "behavior.hpp"
#include "predicate_format.hpp"
#include "text_literal.hpp"

namespace customer_profile::core {
namespace {

using json = nlohmann::json;

std::string literal(const std::string& s) {
    return quote_doubled(s, '\'');
}

std::string interval(Micros m) {
    return "interval " + literal(std::to_string(m / INT64_C(60000000)) + " minutes");
}

std::string value_sql(const TraitValue& v) {
    switch (v.type) {
        case TraitType::null:
            return "NULL";
        case TraitType::boolean:
            return v.boolean ? "true" : "false";
        case TraitType::number:
            return shortest_number(v.number);
        case TraitType::text:
            return literal(v.text);
        case TraitType::timestamp:
            return "timestamptz " + literal(format_timestamp(v.timestamp));
        default:
            return "NULL";
    }
}

// The cast that makes a JSON text value comparable with a value of `type`.
std::string cast_for(TraitType type) {
    switch (type) {
        case TraitType::number:
            return "::numeric";
        case TraitType::boolean:
            return "::boolean";
        case TraitType::timestamp:
            return "::timestamptz";
        default:
            return "";
    }
}

struct Scope {
    std::string object;                       // p.traits, e.properties inside a where filter, el.v inside any()
    const std::string* event_type = nullptr;  // inside a where filter: the event type
    const PredicateSchema* schema = nullptr;
    bool element = false;  // inside any(): the fields of one object, of no declared type
};

// The declared type of a name in this scope (trait or event property).
std::optional<TraitType> declared_type(const std::string& name, const Scope& scope) {
    if (scope.element) return std::nullopt;
    if (scope.event_type != nullptr)
        return scope.schema->event_property_type ? scope.schema->event_property_type(*scope.event_type, name)
                                                 : std::nullopt;
    return scope.schema->trait_type ? scope.schema->trait_type(name) : std::nullopt;
}

// The SQL type _event_property() returns for a declared event property.
const char* property_sql_type(TraitType type) {
    switch (type) {
        case TraitType::number:
            return "float8";
        case TraitType::boolean:
            return "boolean";
        case TraitType::timestamp:
            return "timestamptz";
        default:
            return "text";
    }
}

std::string node_sql(const PredicateNode& n, const Scope& scope);

// First day of a window, as SQL (whole UTC days ending today).
std::string window_start(Micros within) {
    Micros days = (within + kMicrosPerDay - 1) / kMicrosPerDay;
    return "(date_trunc('day', now() AT TIME ZONE 'UTC') - interval " + literal(std::to_string(days - 1) + " days") +
           ") AT TIME ZONE 'UTC'";
}

std::string operand_sql(const Operand& o, const Scope& scope, TraitType hint, bool typed = true);

// The profile's events of the operand's type (inside its window or range,
// through its where filter), aggregated: count(*) or the sum of its measure.
std::string events_sql(const Operand& o, const Scope& scope, const std::string& time_condition) {
    Scope events{"e.properties", &o.name, scope.schema};
    std::string agg = "count(*)";
    if (!o.counts()) {
        Operand measure;
        measure.kind = Operand::Kind::trait;
        measure.name = o.property;
        agg = "coalesce(sum(" +
              (declared_type(o.property, events) ? operand_sql(measure, events, TraitType::number)
                                                 : "(e.properties ->> " + literal(o.property) + ")::float8") +
              "), 0)";
    }
    std::string s = "(SELECT " + agg +
                    " FROM customer_profile.identity i JOIN customer_profile.event e ON e.identity_id = "
                    "i.identity_id WHERE i.profile_id = p.profile_id AND e.event_type = " +
                    literal(o.name) + time_condition;
    if (!o.where.empty()) s += " AND (" + node_sql(o.where.front(), events) + ")";
    return s + ")";
}

// The start of today (+ days) in a zone, as SQL.
std::string today_sql(const Operand& o) {
    std::string zone = literal(o.name.empty() ? "UTC" : o.name);
    std::int64_t days = o.offset / kMicrosPerDay;
    std::string shift = days == 0 ? ""
                                  : std::string(days < 0 ? " - " : " + ") + "interval " +
                                        literal(std::to_string(days < 0 ? -days : days) + " days");
    return "((date_trunc('day', now() AT TIME ZONE " + zone + ")" + shift + ") AT TIME ZONE " + zone + ")";
}

// distance_km() of predicate_eval.cpp, term by term, in float8.
std::string distance_sql(const Operand& o, const Scope& scope) {
    auto coordinate = [&](const char* key) {
        return "((" + scope.object + " -> " + literal(o.name) + " ->> '" + key + "')::float8)";
    };
    auto number = [](double d) { return "(" + shortest_number(d) + ")::float8"; };
    const std::string radians = " * (pi() / 180)";
    std::string lat1 = coordinate("lat"), lon1 = coordinate("lon"), lat2 = number(o.lat), lon2 = number(o.lon);
    std::string a = "power(sin(((" + lat2 + " - " + lat1 + ")" + radians + ") / 2), 2) + cos(" + lat1 + radians +
                    ") * cos(" + lat2 + radians + ") * power(sin(((" + lon2 + " - " + lon1 + ")" + radians +
                    ") / 2), 2)";
    // least() skips a NULL: without the CASE, a person without the point
    // would be half the Earth away instead of unknown.
    return "(CASE WHEN jsonb_typeof(" + scope.object + " -> " + literal(o.name) +
           ") = 'object' THEN 2::float8 * 6371.0088::float8 * asin(sqrt(least(1.0::float8, " + a + "))) END)";
}

// The JSON type a value of `hint` has in the traits or properties object.
const char* json_type_of(TraitType hint) {
    switch (hint) {
        case TraitType::number:
            return "number";
        case TraitType::text:
            return "string";
        case TraitType::boolean:
            return "boolean";
        default:
            return nullptr;
    }
}

// hint: the type of the value this operand is compared with, for the cast.
// typed: a name of no declared type (an undeclared trait or property, an
// object's field in any()) reads as NULL unless its JSON value has that type,
// as the evaluator finds a value of another type unknown (a cast would read
// "50" as 50, or fail on "abc"). Not when both sides are names, nor against
// NULL, where the value's presence is what counts.
std::string operand_sql(const Operand& o, const Scope& scope, TraitType hint, bool typed) {
    switch (o.kind) {
        case Operand::Kind::trait: {
            // A score: the points of the rules that hold, rule by rule in SQL.
            if (scope.event_type == nullptr && !scope.element && scope.schema->score_rules)
                if (const auto* rules = scope.schema->score_rules(o.name)) {
                    // In float8, rule by rule from 0, as the evaluator adds them.
                    std::string sum = "(0::float8";
                    for (const auto& [rule, points] : *rules)
                        sum += " + CASE WHEN " + node_sql(rule, scope) + " THEN (" + shortest_number(points) +
                               ")::float8 ELSE 0 END";
                    return sum + ")";
                }
            if (scope.event_type != nullptr)
                if (auto declared = declared_type(o.name, scope))
                    return "customer_profile._event_property(" + scope.object + " -> " + literal(o.name) +
                           ", NULL::" + property_sql_type(*declared) + ")";
            std::string s = "(" + scope.object + " ->> " + literal(o.name) + ")";
            std::string cast = cast_for(hint);
            if (typed && json_type_of(hint) != nullptr && !declared_type(o.name, scope))
                return "(CASE WHEN jsonb_typeof(" + scope.object + " -> " + literal(o.name) + ") = '" +
                       json_type_of(hint) + "' THEN " + s + cast + " END)";
            return cast.empty() ? s : "(" + s + cast + ")";
        }
        case Operand::Kind::literal:
            return value_sql(o.literal);
        case Operand::Kind::now:
            return o.offset == 0 ? "now()"
                                 : "(now() " + std::string(o.offset < 0 ? "- " : "+ ") +
                                       interval(o.offset < 0 ? -o.offset : o.offset) + ")";
        case Operand::Kind::last_seen: {
            std::string s =
                "customer_profile.last_seen(p.profile_id" + (o.name.empty() ? "" : ", " + literal(o.name)) + ")";
            return o.offset == 0
                       ? s
                       : "(" + s + (o.offset < 0 ? " - " : " + ") + interval(o.offset < 0 ? -o.offset : o.offset) + ")";
        }
        case Operand::Kind::count:
        case Operand::Kind::sum: {
            if (o.where.empty()) {
                std::string s =
                    o.kind == Operand::Kind::count
                        ? "customer_profile.event_count(p.profile_id, " + literal(o.name)
                        : "customer_profile.event_sum(p.profile_id, " + literal(o.name) + ", " + literal(o.property);
                if (o.within != 0) s += ", " + interval(o.within);
                return s + ")";
            }
            return events_sql(o, scope, o.within != 0 ? " AND e.occurred_at >= " + window_start(o.within) : "");
        }
        case Operand::Kind::count_between:
        case Operand::Kind::sum_between: {
            TraitValue from, to;
            from.type = to.type = TraitType::timestamp;
            from.timestamp = o.from;
            to.timestamp = o.to;
            return events_sql(o, scope,
                              " AND e.occurred_at >= " + value_sql(from) + " AND e.occurred_at < " + value_sql(to));
        }
        case Operand::Kind::today:
            return today_sql(o);
        case Operand::Kind::distance:
            return distance_sql(o, scope);
    }
    return "NULL";
}

// The type of an operand's value, for the cast of what it is compared with
// (a trait without a declared type reads as text).
TraitType static_hint(const Operand& o, const Scope& scope) {
    switch (o.kind) {
        case Operand::Kind::literal:
            return o.literal.type;
        case Operand::Kind::now:
        case Operand::Kind::last_seen:
        case Operand::Kind::today:
            return TraitType::timestamp;
        case Operand::Kind::count:
        case Operand::Kind::sum:
        case Operand::Kind::count_between:
        case Operand::Kind::sum_between:
        case Operand::Kind::distance:
            return TraitType::number;
        case Operand::Kind::trait: {
            auto declared = declared_type(o.name, scope);
            return declared && *declared != TraitType::text_array ? *declared : TraitType::text;
        }
    }
    return TraitType::text;
}

// How a name compared with text by = / <> / IN reads: as one value, as a
// text[] (the comparison then tests containment, as in the evaluator), or,
// undeclared, by what its JSON value is.
enum class ArrayRead { no, yes, by_json };

ArrayRead array_read(const Operand& o, const Scope& scope) {
    if (o.kind != Operand::Kind::trait || scope.element) return ArrayRead::no;
    auto declared = declared_type(o.name, scope);
    if (!declared) return ArrayRead::by_json;
    return *declared == TraitType::text_array ? ArrayRead::yes : ArrayRead::no;
}

// The array form, the scalar form, or a CASE on the JSON type choosing one.
// A declared text[] that holds no array (a JSON null) is unknown, as in the
// evaluator: `null @> ...` would be false, and NOT of it true.
std::string array_or_scalar(ArrayRead read, const Operand& o, const Scope& scope, const std::string& as_array,
                            const std::string& as_scalar, bool unknown_unless_array = true) {
    if (read == ArrayRead::yes && !unknown_unless_array) return as_array;
    if (read == ArrayRead::yes)
        return "(CASE WHEN jsonb_typeof(" + scope.object + " -> " + literal(o.name) + ") = 'array' THEN " + as_array +
               " END)";
    if (read == ArrayRead::no) return as_scalar;
    return "(CASE WHEN jsonb_typeof(" + scope.object + " -> " + literal(o.name) + ") = 'array' THEN " + as_array +
           " ELSE " + as_scalar + " END)";
}

// The array operand contains the text item.
std::string contains_sql(const Operand& array, const Scope& scope, const std::string& item) {
    return "((" + scope.object + " -> " + literal(array.name) + ") @> jsonb_build_array(" + item + "))";
}

std::string node_sql(const PredicateNode& n, const Scope& scope) {
    using K = PredicateNode::Kind;
    switch (n.kind) {
        case K::and_:
        case K::or_: {
            std::string s = "(";
            for (std::size_t i = 0; i < n.children.size(); ++i) {
                if (i) s += n.kind == K::and_ ? " AND " : " OR ";
                s += node_sql(n.children[i], scope);
            }
            return s + ")";
        }
        case K::not_:
            return "NOT " + node_sql(n.children.front(), scope);
        case K::compare: {
            TraitType lh = static_hint(n.right, scope), rh = static_hint(n.left, scope);
            // Two names, one of them declared: both read as the declared type.
            if (n.left.kind == Operand::Kind::trait && n.right.kind == Operand::Kind::trait) {
                if (lh == TraitType::text) lh = rh;
                if (rh == TraitType::text) rh = lh;
            }
            bool text = lh == TraitType::text && rh == TraitType::text;
            bool ordered = n.op != CompareOp::eq && n.op != CompareOp::ne;
            bool typed = !(n.left.kind == Operand::Kind::trait && n.right.kind == Operand::Kind::trait);
            std::string right = operand_sql(n.right, scope, rh, typed);
            std::string scalar = "(" + operand_sql(n.left, scope, lh, typed) +
                                 (text && ordered ? " COLLATE \"C\" " : " ") + compare_op_text(n.op) + " " + right +
                                 ")";
            if (!text || ordered) return scalar;
            // tags = 'blue' (or 'blue' = tags) tests containment when tags is
            // a text[]; with two names, the left one decides.
            const Operand* array = &n.left;
            const Operand* item = &n.right;
            ArrayRead read = array_read(n.left, scope);
            if (read == ArrayRead::no) {
                std::swap(array, item);
                read = array_read(n.right, scope);
            }
            if (read == ArrayRead::no) return scalar;
            std::string contains = contains_sql(*array, scope, operand_sql(*item, scope, TraitType::text));
            return array_or_scalar(read, *array, scope, n.op == CompareOp::eq ? contains : "NOT " + contains, scalar);
        }
        case K::in_list: {
            TraitType hint = TraitType::text;
            for (const auto& v : n.list)
                if (v.type != TraitType::null) {
                    hint = v.type;
                    break;
                }
            std::string s = "(" + operand_sql(n.left, scope, hint) + (n.negated ? " NOT IN (" : " IN (");
            for (std::size_t i = 0; i < n.list.size(); ++i) s += (i ? ", " : "") + value_sql(n.list[i]);
            s += "))";
            ArrayRead read = hint == TraitType::text ? array_read(n.left, scope) : ArrayRead::no;
            if (read == ArrayRead::no) return s;
            // A text[] is IN the list when it contains an item; an item that
            // is not text makes that test unknown, as in the evaluator.
            std::string any = "(";
            for (std::size_t i = 0; i < n.list.size(); ++i)
                any += (i ? " OR " : "") + (n.list[i].type == TraitType::text
                                                ? contains_sql(n.left, scope, value_sql(n.list[i]))
                                                : std::string("NULL"));
            any += ")";
            return array_or_scalar(read, n.left, scope, n.negated ? "NOT " + any : any, s);
        }
        case K::between: {
            TraitType hint = static_hint(n.right, scope);
            bool text = hint == TraitType::text;
            return "(" + operand_sql(n.left, scope, hint) + (text ? " COLLATE \"C\"" : "") +
                   (n.negated ? " NOT BETWEEN " : " BETWEEN ") + operand_sql(n.right, scope, hint) + " AND " +
                   operand_sql(n.upper, scope, static_hint(n.upper, scope)) + ")";
        }
        case K::like:
            // ILIKE folds under the ICU root locale, whatever the database's
            // locale, as the evaluator does (unicode_case.hpp).
            return "(" + operand_sql(n.left, scope, TraitType::text) +
                   (n.case_insensitive ? " COLLATE \"und-x-icu\"" : "") + (n.negated ? " NOT " : " ") +
                   (n.case_insensitive ? "ILIKE " : "LIKE ") + literal(n.name) + ")";
        case K::is_null:
            return "(" + operand_sql(n.left, scope, TraitType::text, false) +
                   (n.negated ? " IS NOT NULL)" : " IS NULL)");
        case K::distinct: {
            TraitType lh = static_hint(n.right, scope), rh = static_hint(n.left, scope);
            if (n.left.kind == Operand::Kind::trait && n.right.kind == Operand::Kind::trait) {
                if (lh == TraitType::text) lh = rh;
                if (rh == TraitType::text) rh = lh;
            }
            bool names = n.left.kind == Operand::Kind::trait && n.right.kind == Operand::Kind::trait;
            std::string scalar = "(" +
                                 operand_sql(n.left, scope, lh == TraitType::null ? TraitType::text : lh,
                                             !names && lh != TraitType::null) +
                                 (n.negated ? " IS NOT DISTINCT FROM " : " IS DISTINCT FROM ") +
                                 operand_sql(n.right, scope, rh == TraitType::null ? TraitType::text : rh,
                                             !names && rh != TraitType::null) +
                                 ")";
            if (!(lh == TraitType::text && rh == TraitType::text)) return scalar;
            // A text[] holds the text when it contains it, as = reads it.
            const Operand* array = &n.left;
            const Operand* item = &n.right;
            ArrayRead read = array_read(n.left, scope);
            if (read == ArrayRead::no) {
                std::swap(array, item);
                read = array_read(n.right, scope);
            }
            if (read == ArrayRead::no) return scalar;
            std::string holds =
                "coalesce(" + contains_sql(*array, scope, operand_sql(*item, scope, TraitType::text)) + ", false)";
            return array_or_scalar(read, *array, scope, n.negated ? holds : "NOT " + holds, scalar, false);
        }
        case K::regex:
            // As RE2 reads the pattern (regex_match.hpp): classes in the C
            // locale, case folded by ICU.
            return "(" + operand_sql(n.left, scope, TraitType::text) +
                   (n.case_insensitive ? " COLLATE \"und-x-icu\" " : " COLLATE \"C\" ") + (n.negated ? "!" : "") + "~" +
                   (n.case_insensitive ? "*" : "") + " " + literal(n.name) + ")";
        case K::any_element: {
            std::string list = scope.object + " -> " + literal(n.name);
            Scope element{"el.v", nullptr, scope.schema, true};
            return "EXISTS (SELECT 1 FROM jsonb_array_elements(CASE WHEN jsonb_typeof(" + list + ") = 'array' THEN " +
                   list + " END) AS el(v) WHERE " + node_sql(n.children.front(), element) + ")";
        }
        case K::has:
            if (scope.event_type == nullptr && !scope.element && scope.schema->score_rules &&
                scope.schema->score_rules(n.name))
                return "true";  // a score always has a value
            return "(" + scope.object + " ->> " + literal(n.name) + " IS NOT NULL)";
        case K::in_segment:
            return "customer_profile.profile_segment(p.profile_id, " + literal(n.name) + ")";
        case K::consent:
            return "(customer_profile.profile_consent(p.profile_id, " + literal(n.name) + ") IS TRUE)";
        case K::in_cluster:
            return "EXISTS (SELECT 1 FROM customer_profile.profile_feature f WHERE f.profile_id = p.profile_id AND "
                   "f.cluster = " +
                   n.name + ")";
        case K::known:
            return "p.is_known";
        case K::anonymous:
            return "NOT p.is_known";
    }
    return "NULL";
}

json value_json(const TraitValue& v) {
    switch (v.type) {
        case TraitType::boolean:
            return v.boolean;
        case TraitType::number:
            return v.number;
        case TraitType::text:
            return v.text;
        case TraitType::timestamp:
            return json{{"timestamp", format_timestamp(v.timestamp)}};
        default:
            return nullptr;
    }
}

json node_json(const PredicateNode& n);

json operand_json(const Operand& o) {
    switch (o.kind) {
        case Operand::Kind::trait:
            return json{{"trait", o.name}};
        case Operand::Kind::literal:
            return json{{"value", value_json(o.literal)}};
        case Operand::Kind::now:
            return json{{"now", {{"offset_minutes", o.offset / INT64_C(60000000)}}}};
        case Operand::Kind::last_seen:
            return json{{"last_seen", {{"event_type", o.name}, {"offset_minutes", o.offset / INT64_C(60000000)}}}};
        case Operand::Kind::count:
        case Operand::Kind::sum: {
            json body{{"event_type", o.name}, {"within_minutes", o.within / INT64_C(60000000)}};
            if (o.kind == Operand::Kind::sum) body["property"] = o.property;
            if (!o.where.empty()) body["where"] = node_json(o.where.front());
            return json{{o.kind == Operand::Kind::count ? "count" : "sum", body}};
        }
        case Operand::Kind::count_between:
        case Operand::Kind::sum_between: {
            json body{{"event_type", o.name}, {"from", format_timestamp(o.from)}, {"to", format_timestamp(o.to)}};
            if (o.kind == Operand::Kind::sum_between) body["property"] = o.property;
            if (!o.where.empty()) body["where"] = node_json(o.where.front());
            return json{{o.kind == Operand::Kind::count_between ? "count" : "sum", body}};
        }
        case Operand::Kind::today:
            return json{
                {"today", {{"time_zone", o.name.empty() ? "UTC" : o.name}, {"offset_days", o.offset / kMicrosPerDay}}}};
        case Operand::Kind::distance:
            return json{{"distance", {{"trait", o.name}, {"lat", o.lat}, {"lon", o.lon}}}};
    }
    return nullptr;
}

json node_json(const PredicateNode& n) {
    using K = PredicateNode::Kind;
    switch (n.kind) {
        case K::and_:
        case K::or_: {
            json items = json::array();
            for (const auto& c : n.children) items.push_back(node_json(c));
            return json{{n.kind == K::and_ ? "and" : "or", items}};
        }
        case K::not_:
            return json{{"not", node_json(n.children.front())}};
        case K::compare:
            return json{
                {"compare",
                 {{"op", compare_op_text(n.op)}, {"left", operand_json(n.left)}, {"right", operand_json(n.right)}}}};
        case K::in_list: {
            json items = json::array();
            for (const auto& v : n.list) items.push_back(value_json(v));
            return json{{n.negated ? "not_in" : "in", {{"left", operand_json(n.left)}, {"values", items}}}};
        }
        case K::between:
            return json{
                {n.negated ? "not_between" : "between",
                 {{"left", operand_json(n.left)}, {"low", operand_json(n.right)}, {"high", operand_json(n.upper)}}}};
        case K::like:
            return json{{std::string(n.negated ? "not_" : "") + (n.case_insensitive ? "ilike" : "like"),
                         {{"left", operand_json(n.left)}, {"pattern", n.name}}}};
        case K::is_null:
            return json{{n.negated ? "is_not_null" : "is_null", operand_json(n.left)}};
        case K::distinct:
            return json{{n.negated ? "is_not_distinct_from" : "is_distinct_from",
                         {{"left", operand_json(n.left)}, {"right", operand_json(n.right)}}}};
        case K::regex:
            return json{{std::string(n.negated ? "not_" : "") + (n.case_insensitive ? "regex_i" : "regex"),
                         {{"left", operand_json(n.left)}, {"pattern", n.name}}}};
        case K::any_element:
            return json{{"any", {{"trait", n.name}, {"where", node_json(n.children.front())}}}};
        case K::has:
            return json{{"has", n.name}};
        case K::in_segment:
            return json{{"in_segment", n.name}};
        case K::consent:
            return json{{"consent", n.name}};
        case K::in_cluster:
            return json{{"in_cluster", std::stoi(n.name)}};
        case K::known:
            return json{{"known", true}};
        case K::anonymous:
            return json{{"anonymous", true}};
    }
    return nullptr;
}

}  // namespace

std::string predicate_sql(const PredicateNode& node, const PredicateSchema& schema) {
    return node_sql(node, Scope{"p.traits", nullptr, &schema});
}

std::string predicate_tree_json(const PredicateNode& node) {
    return node_json(node).dump();
}

}  // namespace customer_profile::core
