// Binary profile codec (see profile_codec.hpp for the layout).
#include "profile_codec.hpp"

#include <algorithm>

#include <cstring>

#include "binary_io.hpp"
#include "error.hpp"
#include "trait_value_codec.hpp"

namespace customer_profile::core {
namespace {

void write_trait(Writer& w, const Trait& t) {
    w.bytes(t.name);
    w.bytes(t.source);
    w.zvar(t.observed_at);
    write_trait_value(w, t.value);
}

// Reads one trait; `keep` false skips the payload copies (used by find).
Trait read_trait(Reader& r, bool keep, std::string_view* name_out) {
    Trait t;
    std::string_view name = r.bytes(kMaxTraitNameBytes);
    if (name_out) *name_out = name;
    std::string_view source = r.bytes(kMaxTraitSourceBytes);
    std::int64_t observed_at = r.zvar();
    TraitValue value = read_trait_value(r, TraitValueUse::stored_trait, keep);
    if (keep) {
        t.name.assign(name);
        t.source.assign(source);
        t.observed_at = observed_at;
        t.value = std::move(value);
    }
    return t;
}

std::uint64_t read_header(Reader& r) {
    std::uint8_t version = r.u8();
    if (version != kProfileFormatVersion) r.fail("unknown format version " + std::to_string(version));
    std::uint64_t n = r.var();
    if (n > kMaxTraits) r.fail("more than 1000 traits");
    return n;
}

}  // namespace

std::string encode_profile(const Profile& profile) {
    Writer w;
    w.u8(kProfileFormatVersion);
    w.var(profile.traits.size());
    for (const auto& t : profile.traits) write_trait(w, t);
    return w.take();
}

Profile decode_profile(std::string_view bytes) {
    Reader r(bytes, "profile");
    std::uint64_t n = read_header(r);
    Profile p;
    p.traits.reserve(n);
    for (std::uint64_t i = 0; i < n; ++i) {
        Trait t = read_trait(r, true, nullptr);
        if (!p.traits.empty() && !(p.traits.back().name < t.name)) r.fail("trait names out of order or repeated");
        try {
            validate_trait(t);
        } catch (const Error& e) {
            r.fail(e.what());
        }
        p.traits.push_back(std::move(t));
    }
    if (!r.done()) r.fail("trailing bytes");
    return p;
}

Profile decode_profile_traits(std::string_view bytes, const std::vector<std::string>& names) {
    Reader r(bytes, "profile");
    std::uint64_t n = read_header(r);
    Profile p;
    for (std::uint64_t i = 0; i < n && p.traits.size() < names.size(); ++i) {
        Reader probe = r;
        std::string_view current;
        read_trait(r, false, &current);
        if (std::binary_search(names.begin(), names.end(), current))
            p.traits.push_back(read_trait(probe, true, nullptr));
    }
    return p;
}

std::optional<Trait> find_trait(std::string_view bytes, std::string_view name) {
    Reader r(bytes, "profile");
    std::uint64_t n = read_header(r);
    for (std::uint64_t i = 0; i < n; ++i) {
        Reader probe = r;
        std::string_view current;
        read_trait(r, false, &current);
        if (current == name) return read_trait(probe, true, nullptr);
        if (name < current) break;  // names are sorted
    }
    return std::nullopt;
}

}  // namespace customer_profile::core
