// Predicate evaluation (see predicate_eval.hpp).
#include "predicate_eval.hpp"

#include <algorithm>
#include <cmath>

#include "error.hpp"
#include "like_match.hpp"
#include "regex_match.hpp"

namespace customer_profile::core {
namespace {

Truth truth(bool b) {
    return b ? Truth::true_ : Truth::false_;
}

Truth negate(Truth t) {
    return t == Truth::unknown ? t : truth(t == Truth::false_);
}

// A value during evaluation: what an operand produced.
using Value = TraitValue;

Value number(double d) {
    Value v;
    v.type = TraitType::number;
    v.number = d;
    return v;
}

Value timestamp(Micros t) {
    Value v;
    v.type = TraitType::timestamp;
    v.timestamp = t;
    return v;
}

}  // namespace

const Trait* context_trait(const EvaluationContext& c, const std::string& name) {
    if (c.trait_lookup) return c.trait_lookup(name);
    return c.traits ? c.traits->find(name) : nullptr;
}

const Behavior* context_behavior(const EvaluationContext& c) {
    return c.behavior_lookup ? c.behavior_lookup() : c.behavior;
}

Value operand_value(const Operand& o, const EvaluationContext& c) {
    switch (o.kind) {
        case Operand::Kind::literal:
            return o.literal;
        case Operand::Kind::trait: {
            const Trait* t = context_trait(c, o.name);
            return t ? t->value : Value{};
        }
        case Operand::Kind::now:
            return timestamp(c.now + o.offset);
        case Operand::Kind::last_seen: {
            const Behavior* behavior = context_behavior(c);
            if (behavior == nullptr) return {};
            if (o.name.empty()) {
                auto last = last_seen(*behavior);
                return last ? timestamp(*last + o.offset) : Value{};
            }
            const EventSummary* s = behavior->find(o.name);
            return s ? timestamp(s->last_at + o.offset) : Value{};
        }
        case Operand::Kind::today: {
            auto at = today_start(o, c);
            return at ? timestamp(*at) : Value{};
        }
        case Operand::Kind::distance: {
            const Trait* t = context_trait(c, o.name);
            if (t == nullptr || t->value.type != TraitType::point) return {};
            return number(distance_km(t->value.lat, t->value.lon, o.lat, o.lon));
        }
        case Operand::Kind::count_between:
        case Operand::Kind::sum_between: {
            if (o.reads_events()) return c.range_aggregate ? number(c.range_aggregate(o)) : Value{};
            const Behavior* behavior = context_behavior(c);
            const EventSummary* s = behavior ? behavior->find(o.name) : nullptr;
            if (s == nullptr) return number(0);
            Day first = day_of(o.from), end = day_of(o.to);  // both UTC midnights: [first, end)
            if (o.kind == Operand::Kind::count_between)
                return number(static_cast<double>(count_between_days(*s, first, end)));
            return number(sum_between_days(*s, o.property, first, end));
        }
        case Operand::Kind::count:
        case Operand::Kind::sum: {
            std::optional<Day> first;
            if (o.within != 0) first = window_first_day(c.now, o.within);
            if (!o.where.empty()) {
                if (!c.filtered_aggregate) return {};
                return number(c.filtered_aggregate(o, first));
            }
            const Behavior* behavior = context_behavior(c);
            const EventSummary* s = behavior ? behavior->find(o.name) : nullptr;
            if (s == nullptr) return number(0);
            if (o.kind == Operand::Kind::count)
                return number(static_cast<double>(first ? count_since(*s, *first) : s->count));
            if (first) return number(sum_since(*s, o.property, *first));
            int at = s->measure_index(o.property);
            return number(at < 0 ? 0 : s->totals[static_cast<std::size_t>(at)]);
        }
    }
    return {};
}

namespace {

// <0, 0, >0, or nullopt when the two cannot be compared (unknown).
std::optional<int> compare(const Value& a, const Value& b) {
    if (a.type == TraitType::null || b.type == TraitType::null || a.type != b.type) return std::nullopt;
    switch (a.type) {
        case TraitType::number:
            return a.number < b.number ? -1 : a.number > b.number ? 1 : 0;
        case TraitType::text:
            return a.text.compare(b.text) < 0 ? -1 : a.text == b.text ? 0 : 1;
        case TraitType::timestamp:
            return a.timestamp < b.timestamp ? -1 : a.timestamp > b.timestamp ? 1 : 0;
        case TraitType::boolean:
            return static_cast<int>(a.boolean) - static_cast<int>(b.boolean);
        default:
            return std::nullopt;
    }
}

bool op_holds(CompareOp op, int cmp) {
    switch (op) {
        case CompareOp::eq:
            return cmp == 0;
        case CompareOp::ne:
            return cmp != 0;
        case CompareOp::lt:
            return cmp < 0;
        case CompareOp::le:
            return cmp <= 0;
        case CompareOp::gt:
            return cmp > 0;
        case CompareOp::ge:
            return cmp >= 0;
    }
    return false;
}

// A text[] trait compared with = / <> / IN means "contains" (on either
// side of = and <>: 'yoga' = interests reads as interests = 'yoga').
Truth contains(const Value& array, const Value& item) {
    if (item.type != TraitType::text) return Truth::unknown;
    return truth(std::find(array.array.begin(), array.array.end(), item.text) != array.array.end());
}

Truth compare_values(const Value& a, CompareOp op, const Value& b) {
    if ((a.type == TraitType::text_array || b.type == TraitType::text_array) &&
        (op == CompareOp::eq || op == CompareOp::ne)) {
        Truth t = a.type == TraitType::text_array ? contains(a, b) : contains(b, a);
        return op == CompareOp::eq ? t : negate(t);
    }
    auto cmp = compare(a, b);
    return cmp ? truth(op_holds(op, *cmp)) : Truth::unknown;
}

// IS NOT DISTINCT FROM: two nulls are the same, a null and a value are
// not, values of different types are not; a text[] holds a text when it
// contains it (as = reads it).
bool same_value(const Value& a, const Value& b) {
    if (a.type == TraitType::null || b.type == TraitType::null) return a.type == b.type;
    if (a.type == TraitType::text_array && b.type == TraitType::text) return contains(a, b) == Truth::true_;
    if (b.type == TraitType::text_array && a.type == TraitType::text) return contains(b, a) == Truth::true_;
    auto cmp = compare(a, b);
    return cmp && *cmp == 0;
}

Truth evaluate_node(const PredicateNode& n, const EvaluationContext& c);

// any(list where condition): true when the condition is true for some
// object (SQL's EXISTS: never unknown).
Truth any_element(const PredicateNode& n, const EvaluationContext& c) {
    const Trait* t = context_trait(c, n.name);
    if (t == nullptr || t->value.type != TraitType::object_array) return Truth::false_;
    for (const TraitObject& object : t->value.objects) {
        Profile fields;
        fields.traits.reserve(object.size());
        for (const ObjectField& f : object) {  // sorted by name, as a profile's traits
            Trait field;
            field.name = f.name;
            field.value = f.value;
            fields.traits.push_back(std::move(field));
        }
        EvaluationContext element;
        element.traits = &fields;
        element.now = c.now;
        element.cancel = c.cancel;
        element.day_start = c.day_start;
        if (evaluate_node(n.children.front(), element) == Truth::true_) return Truth::true_;
    }
    return Truth::false_;
}

Truth evaluate_node(const PredicateNode& n, const EvaluationContext& c) {
    using K = PredicateNode::Kind;
    switch (n.kind) {
        case K::and_: {
            Truth result = Truth::true_;
            for (const auto& child : n.children) {
                Truth t = evaluate_node(child, c);
                if (t == Truth::false_) return t;
                if (t == Truth::unknown) result = t;
            }
            return result;
        }
        case K::or_: {
            Truth result = Truth::false_;
            for (const auto& child : n.children) {
                Truth t = evaluate_node(child, c);
                if (t == Truth::true_) return t;
                if (t == Truth::unknown) result = t;
            }
            return result;
        }
        case K::not_:
            return negate(evaluate_node(n.children.front(), c));
        case K::compare:
            return compare_values(operand_value(n.left, c), n.op, operand_value(n.right, c));
        case K::in_list: {
            Value v = operand_value(n.left, c);
            Truth result = Truth::false_;
            for (const auto& item : n.list) {
                Truth t = compare_values(v, CompareOp::eq, item);
                if (t == Truth::true_) {
                    result = t;
                    break;
                }
                if (t == Truth::unknown) result = t;
            }
            return n.negated ? negate(result) : result;
        }
        case K::between: {
            Value v = operand_value(n.left, c);
            Truth lo = compare_values(v, CompareOp::ge, operand_value(n.right, c));
            Truth hi = compare_values(v, CompareOp::le, operand_value(n.upper, c));
            Truth t = lo == Truth::false_ || hi == Truth::false_     ? Truth::false_
                      : lo == Truth::unknown || hi == Truth::unknown ? Truth::unknown
                                                                     : Truth::true_;
            return n.negated ? negate(t) : t;
        }
        case K::like: {
            Value v = operand_value(n.left, c);
            if (v.type != TraitType::text) return Truth::unknown;
            Truth t = truth(like_match(v.text, n.name, n.case_insensitive, c.cancel));
            return n.negated ? negate(t) : t;
        }
        case K::is_null: {
            bool null = operand_value(n.left, c).type == TraitType::null;
            return truth(n.negated ? !null : null);
        }
        case K::has: {
            const Trait* t = context_trait(c, n.name);
            return truth(t != nullptr && t->value.type != TraitType::null);
        }
        case K::in_segment:
            return c.in_segment ? truth(c.in_segment(n.name)) : Truth::unknown;
        case K::known:
            return truth(c.known_lookup ? c.known_lookup() : c.known);
        case K::anonymous:
            return truth(!(c.known_lookup ? c.known_lookup() : c.known));
        case K::consent:
            return c.consent ? truth(c.consent(n.name).value_or(false)) : Truth::unknown;
        case K::in_cluster:
            return c.cluster ? truth(c.cluster() == std::stoi(n.name)) : Truth::unknown;
        case K::distinct: {
            bool same = same_value(operand_value(n.left, c), operand_value(n.right, c));
            return truth(n.negated ? same : !same);
        }
        case K::regex: {
            Value v = operand_value(n.left, c);
            if (v.type != TraitType::text) return Truth::unknown;
            // A match cannot be interrupted: look before each (a where filter
            // runs one per event).
            if (c.cancel && c.cancel())
                throw Error(ErrorCode::query_canceled, "canceling statement due to user request");
            Truth t = truth(regex_match(v.text, n.name, n.case_insensitive));
            return n.negated ? negate(t) : t;
        }
        case K::any_element:
            return any_element(n, c);
    }
    return Truth::unknown;
}

}  // namespace

Day window_first_day(Micros now, Micros within) {
    Micros days = (within + kMicrosPerDay - 1) / kMicrosPerDay;
    return day_of(now) - static_cast<Day>(days) + 1;
}

std::optional<Micros> today_start(const Operand& today, const EvaluationContext& c, std::int64_t extra_days) {
    std::int64_t days = today.offset / kMicrosPerDay + extra_days;
    if (today.name.empty() || today.name == "UTC" || today.name == "Etc/UTC")
        return (static_cast<Micros>(day_of(c.now)) + days) * kMicrosPerDay;
    if (!c.day_start) return std::nullopt;
    return c.day_start(today.name, days);
}

double distance_km(double lat1, double lon1, double lat2, double lon2) {
    constexpr double kEarthRadiusKm = 6371.0088;
    constexpr double kRadians = 3.14159265358979323846 / 180.0;
    double dlat = (lat2 - lat1) * kRadians, dlon = (lon2 - lon1) * kRadians;
    double a = std::pow(std::sin(dlat / 2), 2) +
               std::cos(lat1 * kRadians) * std::cos(lat2 * kRadians) * std::pow(std::sin(dlon / 2), 2);
    return 2 * kEarthRadiusKm * std::asin(std::sqrt(std::min(1.0, a)));
}

Truth evaluate(const PredicateNode& node, const EvaluationContext& context) {
    return evaluate_node(node, context);
}

}  // namespace customer_profile::core
