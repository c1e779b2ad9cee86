// Trait recomputation: observations -> core merge policies -> unified_profile.data.
#include "profile_recompute.hpp"

#include <algorithm>
#include <map>

#include "boundary.hpp"
#include "core/profile_codec.hpp"
#include "core/profile_json.hpp"
#include "core/trait_policy.hpp"
#include "spi_util.hpp"
#include "trait_catalog.hpp"

namespace customer_profile::pg {
namespace {

CachedPlan all_observations_plan{
    "SELECT o.trait, o.source, o.value_type, o.value::text, o.observed_at "
    "FROM customer_profile.trait_observation o "
    "JOIN customer_profile.identity i ON i.identity_id = o.identity_id WHERE i.profile_id = $1",
    1,
    {INT8OID}};
CachedPlan some_observations_plan{
    "SELECT o.trait, o.source, o.value_type, o.value::text, o.observed_at "
    "FROM customer_profile.trait_observation o "
    "JOIN customer_profile.identity i ON i.identity_id = o.identity_id "
    "WHERE i.profile_id = $1 AND o.trait = ANY($2)",
    2,
    {INT8OID, TEXTARRAYOID}};
CachedPlan read_data_plan{
    "SELECT customer_profile.profile_send(data) FROM customer_profile.unified_profile WHERE profile_id = $1",
    1,
    {INT8OID}};
CachedPlan write_data_plan{
    "UPDATE customer_profile.unified_profile SET data = customer_profile.profile_from_binary($2), "
    "updated_at = now() WHERE profile_id = $1",
    2,
    {INT8OID, BYTEAOID}};

}  // namespace

void recompute_profile_traits(std::int64_t profile_id, const std::vector<std::string>* only) {
    const TraitCatalog& catalog = trait_catalog();
    if (!catalog.installed) return;
    spi_connect();
    std::uint64_t n;
    if (only) {
        std::vector<bool> no_nulls(only->size(), false);
        Datum args[2] = {Int64GetDatum(profile_id), text_array(*only, no_nulls)};
        n = spi_run(some_observations_plan, args, nullptr, false);
    } else {
        Datum args[1] = {Int64GetDatum(profile_id)};
        n = spi_run(all_observations_plan, args, nullptr, false);
    }
    std::map<std::string, std::vector<core::Trait>> by_trait;
    for (std::uint64_t row = 0; row < n; ++row) {
        core::Trait t;
        t.name = spi_bytes(row, 1);
        t.source = spi_bytes(row, 2);
        t.value = core::parse_trait_value(spi_bytes(row, 4), core::trait_type_from_name(spi_bytes(row, 3)), t.name);
        t.observed_at = spi_timestamptz(row, 5);
        by_trait[t.name].push_back(std::move(t));
    }
    core::Profile profile;
    if (only) {
        Datum args[1] = {Int64GetDatum(profile_id)};
        if (spi_run(read_data_plan, args, nullptr, false) == 1) profile = core::decode_profile(spi_bytes(0, 1));
        for (const auto& name : *only) {
            auto it = std::find_if(profile.traits.begin(), profile.traits.end(),
                                   [&](const core::Trait& t) { return t.name == name; });
            if (it != profile.traits.end()) profile.traits.erase(it);
        }
    }
    for (auto& [name, observations] : by_trait)
        if (auto merged = core::merge_observations(std::move(observations), catalog.definition(name)))
            profile.put(std::move(*merged));
    std::string bytes = core::encode_profile(profile);
    Datum data = 0;
    pg_guard([&] {
        bytea* b = static_cast<bytea*>(palloc(VARHDRSZ + bytes.size()));
        SET_VARSIZE(b, VARHDRSZ + bytes.size());
        memcpy(VARDATA(b), bytes.data(), bytes.size());
        data = PointerGetDatum(b);
    });
    Datum args[2] = {Int64GetDatum(profile_id), data};
    spi_run(write_data_plan, args, nullptr, false);
    spi_finish();
}

}  // namespace customer_profile::pg
