// Predicate tree helpers: operator text and structural equality.
#include "predicate.hpp"

#include <algorithm>

namespace customer_profile::core {

const char* compare_op_text(CompareOp op) {
    switch (op) {
        case CompareOp::eq:
            return "=";
        case CompareOp::ne:
            return "<>";
        case CompareOp::lt:
            return "<";
        case CompareOp::le:
            return "<=";
        case CompareOp::gt:
            return ">";
        case CompareOp::ge:
            return ">=";
    }
    return "?";
}

bool operator==(const Operand& a, const Operand& b) {
    return a.kind == b.kind && a.name == b.name && a.property == b.property && a.literal == b.literal &&
           a.offset == b.offset && a.within == b.within && a.where == b.where;
}

bool operator==(const PredicateNode& a, const PredicateNode& b) {
    return a.kind == b.kind && a.children == b.children && a.op == b.op && a.negated == b.negated &&
           a.case_insensitive == b.case_insensitive && a.left == b.left && a.right == b.right && a.upper == b.upper &&
           a.list == b.list && a.name == b.name;
}

namespace {

void collect_segments(const PredicateNode& n, std::vector<std::string>& out) {
    if (n.kind == PredicateNode::Kind::in_segment) out.push_back(n.name);
    for (const auto& c : n.children) collect_segments(c, out);
    for (const Operand* o : {&n.left, &n.right, &n.upper})
        for (const auto& w : o->where) collect_segments(w, out);
}

}  // namespace

std::vector<std::string> referenced_segments(const PredicateNode& node) {
    std::vector<std::string> out;
    collect_segments(node, out);
    std::sort(out.begin(), out.end());
    out.erase(std::unique(out.begin(), out.end()), out.end());
    return out;
}

}  // namespace customer_profile::core
