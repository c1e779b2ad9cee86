// libFuzzer target for match rules (make fuzz): the input is split at 0x00
// bytes into a fields JSON, a blocking JSON and up to ten record values. A
// rule that parses must give, for two records built from the values, levels
// within each field's range (or missing exactly when a value is), the same
// levels with the records swapped, blocking keys that start with their key
// number, a finite weight and a probability in [0, 1]; a rule that does not
// parse must say so with invalid_parameter, never anything else.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

#include "core/error.hpp"
#include "core/match_rule.hpp"

using namespace customer_profile::core;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    std::string all(reinterpret_cast<const char*>(data), size);
    std::vector<std::string> parts;
    std::size_t start = 0;
    while (parts.size() < 12) {
        std::size_t cut = all.find('\0', start);
        parts.push_back(all.substr(start, cut == std::string::npos ? std::string::npos : cut - start).substr(0, 200));
        if (cut == std::string::npos) break;
        start = cut + 1;
    }
    if (parts.size() < 2) return 0;
    MatchRule rule;
    try {
        rule = parse_match_rule(parts[0], parts[1], 0.99, 0.5);
    } catch (const Error& e) {
        if (e.code() != ErrorCode::invalid_parameter) std::abort();
        return 0;
    }
    std::size_t n = rule.fields.size();
    MatchRecord a(n), b(n);
    for (std::size_t f = 0; f < n; ++f) {
        std::size_t ia = 2 + 2 * f, ib = 3 + 2 * f;
        if (ia < parts.size()) a[f] = normalize_match_value(parts[ia]);
        if (ib < parts.size()) b[f] = normalize_match_value(parts[ib]);
    }
    ComparisonVector ab = compare_records(rule, a, b), ba = compare_records(rule, b, a);
    for (std::size_t f = 0; f < n; ++f) {
        bool missing = !a[f] || !b[f];
        if ((ab[f] == kMissing) != missing) std::abort();
        if (!missing && (ab[f] < 0 || ab[f] > static_cast<int>(rule.fields[f].levels.size()))) std::abort();
    }
    // Swapping the records keeps which fields are missing (the levels may differ by float rounding at a
    // similarity threshold).
    for (std::size_t f = 0; f < n; ++f)
        if ((ab[f] == kMissing) != (ba[f] == kMissing)) std::abort();
    std::vector<std::string> keys = blocking_keys(rule, a);
    // No key twice; at most one key per deletion piece of each key.
    if (keys.size() > rule.blocking.size() * (kMaxDeletionCodePoints + 1)) std::abort();
    std::vector<std::string> sorted = keys;
    std::sort(sorted.begin(), sorted.end());
    if (std::adjacent_find(sorted.begin(), sorted.end()) != sorted.end()) std::abort();
    for (const auto& k : keys) {
        std::size_t colon = k.find(':');
        if (colon == std::string::npos || std::atoi(k.c_str()) < 0 ||
            std::atoi(k.c_str()) >= static_cast<int>(rule.blocking.size()))
            std::abort();
    }
    PairScore s = score_pair(rule, a, b);
    if (!std::isfinite(s.weight) || !(s.probability >= 0 && s.probability <= 1)) std::abort();
    return 0;
}
