// Predicate type checking (see predicate_check.hpp).
#include "predicate_check.hpp"

#include "error.hpp"
#include "text_literal.hpp"

namespace customer_profile::core {
namespace {

// Where names are read: the profile's traits (event_type == nullptr) or,
// inside count/sum(event_type where ...), the properties of each event.
using Scope = const std::string*;
// Inside any(list where ...): names are the fields of one object, of no
// declared type.
const std::string kElementScope = "\x01element";
bool in_element(Scope scope) {
    return scope == &kElementScope;
}

std::optional<TraitType> event_property_type(const Operand& o, const PredicateSchema& s, Scope event_type) {
    if (in_element(event_type)) return std::nullopt;
    return s.event_property_type ? s.event_property_type(*event_type, o.name) : std::nullopt;
}

// The static type of an operand; nullopt when any type may appear (an
// undeclared trait or event property, NULL).
std::optional<TraitType> static_type(const Operand& o, const PredicateSchema& s, Scope event_type) {
    switch (o.kind) {
        case Operand::Kind::literal:
            if (o.literal.type == TraitType::null) return std::nullopt;
            return o.literal.type;
        case Operand::Kind::trait:
            if (event_type != nullptr) return event_property_type(o, s, event_type);
            if (!s.trait_type) return std::nullopt;
            return s.trait_type(o.name);
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
    }
    return std::nullopt;
}

std::string describe(const Operand& o) {
    switch (o.kind) {
        case Operand::Kind::trait:
            return o.name;
        case Operand::Kind::literal:
            return o.literal.type == TraitType::text ? "'" + o.literal.text + "'" : "the literal";
        case Operand::Kind::now:
            return "now()";
        case Operand::Kind::last_seen:
            return "last_seen()";
        case Operand::Kind::count:
        case Operand::Kind::count_between:
            return "count(" + o.name + ")";
        case Operand::Kind::sum:
        case Operand::Kind::sum_between:
            return "sum(" + o.name + "." + o.property + ")";
        case Operand::Kind::today:
            return "today";
        case Operand::Kind::distance:
            return "distance(" + o.name + ")";
    }
    return "?";
}

[[noreturn]] void type_error(const std::string& message, const std::string& hint = {}) {
    throw Error(ErrorCode::invalid_parameter, "type error: " + message, {}, hint);
}

// An event property that is not declared holds what JSON holds; JSON has
// no timestamps, so comparing one with a timestamp could never be true.
void check_undeclared_property(const Operand& property, const Operand& other, const PredicateSchema& s,
                               Scope event_type) {
    if (event_type == nullptr || in_element(event_type) || property.kind != Operand::Kind::trait ||
        event_property_type(property, s, event_type) || static_type(other, s, event_type) != TraitType::timestamp)
        return;
    type_error("property \"" + property.name + "\" of event type \"" + *event_type +
                   "\" is compared with a timestamp, but it is not declared as one: its JSON value is text, a "
                   "number or a boolean, so the comparison could never be true",
               "Declare its type first: SELECT customer_profile.event_property_define(" +
                   quote_doubled(*event_type, '\'') + ", " + quote_doubled(property.name, '\'') + ", 'timestamp');");
}

// Two operands that must be comparable; ordered comparisons need an
// ordered type, and a text[] trait only takes = / <> / IN with text.
void check_pair(const Operand& a, const Operand& b, bool ordered, const PredicateSchema& s, Scope event_type) {
    check_undeclared_property(a, b, s, event_type);
    check_undeclared_property(b, a, s, event_type);
    auto ta = static_type(a, s, event_type), tb = static_type(b, s, event_type);
    for (const auto* side : {&ta, &tb})
        if (*side && ordered && (**side == TraitType::boolean || **side == TraitType::text_array))
            type_error(std::string("<, <=, >, >= and BETWEEN need numbers, text or timestamps, not ") +
                       trait_type_name(**side));
    if (!ta || !tb || *ta == *tb) return;
    if (!ordered && ((*ta == TraitType::text_array && *tb == TraitType::text) ||
                     (*tb == TraitType::text_array && *ta == TraitType::text)))
        return;
    type_error(describe(a) + " is " + trait_type_name(*ta) + " but " + describe(b) + " is " + trait_type_name(*tb));
}

void check(const PredicateNode& n, const PredicateSchema& s, Scope event_type);

void check_operand(const Operand& o, const PredicateSchema& s, Scope event_type) {
    if (event_type != nullptr && !in_element(event_type) && o.kind != Operand::Kind::trait &&
        o.kind != Operand::Kind::literal)
        type_error("a where filter compares event properties with values; " + describe(o) + " is not allowed there");
    if ((o.kind == Operand::Kind::sum || o.kind == Operand::Kind::sum_between) && s.is_measure &&
        !s.is_measure(o.name, o.property))
        type_error("\"" + o.property + "\" is not a declared measure of event type \"" + o.name + "\"");
    if (o.kind == Operand::Kind::distance && s.trait_type)
        if (auto t = s.trait_type(o.name); t && *t != TraitType::point)
            type_error("distance() needs a point trait, but " + o.name + " is " + trait_type_name(*t));
    for (const auto& w : o.where) check(w, s, &o.name);
}

void check(const PredicateNode& n, const PredicateSchema& s, Scope event_type) {
    using K = PredicateNode::Kind;
    switch (n.kind) {
        case K::and_:
        case K::or_:
        case K::not_:
            for (const auto& c : n.children) check(c, s, event_type);
            return;
        case K::compare:
            check_operand(n.left, s, event_type);
            check_operand(n.right, s, event_type);
            check_pair(n.left, n.right, n.op != CompareOp::eq && n.op != CompareOp::ne, s, event_type);
            return;
        case K::in_list:
            check_operand(n.left, s, event_type);
            for (const auto& item : n.list) {
                Operand lit;
                lit.literal = item;
                check_pair(n.left, lit, false, s, event_type);
            }
            return;
        case K::between:
            check_operand(n.left, s, event_type);
            check_operand(n.right, s, event_type);
            check_operand(n.upper, s, event_type);
            check_pair(n.left, n.right, true, s, event_type);
            check_pair(n.left, n.upper, true, s, event_type);
            return;
        case K::like: {
            check_operand(n.left, s, event_type);
            auto t = static_type(n.left, s, event_type);
            if (t && *t != TraitType::text)
                type_error("LIKE and ILIKE need text, but " + describe(n.left) + " is " + trait_type_name(*t));
            return;
        }
        case K::is_null:
            check_operand(n.left, s, event_type);
            return;
        case K::distinct:
            check_operand(n.left, s, event_type);
            check_operand(n.right, s, event_type);
            check_pair(n.left, n.right, false, s, event_type);
            return;
        case K::regex: {
            check_operand(n.left, s, event_type);
            auto t = static_type(n.left, s, event_type);
            if (t && *t != TraitType::text)
                type_error("~, ~*, !~ and !~* need text, but " + describe(n.left) + " is " + trait_type_name(*t));
            return;
        }
        case K::any_element: {
            if (event_type == nullptr && s.trait_type)
                if (auto t = s.trait_type(n.name); t && *t != TraitType::object_array)
                    type_error("any() needs a list of objects (type object[]), but " + n.name + " is " +
                               trait_type_name(*t));
            check(n.children.front(), s, &kElementScope);
            return;
        }
        case K::has:
        case K::in_segment:
        case K::known:
        case K::anonymous:
        case K::consent:
        case K::in_cluster:
            if (in_element(event_type)) {
                if (n.kind != K::has) type_error("inside any(), conditions can only test the fields of one object");
            } else if (event_type != nullptr) {
                type_error("a where filter can only test event properties");
            }
            return;
    }
}

}  // namespace

void check_predicate(const PredicateNode& node, const PredicateSchema& schema) {
    check(node, schema, nullptr);
}

}  // namespace customer_profile::core
