// Predicate regular expressions through RE2 (see regex_match.hpp).
#include "regex_match.hpp"

#include <re2/re2.h>

#include <map>
#include <memory>
#include <utility>

#include "error.hpp"

namespace customer_profile::core {
namespace {

constexpr int kMaxRepetition = 255;  // PostgreSQL's limit (RE_DUP_MAX)
// RE2 is linear in the text, but the factor is the program's size, and its
// fallback matcher does not look at cancel requests: a bounded program keeps
// a 64 kB text to a fraction of a second (a [ab]{255} repeated 400 times
// took 10 s per row), and bounded memory keeps the cache small.
constexpr int kMaxProgramSize = 2000;
constexpr std::size_t kMaxCachedPatterns = 16;  // compiled patterns kept per backend
constexpr std::int64_t kMaxProgramMemory = 1 << 20;

re2::RE2::Options options_for(bool case_insensitive) {
    re2::RE2::Options options;
    options.set_log_errors(false);
    options.set_case_sensitive(!case_insensitive);
    options.set_dot_nl(true);  // as PostgreSQL's default (not newline-sensitive)
    options.set_max_mem(kMaxProgramMemory);
    return options;
}

// The escapes and groups both engines read alike; everything else that
// starts with a backslash or (? is refused. Case-insensitive patterns run in
// SQL under an ICU collation (for Unicode case folding, as RE2 folds), where
// PostgreSQL's classes (\w, [[:alpha:]]) take in non-ASCII letters that
// RE2's do not: they are refused there.
std::string syntax_problem(const std::string& p, bool case_insensitive, std::size_t* offset) {
    bool in_class = false;
    for (std::size_t i = 0; i < p.size(); ++i) {
        char c = p[i];
        if (c == '\\') {
            if (i + 1 >= p.size()) {
                *offset = i;
                return "trailing backslash";
            }
            char e = p[i + 1];
            bool punctuation = !((e >= 'a' && e <= 'z') || (e >= 'A' && e <= 'Z') || (e >= '0' && e <= '9')) &&
                               static_cast<unsigned char>(e) < 0x80;
            if (case_insensitive && std::string_view("dDsSwW").find(e) != std::string_view::npos) {
                *offset = i;
                return std::string("the class \\") + e +
                       " is not supported in ~* and !~* (write the characters out, as [0-9] for \\d)";
            }
            if (!punctuation && std::string_view("dDsSwWtn").find(e) == std::string_view::npos) {
                *offset = i;
                return std::string("the escape \\") + e +
                       " is not supported (use \\d \\D \\s \\S \\w \\W \\t \\n or an escaped punctuation character)";
            }
            ++i;
            continue;
        }
        if (in_class) {
            // Collating elements and equivalence classes: RE2 reads [[.a.]] as
            // a class of [ . a followed by a ].
            if (c == '[' && i + 1 < p.size() && (p[i + 1] == '.' || p[i + 1] == '=')) {
                *offset = i;
                return "[. .] and [= =] are not supported";
            }
            if (c == '[' && i + 1 < p.size() && p[i + 1] == ':') {
                std::size_t end = p.find(":]", i + 2);
                if (end != std::string::npos) i = end + 1;  // a POSIX class stays inside the bracket
                continue;
            }
            if (c == ']') in_class = false;
            continue;
        }
        if (c == '[') {
            if (case_insensitive && p.compare(i, 2, "[[") == 0 && i + 2 < p.size() && p[i + 2] == ':') {
                *offset = i;
                return "POSIX classes ([[:alpha:]]) are not supported in ~* and !~* (write the characters out)";
            }
            in_class = true;
            if (i + 1 < p.size() && p[i + 1] == '^') ++i;
            if (i + 1 < p.size() && p[i + 1] == ']') ++i;  // a leading ] is a literal
            // [:alpha:] and friends
            continue;
        }
        if (c == '(' && i + 1 < p.size() && p[i + 1] == '?' && !(i + 2 < p.size() && p[i + 2] == ':')) {
            *offset = i;
            return "only ( ) and (?: ) groups are supported (no flags, names, lookaround)";
        }
        if (c == '{') {
            // {n}, {n,} or {n,m}: RE2 reads any other { as the character,
            // PostgreSQL refuses it.
            std::size_t j = i + 1;
            auto number = [&](int* value) {
                std::size_t from = j;
                *value = 0;
                while (j < p.size() && p[j] >= '0' && p[j] <= '9' && j - from < 4)
                    *value = *value * 10 + (p[j++] - '0');
                return j > from;
            };
            int low = 0, high = 0;
            bool ok = number(&low);
            bool comma = ok && j < p.size() && p[j] == ',';
            if (comma) ++j;
            bool has_high = comma && number(&high);
            ok = ok && j < p.size() && p[j] == '}';
            if (!ok) {
                *offset = i;
                return "{ starts a repetition {n}, {n,} or {n,m}; write \\{ for the character";
            }
            if (low > kMaxRepetition || (has_high && (high > kMaxRepetition || high < low))) {
                *offset = i;
                return "repetition counts go up to 255, the second no smaller than the first";
            }
            i = j;
        }
    }
    return "";
}

struct Cache {
    std::map<std::pair<std::string, bool>, std::unique_ptr<re2::RE2>> compiled;
};

Cache& cache() {
    static Cache c;
    return c;
}

}  // namespace

std::string regex_problem(const std::string& pattern, bool case_insensitive, std::size_t* offset) {
    *offset = 0;
    std::string problem = syntax_problem(pattern, case_insensitive, offset);
    if (!problem.empty()) return problem;
    re2::RE2 re(pattern, options_for(case_insensitive));
    if (re.ok()) {
        if (re.ProgramSize() <= kMaxProgramSize) return "";
        *offset = 0;
        return "pattern too complex (a program of " + std::to_string(re.ProgramSize()) + " steps, at most " +
               std::to_string(kMaxProgramSize) + ")";
    }
    // RE2 names the offending part: point at the first copy of it that makes
    // the pattern up to there fail (the same text may occur earlier, valid).
    const std::string& arg = re.error_arg();
    *offset = 0;
    for (std::size_t at = arg.empty() ? std::string::npos : pattern.find(arg); at != std::string::npos;
         at = pattern.find(arg, at + 1)) {
        if (*offset == 0) *offset = at;
        re2::RE2 prefix(pattern.substr(0, at + arg.size()), options_for(case_insensitive));
        if (!prefix.ok()) {
            *offset = at;
            break;
        }
    }
    return re.error();
}

bool regex_match(std::string_view text, const std::string& pattern, bool case_insensitive) {
    Cache& c = cache();
    auto key = std::make_pair(pattern, case_insensitive);
    auto found = c.compiled.find(key);
    if (found == c.compiled.end()) {
        std::size_t offset = 0;
        std::string problem = regex_problem(pattern, case_insensitive, &offset);
        if (!problem.empty()) throw Error(ErrorCode::invalid_parameter, "invalid regular expression: " + problem);
        if (c.compiled.size() >= kMaxCachedPatterns) c.compiled.clear();
        found = c.compiled.emplace(key, std::make_unique<re2::RE2>(pattern, options_for(case_insensitive))).first;
    }
    return re2::RE2::PartialMatch(re2::StringPiece(text.data(), text.size()), *found->second);
}

}  // namespace customer_profile::core
