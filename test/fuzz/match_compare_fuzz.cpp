// libFuzzer target for the field comparators of probabilistic matching (make
// fuzz): the input, split at its first 0x00 byte (or its middle), is a pair of
// values, each cut to 64 bytes (the cost is quadratic). Every comparator
// must return a value in its range, agree when the pair is swapped, and
// respect its cap; dates must parse only as valid dates.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "core/match_compare.hpp"

using namespace customer_profile::core;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    std::string_view all(reinterpret_cast<const char*>(data), size);
    std::size_t cut = all.find('\0');
    if (cut == std::string_view::npos) cut = size / 2;
    std::string_view a = all.substr(0, std::min<std::size_t>(cut, 64));
    std::string_view b = cut < size ? all.substr(cut + 1, 64) : std::string_view();

    double j = jaro(a, b), jw = jaro_winkler(a, b);
    if (!(j >= 0 && j <= 1) || !(jw >= j - 1e-12 && jw <= 1 + 1e-12)) std::abort();
    if (std::fabs(j - jaro(b, a)) > 1e-9) std::abort();
    int lev = levenshtein(a, b), osa = damerau_levenshtein(a, b);
    if (lev != levenshtein(b, a) || osa != damerau_levenshtein(b, a) || osa > lev) std::abort();
    if ((osa == 0) != (a == b)) std::abort();
    for (int cap : {0, 1, 3})
        if (damerau_levenshtein(a, b, cap) != std::min(osa, cap + 1)) std::abort();
    double t = token_set_similarity(a, b);
    if (!(t >= 0 && t <= 1) || t != token_set_similarity(b, a)) std::abort();
    std::string s = soundex(a);
    if (!s.empty() && s.size() != 4) std::abort();
    auto da = parse_date(a), db = parse_date(b);
    if (da && (da->month < 1 || da->month > 12 || da->day < 1 || da->day > 31)) std::abort();
    if (da && db && (compare_dates(*da, *db) == DateAgreement::exact) != (*da == *db)) std::abort();
    return 0;
}
