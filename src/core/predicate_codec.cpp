// Binary predicate codec (see predicate_codec.hpp for the layout).
#include "predicate_codec.hpp"

#include "binary_io.hpp"
#include "predicate_format.hpp"
#include "predicate_parser.hpp"
#include "trait_value_codec.hpp"

namespace customer_profile::core {
namespace {

void write_node(Writer& w, const PredicateNode& n);

void write_operand(Writer& w, const Operand& o) {
    w.u8(static_cast<std::uint8_t>(o.kind));
    switch (o.kind) {
        case Operand::Kind::trait:
            w.bytes(o.name);
            break;
        case Operand::Kind::literal:
            write_trait_value(w, o.literal);
            break;
        case Operand::Kind::now:
            w.zvar(o.offset);
            break;
        case Operand::Kind::last_seen:
            w.bytes(o.name);
            w.zvar(o.offset);
            break;
        case Operand::Kind::count:
        case Operand::Kind::sum:
            w.bytes(o.name);
            w.bytes(o.property);
            w.zvar(o.within);
            w.u8(o.where.empty() ? 0 : 1);
            if (!o.where.empty()) write_node(w, o.where.front());
            break;
        case Operand::Kind::count_between:
        case Operand::Kind::sum_between:
            w.bytes(o.name);
            w.bytes(o.property);
            w.zvar(o.from);
            w.zvar(o.to);
            w.u8(o.where.empty() ? 0 : 1);
            if (!o.where.empty()) write_node(w, o.where.front());
            break;
        case Operand::Kind::today:
            w.bytes(o.name);
            w.zvar(o.offset);
            break;
        case Operand::Kind::distance:
            w.bytes(o.name);
            w.f64(o.lat);
            w.f64(o.lon);
            break;
    }
}

void write_node(Writer& w, const PredicateNode& n) {
    using K = PredicateNode::Kind;
    w.u8(static_cast<std::uint8_t>(n.kind));
    switch (n.kind) {
        case K::and_:
        case K::or_:
            w.var(n.children.size());
            for (const auto& c : n.children) write_node(w, c);
            break;
        case K::not_:
            write_node(w, n.children.front());
            break;
        case K::compare:
            w.u8(static_cast<std::uint8_t>(n.op));
            write_operand(w, n.left);
            write_operand(w, n.right);
            break;
        case K::in_list:
            w.u8(n.negated);
            write_operand(w, n.left);
            w.var(n.list.size());
            for (const auto& v : n.list) write_trait_value(w, v);
            break;
        case K::between:
            w.u8(n.negated);
            write_operand(w, n.left);
            write_operand(w, n.right);
            write_operand(w, n.upper);
            break;
        case K::like:
            w.u8(n.negated);
            w.u8(n.case_insensitive);
            write_operand(w, n.left);
            w.bytes(n.name);
            break;
        case K::is_null:
            w.u8(n.negated);
            write_operand(w, n.left);
            break;
        case K::distinct:
            w.u8(n.negated);
            write_operand(w, n.left);
            write_operand(w, n.right);
            break;
        case K::regex:
            w.u8(n.negated);
            w.u8(n.case_insensitive);
            write_operand(w, n.left);
            w.bytes(n.name);
            break;
        case K::any_element:
            w.bytes(n.name);
            write_node(w, n.children.front());
            break;
        case K::has:
        case K::in_segment:
        case K::consent:
        case K::in_cluster:
            w.bytes(n.name);
            break;
        case K::known:
        case K::anonymous:
            break;
    }
}

class Decoder {
public:
    explicit Decoder(std::string_view in) : r_(in, "segment predicate") {}

