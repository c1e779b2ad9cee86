// Recursive-descent parser for segment predicates (see predicate.hpp).
// Precedence, lowest first: OR, AND, NOT, conditions.
#include "predicate_parser.hpp"

#include <cctype>
#include <cmath>
#include <cstdlib>

#include "behavior.hpp"
#include "error.hpp"
#include "regex_match.hpp"
#include "timestamp_text.hpp"

namespace customer_profile::core {
namespace {

struct Token {
    enum class Kind { end, ident, quoted_ident, number, string, symbol } kind = Kind::end;
    std::string text;     // identifier (lower-cased unless quoted), number, string contents, symbol
    std::string spelled;  // an identifier with capitals as written (empty otherwise)
    std::size_t column = 0;
};

std::string lower(std::string_view s) {
    std::string out(s);
    for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return out;
}

[[noreturn]] void syntax_error(std::size_t column, const std::string& what) {
    throw Error(ErrorCode::invalid_text, "syntax error at column " + std::to_string(column) + ": " + what);
}

// The length of the longest prefix of s of at most n bytes that ends on a
// UTF-8 character boundary.
std::size_t utf8_prefix(const std::string& s, std::size_t n) {
    while (n > 0 && n < s.size() && (static_cast<unsigned char>(s[n]) & 0xC0) == 0x80) --n;
    return n;
}

std::vector<Token> tokenize(std::string_view in) {
    std::vector<Token> out;
    std::size_t i = 0;
    while (i < in.size()) {
        unsigned char c = static_cast<unsigned char>(in[i]);
        if (std::isspace(c)) {
            ++i;
            continue;
        }
        Token t;
        t.column = i + 1;
        if (std::isalpha(c) || c == '_') {
            std::size_t j = i;
            while (j < in.size() && (std::isalnum(static_cast<unsigned char>(in[j])) || in[j] == '_')) ++j;
            t.kind = Token::Kind::ident;
            t.text = lower(in.substr(i, j - i));
            if (t.text != in.substr(i, j - i)) t.spelled = std::string(in.substr(i, j - i));
            i = j;
        } else if (std::isdigit(c) ||
                   (c == '.' && i + 1 < in.size() && std::isdigit(static_cast<unsigned char>(in[i + 1])))) {
            std::size_t j = i;
            while (j < in.size() && (std::isdigit(static_cast<unsigned char>(in[j])) || in[j] == '.')) ++j;
            if (j < in.size() && (in[j] == 'e' || in[j] == 'E')) {
                std::size_t k = j + 1;
                if (k < in.size() && (in[k] == '+' || in[k] == '-')) ++k;
                if (k < in.size() && std::isdigit(static_cast<unsigned char>(in[k]))) {
                    j = k;
                    while (j < in.size() && std::isdigit(static_cast<unsigned char>(in[j]))) ++j;
                }
            }
            t.kind = Token::Kind::number;
            t.text = std::string(in.substr(i, j - i));
            i = j;
        } else if (c == '\'' || c == '"') {
            char quote = static_cast<char>(c);
            std::size_t j = i + 1;
            std::string value;
            for (;;) {
                if (j >= in.size())
                    syntax_error(t.column, quote == '\'' ? "unterminated string" : "unterminated quoted name");
                if (in[j] == quote) {
                    if (j + 1 < in.size() && in[j + 1] == quote) {
                        value.push_back(quote);
                        j += 2;
                        continue;
                    }
                    break;
                }
                value.push_back(in[j++]);
            }
            t.kind = quote == '\'' ? Token::Kind::string : Token::Kind::quoted_ident;
            if (t.kind == Token::Kind::quoted_ident && value.empty()) syntax_error(t.column, "empty quoted name");
            t.text = std::move(value);
            i = j + 1;
        } else {
            std::string_view two = in.substr(i, 2);
            t.kind = Token::Kind::symbol;
            std::string_view three = in.substr(i, 3);
            if (three == "!~*") {
                t.text = "!~*";
                i += 3;
            } else if (two == "<>" || two == "!=" || two == "<=" || two == ">=" || two == "~*" || two == "!~") {
                t.text = two == "!=" ? "<>" : std::string(two);
                i += 2;
            } else if (std::string_view("=<>(),.+-~").find(static_cast<char>(c)) != std::string_view::npos) {
                t.text = std::string(1, static_cast<char>(c));
                i += 1;
            } else {
                syntax_error(t.column, "unexpected character '" + std::string(1, static_cast<char>(c)) + "'");
            }
        }
        out.push_back(std::move(t));
    }
    Token end;
    end.column = in.size() + 1;
    out.push_back(end);
    // Names end up in the binary form, which bounds them.
    for (const Token& t : out)
        if ((t.kind == Token::Kind::ident || t.kind == Token::Kind::quoted_ident) &&
            t.text.size() > kMaxPredicateNameBytes)
            syntax_error(t.column, "name longer than 1024 bytes");
    return out;
}

bool is_reserved(const std::string& word) {
    return is_predicate_keyword(word);
}

class Parser {
public:
    explicit Parser(std::string_view text) : tokens_(tokenize(text)) {}

