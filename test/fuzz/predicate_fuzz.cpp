// libFuzzer target for the segment predicate language (make fuzz). Text
// inputs must either be refused with core::Error or parse into a tree that
// survives every later step: normalized text re-parses to the same tree,
// the binary form decodes to the same tree, the SQL and JSON writers and
// the evaluator and scheduler run on it. An input whose first byte is 0x00
// is fed to the binary decoder instead (what segment_predicate_recv gets
// from a client): refused with core::Error or decoded to a tree whose
// re-encoding (what recv stores) is canonical and decodes to the same tree.
// Text is also parsed as a value expression, which must re-parse from its
// normalized form. Trees are also type-checked and written as SQL against a
// schema declaring trait and event property types, and evaluated on traits
// that need Unicode case folding (ILIKE), a point and a list of objects
// (distance, any), with regular expressions run by RE2. Anything else (a crash, a sanitizer
// report, another exception, a broken round trip) is a finding.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "core/error.hpp"
#include "core/predicate_check.hpp"
#include "core/predicate_codec.hpp"
#include "core/predicate_eval.hpp"
#include "core/predicate_format.hpp"
#include "core/predicate_parser.hpp"
#include "core/predicate_schedule.hpp"
#include "core/predicate_sql.hpp"

using namespace customer_profile::core;

