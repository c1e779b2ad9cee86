// Match rules: parsing, comparison levels, blocking keys, decisions (see match_rule.hpp).
#include "match_rule.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <nlohmann/json.hpp>

#include "error.hpp"
#include "match_compare.hpp"
#include "unicode_case.hpp"

namespace customer_profile::core {
namespace {

using nlohmann::json;

struct TestName {
    const char* name;
    LevelTest test;
    bool takes_threshold;
};

constexpr TestName kTests[] = {
    {"exact", LevelTest::exact, false},
    {"jaro_winkler", LevelTest::jaro_winkler, true},
    {"jaro", LevelTest::jaro, true},
    {"levenshtein", LevelTest::levenshtein, true},
    {"damerau_levenshtein", LevelTest::damerau_levenshtein, true},
    {"token_set", LevelTest::token_set, true},
    {"soundex", LevelTest::soundex, false},
    {"date_swapped", LevelTest::date_swapped, false},
    {"date_one_digit", LevelTest::date_one_digit, false},
    {"same_year", LevelTest::same_year, false},
    {"numeric", LevelTest::numeric, true},
    {"initial", LevelTest::initial, false},
    {"swapped_with", LevelTest::swapped, false},
};
constexpr double kSwapSimilarity = 0.9;

const TestName& test_info(LevelTest t) {
    for (const auto& n : kTests)
        if (n.test == t) return n;
    throw Error(ErrorCode::internal, "unknown level test");
}

[[noreturn]] void bad(const std::string& message, const std::string& hint = {}) {
    throw Error(ErrorCode::invalid_parameter, message, {}, hint);
}

json parse(std::string_view text, const char* what) {
    try {
        return json::parse(text.begin(), text.end());
    } catch (const json::exception&) {
        bad(std::string(what) + " is not valid JSON");
    }
}

bool valid_trait_name(const std::string& s) {
    if (s.empty() || s.size() > 63) return false;
    for (char c : s)
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_')) return false;
    return !(s[0] >= '0' && s[0] <= '9');
}

// swapped_with names read while parsing, resolved to field indexes at the end.
std::vector<std::string>& pending_swaps() {
    static thread_local std::vector<std::string> names;
    return names;
}

Level parse_level(const json& j, const std::string& field) {
    const std::string where = "field \"" + field + "\": ";
    if (!j.is_object() || j.size() != 1)
        bad(where + "each level is an object with one test, such as {\"jaro_winkler\": 0.92}");
    const std::string name = j.begin().key();
    const json& arg = j.begin().value();
    for (const auto& t : kTests) {
        if (name != t.name) continue;
        Level level{t.test, 0, -1};
        if (t.test == LevelTest::swapped) {
            if (!arg.is_string()) bad(where + "level \"swapped_with\" takes the name of another field");
            pending_swaps().push_back(arg.get<std::string>());
            level.other = -2 - static_cast<int>(pending_swaps().size() - 1);  // resolved once every field is read
            return level;
        }
        if (!t.takes_threshold) {
            if (arg != true) bad(where + "level \"" + name + "\" takes true");
            return level;
        }
        if (!arg.is_number()) bad(where + "level \"" + name + "\" takes a number");
        level.threshold = arg.get<double>();
        bool similarity =
            t.test == LevelTest::jaro_winkler || t.test == LevelTest::jaro || t.test == LevelTest::token_set;
        bool distance = t.test == LevelTest::levenshtein || t.test == LevelTest::damerau_levenshtein;
        if (!std::isfinite(level.threshold) || (similarity && (level.threshold < 0 || level.threshold > 1)) ||
            (distance &&
             (level.threshold < 0 || level.threshold > 100 || level.threshold != std::floor(level.threshold))) ||
            (t.test == LevelTest::numeric && level.threshold < 0))
            bad(where + "level \"" + name + "\" has an out-of-range threshold",
                "Similarities are in [0, 1], distances are whole numbers from 0 to 100, numeric differences >= 0.");
        return level;
    }
    std::string names;
    for (const auto& t : kTests) names += std::string(names.empty() ? "" : ", ") + t.name;
    bad(where + "unknown level test \"" + name + "\"", "The tests: " + names + ".");
}

std::vector<double> probabilities(const json& j, std::size_t count, const std::string& what) {
    if (!j.is_array() || j.size() != count)
        bad(what + " must be an array of " + std::to_string(count) + " probabilities (one per level, else included)");
    std::vector<double> out;
    double sum = 0;
    for (const auto& v : j) {
        if (!v.is_number()) bad(what + " must hold numbers");
        double p = v.get<double>();
        if (!(p > 0 && p <= 1)) bad(what + " must hold probabilities in (0, 1]");
        out.push_back(p);
        sum += p;
    }
    if (std::fabs(sum - 1) > 1e-6) bad(what + " must sum to 1");
    return out;
}

// Before any estimate: each closer level is likelier among matches (m falls
// by 0.4 per level from 0.6) and rarer among non-matches (u grows threefold
// per level from 0.005, at most 0.1); the else level takes the rest of each.
void default_parameters(std::size_t levels, std::vector<double>& m, std::vector<double>& u) {
    m.assign(levels, 0);
    u.assign(levels, 0);
    double m_rest = 1, u_rest = 1, mk = 0.6, uk = 0.005;
    for (std::size_t k = 0; k + 1 < levels; ++k) {
        m[k] = mk;
        u[k] = std::min(uk, 0.1);
        m_rest -= m[k];
        u_rest -= u[k];
        mk *= 0.4;
        uk *= 3;
    }
    m[levels - 1] = m_rest;
    u[levels - 1] = u_rest;
}

KeyPart parse_key_part(const std::string& text, const std::vector<MatchField>& fields) {
    KeyPart part;
    std::string inner = text, fn;
    std::size_t open = text.find('(');
    if (open != std::string::npos) {
        if (text.back() != ')') bad("blocking part \"" + text + "\": expected name(trait) or name(trait, n)");
        fn = text.substr(0, open);
        inner = text.substr(open + 1, text.size() - open - 2);
    }
    std::string trait = inner, arg;
    std::size_t comma = inner.find(',');
    if (comma != std::string::npos) {
        trait = inner.substr(0, comma);
        arg = inner.substr(comma + 1);
    }
    auto trim = [](std::string& s) {
        while (!s.empty() && s.front() == ' ') s.erase(s.begin());
        while (!s.empty() && s.back() == ' ') s.pop_back();
    };
    trim(trait);
    trim(arg);
    if (fn.empty())
        part.transform = KeyTransform::value;
    else if (fn == "soundex")
        part.transform = KeyTransform::soundex;
    else if (fn == "first")
        part.transform = KeyTransform::first;
    else if (fn == "year")
        part.transform = KeyTransform::year;
    else if (fn == "digits")
        part.transform = KeyTransform::digits;
    else if (fn == "initials")
        part.transform = KeyTransform::initials;
    else if (fn == "deletions")
        part.transform = KeyTransform::deletions;
    else
        bad("blocking part \"" + text + "\": unknown function \"" + fn + "\"",
            "Blocking parts are trait, soundex(trait), first(trait, n), year(trait), digits(trait), "
            "initials(trait) or deletions(trait).");
    if (part.transform == KeyTransform::first) {
        char* end = nullptr;
        long n = std::strtol(arg.c_str(), &end, 10);
        if (arg.empty() || *end != '\0' || n < 1 || n > 100)
            bad("blocking part \"" + text + "\": first(trait, n) takes n from 1 to 100");
        part.length = static_cast<int>(n);
    } else if (!arg.empty()) {
        bad("blocking part \"" + text + "\": only first() takes a second argument");
    }
    for (std::size_t i = 0; i < fields.size(); ++i)
        if (fields[i].trait == trait) {
            part.field = static_cast<int>(i);
            return part;
        }
    bad("blocking part \"" + text + "\" reads \"" + trait + "\", which is not a field of the rule");
}

// The first n code points of UTF-8 text.
std::string first_code_points(const std::string& s, int n) {
    std::size_t i = 0;
    for (int k = 0; k < n && i < s.size(); ++k) {
        ++i;
        while (i < s.size() && (static_cast<unsigned char>(s[i]) & 0xC0) == 0x80) ++i;
    }
    return s.substr(0, i);
}

std::optional<double> number(std::string_view s) {
    std::string copy(s);
    char* end = nullptr;
    double v = std::strtod(copy.c_str(), &end);
    if (copy.empty() || *end != '\0' || !std::isfinite(v)) return std::nullopt;
    return v;
}

bool holds(const Level& level, std::string_view a, std::string_view b) {
    switch (level.test) {
        case LevelTest::exact:
            return a == b;
        case LevelTest::jaro_winkler:
            return jaro_winkler(a, b) >= level.threshold;
        case LevelTest::jaro:
            return jaro(a, b) >= level.threshold;
        case LevelTest::levenshtein: {
            int cap = static_cast<int>(level.threshold);
            return levenshtein(a, b, cap) <= cap;
        }
        case LevelTest::damerau_levenshtein: {
            int cap = static_cast<int>(level.threshold);
            return damerau_levenshtein(a, b, cap) <= cap;
        }
        case LevelTest::token_set:
            return token_set_similarity(a, b) >= level.threshold;
        case LevelTest::soundex: {
            std::string sa = soundex(a);
            return !sa.empty() && sa == soundex(b);
        }
        case LevelTest::date_swapped:
        case LevelTest::date_one_digit:
        case LevelTest::same_year: {
            auto da = parse_date(a), db = parse_date(b);
            if (!da || !db) return false;
            DateAgreement agreement = compare_dates(*da, *db);
            DateAgreement limit = level.test == LevelTest::date_swapped     ? DateAgreement::day_month_swapped
                                  : level.test == LevelTest::date_one_digit ? DateAgreement::one_digit
                                                                            : DateAgreement::same_year;
            if (level.test == LevelTest::same_year) return agreement != DateAgreement::different;
            return agreement == DateAgreement::exact || agreement == limit;
        }
        case LevelTest::numeric: {
            auto x = number(a), y = number(b);
            return x && y && std::fabs(*x - *y) <= level.threshold;
        }
        case LevelTest::swapped:
            return false;  // needs both records: compare_records
        case LevelTest::initial:
            return !a.empty() && !b.empty() &&
                   first_code_points(std::string(a), 1) == first_code_points(std::string(b), 1);
    }
    return false;
}

std::string format_number(double v) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.17g", v);
    // The shortest form that reads back the same.
    for (int precision = 1; precision <= 17; ++precision) {
        char shorter[32];
        std::snprintf(shorter, sizeof shorter, "%.*g", precision, v);
        if (std::strtod(shorter, nullptr) == v) return shorter;
    }
    return buf;
}

}  // namespace

