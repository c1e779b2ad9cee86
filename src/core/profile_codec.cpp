// Binary profile codec (see profile_codec.hpp for the layout).
#include "profile_codec.hpp"

#include <cstring>

#include "error.hpp"

namespace customer_profile::core {
namespace {

class Writer {
public:
    void u8(std::uint8_t v) { out_.push_back(static_cast<char>(v)); }
    void var(std::uint64_t v) {
        while (v >= 0x80) {
            u8(static_cast<std::uint8_t>(v | 0x80));
            v >>= 7;
        }
        u8(static_cast<std::uint8_t>(v));
    }
    void zvar(std::int64_t v) { var((static_cast<std::uint64_t>(v) << 1) ^ static_cast<std::uint64_t>(v >> 63)); }
    void bytes(std::string_view s) {
        var(s.size());
        out_.append(s.data(), s.size());
    }
    void f64(double d) {
        std::uint64_t bits;
        std::memcpy(&bits, &d, sizeof bits);
        for (int i = 0; i < 8; ++i) u8(static_cast<std::uint8_t>(bits >> (8 * i)));
    }
    std::string take() { return std::move(out_); }

private:
    std::string out_;
};

class Reader {
public:
    explicit Reader(std::string_view in) : in_(in) {}
    bool done() const { return pos_ == in_.size(); }
    std::uint8_t u8() {
        need(1);
        return static_cast<std::uint8_t>(in_[pos_++]);
    }
    std::uint64_t var() {
        std::uint64_t v = 0;
        for (int shift = 0; shift < 64; shift += 7) {
            std::uint8_t b = u8();
            v |= static_cast<std::uint64_t>(b & 0x7F) << shift;
            if (!(b & 0x80)) return v;
        }
        fail("varint longer than 10 bytes");
    }
    std::int64_t zvar() {
        std::uint64_t v = var();
        return static_cast<std::int64_t>((v >> 1) ^ (~(v & 1) + 1));
    }
    std::string_view bytes(std::size_t limit) {
        std::uint64_t n = var();
        if (n > limit) fail("string longer than its limit");
        need(n);
        std::string_view s = in_.substr(pos_, n);
        pos_ += n;
        return s;
    }
    double f64() {
        std::uint64_t bits = 0;
        for (int i = 0; i < 8; ++i) bits |= static_cast<std::uint64_t>(u8()) << (8 * i);
        double d;
        std::memcpy(&d, &bits, sizeof d);
        return d;
    }
    [[noreturn]] void fail(const std::string& why) const {
        throw Error(ErrorCode::invalid_text,
                    "invalid binary profile: " + why + " (at byte " + std::to_string(pos_) + ")");
    }

private:
    void need(std::uint64_t n) const {
        if (n > in_.size() - pos_) fail("truncated");
    }
    std::string_view in_;
    std::size_t pos_ = 0;
};

void write_trait(Writer& w, const Trait& t) {
    w.bytes(t.name);
    w.bytes(t.source);
    w.zvar(t.observed_at);
    w.u8(static_cast<std::uint8_t>(t.value.type));
    const TraitValue& v = t.value;
    switch (v.type) {
        case TraitType::null:
            break;
        case TraitType::boolean:
            w.u8(v.boolean ? 1 : 0);
            break;
        case TraitType::number:
            w.f64(v.number);
            break;
        case TraitType::text:
            w.bytes(v.text);
            break;
        case TraitType::timestamp:
            w.zvar(v.timestamp);
            break;
        case TraitType::text_array:
            w.var(v.array.size());
            for (const auto& s : v.array) w.bytes(s);
            break;
    }
}

// Reads one trait; `keep` false skips the payload copies (used by find).
Trait read_trait(Reader& r, bool keep, std::string_view* name_out) {
    Trait t;
    std::string_view name = r.bytes(kMaxTraitNameBytes);
    if (name_out) *name_out = name;
    std::string_view source = r.bytes(kMaxTraitSourceBytes);
    std::int64_t observed_at = r.zvar();
    std::uint8_t type = r.u8();
    if (type > static_cast<std::uint8_t>(TraitType::text_array)) r.fail("unknown trait type " + std::to_string(type));
    if (keep) {
        t.name.assign(name);
        t.source.assign(source);
        t.observed_at = observed_at;
        t.value.type = static_cast<TraitType>(type);
    }
    switch (static_cast<TraitType>(type)) {
        case TraitType::null:
            break;
        case TraitType::boolean: {
            std::uint8_t b = r.u8();
            if (b > 1) r.fail("boolean is neither 0 nor 1");
            t.value.boolean = b == 1;
            break;
        }
        case TraitType::number:
            t.value.number = r.f64();
            break;
        case TraitType::text: {
            std::string_view s = r.bytes(kMaxTraitTextBytes);
            if (keep) t.value.text.assign(s);
            break;
        }
        case TraitType::timestamp:
            t.value.timestamp = r.zvar();
            break;
        case TraitType::text_array: {
            std::uint64_t n = r.var();
            if (n > kMaxTraitArrayItems) r.fail("array longer than its limit");
            for (std::uint64_t i = 0; i < n; ++i) {
                std::string_view s = r.bytes(kMaxTraitTextBytes);
                if (keep) t.value.array.emplace_back(s);
            }
            break;
        }
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
    Reader r(bytes);
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

std::optional<Trait> find_trait(std::string_view bytes, std::string_view name) {
    Reader r(bytes);
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