namespace {

void require(bool ok, const char* what) {
    if (!ok) {
        fprintf(stderr, "predicate_fuzz: %s\n", what);
        abort();
    }
}

const Profile& sample_profile() {
    static const Profile p = [] {
        Profile p;
        Trait t;
        t.name = "tier";
        t.value.type = TraitType::text;
        t.value.text = "gold";
        p.put(t);
        t.name = "ltv";
        t.value = {};
        t.value.type = TraitType::number;
        t.value.number = 250;
        p.put(t);
        t.name = "city";
        t.value = {};
        t.value.type = TraitType::text;
        t.value.text = "ΣΑΣ İstanbul Zürich ǅ";
        p.put(t);
        t.name = "tags";
        t.value = {};
        t.value.type = TraitType::text_array;
        t.value.array = {"blue", "ΣΑΣ"};
        p.put(t);
        t.name = "signup_at";
        t.value = {};
        t.value.type = TraitType::timestamp;
        t.value.timestamp = 849700800000000;
        p.put(t);
        t.name = "home";
        t.value = {};
        t.value.type = TraitType::point;
        t.value.lat = 48.8566;
        t.value.lon = 2.3522;
        p.put(t);
        t.name = "interests";
        t.value = {};
        t.value.type = TraitType::object_array;
        TraitObject cars;
        ObjectField key, value;
        key.name = "key";
        key.value.type = TraitType::text;
        key.value.text = "cars";
        value.name = "value";
        value.value.type = TraitType::number;
        value.value.number = 50;
        cars = {key, value};
        t.value.objects = {cars};
        p.put(t);
        return p;
    }();
    return p;
}

const Behavior& sample_behavior() {
    static const Behavior b = [] {
        Behavior b;
        add_event(b, EventFact{"purchase", 849600000000000, {{"revenue", 60}}}, 9000);
        add_event(b, EventFact{"page_view", 849700000000000, {}}, 9000);
        return b;
    }();
    return b;
}

const PredicateSchema& sample_schema() {
    static const PredicateSchema s = [] {
        PredicateSchema s;
        s.trait_type = [](const std::string& name) -> std::optional<TraitType> {
            if (name == "tier" || name == "city") return TraitType::text;
            if (name == "ltv") return TraitType::number;
            if (name == "tags") return TraitType::text_array;
            if (name == "home") return TraitType::point;
            if (name == "interests") return TraitType::object_array;
            return std::nullopt;
        };
        s.is_measure = [](const std::string&, const std::string& property) { return property == "revenue"; };
        s.event_property_type = [](const std::string&, const std::string& property) -> std::optional<TraitType> {
            if (property == "stay") return TraitType::timestamp;
            if (property == "n") return TraitType::number;
            if (property == "c") return TraitType::text;
            return std::nullopt;
        };
        return s;
    }();
    return s;
}

void exercise(const PredicateNode& tree) {
    EvaluationContext c;
    c.traits = &sample_profile();
    c.behavior = &sample_behavior();
    c.now = 849700800000000;
    c.in_segment = [](const std::string& name) { return name.size() % 2 == 0; };
    c.filtered_aggregate = [](const Operand&, std::optional<Day>) { return 1.0; };
    c.consent = [](const std::string& purpose) -> std::optional<bool> { return purpose.size() % 2 == 0; };
    c.cluster = []() -> std::optional<int> { return 3; };
    c.range_aggregate = [](const Operand& o) { return o.from < o.to ? 2.0 : -1.0; };
    c.day_start = [](const std::string& zone, std::int64_t days) -> std::optional<Micros> {
        if (zone.size() % 3 == 0) return std::nullopt;  // an unknown zone
        return 849700800000000 + days * kMicrosPerDay - 3600000000;
    };
    (void)evaluate(tree, c);
    (void)next_change(tree, c);
    (void)predicate_sql(tree);
    (void)predicate_sql(tree, sample_schema());
    try {
        check_predicate(tree, sample_schema());
    } catch (const Error&) {
        // refused: fine
    }
    (void)predicate_tree_json(tree);
    (void)predicate_dependencies(tree);
    (void)referenced_segments(tree);
    (void)referenced_time_zones(tree);
    PredicateNode zoned = with_time_zone(tree, "Europe/Paris");
    require(parse_predicate(format_predicate(zoned)) == zoned, "a tree bound to a time zone does not round-trip");
}

void fuzz_binary(std::string_view bytes) {
    PredicateNode tree;
    try {
        tree = decode_predicate(bytes);
    } catch (const Error&) {
        return;
    }
    // segment_predicate_recv stores the re-encoded form: it must decode to
    // the same tree and be its own canonical form.
    std::string canonical = encode_predicate(tree);
    require(decode_predicate(canonical) == tree, "re-encoded binary form decodes to another tree");
    require(encode_predicate(decode_predicate(canonical)) == canonical, "re-encoding is not stable");
    exercise(tree);
}

// The same text as a value expression (customer value, features).
void fuzz_operand(std::string_view text) {
    Operand o;
    try {
        o = parse_operand(text);
    } catch (const Error&) {
        return;
    }
    std::string normalized = format_operand(o);
    require(parse_operand(normalized) == o, "normalized value expression parses to another operand");
    EvaluationContext c;
    c.traits = &sample_profile();
    c.behavior = &sample_behavior();
    c.now = 849700800000000;
    c.filtered_aggregate = [](const Operand&, std::optional<Day>) { return 1.0; };
    (void)operand_value(o, c);
}

void fuzz_text(std::string_view text) {
    fuzz_operand(text);
    PredicateNode tree;
    try {
        tree = parse_predicate(text);
    } catch (const Error&) {
        return;  // refused: fine
    }
    std::string normalized = format_predicate(tree);
    PredicateNode again = parse_predicate(normalized);
    require(again == tree, "normalized text parses to another tree");
    require(format_predicate(again) == normalized, "normalizing twice changes the text");
    std::string bytes = encode_predicate(tree);
    require(decode_predicate(bytes) == tree, "binary form decodes to another tree");
    exercise(tree);
    // Near-valid binary forms, derived from this input: truncated, one byte flipped.
    fuzz_binary(std::string_view(bytes).substr(0, bytes.size() / 2));
    fuzz_binary(std::string_view(bytes).substr(0, bytes.size() - 1));
    std::string flipped = bytes;
    flipped[text.size() % flipped.size()] ^= static_cast<char>(0x5a);
    fuzz_binary(flipped);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    std::string_view input(reinterpret_cast<const char*>(data), size);
    if (!input.empty() && input[0] == '\0')
        fuzz_binary(input.substr(1));
    else
        fuzz_text(input);
    return 0;
}