    PredicateNode parse() {
        PredicateNode n = expression(0);
        if (peek().kind != Token::Kind::end) fail("expected AND, OR or the end of the predicate");
        return n;
    }
    Operand parse_operand() {
        Operand o = operand(0);
        if (peek().kind != Token::Kind::end) fail("expected the end of the expression");
        return o;
    }

private:
    const Token& peek(std::size_t ahead = 0) const {
        std::size_t i = pos_ + ahead;
        return tokens_[i < tokens_.size() ? i : tokens_.size() - 1];
    }
    const Token& next() { return tokens_[pos_ < tokens_.size() - 1 ? pos_++ : pos_]; }
    bool word(const char* w, std::size_t ahead = 0) const {
        return peek(ahead).kind == Token::Kind::ident && peek(ahead).text == w;
    }
    bool symbol(const char* s) const { return peek().kind == Token::Kind::symbol && peek().text == s; }
    bool accept_word(const char* w) {
        if (!word(w)) return false;
        ++pos_;
        return true;
    }
    bool accept_symbol(const char* s) {
        if (!symbol(s)) return false;
        ++pos_;
        return true;
    }
    // "expected X" at the current token, naming the previous one.
    [[noreturn]] void fail(const std::string& expected) const {
        std::string where;
        if (pos_ > 0) {
            const Token& prev = tokens_[pos_ - 1];
            // A long token is shown by its start: the column locates it.
            std::string shown =
                prev.text.size() > 40 ? prev.text.substr(0, utf8_prefix(prev.text, 40)) + "..." : prev.text;
            where = " after '" + (prev.kind == Token::Kind::string ? "'" + shown + "'" : shown) + "'";
        }
        if (peek().kind == Token::Kind::end) where += " (at the end of the predicate)";
        syntax_error(peek().column, expected + where);
    }
    void expect_symbol(const char* s) {
        if (!accept_symbol(s)) fail(std::string("expected '") + s + "'");
    }
    void count_node() {
        if (++nodes_ > kMaxPredicateNodes) fail("predicate too large (more than 2000 nodes)");
    }

