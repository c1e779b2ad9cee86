// Reading profiles from SQL: the ->, ->> and ? operators and profile_traits().
#include <optional>
#include <string>

#include "pg/infra/boundary.hpp"
#include "core/behavior_codec.hpp"
#include "core/predicate_index.hpp"
#include "core/profile_codec.hpp"
#include "core/profile_json.hpp"
#include "pg/infra/datum_convert.hpp"
#include "pg/identity/identity_catalog.hpp"
#include "pg/identity/identity_lookup.hpp"
#include "pg/profile/profile_datum.hpp"
#include "pg/infra/spi_util.hpp"

namespace cp = customer_profile;
using customer_profile::pg::text_arg;

// profile_trait_value(profile, trait text) returns jsonb: the -> operator.
CP_FUNCTION(profile_trait_value) {
    std::optional<cp::core::Trait> t = cp::core::find_trait(cp::pg::profile_arg(fcinfo, 0), text_arg(fcinfo, 1));
    if (!t) PG_RETURN_NULL();
    return cp::pg::jsonb_datum(cp::core::trait_value_json(t->value));
}

// profile_trait_text(profile, trait text) returns text: the ->> operator.
CP_FUNCTION(profile_trait_text) {
    std::optional<cp::core::Trait> t = cp::core::find_trait(cp::pg::profile_arg(fcinfo, 0), text_arg(fcinfo, 1));
    if (!t) PG_RETURN_NULL();
    std::optional<std::string> value = cp::core::trait_value_text(t->value);
    if (!value) PG_RETURN_NULL();
    Datum result = 0;
    cp::pg::pg_guard(
        [&] { result = PointerGetDatum(cstring_to_text_with_len(value->data(), static_cast<int>(value->size()))); });
    return result;
}

// profile_has_trait(profile, trait text) returns boolean: the ? operator.
CP_FUNCTION(profile_has_trait) {
    PG_RETURN_BOOL(cp::core::find_trait(cp::pg::profile_arg(fcinfo, 0), text_arg(fcinfo, 1)).has_value());
}

// profile_traits(profile) returns jsonb: {"trait": value, ...}
CP_FUNCTION(profile_traits) {
    return cp::pg::jsonb_datum(cp::core::profile_traits_json(cp::core::decode_profile(cp::pg::profile_arg(fcinfo, 0))));
}

// profile_get(namespace text, value text) returns profile: two direct index
// probes (identity by hash, then the profile row), no executor.
CP_FUNCTION(profile_get_by_identifier) {
    const auto& catalog = cp::pg::identity_catalog();
    const auto& ns = cp::pg::namespace_or_throw(catalog, text_arg(fcinfo, 0));
    std::string normalized;
    try {
        normalized = cp::core::normalize_identifier(ns.normalizer, text_arg(fcinfo, 1), catalog.options);
    } catch (const cp::core::Error& e) {
        throw cp::core::Error(e.code(), "invalid \"" + ns.name + "\" identifier: " + e.what());
    }
    std::string hash = cp::pg::identity_hash(catalog, ns, normalized);
    auto found = cp::pg::find_identities_by_hash(catalog, {hash}, false);
    if (found.empty()) PG_RETURN_NULL();
    Datum data = cp::pg::fetch_profile_data(catalog, found.begin()->second.profile_id);
    if (data == (Datum)0) PG_RETURN_NULL();
    return data;
}

// _profile_index_keys(profile, behavior_keys bigint[]) returns text[]: the
// keys the GIN index over unified_profile holds for a row
// (core/predicate_index.hpp). Not strict: a profile without events has
// NULL behavior keys.
CP_FUNCTION(profile_index_keys) {
    if (PG_ARGISNULL(0)) PG_RETURN_NULL();
    std::vector<std::int64_t> behavior;
    if (!PG_ARGISNULL(1)) behavior = cp::pg::int8_array_arg(fcinfo, 1);
    std::vector<std::string> keys =
        cp::core::profile_index_keys(cp::core::decode_profile(cp::pg::profile_arg(fcinfo, 0)), behavior);
    return cp::pg::text_array(keys, std::vector<bool>(keys.size(), false));
}

// _behavior_index_keys(behavior bytea) returns bigint[]: the keys of a
// behavior summary that unified_profile.behavior_keys holds (per event type,
// its hash and the 8-day block of its last event, core/predicate_index.hpp).
CP_FUNCTION(behavior_index_keys) {
    return cp::pg::int8_array(cp::core::behavior_index_keys(cp::core::decode_behavior(cp::pg::profile_arg(fcinfo, 0))));
}
