// Normalized predicate text (see predicate_format.hpp).
#include "predicate_format.hpp"

#include <cctype>

#include "predicate_parser.hpp"
#include "text_literal.hpp"

namespace customer_profile::core {
namespace {

bool is_plain_name(const std::string& s) {
    if (s.empty() || !(std::islower(static_cast<unsigned char>(s[0])) || s[0] == '_')) return false;
    for (char c : s)
        if (!(std::islower(static_cast<unsigned char>(c)) || std::isdigit(static_cast<unsigned char>(c)) || c == '_'))
            return false;
    return !is_predicate_keyword(s);
}

std::string quoted(const std::string& s, char quote) {
    return quote_doubled(s, quote);
}

std::string name_text(const std::string& s) {
    return is_plain_name(s) ? s : quoted(s, '"');
}

std::string interval_text(Micros m) {
    static const struct {
        const char* unit;
        Micros micros;
    } units[] = {{"week", INT64_C(604800000000)},
                 {"day", INT64_C(86400000000)},
                 {"hour", INT64_C(3600000000)},
                 {"minute", INT64_C(60000000)}};
    for (const auto& u : units)
        if (m % u.micros == 0) {
            Micros n = m / u.micros;
            return std::to_string(n) + " " + u.unit + (n == 1 ? "" : "s");
        }
    return std::to_string(m / INT64_C(60000000)) + " minutes";  // not reachable from parsed text
}

std::string literal_text(const TraitValue& v) {
    switch (v.type) {
        case TraitType::null:
            return "NULL";
        case TraitType::boolean:
            return v.boolean ? "TRUE" : "FALSE";
        case TraitType::number:
            return shortest_number(v.number);
        case TraitType::text:
            return quoted(v.text, '\'');
        case TraitType::timestamp:
            return "timestamp " + quoted(format_timestamp(v.timestamp), '\'');
        case TraitType::text_array:
        case TraitType::point:
        case TraitType::object_array:
            break;  // never a literal
    }
    return "NULL";
}

std::string offset_text(Micros offset) {
    if (offset == 0) return "";
    return offset < 0 ? " - " + interval_text(-offset) : " + " + interval_text(offset);
}

std::string node_text(const PredicateNode& n, bool in_and);

std::string operand_text(const Operand& o) {
    switch (o.kind) {
        case Operand::Kind::trait:
            return name_text(o.name);
        case Operand::Kind::literal:
            return literal_text(o.literal);
        case Operand::Kind::now:
            return "now()" + offset_text(o.offset);
        case Operand::Kind::last_seen:
            return "last_seen(" + (o.name.empty() ? "" : name_text(o.name)) + ")" + offset_text(o.offset);
        case Operand::Kind::count:
        case Operand::Kind::sum: {
            std::string s = o.kind == Operand::Kind::count ? "count(" : "sum(";
            s += name_text(o.name);
            if (o.kind == Operand::Kind::sum) s += "." + name_text(o.property);
            if (!o.where.empty()) s += " where " + node_text(o.where.front(), false);
            if (o.within != 0) s += " within " + interval_text(o.within);
            return s + ")";
        }
        case Operand::Kind::count_between:
        case Operand::Kind::sum_between: {
            std::string s = o.kind == Operand::Kind::count_between ? "count(" : "sum(";
            s += name_text(o.name);
            if (o.kind == Operand::Kind::sum_between) s += "." + name_text(o.property);
            if (!o.where.empty()) s += " where " + node_text(o.where.front(), false);
            TraitValue from, to;
            from.type = to.type = TraitType::timestamp;
            from.timestamp = o.from;
            to.timestamp = o.to;
            return s + " between " + literal_text(from) + " and " + literal_text(to) + ")";
        }
        case Operand::Kind::today:
            return std::string("today") + (o.name.empty() ? "" : "(" + quoted(o.name, '\'') + ")") +
                   offset_text(o.offset);
        case Operand::Kind::distance:
            return "distance(" + name_text(o.name) + ", " + shortest_number(o.lat) + ", " + shortest_number(o.lon) +
                   ")";
    }
    return "";
}

std::string node_text(const PredicateNode& n, bool in_and) {
    using K = PredicateNode::Kind;
    switch (n.kind) {
        case K::and_:
        case K::or_: {
            std::string s;
            for (std::size_t i = 0; i < n.children.size(); ++i) {
                if (i) s += n.kind == K::and_ ? " AND " : " OR ";
                s += node_text(n.children[i], n.kind == K::and_);
            }
            return n.kind == K::or_ && in_and ? "(" + s + ")" : s;
        }
        case K::not_: {
            const PredicateNode& c = n.children.front();
            bool group = c.kind == K::and_ || c.kind == K::or_;
            return "NOT " + (group ? "(" + node_text(c, false) + ")" : node_text(c, false));
        }
        case K::compare:
            return operand_text(n.left) + " " + compare_op_text(n.op) + " " + operand_text(n.right);
        case K::in_list: {
            std::string s = operand_text(n.left) + (n.negated ? " NOT IN (" : " IN (");
            for (std::size_t i = 0; i < n.list.size(); ++i) s += (i ? ", " : "") + literal_text(n.list[i]);
            return s + ")";
        }
        case K::between:
            return operand_text(n.left) + (n.negated ? " NOT BETWEEN " : " BETWEEN ") + operand_text(n.right) +
                   " AND " + operand_text(n.upper);
        case K::like:
            return operand_text(n.left) + (n.negated ? " NOT " : " ") + (n.case_insensitive ? "ILIKE " : "LIKE ") +
                   quoted(n.name, '\'');
        case K::is_null:
            return operand_text(n.left) + (n.negated ? " IS NOT NULL" : " IS NULL");
        case K::distinct:
            return operand_text(n.left) + (n.negated ? " IS NOT DISTINCT FROM " : " IS DISTINCT FROM ") +
                   operand_text(n.right);
        case K::regex:
            return operand_text(n.left) + " " + (n.negated ? "!" : "") + "~" + (n.case_insensitive ? "*" : "") + " " +
                   quoted(n.name, '\'');
        case K::any_element:
            return "any(" + name_text(n.name) + " where " + node_text(n.children.front(), false) + ")";
        case K::has:
            return "has(" + name_text(n.name) + ")";
        case K::in_segment:
            return "in_segment(" + quoted(n.name, '\'') + ")";
        case K::consent:
            return "consent(" + n.name + ")";
        case K::in_cluster:
            return "in_cluster(" + n.name + ")";
        case K::known:
            return "known";
        case K::anonymous:
            return "anonymous";
    }
    return "";
}

}  // namespace

std::string format_predicate(const PredicateNode& node) {
    return node_text(node, false);
}

std::string format_operand(const Operand& operand) {
    return operand_text(operand);
}

}  // namespace customer_profile::core
