// _profile_cluster_run(k, seed, slots): k-means over the stored feature
// vectors (the chosen slots), in the core; writes each profile's cluster
// (1..k) to profile_feature and returns the centroids (k x slots, standardized
// units, row-major). profile_cluster() wraps it with the summary and the
// auto_cluster_N segments.
#include "boundary.hpp"
#include "core/kmeans.hpp"
#include "core/predicate.hpp"
#include "datum_convert.hpp"
#include "spi_util.hpp"

namespace cp = customer_profile;

namespace customer_profile::pg {
namespace {

CachedPlan assign_plan{
    "UPDATE customer_profile.profile_feature f SET cluster = x.c "
    "FROM unnest($1::int8[], $2::int4[]) AS x(p, c) WHERE f.profile_id = x.p AND f.cluster IS DISTINCT FROM x.c",
    2,
    {INT8ARRAYOID, INT4ARRAYOID}};

struct Loaded {
    std::vector<std::int64_t> profiles;
    core::Points points;
};

// Every stored vector, the chosen slots only, read in batches.
Loaded load_vectors(const std::vector<std::int32_t>& slots) {
    Loaded out;
    out.points.dims = slots.size();
    Portal portal = nullptr;
    pg_guard([&] {
        portal = SPI_cursor_open_with_args(
            nullptr, "SELECT profile_id, vector FROM customer_profile.profile_feature ORDER BY profile_id", 0, nullptr,
            nullptr, nullptr, true, 0);
    });
    for (;;) {
        std::uint64_t n = 0;
        pg_guard([&] {
            SPI_cursor_fetch(portal, true, 10000);
            n = SPI_processed;
        });
        if (n == 0) break;
        for (std::uint64_t row = 0; row < n; ++row) {
            if (cancel_requested())
                throw core::Error(core::ErrorCode::query_canceled, "canceling statement due to user request");
            std::int64_t id = spi_int8(row, 1);
            Datum vector = (Datum)0;
            bool isnull = true;
            pg_guard([&] { vector = SPI_getbinval(SPI_tuptable->vals[row], SPI_tuptable->tupdesc, 2, &isnull); });
            if (isnull) continue;
            std::vector<float> v = float4_array_values(vector);
            out.profiles.push_back(id);
            for (auto s : slots)
                out.points.values.push_back(s >= 1 && static_cast<std::size_t>(s) <= v.size() ? v[s - 1] : 0.0f);
            ++out.points.rows;
        }
        pg_guard([&] { SPI_freetuptable(SPI_tuptable); });
    }
    pg_guard([&] { SPI_cursor_close(portal); });
    return out;
}

}  // namespace
}  // namespace customer_profile::pg

// _profile_cluster_run(k int, seed bigint, slots int[]) returns float8[]
CP_FUNCTION(profile_cluster_run) {
    if (PG_ARGISNULL(0) || PG_ARGISNULL(1) || PG_ARGISNULL(2))
        throw cp::core::Error(cp::core::ErrorCode::invalid_parameter, "k, seed and slots must not be NULL");
    std::int32_t k = PG_GETARG_INT32(0);
    std::int64_t seed = PG_GETARG_INT64(1);
    std::vector<std::int32_t> slots = cp::pg::int4_array_values(PG_GETARG_DATUM(2));
    if (k < 1 || k > cp::core::kMaxClusters)
        throw cp::core::Error(cp::core::ErrorCode::invalid_parameter, "k must be between 1 and 1000");
    if (slots.empty()) throw cp::core::Error(cp::core::ErrorCode::invalid_parameter, "no feature to cluster on");
    cp::pg::spi_connect();
    cp::pg::Loaded loaded = cp::pg::load_vectors(slots);
    if (loaded.points.rows < static_cast<std::size_t>(k))
        throw cp::core::Error(cp::core::ErrorCode::invalid_parameter,
                              "k (" + std::to_string(k) + ") is larger than the number of profiles with features (" +
                                  std::to_string(loaded.points.rows) + ")");
    cp::core::KMeansResult result = cp::core::kmeans(loaded.points, static_cast<std::size_t>(k),
                                                     static_cast<std::uint64_t>(seed), &cp::pg::cancel_requested);
    std::vector<std::int32_t> clusters;
    for (auto c : result.assignment) clusters.push_back(static_cast<std::int32_t>(c) + 1);
    Datum args[2] = {cp::pg::int8_array(loaded.profiles), cp::pg::int4_array(clusters)};
    cp::pg::spi_run(cp::pg::assign_plan, args, nullptr, false);
    cp::pg::spi_finish();
    std::vector<Datum> centroids;
    for (double c : result.centroids) centroids.push_back(Float8GetDatum(c));
    return cp::pg::datum_array(centroids, {}, FLOAT8OID);
}
