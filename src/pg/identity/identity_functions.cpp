// Small SQL-callable identity helpers: normalization, hashing, validation
// used by CHECK constraints, the cache-invalidation trigger, and the
// shortest-path helper behind identity_explain().
#include <string>

#include "pg/infra/boundary.hpp"
#include "core/blocklist.hpp"
#include "core/identity_path.hpp"
#include "pg/identity/identity_catalog.hpp"
#include "pg/identity/identity_input.hpp"
#include "pg/infra/datum_convert.hpp"
#include "pg/infra/spi_util.hpp"

namespace cp = customer_profile;
using customer_profile::pg::bytea_datum;
using customer_profile::pg::int8_array_arg;
using customer_profile::pg::text_arg;
using customer_profile::pg::text_array_arg;
using customer_profile::pg::text_datum;

namespace {

// Normalizes with the namespace's normalizer, naming the namespace on error.
std::string normalize_in(const cp::pg::IdentityCatalog& catalog, const cp::pg::NamespaceConfig& ns,
                         const std::string& value) {
    try {
        return cp::core::normalize_identifier(ns.normalizer, value, catalog.options);
    } catch (const cp::core::Error& e) {
        throw cp::core::Error(e.code(), "invalid \"" + ns.name + "\" identifier: " + e.what());
    }
}

}  // namespace

// identity_normalize(namespace text, value text) returns text
CP_FUNCTION(identity_normalize) {
    const auto& catalog = cp::pg::identity_catalog();
    const auto& ns = cp::pg::namespace_or_throw(catalog, text_arg(fcinfo, 0));
    return text_datum(normalize_in(catalog, ns, text_arg(fcinfo, 1)));
}

// identity_hash(namespace text, value text) returns bytea: the stored key.
CP_FUNCTION(identity_hash) {
    const auto& catalog = cp::pg::identity_catalog();
    const auto& ns = cp::pg::namespace_or_throw(catalog, text_arg(fcinfo, 0));
    return bytea_datum(cp::pg::identity_hash(catalog, ns, normalize_in(catalog, ns, text_arg(fcinfo, 1))));
}

// _identity_hash_or_null(namespace text, value text) returns bytea: the
// stored key, or NULL when the namespace is unknown or the value malformed
// (erasure matches queued raw identifiers, which may be either).
CP_FUNCTION(identity_hash_or_null) {
    const auto& catalog = cp::pg::identity_catalog();
    const cp::pg::NamespaceConfig* ns = catalog.find(text_arg(fcinfo, 0));
    if (ns == nullptr) PG_RETURN_NULL();
    std::string normalized;
    try {
        normalized = cp::core::normalize_identifier(ns->normalizer, text_arg(fcinfo, 1), catalog.options);
    } catch (const cp::core::Error&) {
        normalized.clear();
    }
    if (normalized.empty()) PG_RETURN_NULL();
    return bytea_datum(cp::pg::identity_hash(catalog, *ns, normalized));
}

// _identity_refusal(namespace text, value text) returns text: why
// resolve_identity() would raise for this identifier, as "<message> (SQLSTATE
// <code>)", or NULL when it accepts it (a blocked value is accepted: resolve
// records it). The attach trigger and backfill refuse and record such an
// identifier instead of failing the host's write.
CP_FUNCTION(identity_refusal) {
    std::string name = text_arg(fcinfo, 0);
    std::string value = text_arg(fcinfo, 1);
    std::optional<cp::core::Error> refusal = cp::pg::identifier_refusal(cp::pg::identity_catalog(), name, value);
    if (!refusal) PG_RETURN_NULL();
    std::string sqlstate = unpack_sql_state(cp::pg::sqlstate_for(refusal->code()));
    return text_datum(std::string(refusal->what()) + " (SQLSTATE " + sqlstate + ")");
}

// _normalizer_valid(name text) returns boolean; raises for an unknown name.
CP_FUNCTION(normalizer_valid) {
    cp::core::normalizer_from_name(text_arg(fcinfo, 0));
    PG_RETURN_BOOL(true);
}

// _blocked_patterns_valid(patterns text[]) returns boolean; raises naming a bad pattern.
CP_FUNCTION(blocked_patterns_valid) {
    std::vector<std::string> patterns = text_array_arg(fcinfo, 0, "blocked_patterns");
    cp::core::validate_block_patterns(patterns);
    PG_RETURN_BOOL(true);
}

// _phone_region_valid(region text) returns boolean
CP_FUNCTION(phone_region_valid) {
    PG_RETURN_BOOL(cp::core::phone_region_supported(text_arg(fcinfo, 0)));
}

// _identity_link_path(from bigint, to bigint, a bigint[], b bigint[]) returns int[]:
// 1-based positions in a/b of one shortest chain of links from `from` to `to`;
// NULL when they are not connected.
CP_FUNCTION(identity_link_path) {
    std::int64_t from = PG_GETARG_INT64(0);
    std::int64_t to = PG_GETARG_INT64(1);
    std::vector<std::int64_t> a = int8_array_arg(fcinfo, 2);
    std::vector<std::int64_t> b = int8_array_arg(fcinfo, 3);
    if (a.size() != b.size())
        throw cp::core::Error(cp::core::ErrorCode::invalid_parameter, "link arrays differ in length");
    std::vector<cp::core::Link> links;
    for (std::size_t i = 0; i < a.size(); ++i) links.push_back({a[i], b[i], static_cast<std::int64_t>(i + 1)});
    if (!cp::core::identities_connected(links, from, to)) PG_RETURN_NULL();
    std::vector<std::int64_t> path = cp::core::shortest_link_path(links, from, to);
    std::vector<std::int32_t> positions(path.begin(), path.end());
    return cp::pg::int4_array(positions);
}

// _catalog_changed() trigger: tells every backend to reload the identity catalog.
CP_FUNCTION(catalog_changed) {
    cp::pg::pg_guard([&] {
        if (!CALLED_AS_TRIGGER(fcinfo)) elog(ERROR, "_catalog_changed() must be called as a trigger");
        CacheInvalidateRelcacheByRelid(RelationGetRelid(((TriggerData*)fcinfo->context)->tg_relation));
    });
    return PointerGetDatum(nullptr);
}
