// Unicode lower case through ICU's UCaseMap (see unicode_case.hpp).
#include "unicode_case.hpp"

#include <unicode/ucasemap.h>

#include <limits>
#include <memory>

namespace customer_profile::core {
namespace {

struct CaseMapCloser {
    void operator()(UCaseMap* map) const { ucasemap_close(map); }
};

// The root locale's map, opened once: ucasemap_utf8ToLower only reads it.
const UCaseMap* root_case_map() {
    static const std::unique_ptr<UCaseMap, CaseMapCloser> map = [] {
        UErrorCode status = U_ZERO_ERROR;
        std::unique_ptr<UCaseMap, CaseMapCloser> m(ucasemap_open("und", 0, &status));
        if (U_FAILURE(status)) m.reset();
        return m;
    }();
    return map.get();
}

std::string ascii_lower(std::string_view s) {
    std::string out(s);
    for (auto& c : out)
        if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    return out;
}

}  // namespace

std::string unicode_lower(std::string_view s) {
    bool ascii = true;
    for (char c : s)
        if (static_cast<unsigned char>(c) >= 0x80) {
            ascii = false;
            break;
        }
    const UCaseMap* map = root_case_map();
    if (ascii || map == nullptr || s.size() > static_cast<std::size_t>(std::numeric_limits<int32_t>::max() / 3))
        return ascii_lower(s);
    // Lower case may be longer (U+0130 İ, 2 bytes, becomes i + U+0307, 3
    // bytes): when the buffer is short, ICU says how long it must be.
    std::string out(s.size() + 16, '\0');
    for (int attempt = 0; attempt < 2; ++attempt) {
        UErrorCode status = U_ZERO_ERROR;
        int32_t n = ucasemap_utf8ToLower(map, out.data(), static_cast<int32_t>(out.size()), s.data(),
                                         static_cast<int32_t>(s.size()), &status);
        if (status == U_BUFFER_OVERFLOW_ERROR) {
            out.assign(static_cast<std::size_t>(n), '\0');
            continue;
        }
        if (U_FAILURE(status)) break;
        out.resize(static_cast<std::size_t>(n));
        return out;
    }
    return ascii_lower(s);
}

}  // namespace customer_profile::core
