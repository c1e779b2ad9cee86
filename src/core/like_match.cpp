// LIKE by pieces (see like_match.hpp).
#include "like_match.hpp"

#include <algorithm>
#include <string>
#include <vector>

#include "unicode_case.hpp"

namespace customer_profile::core {
namespace {

constexpr std::size_t kPollEvery = 1 << 16;

std::size_t utf8_length(std::string_view s, std::size_t i) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    std::size_t n = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xE ? 3 : (c >> 3) == 0x1E ? 4 : 1;
    return std::min(n, s.size() - i);
}

// One piece between two runs of %: characters, each a literal or _ (empty).
struct Piece {
    std::vector<std::string> chars;
    bool has_wildcard = false;
    std::string bytes;  // the literal bytes when !has_wildcard
};

struct Pattern {
    std::vector<Piece> pieces;
    bool leading_run = false, trailing_run = false;  // starts or ends with %
};

Pattern parse(std::string_view p) {
    Pattern out;
    out.pieces.emplace_back();
    for (std::size_t i = 0; i < p.size();) {
        if (p[i] == '%') {
            if (i == 0) out.leading_run = true;
            if (!out.pieces.back().chars.empty()) out.pieces.emplace_back();
            ++i;
            if (i == p.size()) out.trailing_run = true;
            continue;
        }
        Piece& piece = out.pieces.back();
        if (p[i] == '_') {
            piece.chars.emplace_back();
            piece.has_wildcard = true;
            ++i;
            continue;
        }
        if (p[i] == '\\' && i + 1 < p.size()) ++i;
        std::size_t n = utf8_length(p, i);
        piece.chars.emplace_back(p.substr(i, n));
        piece.bytes.append(p.substr(i, n));
        i += n;
    }
    if (out.pieces.back().chars.empty()) out.pieces.pop_back();
    return out;
}

class Matcher {
public:
    Matcher(std::string_view text, CancelCheck cancel) : text_(text), cancel_(cancel) {
        for (std::size_t i = 0; i < text.size(); i += utf8_length(text, i)) starts_.push_back(i);
        starts_.push_back(text.size());
    }
    std::size_t chars() const { return starts_.size() - 1; }

    // Whether the piece matches at character position c.
    bool at(const Piece& piece, std::size_t c) {
        if (c + piece.chars.size() > chars()) return false;
        for (std::size_t k = 0; k < piece.chars.size(); ++k) {
            tick();
            const std::string& want = piece.chars[k];
            if (want.empty()) continue;  // _
            std::size_t from = starts_[c + k], n = starts_[c + k + 1] - from;
            if (text_.compare(from, n, want) != 0) return false;
        }
        return true;
    }

    // Leftmost character position >= c where the piece matches, or npos.
    std::size_t find(const Piece& piece, std::size_t c) {
        if (!piece.has_wildcard) return find_literal(piece.bytes, c);
        for (; c + piece.chars.size() <= chars(); ++c)
            if (at(piece, c)) return c;
        return std::string_view::npos;
    }

private:
    // Knuth-Morris-Pratt over the bytes: a UTF-8 match of whole characters
    // starts on a character boundary, so a byte match is a character match.
    std::size_t find_literal(const std::string& needle, std::size_t c) {
        std::vector<std::size_t> fail(needle.size(), 0);
        for (std::size_t i = 1, k = 0; i < needle.size(); ++i) {
            while (k > 0 && needle[i] != needle[k]) k = fail[k - 1];
            if (needle[i] == needle[k]) ++k;
            fail[i] = k;
        }
        for (std::size_t i = starts_[c], k = 0; i < text_.size(); ++i) {
            tick();
            while (k > 0 && text_[i] != needle[k]) k = fail[k - 1];
            if (text_[i] == needle[k]) ++k;
            if (k == needle.size()) return char_at(i + 1 - needle.size());
        }
        return std::string_view::npos;
    }
    std::size_t char_at(std::size_t byte) const {
        return static_cast<std::size_t>(std::lower_bound(starts_.begin(), starts_.end(), byte) - starts_.begin());
    }
    void tick() {
        if (++steps_ % kPollEvery == 0) throw_if_canceled(cancel_);
    }

    std::string_view text_;
    CancelCheck cancel_;
    std::vector<std::size_t> starts_;  // byte offset of each character, then the end
    std::size_t steps_ = 0;
};

bool match(std::string_view text, std::string_view pattern_text, CancelCheck cancel) {
    Pattern p = parse(pattern_text);
    Matcher m(text, cancel);
    std::size_t n = m.chars();
    if (p.pieces.empty()) return p.leading_run || n == 0;  // "%..." or ""
    std::size_t first = 0, last = p.pieces.size();
    std::size_t pos = 0, end = n;
    if (!p.leading_run) {  // the first piece is anchored at the start
        if (!m.at(p.pieces[0], 0)) return false;
        pos = p.pieces[0].chars.size();
        first = 1;
        if (p.pieces.size() == 1 && !p.trailing_run) return pos == n;
    }
    if (!p.trailing_run && last > first) {  // the last piece is anchored at the end
        const Piece& tail = p.pieces[last - 1];
        if (tail.chars.size() > n - pos || !m.at(tail, n - tail.chars.size())) return false;
        end = n - tail.chars.size();
        --last;
    }
    for (std::size_t i = first; i < last; ++i) {
        std::size_t at = m.find(p.pieces[i], pos);
        if (at == std::string_view::npos || at + p.pieces[i].chars.size() > end) return false;
        pos = at + p.pieces[i].chars.size();
    }
    return pos <= end;
}

}  // namespace

bool like_match(std::string_view text, std::string_view pattern, bool case_insensitive, CancelCheck cancel) {
    if (!case_insensitive) return match(text, pattern, cancel);
    return match(unicode_lower(text), unicode_lower(pattern), cancel);
}

}  // namespace customer_profile::core