    PredicateNode expression(int depth) {
        if (depth > kMaxPredicateDepth) fail("predicate nested too deeply");
        PredicateNode left = conjunction(depth);
        if (!word("or")) return left;
        PredicateNode n;
        n.kind = PredicateNode::Kind::or_;
        add_child(n, std::move(left));
        while (accept_word("or")) add_child(n, conjunction(depth));
        count_node();
        return n;
    }
    PredicateNode conjunction(int depth) {
        PredicateNode left = negation(depth);
        if (!word("and")) return left;
        PredicateNode n;
        n.kind = PredicateNode::Kind::and_;
        add_child(n, std::move(left));
        while (accept_word("and")) add_child(n, negation(depth));
        count_node();
        return n;
    }
    // a AND (b AND c) is a AND b AND c: one n-ary node, so the normalized
    // text parses back to the same tree.
    static void add_child(PredicateNode& parent, PredicateNode child) {
        if (child.kind == parent.kind) {
            for (auto& c : child.children) parent.children.push_back(std::move(c));
        } else {
            parent.children.push_back(std::move(child));
        }
    }
    PredicateNode negation(int depth) {
        if (depth > kMaxPredicateDepth) fail("predicate nested too deeply");
        if (accept_word("not")) {
            PredicateNode n;
            n.kind = PredicateNode::Kind::not_;
            n.children.push_back(negation(depth + 1));
            count_node();
            return n;
        }
        return primary(depth);
    }
    PredicateNode primary(int depth) {
        count_node();
        if (accept_symbol("(")) {
            PredicateNode n = expression(depth + 1);
            expect_symbol(")");
            return n;
        }
        PredicateNode n;
        bool call = peek(1).kind == Token::Kind::symbol && peek(1).text == "(";
        if (element_ > 0 && (word("known") || word("anonymous") ||
                             (call && (word("consent") || word("in_cluster") || word("in_segment") || word("any")))))
            fail("inside any(), conditions test the fields of one object; " + peek().text + " is not allowed there");
        if (word("any") && call) {
            next();
            next();  // (
            n.kind = PredicateNode::Kind::any_element;
            n.name = name("a trait that holds a list of objects");
            if (!accept_word("where"))
                fail("expected WHERE and a condition on the objects (any(interests where key = 'cars'))");
            if (depth > kMaxPredicateDepth) fail("predicate nested too deeply");
            ++element_;
            n.children.push_back(expression(depth + 1));
            --element_;
            expect_symbol(")");
            return n;
        }
        if (word("known") || word("anonymous")) {
            n.kind = next().text == "known" ? PredicateNode::Kind::known : PredicateNode::Kind::anonymous;
            return n;
        }
        if (word("consent") && peek(1).kind == Token::Kind::symbol && peek(1).text == "(") {
            next();
            next();  // (
            n.kind = PredicateNode::Kind::consent;
            const Token& t = peek();
            if (t.kind != Token::Kind::ident && t.kind != Token::Kind::string && t.kind != Token::Kind::quoted_ident)
                fail("expected a consent purpose (consent(email_marketing))");
            if (!valid_consent_purpose(t.text))
                syntax_error(t.column,
                             "invalid consent purpose: use 1-63 lower-case letters, digits and underscores, "
                             "starting with a letter");
            n.name = next().text;
            expect_symbol(")");
            return n;
        }
        if (word("in_cluster") && peek(1).kind == Token::Kind::symbol && peek(1).text == "(") {
            next();
            next();  // (
            n.kind = PredicateNode::Kind::in_cluster;
            const Token& t = peek();
            if (t.kind != Token::Kind::number || !valid_cluster_number(t.text))
                fail("expected a cluster number from 1 to 1000 (in_cluster(3))");
            n.name = next().text;
            expect_symbol(")");
            return n;
        }
        if ((word("has") || word("in_segment")) && peek(1).kind == Token::Kind::symbol && peek(1).text == "(") {
            bool has = next().text == "has";
            next();  // (
            if (has) {
                n.kind = PredicateNode::Kind::has;
                n.name = name("a trait name");
            } else {
                n.kind = PredicateNode::Kind::in_segment;
                if (peek().kind != Token::Kind::string) fail("expected a segment name in quotes");
                if (peek().text.size() > kMaxPredicateNameBytes)
                    syntax_error(peek().column, "segment name longer than 1024 bytes");
                n.name = next().text;
                if (n.name.empty()) fail("expected a non-empty segment name");
            }
            expect_symbol(")");
            return n;
        }
        n.left = operand(depth);
        condition(n, depth);
        return n;
    }
    void condition(PredicateNode& n, int depth) {
        static const struct {
            const char* text;
            CompareOp op;
        } ops[] = {{"=", CompareOp::eq},  {"<>", CompareOp::ne}, {"<", CompareOp::lt},
                   {"<=", CompareOp::le}, {">", CompareOp::gt},  {">=", CompareOp::ge}};
        for (const auto& o : ops)
            if (accept_symbol(o.text)) {
                n.kind = PredicateNode::Kind::compare;
                n.op = o.op;
                n.right = operand(depth, "a value");
                return;
            }
        static const struct {
            const char* text;
            bool negated, case_insensitive;
        } regex_ops[] = {{"~", false, false}, {"~*", false, true}, {"!~", true, false}, {"!~*", true, true}};
        for (const auto& o : regex_ops)
            if (accept_symbol(o.text)) {
                n.kind = PredicateNode::Kind::regex;
                n.negated = o.negated;
                n.case_insensitive = o.case_insensitive;
                if (peek().kind != Token::Kind::string) fail("expected a regular expression in quotes");
                const Token& pattern = next();
                check_regex(pattern.text, pattern.column, o.case_insensitive);
                n.name = pattern.text;
                return;
            }
        if (accept_word("is")) {
            n.negated = accept_word("not");
            if (accept_word("distinct")) {
                if (!accept_word("from")) fail("expected FROM");
                n.kind = PredicateNode::Kind::distinct;
                // negated holds IS NOT DISTINCT FROM (the same value)
                n.right = operand(depth, "a value");
                return;
            }
            n.kind = PredicateNode::Kind::is_null;
            if (!accept_word("null")) fail("expected NULL or DISTINCT FROM");
            return;
        }
        n.negated = accept_word("not");
        if (accept_word("in")) {
            n.kind = PredicateNode::Kind::in_list;
            expect_symbol("(");
            do {
                n.list.push_back(literal("a value"));
            } while (accept_symbol(","));
            expect_symbol(")");
        } else if (accept_word("between")) {
            n.kind = PredicateNode::Kind::between;
            n.right = operand(depth, "a value");
            if (!accept_word("and")) fail("expected AND");
            n.upper = operand(depth, "a value");
        } else if (word("like") || word("ilike")) {
            n.kind = PredicateNode::Kind::like;
            n.case_insensitive = next().text == "ilike";
            if (peek().kind != Token::Kind::string) fail("expected a pattern in quotes");
            n.name = next().text;
        } else {
            fail(n.negated ? "expected IN, BETWEEN, LIKE or ILIKE"
                           : "expected a comparison (=, <>, <, <=, >, >=, IN, BETWEEN, LIKE, ILIKE, ~, ~*, !~, !~*, "
                             "IS NULL, IS DISTINCT FROM)");
        }
    }