std::vector<int> MatchRule::level_counts() const {
    std::vector<int> counts;
    for (const auto& f : fields) counts.push_back(static_cast<int>(f.levels.size()) + 1);
    return counts;
}

MatchRule parse_match_rule(std::string_view fields_json, std::string_view blocking_json, double link_threshold,
                           double review_threshold) {
    MatchRule rule;
    pending_swaps().clear();
    if (!(link_threshold > 0 && link_threshold < 1) || !(review_threshold > 0 && review_threshold < 1) ||
        review_threshold > link_threshold)
        bad("thresholds must be probabilities in (0, 1) with review_threshold <= link_threshold");
    rule.link_threshold = link_threshold;
    rule.review_threshold = review_threshold;
    json fields = parse(fields_json, "fields");
    if (!fields.is_array() || fields.empty() || fields.size() > static_cast<std::size_t>(kMaxMatchFields))
        bad("fields must be an array of 1 to " + std::to_string(kMaxMatchFields) + " field comparisons");
    for (const auto& f : fields) {
        if (!f.is_object() || !f.contains("trait") || !f["trait"].is_string() || !f.contains("levels"))
            bad("each field is an object with \"trait\" and \"levels\"");
        for (auto it = f.begin(); it != f.end(); ++it)
            if (it.key() != "trait" && it.key() != "levels" && it.key() != "m" && it.key() != "u")
                bad("unknown key \"" + it.key() + "\" in a field",
                    "A field has trait, levels, and optionally m and u.");
        MatchField field;
        field.trait = f["trait"].get<std::string>();
        if (!valid_trait_name(field.trait)) bad("\"" + field.trait + "\" is not a valid trait name");
        for (const auto& other : rule.fields)
            if (other.trait == field.trait) bad("trait \"" + field.trait + "\" is compared twice");
        const json& levels = f["levels"];
        if (!levels.is_array() || levels.empty() || levels.size() > static_cast<std::size_t>(kMaxLevelsPerField))
            bad("field \"" + field.trait + "\": levels must be an array of 1 to " + std::to_string(kMaxLevelsPerField) +
                " tests");
        for (const auto& l : levels) field.levels.push_back(parse_level(l, field.trait));
        std::size_t count = field.levels.size() + 1;
        std::vector<double> m, u;
        default_parameters(count, m, u);
        if (f.contains("m")) m = probabilities(f["m"], count, "field \"" + field.trait + "\": m");
        if (f.contains("u")) u = probabilities(f["u"], count, "field \"" + field.trait + "\": u");
        rule.parameters.m.push_back(std::move(m));
        rule.parameters.u.push_back(std::move(u));
        rule.fields.push_back(std::move(field));
    }
    for (auto& field : rule.fields)
        for (auto& level : field.levels) {
            if (level.test != LevelTest::swapped) continue;
            const std::string& other = pending_swaps().at(static_cast<std::size_t>(-2 - level.other));
            level.other = -1;
            for (std::size_t i = 0; i < rule.fields.size(); ++i)
                if (rule.fields[i].trait == other && &rule.fields[i] != &field) level.other = static_cast<int>(i);
            if (level.other < 0)
                bad("field \"" + field.trait + "\": swapped_with names \"" + other +
                    "\", which is not another field of the rule");
        }
    pending_swaps().clear();
    json blocking = parse(blocking_json, "blocking");
    if (!blocking.is_array() || blocking.empty() || blocking.size() > static_cast<std::size_t>(kMaxBlockingKeys))
        bad("blocking must be an array of 1 to " + std::to_string(kMaxBlockingKeys) + " keys",
            "Each key is an array of parts, such as [\"soundex(last_name)\", \"postcode\"].");
    for (const auto& k : blocking) {
        if (!k.is_array() || k.empty() || k.size() > 8) bad("each blocking key is an array of 1 to 8 parts");
        BlockingKey key;
        for (const auto& p : k) {
            if (!p.is_string()) bad("blocking parts are strings");
            key.push_back(parse_key_part(p.get<std::string>(), rule.fields));
        }
        // One deletions() part per key: two would multiply into a key per pair of deleted characters.
        if (std::count_if(key.begin(), key.end(),
                          [](const KeyPart& part) { return part.transform == KeyTransform::deletions; }) > 1)
            bad("a blocking key holds at most one deletions() part");
        rule.blocking.push_back(std::move(key));
    }
    return rule;
}

