// profile_graph(profile_id): the profile's identity graph as Graphviz DOT.
#include <cstdio>
#include <string>

#include "pg/infra/boundary.hpp"
#include "pg/infra/datum_convert.hpp"
#include "pg/infra/spi_util.hpp"

namespace cp = customer_profile;

namespace {

cp::pg::CachedPlan exists_plan{"SELECT 1 FROM customer_profile.unified_profile WHERE profile_id = $1", 1, {INT8OID}};
cp::pg::CachedPlan nodes_plan{
    "SELECT i.identity_id, n.name, i.raw_value, i.namespace_id FROM customer_profile.identity i "
    "JOIN customer_profile.namespace n USING (namespace_id) WHERE i.profile_id = $1 ORDER BY i.identity_id",
    1,
    {INT8OID}};
cp::pg::CachedPlan edges_plan{
    "SELECT l.identity_a, l.identity_b, coalesce(l.source, ''), l.rule, l.score, "
    "to_char(l.linked_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI') "
    "FROM customer_profile.identity_link l JOIN customer_profile.identity i ON i.identity_id = l.identity_a "
    "WHERE i.profile_id = $1 ORDER BY l.identity_a, l.identity_b",
    1,
    {INT8OID}};
// The most recent refusals that kept another profile (or identifier) out of this one.
cp::pg::CachedPlan refusals_plan{
    "SELECT c.conflict_id, c.rule, coalesce(n.name, ''), c.refused_profile_id, coalesce(c.detail, ''), "
    "to_char(c.occurred_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI') "
    "FROM customer_profile.identity_conflict c LEFT JOIN customer_profile.namespace n USING (namespace_id) "
    "WHERE c.kept_profile_id = $1 ORDER BY c.conflict_id DESC LIMIT 20",
    1,
    {INT8OID}};

// A DOT string literal's contents.
std::string quoted(const std::string& s) {
    std::string out = "\"";
    for (char c : s) {
        if (c == '"' || c == '\\') out += '\\';
        if (c == '\n') {
            out += "\\n";
            continue;
        }
        if (static_cast<unsigned char>(c) < 0x20) continue;
        out += c;
    }
    return out + "\"";
}

// Colours by namespace id: distinct for the first ten, then repeating.
const char* colour(std::int32_t ns) {
    static const char* palette[] = {"#4e79a7", "#f28e2b", "#59a14f", "#b07aa1", "#76b7b2",
                                    "#edc948", "#ff9da7", "#9c755f", "#bab0ac", "#e15759"};
    return palette[static_cast<std::uint32_t>(ns) % 10];
}

}  // namespace

// profile_graph(profile_id bigint) returns text
CP_FUNCTION(profile_graph) {
    std::int64_t profile = PG_GETARG_INT64(0);
    std::string dot;
    cp::pg::spi_connect();
    Datum args[1] = {Int64GetDatum(profile)};
    if (cp::pg::spi_run(exists_plan, args, nullptr, true) != 1)
        throw cp::core::Error(cp::core::ErrorCode::undefined_object,
                              "profile " + std::to_string(profile) + " does not exist", {},
                              "profile_resolve() finds where a merged-away profile went.");
    dot = "graph profile_" + std::to_string(profile) +
          " {\n  graph [label=" + quoted("profile " + std::to_string(profile)) +
          ", labelloc=t, fontname=\"Helvetica\"];\n" +
          "  node [shape=box, style=\"rounded,filled\", fontname=\"Helvetica\", fontcolor=white];\n" +
          "  edge [fontname=\"Helvetica\", fontsize=10];\n";
    std::uint64_t n = cp::pg::spi_run(nodes_plan, args, nullptr, true);
    std::string first_node;
    for (std::uint64_t row = 0; row < n; ++row) {
        std::int64_t id = cp::pg::spi_int8(row, 1);
        if (first_node.empty()) first_node = "i" + std::to_string(id);
        std::string ns = cp::pg::spi_bytes(row, 2);
        std::string value = cp::pg::spi_isnull(row, 3) ? "#" + std::to_string(id) : cp::pg::spi_bytes(row, 3);
        dot += "  i" + std::to_string(id) + " [label=" + quoted(ns + "\n" + value) + ", fillcolor=\"" +
               colour(cp::pg::spi_int4(row, 4)) + "\"];\n";
    }
    n = cp::pg::spi_run(edges_plan, args, nullptr, true);
    for (std::uint64_t row = 0; row < n; ++row) {
        std::string label = cp::pg::spi_bytes(row, 3);
        bool probabilistic = !cp::pg::spi_isnull(row, 4);
        if (probabilistic) {
            char score[32] = "";
            if (!cp::pg::spi_isnull(row, 5)) snprintf(score, sizeof score, " p=%.4f", cp::pg::spi_float8(row, 5));
            label += "\n" + cp::pg::spi_bytes(row, 4) + score;
        }
        label += "\n" + cp::pg::spi_bytes(row, 6);
        dot += "  i" + std::to_string(cp::pg::spi_int8(row, 1)) + " -- i" + std::to_string(cp::pg::spi_int8(row, 2)) +
               " [label=" + quoted(label) + (probabilistic ? ", style=dashed, color=\"#555555\"" : "") + "];\n";
    }
    n = cp::pg::spi_run(refusals_plan, args, nullptr, true);
    for (std::uint64_t row = 0; row < n; ++row) {
        std::string node = "r" + std::to_string(cp::pg::spi_int8(row, 1));
        std::string refused = cp::pg::spi_isnull(row, 4) ? std::string("identifier")
                                                         : "profile " + std::to_string(cp::pg::spi_int8(row, 4));
        dot += "  " + node + " [label=" + quoted("refused: " + refused + "\n" + cp::pg::spi_bytes(row, 3)) +
               ", shape=box, style=\"rounded,dashed\", fontcolor=\"#e15759\", color=\"#e15759\"];\n";
        // Drawn from the profile's first identifier: the refusal is the profile's, not one identifier's.
        if (first_node.empty()) continue;
        dot += "  " + node + " -- " + first_node + " [label=" +
               quoted(cp::pg::spi_bytes(row, 2) + "\n" + cp::pg::spi_bytes(row, 5) + "\n" + cp::pg::spi_bytes(row, 6)) +
               ", style=dotted, color=\"#e15759\", fontcolor=\"#e15759\"];\n";
    }
    cp::pg::spi_finish();
    dot += "}\n";
    return cp::pg::text_datum(dot);
}
