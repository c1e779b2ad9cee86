// libFuzzer target for identifier normalization (make fuzz): the first byte
// picks the normalizer (trim, lowercase, email, phone), the rest is the raw
// value. It must be refused with core::Error or normalized to valid UTF-8
// that normalizes to itself again (what is hashed must be a fixed point).
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "core/error.hpp"
#include "core/identity_normalize.hpp"
#include "core/profile.hpp"

using namespace customer_profile::core;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size == 0) return 0;
    static const Normalizer normalizers[] = {Normalizer::trim, Normalizer::lowercase, Normalizer::email,
                                             Normalizer::phone};
    Normalizer n = normalizers[data[0] % 4];
    NormalizeOptions options;
    if (data[0] & 0x80) options.default_phone_region = "DE";
    std::string_view raw(reinterpret_cast<const char*>(data) + 1, size - 1);
    std::string once;
    try {
        once = normalize_identifier(n, raw, options);
    } catch (const Error&) {
        return 0;
    }
    if (!valid_utf8(once) || normalize_identifier(n, once, options) != once) {
        std::fprintf(stderr, "identifier_fuzz: normalizer %s is not idempotent or gave invalid UTF-8\n",
                     normalizer_name(n));
        std::abort();
    }
    return 0;
}
