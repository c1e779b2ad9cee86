// Datum plumbing for the segment_predicate type: text input (parsed by the
// core) and output (normalized text), binary send/receive (the core's
// compiled form, validated as strictly as text), and the creation-time type
// check against the declared traits and measures.
#include <algorithm>
#include <string>

#include "pg/behavior/behavior_catalog.hpp"
#include "pg/infra/boundary.hpp"
#include "core/predicate_check.hpp"
#include "core/predicate_codec.hpp"
#include "core/predicate_format.hpp"
#include "core/predicate_parser.hpp"
#include "core/predicate_sql.hpp"
#include "pg/infra/datum_convert.hpp"
#include "pg/profile/profile_datum.hpp"
#include "pg/infra/spi_util.hpp"
#include "pg/infra/time_zone.hpp"
#include "pg/segments/score_catalog.hpp"
#include "pg/profile/trait_catalog.hpp"

namespace cp = customer_profile;

namespace {

// The core checks a zone's spelling; whether the tz database has it is
// PostgreSQL's to say.
const cp::core::PredicateNode& with_known_time_zones(const cp::core::PredicateNode& tree) {
    for (const auto& zone : cp::core::referenced_time_zones(tree))
        if (!cp::pg::time_zone_known(zone))
            throw cp::core::Error(cp::core::ErrorCode::invalid_parameter, "unknown time zone \"" + zone + "\"", {},
                                  "Name a zone of the tz database, such as 'Europe/Paris' (pg_timezone_names).");
    return tree;
}

}  // namespace

// segment_predicate_in(cstring) returns segment_predicate
CP_FUNCTION(segment_predicate_in) {
    const char* text = PG_GETARG_CSTRING(0);
    return cp::pg::profile_datum(cp::core::encode_predicate(with_known_time_zones(cp::core::parse_predicate(text))));
}

// segment_predicate_out(segment_predicate) returns cstring: the normalized text
CP_FUNCTION(segment_predicate_out) {
    std::string text = cp::core::format_predicate(cp::core::decode_predicate(cp::pg::profile_arg(fcinfo, 0)));
    Datum result = 0;
    cp::pg::pg_guard([&] { result = CStringGetDatum(pnstrdup(text.data(), text.size())); });
    return result;
}

// segment_predicate_recv(internal) returns segment_predicate
CP_FUNCTION(segment_predicate_recv) {
    std::string_view received = cp::pg::received_bytes(fcinfo);
    return cp::pg::profile_datum(
        cp::core::encode_predicate(with_known_time_zones(cp::core::decode_predicate(received))));
}

// segment_predicate_send(segment_predicate) returns bytea: version byte first
CP_FUNCTION(segment_predicate_send) {
    return cp::pg::send_bytes(cp::pg::profile_arg(fcinfo, 0));
}

namespace {

// What the catalog declares: trait types, measures and event property types
// (the caches outlive the call; the schema is used within it).
cp::core::PredicateSchema declared_schema() {
    const cp::pg::TraitCatalog& traits = cp::pg::trait_catalog();
    const cp::pg::BehaviorCatalog& behavior = cp::pg::behavior_catalog();
    cp::core::PredicateSchema schema;
    const cp::pg::ScoreCatalog& scores = cp::pg::score_catalog();
    schema.trait_type = [&traits, &scores](const std::string& name) -> std::optional<cp::core::TraitType> {
        if (scores.find(name)) return cp::core::TraitType::number;
        auto it = traits.definitions.find(name);
        if (it == traits.definitions.end() || !it->second.type) return std::nullopt;
        return *it->second.type;
    };
    schema.score_rules =
        [&scores](const std::string& name) -> const std::vector<std::pair<cp::core::PredicateNode, double>>* {
        const cp::pg::ScoreDef* score = scores.find(name);
        return score ? &score->rules : nullptr;
    };
    schema.is_measure = [&behavior](const std::string& type, const std::string& property) {
        const auto* measures = behavior.measures_of(type);
        return measures != nullptr && std::find(measures->begin(), measures->end(), property) != measures->end();
    };
    schema.event_property_type = [&behavior](const std::string& type,
                                             const std::string& property) -> std::optional<cp::core::TraitType> {
        const cp::core::PropertyTypes& types = behavior.property_types_of(type);
        auto it = types.find(property);
        if (it == types.end()) return std::nullopt;
        return it->second;
    };
    return schema;
}

}  // namespace