std::string match_parameters_json(const MatchParameters& parameters) {
    auto rows = [](const std::vector<std::vector<double>>& table) {
        std::string out = "[";
        for (std::size_t f = 0; f < table.size(); ++f) {
            out += f ? ", [" : "[";
            for (std::size_t l = 0; l < table[f].size(); ++l) out += (l ? ", " : "") + format_number(table[f][l]);
            out += "]";
        }
        return out + "]";
    };
    return "{\"lambda\": " + format_number(parameters.lambda) + ", \"m\": " + rows(parameters.m) +
           ", \"u\": " + rows(parameters.u) + "}";
}

MatchParameters parse_match_parameters(std::string_view text, const std::vector<int>& level_counts) {
    json j = parse(text, "parameters");
    if (!j.is_object() || !j.contains("lambda") || !j.contains("m") || !j.contains("u") || !j["lambda"].is_number())
        bad("parameters must be an object with lambda, m and u");
    MatchParameters p;
    p.lambda = j["lambda"].get<double>();
    if (!(p.lambda > 0 && p.lambda < 1)) bad("lambda must be in (0, 1)");
    for (const char* which : {"m", "u"}) {
        const json& table = j[which];
        if (!table.is_array() || table.size() != level_counts.size())
            bad(std::string("parameters.") + which + " must hold one array per field");
        auto& out = which[0] == 'm' ? p.m : p.u;
        for (std::size_t f = 0; f < level_counts.size(); ++f)
            out.push_back(
                probabilities(table[f], static_cast<std::size_t>(level_counts[f]), std::string("parameters.") + which));
    }
    return p;
}