    std::string name(const char* what) {
        const Token& t = peek();
        if (t.kind == Token::Kind::quoted_ident || (t.kind == Token::Kind::ident && !is_reserved(t.text)))
            return name_token();
        fail(std::string("expected ") + what);
    }

    // Names (traits, event types, properties) are case-sensitive, and an
    // unquoted name is folded to lower case as in SQL: lastVisit would read
    // a trait lastvisit that nobody has, and never match. Refused instead,
    // so the mistake shows when the predicate is written (keywords and
    // function names are not names: any case reads the same).
    std::string name_token() {
        const Token& t = next();
        if (t.kind == Token::Kind::ident && !t.spelled.empty()) {
            auto cut = [](const std::string& s) { return s.size() > 40 ? s.substr(0, utf8_prefix(s, 40)) + "..." : s; };
            std::string shown = cut(t.spelled), folded = cut(t.text);
            throw Error(ErrorCode::invalid_text,
                        "syntax error at column " + std::to_string(t.column) + ": unquoted name " + shown +
                            " would be read as " + folded + " (unquoted names are folded to lower case)",
                        {},
                        "Names are case-sensitive: write \"" + shown +
                            "\" in double quotes for the name as written, or " + folded + " in lower case.");
        }
        return t.text;
    }

    TraitValue literal(const std::string& what) {
        TraitValue v;
        const Token& t = peek();
        bool minus = false;
        if (t.kind == Token::Kind::symbol && t.text == "-" && peek(1).kind == Token::Kind::number) {
            minus = true;
            next();
        }
        if (peek().kind == Token::Kind::number) {
            const Token& num = next();
            char* end = nullptr;
            double d = std::strtod(num.text.c_str(), &end);
            if (end == nullptr || *end != '\0' || !std::isfinite(d))
                syntax_error(num.column, "invalid number " + num.text);
            v.type = TraitType::number;
            v.number = minus ? -d : d;
            return v;
        }
        if (minus) fail("expected a number");
        if (t.kind == Token::Kind::string) {
            v.type = TraitType::text;
            v.text = next().text;
            return v;
        }
        if (word("true") || word("false")) {
            v.type = TraitType::boolean;
            v.boolean = next().text == "true";
            return v;
        }
        if (accept_word("null")) return v;
        if (word("timestamp") && peek(1).kind == Token::Kind::string) {
            next();
            const Token& s = next();
            try {
                v.timestamp = parse_timestamp(s.text);
            } catch (const Error& e) {
                syntax_error(s.column, std::string("invalid timestamp: ") + e.what());
            }
            v.type = TraitType::timestamp;
            return v;
        }
        fail("expected " + what);
    }

