// Shared text forms (see text_literal.hpp).
#include "text_literal.hpp"

#include <cstdio>
#include <cstdlib>

namespace customer_profile::core {

std::string shortest_number(double value) {
    char buf[64];
    for (int precision = 15; precision <= 17; ++precision) {
        std::snprintf(buf, sizeof buf, "%.*g", precision, value);
        if (std::strtod(buf, nullptr) == value) break;
    }
    return buf;
}

std::string quote_doubled(std::string_view text, char quote) {
    std::string out(1, quote);
    for (char c : text) {
        if (c == quote) out.push_back(quote);
        out.push_back(c);
    }
    out.push_back(quote);
    return out;
}

}  // namespace customer_profile::core