std::optional<std::string> normalize_match_value(std::string_view raw) {
    std::string collapsed;
    bool space = false;
    for (char c : raw) {
        bool ws = c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
        if (ws) {
            space = !collapsed.empty();
            continue;
        }
        if (space) collapsed += ' ';
        space = false;
        collapsed += c;
    }
    if (collapsed.empty()) return std::nullopt;
    std::string lowered = unicode_lower(collapsed);
    // Missing, not cut: two long values cut to a common prefix compared as
    // exact (60 kB of junk linked at p = 0.992). Nothing a person is matched
    // on is that long, and the edit distances are quadratic in the length.
    if (lowered.size() > kMaxMatchValueBytes) return std::nullopt;
    return lowered;
}

int compare_field(const MatchField& field, std::string_view a, std::string_view b) {
    for (std::size_t i = 0; i < field.levels.size(); ++i)
        if (holds(field.levels[i], a, b)) return static_cast<int>(i);
    return static_cast<int>(field.levels.size());
}

ComparisonVector compare_records(const MatchRule& rule, const MatchRecord& a, const MatchRecord& b) {
    if (a.size() != rule.fields.size() || b.size() != rule.fields.size())
        throw Error(ErrorCode::internal, "a record has another number of fields than its rule");
    ComparisonVector out(rule.fields.size(), kMissing);
    for (std::size_t f = 0; f < rule.fields.size(); ++f) {
        if (!a[f] || !b[f]) continue;
        const MatchField& field = rule.fields[f];
        out[f] = static_cast<int>(field.levels.size());
        for (std::size_t i = 0; i < field.levels.size(); ++i) {
            const Level& level = field.levels[i];
            bool held;
            if (level.test == LevelTest::swapped) {
                auto o = static_cast<std::size_t>(level.other);
                held = a[o] && b[o] && jaro_winkler(*a[f], *b[o]) >= kSwapSimilarity &&
                       jaro_winkler(*a[o], *b[f]) >= kSwapSimilarity;
            } else {
                held = holds(level, *a[f], *b[f]);
            }
            if (held) {
                out[f] = static_cast<int>(i);
                break;
            }
        }
    }
    return out;
}

