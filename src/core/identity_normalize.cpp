// Normalizers for identifier namespaces. Phone numbers go through Google's
// libphonenumber: country rules for E.164 are too subtle to hand-write.
#include "identity_normalize.hpp"
#include "profile.hpp"

#include <phonenumbers/phonenumberutil.h>

#include <algorithm>
#include <cctype>
#include <unordered_map>

namespace customer_profile::core {
namespace {

bool is_ascii_space(char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

std::string_view trim(std::string_view s) {
    while (!s.empty() && is_ascii_space(s.front())) s.remove_prefix(1);
    while (!s.empty() && is_ascii_space(s.back())) s.remove_suffix(1);
    return s;
}

std::string ascii_lower(std::string_view s) {
    std::string out(s);
    std::transform(out.begin(), out.end(), out.begin(),
                   [](unsigned char c) { return static_cast<char>(c < 0x80 ? std::tolower(c) : c); });
    return out;
}

[[noreturn]] void malformed(const std::string& what) {
    throw Error(ErrorCode::invalid_text, what);
}

bool has_control_or_space(std::string_view s) {
    return std::any_of(s.begin(), s.end(), [](unsigned char c) { return c < 0x20 || c == 0x7f || c == ' '; });
}

// A deliberately practical check (RFC 5321 lengths, one '@', a dotted
// domain with non-empty labels); exotic quoted local parts are refused.
std::string normalize_email(std::string_view raw) {
    std::string v = ascii_lower(trim(raw));
    if (v.empty()) malformed("email address is empty");
    if (has_control_or_space(v)) malformed("email address contains whitespace or control characters");
    auto at = v.find('@');
    if (at == std::string::npos) malformed("email address has no '@'");
    if (v.find('@', at + 1) != std::string::npos) malformed("email address has more than one '@'");
    std::string_view local(v.data(), at);
    std::string_view domain(v.data() + at + 1, v.size() - at - 1);
    if (local.empty()) malformed("email address has an empty local part");
    if (local.size() > 64) malformed("email local part is longer than 64 bytes");
    if (domain.empty()) malformed("email address has an empty domain");
    if (domain.size() > 253) malformed("email domain is longer than 253 bytes");
    if (domain.find('.') == std::string_view::npos) malformed("email domain has no '.'");
    if (domain.front() == '.' || domain.back() == '.' || domain.find("..") != std::string_view::npos)
        malformed("email domain has an empty label");
    if (local.front() == '.' || local.back() == '.' || local.find("..") != std::string_view::npos)
        malformed("email local part has an empty dot-separated part");
    return v;
}

// libphonenumber's Parse and IsValidNumber cost ~20 us (regular
// expressions); returning customers send the same numbers again, so recent
// results are memoized. Bounded: the map is simply cleared when full.
constexpr std::size_t kPhoneCacheEntries = 4096;

std::string parse_phone(std::string_view v, const NormalizeOptions& options);

std::string normalize_phone(std::string_view raw, const NormalizeOptions& options) {
    thread_local std::unordered_map<std::string, std::string> cache;
    std::string_view v = trim(raw);
    std::string key = options.default_phone_region;
    key.push_back('\0');
    key.append(v);
    if (auto it = cache.find(key); it != cache.end()) return it->second;
    std::string e164 = parse_phone(v, options);
    if (cache.size() >= kPhoneCacheEntries) cache.clear();
    cache.emplace(std::move(key), e164);
    return e164;
}

std::string parse_phone(std::string_view v, const NormalizeOptions& options) {
    using i18n::phonenumbers::PhoneNumber;
    using i18n::phonenumbers::PhoneNumberUtil;
    if (v.empty()) malformed("phone number is empty");
    if (v.size() > 64) malformed("phone number is longer than 64 bytes");
    const PhoneNumberUtil& util = *PhoneNumberUtil::GetInstance();
    PhoneNumber number;
    auto rc = util.Parse(std::string(v), options.default_phone_region, &number);
    if (rc != PhoneNumberUtil::NO_PARSING_ERROR) malformed("phone number does not parse");
    if (!util.IsValidNumber(number)) malformed("phone number is not a valid number for its region");
    std::string e164;
    util.Format(number, PhoneNumberUtil::E164, &e164);
    return e164;
}

}  // namespace

Normalizer normalizer_from_name(std::string_view name) {
    if (name == "trim") return Normalizer::trim;
    if (name == "lowercase") return Normalizer::lowercase;
    if (name == "email") return Normalizer::email;
    if (name == "phone") return Normalizer::phone;
    throw Error(ErrorCode::invalid_parameter, "unknown normalizer \"" + std::string(name) + "\"", {},
                "Valid normalizers are trim, lowercase, email and phone.");
}

const char* normalizer_name(Normalizer n) {
    switch (n) {
        case Normalizer::trim:
            return "trim";
        case Normalizer::lowercase:
            return "lowercase";
        case Normalizer::email:
            return "email";
        case Normalizer::phone:
            return "phone";
    }
    return "?";
}

std::string normalize_identifier(Normalizer n, std::string_view raw, const NormalizeOptions& options) {
    // Refuse absurd input before doing any work on it.
    if (raw.size() > 4 * kMaxIdentifierBytes)
        throw Error(ErrorCode::value_too_long,
                    "identifier is longer than " + std::to_string(kMaxIdentifierBytes) + " bytes");
    // Found by the fuzzer: trim and lowercase passed invalid bytes through
    // (possible in a SQL_ASCII database), which then reached hashes and JSON.
    if (!valid_utf8(raw)) throw Error(ErrorCode::invalid_text, "identifier is not valid UTF-8");
    std::string out;
    switch (n) {
        case Normalizer::trim:
            out = std::string(trim(raw));
            break;
        case Normalizer::lowercase:
            out = ascii_lower(trim(raw));
            break;
        case Normalizer::email:
            out = normalize_email(raw);
            break;
        case Normalizer::phone:
            out = normalize_phone(raw, options);
            break;
    }
    if (out.empty()) malformed("identifier is empty");
    if (out.size() > kMaxIdentifierBytes)
        throw Error(ErrorCode::value_too_long,
                    "identifier is longer than " + std::to_string(kMaxIdentifierBytes) + " bytes");
    return out;
}

bool phone_region_supported(std::string_view region) {
    using i18n::phonenumbers::PhoneNumberUtil;
    if (region.size() != 2) return false;
    std::set<std::string> regions;
    PhoneNumberUtil::GetInstance()->GetSupportedRegions(&regions);
    return regions.count(std::string(region)) > 0;
}

}  // namespace customer_profile::core
