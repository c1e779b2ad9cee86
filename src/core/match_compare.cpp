// Field comparators (see match_compare.hpp).
#include "match_compare.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <set>
#include <vector>

#include "error.hpp"

namespace customer_profile::core {
namespace {

// Code points of UTF-8 text; a byte that starts no valid sequence becomes a
// value above U+10FFFF of its own, so it still counts as one.
std::vector<char32_t> code_points(std::string_view s) {
    std::vector<char32_t> out;
    out.reserve(s.size());
    for (std::size_t i = 0; i < s.size();) {
        auto b = static_cast<unsigned char>(s[i]);
        int len = b < 0x80 ? 1 : (b >> 5) == 0x6 ? 2 : (b >> 4) == 0xE ? 3 : (b >> 3) == 0x1E ? 4 : 0;
        char32_t cp = len == 1 ? b : len == 2 ? (b & 0x1F) : len == 3 ? (b & 0x0F) : (b & 0x07);
        bool ok = len > 0 && i + len <= s.size();
        for (int k = 1; ok && k < len; ++k) {
            auto c = static_cast<unsigned char>(s[i + k]);
            if ((c >> 6) != 0x2) ok = false;
            cp = (cp << 6) | (c & 0x3F);
        }
        // Overlong forms, surrogates and values above U+10FFFF are not UTF-8.
        static const char32_t smallest[5] = {0, 0, 0x80, 0x800, 0x10000};
        if (ok && (cp < smallest[len] || (cp >= 0xD800 && cp <= 0xDFFF) || cp > 0x10FFFF)) ok = false;
        if (ok) {
            out.push_back(cp);
            i += len;
        } else {
            out.push_back(0x110000 + b);
            ++i;
        }
    }
    return out;
}

// Edit distance over code points, banded to `cap`; transpositions counted
// when `swaps` (optimal string alignment).
int edit_distance(std::string_view a_text, std::string_view b_text, int cap, bool swaps) {
    auto a = code_points(a_text), b = code_points(b_text);
    const int n = static_cast<int>(a.size()), m = static_cast<int>(b.size());
    // No distance exceeds the longer length: a larger cap changes nothing
    // (and cap + 1 cannot overflow).
    cap = std::clamp(cap, 0, std::max(n, m));
    if (std::abs(n - m) > cap) return cap + 1;
    if (n == 0 || m == 0) return std::max(n, m);
    const int over = cap + 1;
    std::vector<int> before(m + 1, over), previous(m + 1, over), current(m + 1, over);
    for (int j = 0; j <= std::min(m, cap); ++j) previous[j] = j;
    for (int i = 1; i <= n; ++i) {
        std::fill(current.begin(), current.end(), over);
        if (i <= cap) current[0] = i;
        int lo = std::max(1, i - cap), hi = std::min(m, i + cap), best = current[0];
        for (int j = lo; j <= hi; ++j) {
            int cost = a[i - 1] == b[j - 1] ? 0 : 1;
            int d = std::min({previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost});
            if (swaps && i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1])
                d = std::min(d, before[j - 2] + 1);
            current[j] = std::min(d, over);
            best = std::min(best, current[j]);
        }
        if (best > cap) return over;
        std::swap(before, previous);
        std::swap(previous, current);
    }
    return std::min(previous[m], over);
}

int soundex_code(char upper) {
    switch (upper) {
        case 'B':
        case 'F':
        case 'P':
        case 'V':
            return 1;
        case 'C':
        case 'G':
        case 'J':
        case 'K':
        case 'Q':
        case 'S':
        case 'X':
        case 'Z':
            return 2;
        case 'D':
        case 'T':
            return 3;
        case 'L':
            return 4;
        case 'M':
        case 'N':
            return 5;
        case 'R':
            return 6;
        default:
            return 0;  // vowels, Y, H, W
    }
}

std::set<std::string> tokens(std::string_view s) {
    std::set<std::string> out;
    std::string token;
    for (char ch : s) {
        if ((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9')) {
            token += ch;
        } else if (ch >= 'A' && ch <= 'Z') {
            token += static_cast<char>(ch - 'A' + 'a');
        } else if (!token.empty()) {
            out.insert(token);
            token.clear();
        }
    }
    if (!token.empty()) out.insert(token);
    return out;
}

bool leap(int year) {
    return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
}

int days_in_month(int year, int month) {
    static const int days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return month == 2 && leap(year) ? 29 : days[month - 1];
}

std::string digits_of(const Date& d) {
    char out[16];
    std::snprintf(out, sizeof out, "%04d%02d%02d", d.year, d.month, d.day);
    return out;
}

}  // namespace

double jaro(std::string_view a_text, std::string_view b_text) {
    auto a = code_points(a_text), b = code_points(b_text);
    if (a.empty() && b.empty()) return 1.0;
    if (a.empty() || b.empty()) return 0.0;
    const int n = static_cast<int>(a.size()), m = static_cast<int>(b.size());
    const int window = std::max(0, std::max(n, m) / 2 - 1);
    std::vector<bool> a_matched(n, false), b_matched(m, false);
    int matches = 0;
    for (int i = 0; i < n; ++i) {
        for (int j = std::max(0, i - window); j <= std::min(m - 1, i + window); ++j) {
            if (b_matched[j] || a[i] != b[j]) continue;
            a_matched[i] = b_matched[j] = true;
            ++matches;
            break;
        }
    }
    if (matches == 0) return 0.0;
    int out_of_order = 0;
    for (int i = 0, j = 0; i < n; ++i) {
        if (!a_matched[i]) continue;
        while (!b_matched[j]) ++j;
        if (a[i] != b[j]) ++out_of_order;
        ++j;
    }
    const double mm = matches;
    return (mm / n + mm / m + (mm - out_of_order / 2.0) / mm) / 3.0;
}

double jaro_winkler(std::string_view a_text, std::string_view b_text, double prefix_scale) {
    prefix_scale = prefix_scale >= 0 ? std::min(prefix_scale, 0.25) : 0.0;  // NaN counts as 0
    double j = jaro(a_text, b_text);
    auto a = code_points(a_text), b = code_points(b_text);
    std::size_t prefix = 0;
    while (prefix < 4 && prefix < a.size() && prefix < b.size() && a[prefix] == b[prefix]) ++prefix;
    return j + static_cast<double>(prefix) * prefix_scale * (1.0 - j);
}

int damerau_levenshtein(std::string_view a, std::string_view b, int cap) {
    return edit_distance(a, b, cap, true);
}

int levenshtein(std::string_view a, std::string_view b, int cap) {
    return edit_distance(a, b, cap, false);
}

double token_set_similarity(std::string_view a, std::string_view b) {
    auto x = tokens(a), y = tokens(b);
    if (x.empty() || y.empty()) return 0.0;
    std::size_t common = 0;
    for (const auto& t : x) common += y.count(t);
    return static_cast<double>(common) / static_cast<double>(std::min(x.size(), y.size()));
}

std::string soundex(std::string_view name) {
    std::string letters;
    for (char ch : name) {
        if (ch >= 'a' && ch <= 'z') letters += static_cast<char>(ch - 'a' + 'A');
        if (ch >= 'A' && ch <= 'Z') letters += ch;
    }
    if (letters.empty()) return {};
    std::string out(1, letters[0]);
    int last = soundex_code(letters[0]);
    for (std::size_t i = 1; i < letters.size() && out.size() < 4; ++i) {
        char ch = letters[i];
        if (ch == 'H' || ch == 'W') continue;  // they do not separate two letters of one code
        int code = soundex_code(ch);
        if (code != 0 && code != last) out += static_cast<char>('0' + code);
        last = code;
    }
    out.resize(4, '0');
    return out;
}

std::optional<Date> parse_date(std::string_view t) {
    if (t.size() != 10 || t[4] != '-' || t[7] != '-') return std::nullopt;
    int parts[3] = {0, 0, 0};
    const int starts[3] = {0, 5, 8}, lengths[3] = {4, 2, 2};
    for (int p = 0; p < 3; ++p)
        for (int k = 0; k < lengths[p]; ++k) {
            char ch = t[starts[p] + k];
            if (ch < '0' || ch > '9') return std::nullopt;
            parts[p] = parts[p] * 10 + (ch - '0');
        }
    Date d{parts[0], parts[1], parts[2]};
    if (d.year < 1 || d.month < 1 || d.month > 12 || d.day < 1 || d.day > days_in_month(d.year, d.month))
        return std::nullopt;
    return d;
}

DateAgreement compare_dates(const Date& a, const Date& b) {
    if (a == b) return DateAgreement::exact;
    if (a.year == b.year && a.month == b.day && a.day == b.month) return DateAgreement::day_month_swapped;
    std::string x = digits_of(a), y = digits_of(b);
    int differ = 0;
    for (std::size_t i = 0; i < x.size() && i < y.size(); ++i) differ += x[i] != y[i];
    if (x.size() == y.size() && differ == 1) return DateAgreement::one_digit;
    if (a.year == b.year) return DateAgreement::same_year;
    return DateAgreement::different;
}

double match_weight(double m, double u) {
    if (!(m > 0 && m <= 1) || !(u > 0 && u <= 1))
        throw Error(ErrorCode::invalid_parameter, "m and u probabilities must be in (0, 1]");
    return std::log2(m / u);
}

double match_probability(double total_weight, double prior) {
    if (!(prior > 0 && prior < 1)) throw Error(ErrorCode::invalid_parameter, "the prior must be in (0, 1)");
    if (std::isnan(total_weight)) throw Error(ErrorCode::invalid_parameter, "the match weight is not a number");
    double x = total_weight + std::log2(prior / (1 - prior));
    return 1.0 / (1.0 + std::exp2(-x));
}

}  // namespace customer_profile::core