namespace {

// The value and the value without each one of its code points (a value of
// one code point: itself only, never the empty string).
std::vector<std::string> deletion_pieces(const std::string& value) {
    std::vector<std::size_t> starts;
    for (std::size_t i = 0; i < value.size(); ++i)
        if ((static_cast<unsigned char>(value[i]) & 0xC0) != 0x80) starts.push_back(i);
    std::vector<std::string> pieces{value};
    if (starts.size() < 2 || starts.size() > kMaxDeletionCodePoints) return pieces;
    for (std::size_t c = 0; c < starts.size(); ++c) {
        std::size_t end = c + 1 < starts.size() ? starts[c + 1] : value.size();
        pieces.push_back(value.substr(0, starts[c]) + value.substr(end));
    }
    return pieces;
}

// A part's pieces for one value (empty: the part is missing).
std::vector<std::string> part_pieces(const KeyPart& part, const std::string& value) {
    std::string piece;
    switch (part.transform) {
        case KeyTransform::value:
            piece = value;
            break;
        case KeyTransform::soundex:
            piece = soundex(value);
            break;
        case KeyTransform::first:
            piece = first_code_points(value, part.length);
            break;
        case KeyTransform::year:
            if (auto d = parse_date(value)) piece = std::to_string(d->year);
            break;
        case KeyTransform::digits:
            for (char c : value)
                if (c >= '0' && c <= '9') piece += c;
            break;
        case KeyTransform::initials:
            // Values are normalized: words are separated by single spaces.
            for (std::size_t start = 0; start < value.size();) {
                std::size_t end = value.find(' ', start);
                if (end == std::string::npos) end = value.size();
                if (end > start) piece += first_code_points(value.substr(start, end - start), 1);
                start = end + 1;
            }
            break;
        case KeyTransform::deletions:
            return deletion_pieces(value);
    }
    if (piece.empty()) return {};
    return {piece};
}

}  // namespace

