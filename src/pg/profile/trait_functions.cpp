// SQL-callable trait functions: definition checks, observation parsing,
// recomputation, profile_explain() and profile_from_binary().
#include <string>
#include <vector>

#include "pg/infra/boundary.hpp"
#include "core/observation_json.hpp"
#include "core/profile_codec.hpp"
#include "core/profile_json.hpp"
#include "pg/infra/datum_convert.hpp"
#include "pg/profile/profile_datum.hpp"
#include "pg/behavior/behavior_store.hpp"
#include "pg/profile/profile_recompute.hpp"
#include "pg/identity/identity_catalog.hpp"
#include "pg/identity/resolve_identity.hpp"
#include "pg/matching/match_engine.hpp"
#include "pg/infra/spi_util.hpp"
#include "pg/profile/trait_catalog.hpp"

namespace cp = customer_profile;
using customer_profile::pg::text_arg;
using customer_profile::pg::text_array_arg;

namespace {

// Reads the traits jsonb argument as checked observations.
std::vector<cp::core::Trait> observations_arg(FunctionCallInfo fcinfo, int traits_arg, const std::string& source,
                                              TimestampTz observed_at) {
    std::string json = cp::pg::jsonb_arg(fcinfo, traits_arg);
    if (source.empty() || source.size() > cp::core::kMaxTraitSourceBytes)
        throw cp::core::Error(cp::core::ErrorCode::invalid_parameter, "source must be 1 to 200 bytes");
    if (!cp::core::timestamp_in_range(observed_at))
        throw cp::core::Error(cp::core::ErrorCode::invalid_parameter, "observed_at must be within years 0001-9999");
    const cp::pg::TraitCatalog& catalog = cp::pg::trait_catalog();
    return cp::core::parse_observations(json, source, observed_at,
                                        [&](const std::string& name) { return catalog.definition(name); });
}

// An older observation never replaces a newer one from the same identity and source.
cp::pg::CachedPlan upsert_observations_plan{
    "INSERT INTO customer_profile.trait_observation AS o (identity_id, trait, source, value_type, value, observed_at) "
    "SELECT $1, x.t, $2, x.vt, x.v::jsonb, $3 FROM unnest($4::text[], $5::text[], $6::text[]) AS x(t, vt, v) "
    "ON CONFLICT ON CONSTRAINT trait_observation_pkey DO UPDATE SET value_type = EXCLUDED.value_type, "
    "value = EXCLUDED.value, observed_at = EXCLUDED.observed_at, recorded_at = now() "
    "WHERE o.observed_at <= EXCLUDED.observed_at",
    6,
    {INT8OID, TEXTOID, TIMESTAMPTZOID, TEXTARRAYOID, TEXTARRAYOID, TEXTARRAYOID}};

constexpr int kMaxAttempts = 50;

cp::pg::CachedPlan lock_profile_plan{"SELECT 1 FROM customer_profile.unified_profile WHERE profile_id = $1 FOR UPDATE",
                                     1,
                                     {INT8OID},
                                     nullptr,
                                     0,
                                     cp::pg::Replan::as_tables_grow};
// Run after the lock (a new snapshot): is the identity still the profile's?
cp::pg::CachedPlan holder_plan{"SELECT 1 FROM customer_profile.identity WHERE identity_id = $1 AND profile_id = $2",
                               2,
                               {INT8OID, INT8OID},
                               nullptr,
                               0,
                               cp::pg::Replan::as_tables_grow};

cp::pg::CachedPlan profile_of_plan{"SELECT profile_id FROM customer_profile.identity WHERE identity_id = $1",
                                   1,
                                   {INT8OID},
                                   nullptr,
                                   0,
                                   cp::pg::Replan::as_tables_grow};

}  // namespace

