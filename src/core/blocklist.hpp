// Per-namespace blocked identifier values: exact values (compared
// case-insensitively) and regular expressions run with RE2, whose linear-time
// matching means a hostile pattern cannot hang a backend.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "error.hpp"

namespace re2 {
class RE2;
}

namespace customer_profile::core {

struct BlockMatch {
    enum class Rule { none, blocked_value, blocked_pattern } rule = Rule::none;
    std::string what;  // the blocked value or pattern that matched
};

class Blocklist {
public:
    // Throws Error(invalid_text) naming the first pattern that does not compile.
    Blocklist(std::vector<std::string> values, const std::vector<std::string>& patterns);
    ~Blocklist();
    Blocklist(Blocklist&&) noexcept;
    Blocklist& operator=(Blocklist&&) noexcept;

    // Checks a normalized identifier value against values and patterns.
    BlockMatch check(std::string_view normalized) const;
    // Checks the raw value (trimmed) against the exact values only, before
    // normalization, so placeholders such as "" or "null" are refused and
    // logged rather than failing the email or phone normalizer.
    BlockMatch check_placeholder(std::string_view raw) const;

private:
    std::vector<std::string> lowered_values_;
    std::vector<std::unique_ptr<re2::RE2>> patterns_;
};

// Validates patterns without keeping them; throws like the constructor.
void validate_block_patterns(const std::vector<std::string>& patterns);

}  // namespace customer_profile::core
