// Blocked identifier values for guard rails against over-merging.
#include "blocklist.hpp"

#include <re2/re2.h>

#include <algorithm>
#include <cctype>

namespace customer_profile::core {
namespace {

std::string lower(std::string_view s) {
    std::string out(s);
    for (auto& c : out)
        if (static_cast<unsigned char>(c) < 0x80) c = static_cast<char>(std::tolower(c));
    return out;
}

std::unique_ptr<re2::RE2> compile(const std::string& pattern) {
    re2::RE2::Options options;
    options.set_log_errors(false);
    options.set_max_mem(1 << 20);  // a blocklist pattern has no business being huge
    auto re = std::make_unique<re2::RE2>(pattern, options);
    if (!re->ok())
        throw Error(ErrorCode::invalid_text, "invalid blocked pattern \"" + pattern + "\"", re->error(),
                    "Patterns use RE2 syntax (no backreferences or lookaround).");
    return re;
}

}  // namespace

Blocklist::Blocklist(std::vector<std::string> values, const std::vector<std::string>& patterns) {
    lowered_values_.reserve(values.size());
    for (auto& v : values) lowered_values_.push_back(lower(v));
    for (const auto& p : patterns) patterns_.push_back(compile(p));
}

Blocklist::~Blocklist() = default;
Blocklist::Blocklist(Blocklist&&) noexcept = default;
Blocklist& Blocklist::operator=(Blocklist&&) noexcept = default;

BlockMatch Blocklist::check(std::string_view normalized) const {
    std::string l = lower(normalized);
    for (const auto& v : lowered_values_)
        if (v == l) return {BlockMatch::Rule::blocked_value, v};
    for (const auto& re : patterns_)
        if (re2::RE2::PartialMatch(re2::StringPiece(normalized.data(), normalized.size()), *re))
            return {BlockMatch::Rule::blocked_pattern, re->pattern()};
    return {};
}

BlockMatch Blocklist::check_placeholder(std::string_view raw) const {
    auto space = [](char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; };
    while (!raw.empty() && space(raw.front())) raw.remove_prefix(1);
    while (!raw.empty() && space(raw.back())) raw.remove_suffix(1);
    std::string l = lower(raw);
    for (const auto& v : lowered_values_)
        if (v == l) return {BlockMatch::Rule::blocked_value, v};
    return {};
}

void validate_block_patterns(const std::vector<std::string>& patterns) {
    for (const auto& p : patterns) compile(p);
}

}  // namespace customer_profile::core
