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
           a.offset == b.offset && a.within == b.within && a.from == b.from && a.to == b.to && a.lat == b.lat &&
           a.lon == b.lon && a.where == b.where;
}

bool plausible_time_zone_name(std::string_view zone) {
    if (zone.empty() || zone.size() > kMaxTimeZoneNameBytes) return false;
    for (char ch : zone)
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || ch == '_' ||
              ch == '/' || ch == '+' || ch == '-'))
            return false;
    return true;
}

bool operator==(const PredicateNode& a, const PredicateNode& b) {
    return a.kind == b.kind && a.children == b.children && a.op == b.op && a.negated == b.negated &&
           a.case_insensitive == b.case_insensitive && a.left == b.left && a.right == b.right && a.upper == b.upper &&
           a.list == b.list && a.name == b.name;
}

bool valid_consent_purpose(std::string_view purpose) {
    if (purpose.empty() || purpose.size() > 63 || purpose[0] < 'a' || purpose[0] > 'z') return false;
    for (char ch : purpose)
        if (!((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '_')) return false;
    return true;
}

bool valid_cluster_number(std::string_view digits) {
    if (digits.empty() || digits.size() > 4 || digits[0] == '0') return false;
    int n = 0;
    for (char ch : digits) {
        if (ch < '0' || ch > '9') return false;
        n = n * 10 + (ch - '0');
    }
    return n >= 1 && n <= kMaxClusters;
}

namespace {

void collect_segments(const PredicateNode& n, std::vector<std::string>& out) {
    if (n.kind == PredicateNode::Kind::in_segment) out.push_back(n.name);
    for (const auto& c : n.children) collect_segments(c, out);
    for (const Operand* o : {&n.left, &n.right, &n.upper})
        for (const auto& w : o->where) collect_segments(w, out);
}

void collect_operand(const Operand& o, PredicateDeps& d) {
    switch (o.kind) {
        case Operand::Kind::trait:
            d.traits.push_back(o.name);
            break;
        case Operand::Kind::last_seen:
            if (o.name.empty())
                d.any_event = true;
            else
                d.event_types.push_back(o.name);
            break;
        case Operand::Kind::count:
        case Operand::Kind::sum:
        case Operand::Kind::count_between:
        case Operand::Kind::sum_between:
            d.event_types.push_back(o.name);
            if (o.within != 0) d.time = true;
            if (o.reads_events()) d.filtered = true;
            break;
        case Operand::Kind::now:
        case Operand::Kind::today:
            d.time = true;
            break;
        case Operand::Kind::distance:
            d.traits.push_back(o.name);
            break;
        default:
            break;
    }
}

// Inside any(): names are object fields; only time (now(), today) matters.
void collect_element_deps(const PredicateNode& n, PredicateDeps& d) {
    for (const auto& c : n.children) collect_element_deps(c, d);
    for (const Operand* o : {&n.left, &n.right, &n.upper})
        if (o->kind == Operand::Kind::now || o->kind == Operand::Kind::today) d.time = true;
}

void collect_deps(const PredicateNode& n, PredicateDeps& d) {
    if (n.kind == PredicateNode::Kind::known || n.kind == PredicateNode::Kind::anonymous) d.known = true;
    if (n.kind == PredicateNode::Kind::has) d.traits.push_back(n.name);
    if (n.kind == PredicateNode::Kind::consent) d.consents.push_back(n.name);
    if (n.kind == PredicateNode::Kind::in_cluster) d.clusters = true;
    if (n.kind == PredicateNode::Kind::any_element) {
        // The names inside are the fields of the trait's objects.
        d.traits.push_back(n.name);
        collect_element_deps(n.children.front(), d);
        return;
    }
    for (const auto& c : n.children) collect_deps(c, d);
    // Names inside a where filter are event properties: the event type covers them.
    for (const Operand* o : {&n.left, &n.right, &n.upper}) collect_operand(*o, d);
}

void sort_unique(std::vector<std::string>& v) {
    std::sort(v.begin(), v.end());
    v.erase(std::unique(v.begin(), v.end()), v.end());
}

}  // namespace

namespace {

// 0: traits only, 1: reads the behavior summary, 2: needs a query.
int evaluation_cost(const PredicateNode& n) {
    using K = PredicateNode::Kind;
    if (n.kind == K::known || n.kind == K::anonymous || n.kind == K::in_segment || n.kind == K::consent ||
        n.kind == K::in_cluster)
        return 2;
    int cost = 0;
    for (const auto& c : n.children) cost = std::max(cost, evaluation_cost(c));
    for (const Operand* o : {&n.left, &n.right, &n.upper}) {
        if (o->reads_events()) return 2;
        if (o->is_aggregate() || o->kind == Operand::Kind::last_seen) cost = std::max(cost, 1);
    }
    return cost;
}

}  // namespace

PredicateNode cheapest_first(PredicateNode node) {
    for (auto& c : node.children) c = cheapest_first(std::move(c));
    if (node.kind == PredicateNode::Kind::and_ || node.kind == PredicateNode::Kind::or_)
        std::stable_sort(
            node.children.begin(), node.children.end(),
            [](const PredicateNode& a, const PredicateNode& b) { return evaluation_cost(a) < evaluation_cost(b); });
    return node;
}

PredicateDeps predicate_dependencies(const PredicateNode& node) {
    PredicateDeps d;
    collect_deps(node, d);
    sort_unique(d.traits);
    sort_unique(d.event_types);
    sort_unique(d.consents);
    return d;
}

std::vector<std::string> referenced_segments(const PredicateNode& node) {
    std::vector<std::string> out;
    collect_segments(node, out);
    std::sort(out.begin(), out.end());
    out.erase(std::unique(out.begin(), out.end()), out.end());
    return out;
}

namespace {

void collect_zones(const PredicateNode& n, std::vector<std::string>& out) {
    for (const auto& c : n.children) collect_zones(c, out);
    for (const Operand* o : {&n.left, &n.right, &n.upper}) {
        if (o->kind == Operand::Kind::today && !o->name.empty()) out.push_back(o->name);
        for (const auto& w : o->where) collect_zones(w, out);
    }
}

void rezone(PredicateNode& n, const std::string& zone, const std::string& old_zone) {
    for (auto& c : n.children) rezone(c, zone, old_zone);
    for (Operand* o : {&n.left, &n.right, &n.upper}) {
        if (o->kind == Operand::Kind::today && (o->name.empty() || o->name == old_zone)) o->name = zone;
        for (auto& w : o->where) rezone(w, zone, old_zone);
    }
}

}  // namespace

std::vector<std::string> referenced_time_zones(const PredicateNode& node) {
    std::vector<std::string> out;
    collect_zones(node, out);
    sort_unique(out);
    return out;
}

PredicateNode with_time_zone(PredicateNode node, const std::string& zone, const std::string& old_zone) {
    rezone(node, zone == "UTC" ? "" : zone, old_zone == "UTC" ? "" : old_zone);
    return node;
}

}  // namespace customer_profile::core