    PredicateNode decode() {
        std::uint8_t version = r_.u8();
        if (version != kPredicateFormatVersion) r_.fail("unknown format version " + std::to_string(version));
        PredicateNode n = node(0);
        if (!r_.done()) r_.fail("trailing bytes");
        return n;
    }

private:
    bool flag() {
        std::uint8_t b = r_.u8();
        if (b > 1) r_.fail("flag is neither 0 nor 1");
        return b == 1;
    }
    std::string name(bool allow_empty) {
        std::string s(r_.bytes(kMaxPredicateNameBytes));
        if (s.empty() && !allow_empty) r_.fail("empty name");
        return s;
    }
    TraitValue value() { return read_trait_value(r_, TraitValueUse::predicate_literal); }
    Micros interval() {
        Micros m = r_.zvar();
        if (m < -kMaxPredicateInterval || m > kMaxPredicateInterval) r_.fail("interval out of range");
        return m;
    }
    Operand operand(int depth) {
        Operand o;
        std::uint8_t kind = r_.u8();
        if (kind > static_cast<std::uint8_t>(Operand::Kind::distance)) r_.fail("invalid operand kind");
        o.kind = static_cast<Operand::Kind>(kind);
        switch (o.kind) {
            case Operand::Kind::trait:
                o.name = name(false);
                break;
            case Operand::Kind::literal:
                o.literal = value();
                break;
            case Operand::Kind::now:
                o.offset = interval();
                break;
            case Operand::Kind::last_seen:
                o.name = name(true);
                o.offset = interval();
                break;
            case Operand::Kind::count:
            case Operand::Kind::sum:
                o.name = name(false);
                o.property = name(o.kind == Operand::Kind::count);
                if (o.kind == Operand::Kind::count && !o.property.empty()) r_.fail("count with a property");
                o.within = interval();
                if (o.within < 0) r_.fail("negative window");
                if (flag()) o.where.push_back(node(depth + 1));
                break;
            case Operand::Kind::count_between:
            case Operand::Kind::sum_between:
                o.name = name(false);
                o.property = name(o.kind == Operand::Kind::count_between);
                if (o.kind == Operand::Kind::count_between && !o.property.empty()) r_.fail("count with a property");
                o.from = r_.zvar();
                o.to = r_.zvar();
                if (o.from >= o.to) r_.fail("empty range");
                if (flag()) o.where.push_back(node(depth + 1));
                break;
            case Operand::Kind::today:
                o.name = name(true);
                o.offset = interval();
                break;
            case Operand::Kind::distance:
                o.name = name(false);
                o.lat = r_.f64();
                o.lon = r_.f64();
                if (!(o.lat >= -90 && o.lat <= 90 && o.lon >= -180 && o.lon <= 180)) r_.fail("invalid coordinates");
                break;
        }
        return o;
    }
    PredicateNode node(int depth) {
        using K = PredicateNode::Kind;
        if (depth > kMaxPredicateDepth) r_.fail("nested too deeply");
        if (++nodes_ > kMaxPredicateNodes) r_.fail("too many nodes");
        PredicateNode n;
        std::uint8_t kind = r_.u8();
        if (kind > static_cast<std::uint8_t>(K::any_element)) r_.fail("invalid node kind");
        n.kind = static_cast<K>(kind);
        switch (n.kind) {
            case K::and_:
            case K::or_: {
                std::uint64_t count = r_.var();
                if (count < 2 || count > kMaxPredicateNodes) r_.fail("AND/OR needs 2 or more operands");
                for (std::uint64_t i = 0; i < count; ++i) {
                    n.children.push_back(node(depth + 1));
                    if (n.children.back().kind == n.kind) r_.fail("AND/OR not flattened");
                }
                break;
            }
            case K::not_:
                n.children.push_back(node(depth + 1));
                break;
            case K::compare: {
                std::uint8_t op = r_.u8();
                if (op > static_cast<std::uint8_t>(CompareOp::ge)) r_.fail("invalid operator");
                n.op = static_cast<CompareOp>(op);
                n.left = operand(depth);
                n.right = operand(depth);
                break;
            }
            case K::in_list: {
                n.negated = flag();
                n.left = operand(depth);
                std::uint64_t count = r_.var();
                if (count == 0 || count > kMaxPredicateNodes) r_.fail("IN needs 1 or more values");
                for (std::uint64_t i = 0; i < count; ++i) n.list.push_back(value());
                break;
            }
            case K::between:
                n.negated = flag();
                n.left = operand(depth);
                n.right = operand(depth);
                n.upper = operand(depth);
                break;
            case K::like:
                n.negated = flag();
                n.case_insensitive = flag();
                n.left = operand(depth);
                n.name = std::string(r_.bytes(kMaxPredicateBytes));
                break;
            case K::is_null:
                n.negated = flag();
                n.left = operand(depth);
                break;
            case K::distinct:
                n.negated = flag();
                n.left = operand(depth);
                n.right = operand(depth);
                break;
            case K::regex:
                n.negated = flag();
                n.case_insensitive = flag();
                n.left = operand(depth);
                n.name = std::string(r_.bytes(kMaxPredicateBytes));
                break;
            case K::any_element:
                n.name = name(false);
                n.children.push_back(node(depth + 1));
                break;
            case K::has:
            case K::in_segment:
                n.name = name(false);
                break;
            case K::consent:
                n.name = name(false);
                if (!valid_consent_purpose(n.name)) r_.fail("invalid consent purpose");
                break;
            case K::in_cluster:
                n.name = name(false);
                if (!valid_cluster_number(n.name)) r_.fail("invalid cluster number");
                break;
            case K::known:
            case K::anonymous:
                break;
        }
        return n;
    }

    Reader r_;
    std::size_t nodes_ = 0;
};

}  // namespace

std::string encode_predicate(const PredicateNode& node) {
    Writer w;
    w.u8(kPredicateFormatVersion);
    write_node(w, node);
    return w.take();
}

PredicateNode decode_predicate(std::string_view bytes) {
    PredicateNode n = Decoder(bytes).decode();
    // As strict as text input: the tree must be one the language can write
    // and read back (no names or strings the text form cannot carry).
    bool expressible = false;
    try {
        expressible = parse_predicate(format_predicate(n)) == n;
    } catch (const Error&) {
    }
    if (!expressible)
        throw Error(ErrorCode::invalid_text, "invalid binary segment predicate: not expressible as predicate text");
    return n;
}

}  // namespace customer_profile::core
