// Index keys of profiles and predicates (see predicate_index.hpp).
#include "predicate_index.hpp"

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <limits>

#include "predicate_eval.hpp"

#include "text_literal.hpp"

namespace customer_profile::core {
namespace {

constexpr char kSeparator = '\x1f';
constexpr std::size_t kMaxKeyValueBytes = 128;

std::string fnv1a(const std::string& s) {
    std::uint64_t h = 14695981039346656037ULL;
    for (unsigned char c : s) {
        h ^= c;
        h *= 1099511628211ULL;
    }
    char out[20];
    std::snprintf(out, sizeof out, "#%016llx", static_cast<unsigned long long>(h));
    return out;
}

std::string value_key(const std::string& name, const std::string& text) {
    return name + kSeparator + (text.size() > kMaxKeyValueBytes ? fnv1a(text) : text);
}

// The value key of a scalar, as an equality test on it reads it; nullopt for
// values that are not indexed by value (timestamps, nulls, points, lists).
std::optional<std::string> scalar_key(const std::string& name, const TraitValue& v) {
    switch (v.type) {
        case TraitType::text:
            return value_key(name, "t" + v.text);
        case TraitType::number:
            return value_key(name, "n" + (v.number == 0 ? std::string("0") : shortest_number(v.number)));
        case TraitType::boolean:
            return value_key(name, v.boolean ? "btrue" : "bfalse");
        default:
            return std::nullopt;
    }
}

using Computed = std::function<bool(const std::string&)>;

struct Context {
    Micros now;
    const Computed& computed;
};

std::optional<KeyClauses> clauses(const PredicateNode& n, const Context& c);

bool stored(const std::string& name, const Computed& computed) {
    return !computed || !computed(name);
}

KeyClauses trait_clause(std::vector<std::string> keys) {
    return KeyClauses{std::move(keys)};
}

// `trait = literal` (either side), or nullopt.
std::optional<std::string> equality_key(const Operand& a, const Operand& b, const Computed& computed) {
    if (a.kind == Operand::Kind::trait && b.kind == Operand::Kind::literal && stored(a.name, computed))
        return scalar_key(a.name, b.literal);
    if (b.kind == Operand::Kind::trait && a.kind == Operand::Kind::literal && stored(b.name, computed))
        return scalar_key(b.name, a.literal);
    return std::nullopt;
}

// Behavior keys: the block of a day (days since 2000-01-01) at four levels,
// for days from 0 to 2^17 (year 2358); one key for the days before and one
// for the days after.
constexpr int kBlockShift[4] = {3, 7, 11, 15};
constexpr Day kBeyondDay = 1 << 17;
constexpr int kBeforeLevel = 4, kBeyondLevel = 5;

std::uint32_t fnv1a32(const std::string& s) {
    std::uint32_t h = 2166136261U;
    for (unsigned char ch : s) {
        h ^= ch;
        h *= 16777619U;
    }
    return h;
}

std::int64_t behavior_key(std::uint32_t type_hash, int level, std::uint32_t block) {
    std::uint64_t low = (static_cast<std::uint64_t>(level) << 28) | block;
    return static_cast<std::int64_t>((static_cast<std::uint64_t>(type_hash) << 32) | low);
}

// The stored form of one event type's last day: the type's hash, then its
// block of 8 days (or a marker for before and after the indexed days), so
// that the column changes at most once in 8 days per type and stays small
// (a value PostgreSQL would compress in the row never equals the new one it
// computes, and the update could not be HOT).
constexpr std::uint32_t kBeforeCode = 0xFFFFFFFEU, kBeyondCode = 0xFFFFFFFFU;

std::int64_t last_day_value(std::uint32_t type_hash, Day day) {
    std::uint32_t code = day < 0             ? kBeforeCode
                         : day >= kBeyondDay ? kBeyondCode
                                             : static_cast<std::uint32_t>(day) >> kBlockShift[0];
    return static_cast<std::int64_t>((static_cast<std::uint64_t>(type_hash) << 32) | code);
}

// The index keys of a stored last-day value.
void add_day_keys(std::vector<std::string>& keys, std::int64_t value) {
    auto bits = static_cast<std::uint64_t>(value);
    auto h = static_cast<std::uint32_t>(bits >> 32);
    auto code = static_cast<std::uint32_t>(bits);
    if (code == kBeforeCode) {
        keys.push_back(behavior_key_text(behavior_key(h, kBeforeLevel, 0)));
    } else if (code == kBeyondCode) {
        keys.push_back(behavior_key_text(behavior_key(h, kBeyondLevel, 0)));
    } else {
        // A block of 8 days, whatever its size (a written value is a key only).
        code &= (1U << (17 - kBlockShift[0])) - 1;
        for (int level = 0; level < 4; ++level)
            keys.push_back(behavior_key_text(behavior_key(h, level, code >> (kBlockShift[level] - kBlockShift[0]))));
    }
}

// The keys of every block that holds a day on or after `first` (at most 16
// + 15 + 15 + 3 + 1): at each level the blocks up to the end of the
// enclosing block of the next level, then the next level from there.
KeyClauses last_event_clause(const std::string& type, Day first) {
    std::uint32_t h = fnv1a32(type);
    std::vector<std::int64_t> keys{behavior_key(h, kBeyondLevel, 0)};
    if (first < 0) keys.push_back(behavior_key(h, kBeforeLevel, 0));
    std::uint32_t at = static_cast<std::uint32_t>(std::max<Day>(first, 0));
    if (first < kBeyondDay) {
        for (int level = 0; level < 3; ++level) {
            int shift = kBlockShift[level], next = kBlockShift[level + 1];
            if (at % (1U << next) == 0) continue;  // the next level covers it whole
            std::uint32_t parent_end = ((at >> next) + 1) << next;
            for (std::uint32_t b = at >> shift; b < parent_end >> shift; ++b) keys.push_back(behavior_key(h, level, b));
            at = parent_end;
        }
        for (std::uint32_t b = at >> kBlockShift[3]; b < static_cast<std::uint32_t>(kBeyondDay) >> kBlockShift[3]; ++b)
            keys.push_back(behavior_key(h, 3, b));
    }
    std::vector<std::string> texts;
    for (auto k : keys) texts.push_back(behavior_key_text(k));
    return KeyClauses{std::move(texts)};
}

// The name whose stored value is the day of a type's second most recent
// counted event (a collision with a real type's name only adds candidates).
std::string second_event_name(const std::string& type) {
    return std::string(1, '\x02') + type;
}

// The latest bucket day from which the buckets count at least two events,
// if any: a window [first, now] that counts two events then holds it (the
// sum from the window's first bucket on is that count). Accumulated in 128
// bits: a summary written by hand may hold any counts.
std::optional<Day> second_event_day(const EventSummary& s) {
    __int128 n = 0;
    for (auto b = s.buckets.rbegin(); b != s.buckets.rend(); ++b) {
        n += b->count;
        if (n >= 2) return b->day;
    }
    return std::nullopt;
}

// `a op b` as `b flipped(op) a`.
CompareOp flipped(CompareOp op) {
    switch (op) {
        case CompareOp::lt:
            return CompareOp::gt;
        case CompareOp::le:
            return CompareOp::ge;
        case CompareOp::gt:
            return CompareOp::lt;
        case CompareOp::ge:
            return CompareOp::le;
        default:
            return op;
    }
}

// Whether `aggregate op v` is false for every profile without an event of
// the type (in the window): a count is then 0, a sum 0.
bool needs_an_event(const Operand& aggregate, CompareOp op, double v) {
    bool count = aggregate.counts();
    switch (op) {
        case CompareOp::gt:
            return v >= 0;
        case CompareOp::ge:
            return v > 0;
        case CompareOp::eq:
            return v != 0;
        case CompareOp::lt:
            return !count && v <= 0;
        case CompareOp::le:
            return !count && v < 0;
        default:
            return false;
    }
}

// Whether `count op v` is false for every count below 2 (counts are whole).
bool needs_two_events(const Operand& aggregate, CompareOp op, double v) {
    if (aggregate.kind != Operand::Kind::count) return false;
    switch (op) {
        case CompareOp::gt:
            return v >= 1;
        case CompareOp::ge:
        case CompareOp::eq:
            return v > 1;
        default:
            return false;
    }
}

// The clause of a count or sum in a window: its last event in the window,
// or for a count of two or more in a window ending now, its second most
// recent event (a count over all time reads the summary's total, which
// outlives the buckets).
KeyClauses window_clause(const Operand& aggregate, Day first, bool two) {
    if (two && aggregate.within != 0) return last_event_clause(second_event_name(aggregate.name), first);
    return last_event_clause(aggregate.name, first);
}

// The first day an event must be on or after for `aggregate` to count it,
// or nullopt when the condition is not read from the summary's days.
std::optional<Day> aggregate_first_day(const Operand& aggregate, Micros now) {
    if (!aggregate.where.empty() || aggregate.is_ranged()) return std::nullopt;
    if (aggregate.kind != Operand::Kind::count && aggregate.kind != Operand::Kind::sum) return std::nullopt;
    if (aggregate.within == 0) return std::numeric_limits<Day>::min();
    return window_first_day(now, aggregate.within);
}

Micros saturating_add(Micros a, Micros b) {
    Micros r = 0;
    if (__builtin_add_overflow(a, b, &r))
        return b > 0 ? std::numeric_limits<Micros>::max() : std::numeric_limits<Micros>::min();
    return r;
}

// The behavior clause of `left op right`, where left reads the behavior.
std::optional<KeyClauses> behavior_compare(const Operand& left, CompareOp op, const Operand& right, Micros now) {
    if (left.is_aggregate() && right.kind == Operand::Kind::literal && right.literal.type == TraitType::number) {
        auto first = aggregate_first_day(left, now);
        if (!first || !needs_an_event(left, op, right.literal.number)) return std::nullopt;
        return window_clause(left, *first, needs_two_events(left, op, right.literal.number));
    }
    // last_seen(type) + a > X: the last event is at or after X - a.
    if (left.kind == Operand::Kind::last_seen && !left.name.empty() && (op == CompareOp::gt || op == CompareOp::ge)) {
        Micros x = 0;
        if (right.kind == Operand::Kind::now)
            x = saturating_add(now, right.offset);
        else if (right.kind == Operand::Kind::literal && right.literal.type == TraitType::timestamp)
            x = right.literal.timestamp;
        else
            return std::nullopt;
        return last_event_clause(left.name, day_of(saturating_add(x, -left.offset)));
    }
    return std::nullopt;
}

std::optional<KeyClauses> compare_clauses(const PredicateNode& n, const Context& c) {
    if (n.op == CompareOp::eq)
        if (auto key = equality_key(n.left, n.right, c.computed)) return trait_clause({*key});
    if (auto found = behavior_compare(n.left, n.op, n.right, c.now)) return found;
    return behavior_compare(n.right, flipped(n.op), n.left, c.now);
}

std::optional<KeyClauses> clauses(const PredicateNode& n, const Context& c) {
    using K = PredicateNode::Kind;
    switch (n.kind) {
        case K::and_: {
            KeyClauses all;
            for (const auto& child : n.children)
                if (auto sub = clauses(child, c)) all.insert(all.end(), sub->begin(), sub->end());
            if (all.empty()) return std::nullopt;
            return all;
        }
        case K::or_: {
            // Each alternative must give a condition; one clause of each
            // (any of its clauses is necessary for it) makes one clause.
            std::vector<std::string> any;
            for (const auto& child : n.children) {
                auto sub = clauses(child, c);
                if (!sub) return std::nullopt;
                const auto& shortest = *std::min_element(
                    sub->begin(), sub->end(), [](const auto& x, const auto& y) { return x.size() < y.size(); });
                any.insert(any.end(), shortest.begin(), shortest.end());
            }
            return KeyClauses{any};
        }
        case K::compare:
            return compare_clauses(n, c);
        case K::between: {
            // count(...) BETWEEN 1 AND 5 needs an event; NOT BETWEEN may hold without.
            if (n.negated || !n.left.is_aggregate() || n.right.kind != Operand::Kind::literal ||
                n.upper.kind != Operand::Kind::literal || n.right.literal.type != TraitType::number ||
                n.upper.literal.type != TraitType::number)
                return std::nullopt;
            double low = n.right.literal.number, high = n.upper.literal.number;
            if (!(low > 0 || high < 0 || low > high)) return std::nullopt;
            auto first = aggregate_first_day(n.left, c.now);
            if (!first) return std::nullopt;
            return window_clause(n.left, *first, n.left.kind == Operand::Kind::count && low > 1);
        }
        case K::in_list: {
            if (n.negated || n.left.kind != Operand::Kind::trait || !stored(n.left.name, c.computed))
                return std::nullopt;
            std::vector<std::string> any;
            for (const auto& v : n.list) {
                if (v.type == TraitType::null) continue;  // never equal
                auto key = scalar_key(n.left.name, v);
                if (!key) return std::nullopt;
                any.push_back(*key);
            }
            if (any.empty()) return std::nullopt;
            return trait_clause(std::move(any));
        }
        case K::is_null:
            if (!n.negated || n.left.kind != Operand::Kind::trait || !stored(n.left.name, c.computed))
                return std::nullopt;
            return trait_clause({n.left.name});
        case K::has:
            if (!stored(n.name, c.computed)) return std::nullopt;
            return trait_clause({n.name});
        case K::distinct:
            // IS NOT DISTINCT FROM a value (not NULL) is equality.
            if (!n.negated) return std::nullopt;
            if (auto key = equality_key(n.left, n.right, c.computed)) return trait_clause({*key});
            return std::nullopt;
        default:
            return std::nullopt;
    }
}

}  // namespace

std::string behavior_key_text(std::int64_t key) {
    char out[20];
    std::snprintf(out, sizeof out, "\x1e%016llx", static_cast<unsigned long long>(key));
    return out;
}

std::vector<std::string> profile_index_keys(const Profile& profile, const std::vector<std::int64_t>& behavior_keys) {
    std::vector<std::string> keys;
    for (auto v : behavior_keys) add_day_keys(keys, v);
    for (const Trait& t : profile.traits) {
        const TraitValue& v = t.value;
        if (v.type == TraitType::null) continue;
        keys.push_back(t.name);
        if (v.type == TraitType::text_array) {
            for (const auto& item : v.array) keys.push_back(value_key(t.name, "t" + item));
        } else if (auto key = scalar_key(t.name, v)) {
            keys.push_back(*key);
        }
    }
    std::sort(keys.begin(), keys.end());
    keys.erase(std::unique(keys.begin(), keys.end()), keys.end());
    return keys;
}

std::vector<std::int64_t> behavior_index_keys(const Behavior& behavior) {
    std::vector<std::int64_t> keys;
    for (const EventSummary& s : behavior.types) {
        // The later of the last event and the last daily bucket: a summary
        // written by hand may hold a bucket after last_at, and counts read
        // the buckets.
        Day day = day_of(s.last_at);
        if (!s.buckets.empty()) day = std::max(day, s.buckets.back().day);
        keys.push_back(last_day_value(fnv1a32(s.event_type), day));
        if (auto second = second_event_day(s))
            keys.push_back(last_day_value(fnv1a32(second_event_name(s.event_type)), *second));
    }
    std::sort(keys.begin(), keys.end());
    keys.erase(std::unique(keys.begin(), keys.end()), keys.end());
    return keys;
}

std::optional<KeyClauses> candidate_clauses(const PredicateNode& predicate, Micros now, const Computed& computed) {
    Context c{now, computed};
    auto result = clauses(predicate, c);
    if (!result) return result;
    for (auto& clause : *result) {
        std::sort(clause.begin(), clause.end());
        clause.erase(std::unique(clause.begin(), clause.end()), clause.end());
    }
    return result;
}

}  // namespace customer_profile::core