// trait_observe(identities jsonb, traits jsonb, source text, observed_at timestamptz)
// returns bigint: checks every trait, resolves the person, records the
// observations on the call's strongest identifier, recomputes those traits.
CP_FUNCTION(trait_observe) {
    if (PG_ARGISNULL(1) || PG_ARGISNULL(2) || PG_ARGISNULL(3))
        ereport(ERROR,
                (errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED), errmsg("traits, source and observed_at must not be NULL")));
    if (PG_ARGISNULL(0))
        ereport(ERROR, (errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED), errmsg("identities must not be NULL")));
    if (!cp::pg::trait_catalog().installed)
        throw cp::core::Error(cp::core::ErrorCode::undefined_object, "trait tables are missing", {},
                              "ALTER EXTENSION customer_profile UPDATE");
    std::string source = text_arg(fcinfo, 2);
    std::vector<cp::core::Trait> observations = observations_arg(fcinfo, 1, source, PG_GETARG_TIMESTAMPTZ(3));
    Jsonb* identities = nullptr;
    Datum source_datum = 0;
    cp::pg::pg_guard([&] {
        identities = PG_GETARG_JSONB_P(0);
        source_datum = PointerGetDatum(PG_GETARG_TEXT_PP(2));
    });
    // The identity gate before anything is read: a running identity_rebuild()
    // would wait for our profile lock while we wait for it to write the row.
    cp::pg::take_identity_gate();
    // The observation is recorded under the profile's lock, on an identity
    // still in that profile: an erasure or removal we waited for may have
    // deleted it (the observation would be left behind, attached to no one),
    // so then the person is resolved again.
    std::optional<cp::pg::Resolution> who;
    for (int attempt = 0;; ++attempt) {
        who = cp::pg::resolve_identities(identities, source_datum, false);
        if (!who) PG_RETURN_NULL();  // every identifier was blocked (and logged)
        cp::pg::spi_connect();
        Datum lock_args[1] = {Int64GetDatum(who->profile_id)};
        Datum holder_args[2] = {Int64GetDatum(who->anchor_identity), Int64GetDatum(who->profile_id)};
        bool held = cp::pg::spi_run(lock_profile_plan, lock_args, nullptr, false) == 1 &&
                    cp::pg::spi_run(holder_plan, holder_args, nullptr, false) == 1;
        cp::pg::spi_finish();
        if (held) break;
        if (attempt == kMaxAttempts)
            throw cp::core::Error(cp::core::ErrorCode::serialization_failure,
                                  "could not record the observation: its profile kept changing concurrently", {},
                                  "Retry the transaction.");
    }
    std::vector<std::string> names, types, values;
    for (const auto& o : observations) {
        names.push_back(o.name);
        types.emplace_back(cp::core::trait_type_name(o.value.type));
        values.push_back(cp::core::trait_value_json(o.value));
    }
    cp::pg::spi_connect();
    std::vector<bool> no_nulls(names.size(), false);
    Datum args[6] = {Int64GetDatum(who->anchor_identity),
                     source_datum,
                     PG_GETARG_DATUM(3),
                     cp::pg::text_array(names, no_nulls),
                     cp::pg::text_array(types, no_nulls),
                     cp::pg::text_array(values, no_nulls)};
    cp::pg::spi_run(upsert_observations_plan, args, nullptr, false);
    cp::pg::recompute_profile_traits(who->profile_id, &names);
    // Real-time matching, in this transaction: the record may now be found to
    // be someone else's (a link merges the profiles).
    if (cp::pg::match_observed(who->anchor_identity, names).links > 0) {
        Datum holder_args[1] = {Int64GetDatum(who->anchor_identity)};
        if (cp::pg::spi_run(profile_of_plan, holder_args, nullptr, false) == 1)
            who->profile_id = cp::pg::spi_int8(0, 1);
    }
    cp::pg::spi_finish();
    PG_RETURN_INT64(who->profile_id);
}

