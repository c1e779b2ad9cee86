// Index keys of profiles and predicates (see predicate_index.hpp).
#include "predicate_index.hpp"

#include <algorithm>
#include <cstdint>
#include <cstdio>

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

std::optional<KeyClauses> clauses(const PredicateNode& n, const Computed& computed);

bool stored(const std::string& name, const Computed& computed) {
    return !computed || !computed(name);
}

// `trait = literal` (either side), or nullopt.
std::optional<std::string> equality_key(const Operand& a, const Operand& b, const Computed& computed) {
    if (a.kind == Operand::Kind::trait && b.kind == Operand::Kind::literal && stored(a.name, computed))
        return scalar_key(a.name, b.literal);
    if (b.kind == Operand::Kind::trait && a.kind == Operand::Kind::literal && stored(b.name, computed))
        return scalar_key(b.name, a.literal);
    return std::nullopt;
}

std::optional<KeyClauses> clauses(const PredicateNode& n, const Computed& computed) {
    using K = PredicateNode::Kind;
    switch (n.kind) {
        case K::and_: {
            KeyClauses all;
            for (const auto& c : n.children)
                if (auto sub = clauses(c, computed)) all.insert(all.end(), sub->begin(), sub->end());
            if (all.empty()) return std::nullopt;
            return all;
        }
        case K::or_: {
            // Each alternative must give a condition; one clause of each
            // (any of its clauses is necessary for it) makes one clause.
            std::vector<std::string> any;
            for (const auto& c : n.children) {
                auto sub = clauses(c, computed);
                if (!sub) return std::nullopt;
                const auto& shortest = *std::min_element(
                    sub->begin(), sub->end(), [](const auto& x, const auto& y) { return x.size() < y.size(); });
                any.insert(any.end(), shortest.begin(), shortest.end());
            }
            return KeyClauses{any};
        }
        case K::compare: {
            if (n.op != CompareOp::eq) return std::nullopt;
            if (auto key = equality_key(n.left, n.right, computed)) return KeyClauses{{*key}};
            return std::nullopt;
        }
        case K::in_list: {
            if (n.negated || n.left.kind != Operand::Kind::trait || !stored(n.left.name, computed)) return std::nullopt;
            std::vector<std::string> any;
            for (const auto& v : n.list) {
                if (v.type == TraitType::null) continue;  // never equal
                auto key = scalar_key(n.left.name, v);
                if (!key) return std::nullopt;
                any.push_back(*key);
            }
            if (any.empty()) return std::nullopt;
            return KeyClauses{any};
        }
        case K::is_null:
            if (!n.negated || n.left.kind != Operand::Kind::trait || !stored(n.left.name, computed))
                return std::nullopt;
            return KeyClauses{{n.left.name}};
        case K::has:
            if (!stored(n.name, computed)) return std::nullopt;
            return KeyClauses{{n.name}};
        case K::distinct:
            // IS NOT DISTINCT FROM a value (not NULL) is equality.
            if (!n.negated) return std::nullopt;
            if (auto key = equality_key(n.left, n.right, computed)) return KeyClauses{{*key}};
            return std::nullopt;
        default:
            return std::nullopt;
    }
}

}  // namespace

std::vector<std::string> profile_index_keys(const Profile& profile) {
    std::vector<std::string> keys;
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

std::optional<KeyClauses> candidate_clauses(const PredicateNode& predicate, const Computed& computed) {
    auto result = clauses(predicate, computed);
    if (!result) return result;
    for (auto& clause : *result) {
        std::sort(clause.begin(), clause.end());
        clause.erase(std::unique(clause.begin(), clause.end()), clause.end());
    }
    return result;
}

}  // namespace customer_profile::core
