// Next change of a predicate over time (see predicate_schedule.hpp).
#include "predicate_schedule.hpp"

#include <algorithm>

namespace customer_profile::core {
namespace {

class Scheduler {
public:
    explicit Scheduler(const EvaluationContext& c) : c_(c) {}

    void node(const PredicateNode& n) {
        // Object fields are never timestamps: nothing inside any() changes with time.
        if (n.kind == PredicateNode::Kind::any_element) return;
        for (const auto& child : n.children) node(child);
        if (n.kind == PredicateNode::Kind::compare) {
            crossing(n.left, n.right);
        } else if (n.kind == PredicateNode::Kind::between) {
            crossing(n.left, n.right);
            crossing(n.left, n.upper);
        }
        for (const Operand* o : {&n.left, &n.right, &n.upper}) {
            window(*o);
            day_turn(*o);
        }
    }

    std::optional<Micros> earliest() const { return earliest_; }

private:
    void consider(Micros at) {
        if (at > c_.now && (!earliest_ || at < *earliest_)) earliest_ = at;
    }

    // now() + offset against a fixed time v: a strict comparison flips when
    // now() reaches v - offset, a non-strict one a microsecond later (both
    // are candidates, so a re-evaluation at the first schedules the second).
    void crossing(const Operand& a, const Operand& b) {
        if ((a.kind == Operand::Kind::now) == (b.kind == Operand::Kind::now)) return;
        const Operand& now_side = a.kind == Operand::Kind::now ? a : b;
        const Operand& other = a.kind == Operand::Kind::now ? b : a;
        TraitValue v = operand_value(other, c_);
        if (v.type != TraitType::timestamp) return;
        Micros at = v.timestamp - now_side.offset;
        if (at >= kMaxTimestamp) return;
        consider(at);
        consider(at + 1);
    }

    // today (in its zone) takes its next value when the next local day begins.
    void day_turn(const Operand& o) {
        if (o.kind != Operand::Kind::today) return;
        Operand start = o;
        start.offset = 0;
        if (auto at = today_start(start, c_, 1)) consider(*at);
    }

    // A window of n days holds day d until day d + n begins.
    void window(const Operand& o) {
        if ((o.kind != Operand::Kind::count && o.kind != Operand::Kind::sum) || o.within == 0) return;
        const Behavior* behavior = context_behavior(c_);
        if (behavior == nullptr) return;
        const EventSummary* s = behavior->find(o.name);
        if (s == nullptr) return;
        Day first = window_first_day(c_.now, o.within);
        auto in_window = std::lower_bound(s->buckets.begin(), s->buckets.end(), first,
                                          [](const DayBucket& b, Day d) { return b.day < d; });
        if (in_window == s->buckets.end()) return;
        Day days = day_of(c_.now) - first + 1;
        consider(static_cast<Micros>(in_window->day + days) * kMicrosPerDay);
    }

    const EvaluationContext& c_;
    std::optional<Micros> earliest_;
};

}  // namespace

std::optional<Micros> next_change(const PredicateNode& tree, const EvaluationContext& context) {
    Scheduler s(context);
    s.node(tree);
    return s.earliest();
}

}  // namespace customer_profile::core