// segment_predicate_check(segment_predicate) returns boolean: true, or a
// 22023 "type error: ..." against the declared trait types, measures and
// event property types.
CP_FUNCTION(segment_predicate_check) {
    cp::core::PredicateNode tree = cp::core::decode_predicate(cp::pg::profile_arg(fcinfo, 0));
    cp::core::check_predicate(tree, declared_schema());
    PG_RETURN_BOOL(true);
}

// _segment_predicate_references(segment_predicate) returns text[]: the
// segments it names with in_segment(), for dependency and cycle checks.
CP_FUNCTION(segment_predicate_references) {
    auto names = cp::core::referenced_segments(cp::core::decode_predicate(cp::pg::profile_arg(fcinfo, 0)));
    return cp::pg::text_array(names, std::vector<bool>(names.size(), false));
}

// segment_predicate_sql(segment_predicate) returns text: the equivalent SQL
// condition over profiles p, reading names by their declared types
CP_FUNCTION(segment_predicate_sql) {
    cp::core::PredicateNode tree = cp::core::decode_predicate(cp::pg::profile_arg(fcinfo, 0));
    std::string sql = cp::core::predicate_sql(tree, declared_schema());
    return cp::pg::text_datum(sql);
}

// segment_predicate_tree(segment_predicate) returns jsonb: the parsed tree
CP_FUNCTION(segment_predicate_tree) {
    std::string tree = cp::core::predicate_tree_json(cp::core::decode_predicate(cp::pg::profile_arg(fcinfo, 0)));
    return cp::pg::jsonb_datum(tree);
}

// _segment_predicate_reads_time(segment_predicate) returns boolean: now() or a window appears
CP_FUNCTION(segment_predicate_reads_time) {
    cp::core::PredicateDeps deps =
        cp::core::predicate_dependencies(cp::core::decode_predicate(cp::pg::profile_arg(fcinfo, 0)));
    PG_RETURN_BOOL(cp::pg::with_score_dependencies(deps, cp::pg::score_catalog()).time);
}

// _segment_predicate_in_zone(segment_predicate, time_zone text, old_time_zone
// text) returns segment_predicate: today without a zone (or in the old zone)
// counts the days of time_zone, as a segment's time zone says.
CP_FUNCTION(segment_predicate_in_zone) {
    if (PG_ARGISNULL(0)) PG_RETURN_NULL();
    if (PG_ARGISNULL(1))
        cp::pg::pg_guard(
            [] { ereport(ERROR, (errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED), errmsg("time_zone must not be NULL"))); });
    std::string zone = cp::pg::text_arg(fcinfo, 1);
    std::string old_zone = PG_ARGISNULL(2) ? "" : cp::pg::text_arg(fcinfo, 2);
    if (zone != "UTC" && (!cp::core::plausible_time_zone_name(zone) || !cp::pg::time_zone_known(zone)))
        throw cp::core::Error(cp::core::ErrorCode::invalid_parameter, "unknown time zone \"" + zone + "\"", {},
                              "Name a zone of the tz database, such as 'Europe/Paris' (pg_timezone_names).");
    cp::core::PredicateNode tree = cp::core::decode_predicate(cp::pg::profile_arg(fcinfo, 0));
    return cp::pg::profile_datum(cp::core::encode_predicate(cp::core::with_time_zone(std::move(tree), zone, old_zone)));
}

// _segment_predicate_traits(segment_predicate) returns text[]: the names it
// reads as traits (not the properties of a where filter, nor the fields of
// any()), for the scores a segment reads.
CP_FUNCTION(segment_predicate_traits) {
    auto names = cp::core::predicate_dependencies(cp::core::decode_predicate(cp::pg::profile_arg(fcinfo, 0))).traits;
    return cp::pg::text_array(names, std::vector<bool>(names.size(), false));
}