// _trait_refusal(trait text, value jsonb) returns text: why trait_observe()
// would refuse this one value, as "<message> (SQLSTATE <code>)", or NULL when
// it accepts it. The attach trigger and backfill leave such a value out and
// record it instead of failing the host's write.
CP_FUNCTION(trait_refusal) {
    std::string name = text_arg(fcinfo, 0);
    std::string value_json = cp::pg::jsonb_arg(fcinfo, 1);
    const cp::pg::TraitCatalog& catalog = cp::pg::trait_catalog();
    std::string refusal;
    try {
        cp::core::parse_observation(name, value_json, "attached", GetCurrentTransactionStartTimestamp(),
                                    catalog.definition(name));
    } catch (const cp::core::Error& e) {
        refusal = std::string(e.what()) + " (SQLSTATE " + unpack_sql_state(cp::pg::sqlstate_for(e.code())) + ")";
    }
    if (refusal.empty()) PG_RETURN_NULL();
    return cp::pg::text_datum(refusal);
}

// profile_from_binary(bytea) returns profile: the inverse of profile_send, validated.
CP_FUNCTION(profile_from_binary) {
    std::string_view bytes = cp::pg::profile_arg(fcinfo, 0);  // a bytea is laid out like a profile
    return cp::pg::profile_datum(cp::core::encode_profile(cp::core::decode_profile(bytes)));
}

// _trait_definition_check(name, type, policy, source_order) returns boolean; raises when incoherent.
CP_FUNCTION(trait_definition_check) {
    cp::core::TraitDefinition def;
    def.name = text_arg(fcinfo, 0);
    def.type = cp::core::trait_type_from_name(text_arg(fcinfo, 1));
    def.policy = cp::core::merge_policy_from_name(text_arg(fcinfo, 2));
    def.source_order = text_array_arg(fcinfo, 3);
    cp::core::validate_definition(def);
    PG_RETURN_BOOL(true);
}

// _profile_recompute(profile_id bigint, traits text[]) returns void; NULL traits: all.
CP_FUNCTION(profile_recompute) {
    if (PG_ARGISNULL(0)) PG_RETURN_VOID();
    std::int64_t profile_id = PG_GETARG_INT64(0);
    if (PG_ARGISNULL(1)) {
        // Everything (identities changed): behavior first, as the trait
        // recompute re-evaluates every segment of the profile.
        cp::pg::recompute_profile_behavior(profile_id);
        cp::pg::recompute_profile_traits(profile_id, nullptr);
    } else {
        std::vector<std::string> traits = text_array_arg(fcinfo, 1);
        cp::pg::recompute_profile_traits(profile_id, &traits);
    }
    PG_RETURN_VOID();
}

// profile_explain(profile) returns table(trait, value, source, observed_at, policy).
CP_FUNCTION(profile_explain) {
    cp::core::Profile profile = cp::core::decode_profile(cp::pg::profile_arg(fcinfo, 0));
    const cp::pg::TraitCatalog& catalog = cp::pg::trait_catalog();
    std::vector<std::string> values, policies;
    for (const auto& t : profile.traits) {
        values.push_back(cp::core::trait_value_json(t.value));
        policies.push_back(cp::core::merge_policy_name(catalog.definition(t.name).policy));
    }
    cp::pg::pg_guard([&] {
        InitMaterializedSRF(fcinfo, 0);
        ReturnSetInfo* rsinfo = reinterpret_cast<ReturnSetInfo*>(fcinfo->resultinfo);
        for (std::size_t i = 0; i < profile.traits.size(); ++i) {
            const auto& t = profile.traits[i];
            Datum row[5] = {
                PointerGetDatum(cstring_to_text_with_len(t.name.data(), static_cast<int>(t.name.size()))),
                DirectFunctionCall1(jsonb_in, CStringGetDatum(values[i].c_str())),
                PointerGetDatum(cstring_to_text_with_len(t.source.data(), static_cast<int>(t.source.size()))),
                TimestampTzGetDatum(t.observed_at), PointerGetDatum(cstring_to_text(policies[i].c_str()))};
            bool nulls[5] = {false, false, false, false, false};
            tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, row, nulls);
        }
    });
    return (Datum)0;
}