    Micros interval() {
        if (peek().kind != Token::Kind::number) fail("expected a number of minutes, hours, days or weeks");
        const Token& num = next();
        for (char c : num.text)
            if (!std::isdigit(static_cast<unsigned char>(c))) syntax_error(num.column, "expected a whole number");
        if (num.text.size() > 6) syntax_error(num.column, "interval too long");
        Micros n = std::stoll(num.text);
        static const struct {
            const char* singular;
            const char* plural;
            Micros micros;
        } units[] = {{"minute", "minutes", INT64_C(60000000)},
                     {"hour", "hours", INT64_C(3600000000)},
                     {"day", "days", INT64_C(86400000000)},
                     {"week", "weeks", INT64_C(604800000000)}};
        for (const auto& u : units)
            if (word(u.singular) || word(u.plural)) {
                next();
                if (n * u.micros > kMaxPredicateInterval) syntax_error(num.column, "interval longer than 36500 days");
                return n * u.micros;
            }
        fail("expected minutes, hours, days or weeks");
    }

    Operand operand(int depth, const std::string& what = "a trait, a value or a function") {
        Operand o;
        const Token& t = peek();
        bool call = peek(1).kind == Token::Kind::symbol && peek(1).text == "(";
        if (element_ > 0 && t.kind == Token::Kind::ident &&
            ((call && (t.text == "last_seen" || t.text == "count" || t.text == "sum" || t.text == "distance" ||
                       t.text == "now")) ||
             t.text == "today"))
            fail(
                "inside any(), conditions compare the fields of one object (null, booleans, numbers, text) with "
                "values; " +
                t.text + " is not allowed there");
        if (t.kind == Token::Kind::ident && t.text == "today") {
            next();
            o.kind = Operand::Kind::today;
            if (accept_symbol("(")) {
                if (peek().kind != Token::Kind::string) fail("expected a time zone in quotes (today('Europe/Paris'))");
                const Token& zone = next();
                if (!plausible_time_zone_name(zone.text))
                    syntax_error(zone.column, "invalid time zone name (a tz database name such as 'Europe/Paris')");
                o.name = zone.text;
                expect_symbol(")");
            }
            if (symbol("+") || symbol("-")) {
                bool minus = next().text == "-";
                std::size_t column = peek().column;
                o.offset = minus ? -interval() : interval();
                if (o.offset % kMicrosPerDay != 0)
                    syntax_error(column, "today moves by whole days or weeks (today - 7 days)");
            }
            return o;
        }
        if (t.kind == Token::Kind::ident && call && t.text == "distance") {
            next();
            next();  // (
            o.kind = Operand::Kind::distance;
            o.name = name("a point trait");
            expect_symbol(",");
            o.lat = coordinate(90, "a latitude from -90 to 90");
            expect_symbol(",");
            o.lon = coordinate(180, "a longitude from -180 to 180");
            expect_symbol(")");
            return o;
        }
        if (t.kind == Token::Kind::ident && call && (t.text == "now" || t.text == "last_seen")) {
            o.kind = next().text == "now" ? Operand::Kind::now : Operand::Kind::last_seen;
            next();  // (
            if (o.kind == Operand::Kind::last_seen && !symbol(")")) o.name = name("an event type or ')'");
            expect_symbol(")");
            if (symbol("+") || symbol("-")) {
                bool minus = next().text == "-";
                o.offset = minus ? -interval() : interval();
            }
            return o;
        }
        if (t.kind == Token::Kind::ident && call && (t.text == "count" || t.text == "sum")) {
            o.kind = next().text == "count" ? Operand::Kind::count : Operand::Kind::sum;
            next();  // (
            o.name = name("an event type");
            if (o.kind == Operand::Kind::sum) {
                if (!accept_symbol(".")) fail("expected '.' and a property (sum(purchase.revenue ...))");
                o.property = name("a property name");
            }
            if (accept_word("where")) {
                if (depth > kMaxPredicateDepth) fail("predicate nested too deeply");
                o.where.push_back(expression(depth + 1));
            }
            if (accept_word("between")) {
                o.kind = o.kind == Operand::Kind::count ? Operand::Kind::count_between : Operand::Kind::sum_between;
                o.from = timestamp_literal();
                if (!accept_word("and")) fail("expected AND");
                o.to = timestamp_literal();
                if (o.from >= o.to) fail("the range must end after it starts");
            } else if (accept_word("within")) {
                o.within = interval();
            }
            expect_symbol(")");
            return o;
        }
        if (t.kind == Token::Kind::quoted_ident || (t.kind == Token::Kind::ident && !is_reserved(t.text) && !call)) {
            o.kind = Operand::Kind::trait;
            o.name = name_token();
            return o;
        }
        if (t.kind == Token::Kind::ident && call && !is_reserved(t.text)) fail("unknown function " + t.text + "()");
        o.kind = Operand::Kind::literal;
        o.literal = literal(what);
        return o;
    }

