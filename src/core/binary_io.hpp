// Little-endian binary writer and bounds-checked reader shared by the core's
// codecs: "var" = unsigned LEB128, "zvar" = zigzag LEB128, f64 = IEEE-754.
// Reader::fail throws Error(invalid_text) prefixed with the codec's name.
#pragma once

#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

#include "error.hpp"

namespace customer_profile::core {

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
    Reader(std::string_view in, const char* what) : in_(in), what_(what) {}
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
            if (!(b & 0x80)) {
                // Writers never pad: one value, one encoding (found by the fuzzer).
                if (b == 0 && shift > 0) fail("overlong varint");
                return v;
            }
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
                    std::string("invalid binary ") + what_ + ": " + why + " (at byte " + std::to_string(pos_) + ")");
    }

private:
    void need(std::uint64_t n) const {
        if (n > in_.size() - pos_) fail("truncated");
    }
    std::string_view in_;
    const char* what_;
    std::size_t pos_ = 0;
};

}  // namespace customer_profile::core