bool multi_valued(const BlockingKey& key) {
    return std::any_of(key.begin(), key.end(),
                       [](const KeyPart& part) { return part.transform == KeyTransform::deletions; });
}

std::vector<std::string> blocking_keys(const MatchRule& rule, const MatchRecord& record) {
    std::vector<std::string> keys;
    for (std::size_t k = 0; k < rule.blocking.size(); ++k) {
        // Every combination of the parts' pieces (one part at most has several).
        std::vector<std::string> partial{std::to_string(k) + ":"};
        for (std::size_t p = 0; p < rule.blocking[k].size() && !partial.empty(); ++p) {
            const KeyPart& part = rule.blocking[k][p];
            const auto& value = record.at(static_cast<std::size_t>(part.field));
            std::vector<std::string> pieces = value ? part_pieces(part, *value) : std::vector<std::string>{};
            std::vector<std::string> next;
            for (const auto& head : partial)
                for (std::string piece : pieces) {
                    // The separator cannot occur in a value: normalized values hold no control character but
                    // tab-free text, and \x1f is escaped away here.
                    for (char& c : piece)
                        if (c == '\x1f') c = ' ';
                    next.push_back(head + (p ? "\x1f" : "") + piece);
                }
            partial = std::move(next);
        }
        std::sort(partial.begin(), partial.end());
        partial.erase(std::unique(partial.begin(), partial.end()), partial.end());
        for (auto& key : partial) keys.push_back(std::move(key));
    }
    return keys;
}

const char* match_decision_name(MatchDecision d) {
    switch (d) {
        case MatchDecision::link:
            return "link";
        case MatchDecision::review:
            return "review";
        case MatchDecision::none:
            break;
    }
    return "none";
}

PairScore score_pair(const MatchRule& rule, const MatchRecord& a, const MatchRecord& b) {
    PairScore score;
    ComparisonVector levels = compare_records(rule, a, b);
    for (std::size_t f = 0; f < levels.size(); ++f) {
        FieldScore fs;
        fs.level = levels[f];
        if (fs.level != kMissing)
            fs.weight = match_weight(rule.parameters.m[f][static_cast<std::size_t>(fs.level)],
                                     rule.parameters.u[f][static_cast<std::size_t>(fs.level)]);
        score.weight += fs.weight;
        score.fields.push_back(fs);
    }
    score.probability = match_probability(score.weight, rule.parameters.lambda);
    score.decision = score.probability >= rule.link_threshold     ? MatchDecision::link
                     : score.probability >= rule.review_threshold ? MatchDecision::review
                                                                  : MatchDecision::none;
    return score;
}

std::string level_name(const MatchField& field, int level) {
    if (level == kMissing) return "missing";
    if (level < 0 || level > static_cast<int>(field.levels.size())) return "?";
    if (level == static_cast<int>(field.levels.size())) return "else";
    const Level& l = field.levels[static_cast<std::size_t>(level)];
    const TestName& info = test_info(l.test);
    std::string name = info.name;
    if (l.test == LevelTest::swapped) return name;
    if (!info.takes_threshold) return name;
    bool distance =
        l.test == LevelTest::levenshtein || l.test == LevelTest::damerau_levenshtein || l.test == LevelTest::numeric;
    return name + (distance ? " <= " : " >= ") + format_number(l.threshold);
}

}  // namespace customer_profile::core