    Micros timestamp_literal() {
        TraitValue v = literal("a timestamp (timestamp '2026-11-01T00:00:00Z')");
        if (v.type != TraitType::timestamp) {
            --pos_;
            fail("expected a timestamp (timestamp '2026-11-01T00:00:00Z')");
        }
        return v.timestamp;
    }

    double coordinate(double limit, const char* what) {
        std::size_t column = peek().column;
        TraitValue v = literal(what);
        if (v.type != TraitType::number || v.number < -limit || v.number > limit)
            syntax_error(column, std::string("expected ") + what);
        return v.number;
    }

    // RE2 refuses what it cannot run in linear time (backreferences,
    // lookaround): the pattern is refused here, with the position.
    // column: of the opening quote; the position is the pattern's
    // character (within the pattern, counted from 1).
    static void check_regex(const std::string& pattern, std::size_t column, bool case_insensitive) {
        std::size_t offset = 0;
        std::string problem = regex_problem(pattern, case_insensitive, &offset);
        if (problem.empty()) return;
        // Positions in the pattern count characters (columns count bytes, as
        // every syntax error's do).
        std::size_t characters = 0;
        for (std::size_t i = 0; i < offset && i < pattern.size(); ++i)
            if ((static_cast<unsigned char>(pattern[i]) & 0xC0) != 0x80) ++characters;
        throw Error(ErrorCode::invalid_parameter,
                    "invalid regular expression at column " + std::to_string(column + 1 + offset) + " (character " +
                        std::to_string(characters + 1) + " of the pattern): " + problem,
                    {}, "Patterns use RE2 syntax, which runs in linear time: no backreferences or lookaround.");
    }

    std::vector<Token> tokens_;
    std::size_t pos_ = 0;
    std::size_t nodes_ = 0;
    int element_ = 0;  // inside any(): names are the fields of one object
};

}  // namespace

bool is_predicate_keyword(std::string_view word) {
    static const char* words[] = {"and",    "or",    "not",       "in",        "between",  "like",
                                  "ilike",  "is",    "null",      "true",      "false",    "where",
                                  "within", "known", "anonymous", "timestamp", "distinct", "today"};
    for (const char* w : words)
        if (word == w) return true;
    return false;
}

Operand parse_operand(std::string_view text) {
    if (text.size() > kMaxPredicateNameBytes * 2)
        throw Error(ErrorCode::value_too_long, "expression longer than 2048 bytes");
    if (!valid_utf8(text)) throw Error(ErrorCode::invalid_text, "expression is not valid UTF-8");
    return Parser(text).parse_operand();
}

PredicateNode parse_predicate(std::string_view text) {
    if (text.size() > kMaxPredicateBytes) throw Error(ErrorCode::value_too_long, "predicate longer than 65536 bytes");
    // Names and text values end up in JSON and in SQL text: only valid UTF-8 gets that far.
    if (!valid_utf8(text)) throw Error(ErrorCode::invalid_text, "predicate is not valid UTF-8");
    return Parser(text).parse();
}

}  // namespace customer_profile::core
