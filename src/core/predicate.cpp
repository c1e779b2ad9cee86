// Predicate tree helpers: operator text and structural equality.
#include "predicate.hpp"

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

}  // namespace customer_profile::core
