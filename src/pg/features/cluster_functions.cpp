// Clustering and nearest-neighbour search over the stored feature vectors
// (feature_vector_functions.cpp), in the core:
//   _profile_cluster_run(k, seed, slots)  k-means; writes each profile's
//       cluster (1..k), returns the centroids (k x slots, standardized units)
//   _nearest_cluster(vector, slots, centroids)  the cluster a vector falls in
//   _feature_lists_build(lists, seed, slots)  the search's coarse lists
//   _vector_search(query, k, exclude)  the k nearest vectors, reading only
//       the lists nearest to the query
#include <algorithm>
#include <cmath>

#include "pg/infra/boundary.hpp"
#include "core/kmeans.hpp"
#include "core/predicate.hpp"
#include "pg/infra/datum_convert.hpp"
#include "pg/infra/function_cache.hpp"
#include "pg/infra/spi_util.hpp"

namespace cp = customer_profile;

namespace customer_profile::pg {
namespace {

// Five seedings, the best after a few iterations run on: one unlucky
// k-means++ start can leave two real groups under one centroid.
constexpr int kClusterRestarts = 5;

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
            throw_if_canceled();
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
    cp::core::KMeansResult result =
        cp::core::kmeans(loaded.points, static_cast<std::size_t>(k), static_cast<std::uint64_t>(seed),
                         &cp::pg::cancel_requested, cp::core::kMaxKMeansIterations, cp::pg::kClusterRestarts);
    std::vector<std::int32_t> clusters;
    for (auto c : result.assignment) clusters.push_back(static_cast<std::int32_t>(c) + 1);
    Datum args[2] = {cp::pg::int8_array(loaded.profiles), cp::pg::int4_array(clusters)};
    cp::pg::spi_run(cp::pg::assign_plan, args, nullptr, false);
    cp::pg::spi_finish();
    std::vector<Datum> centroids;
    for (double c : result.centroids) centroids.push_back(Float8GetDatum(c));
    return cp::pg::datum_array(centroids, {}, FLOAT8OID);
}

// The look-alike search's coarse lists (an inverted-file index): k-means
// over a sample of the vectors gives the lists' centroids; every vector is
// filed under its nearest one (profile_feature.list_id, btree-indexed), so a
// search reads only the lists nearest to its query.
namespace customer_profile::pg {
namespace {

constexpr std::size_t kListTrainingSample = 20000;
constexpr int kListIterations = 10;  // coarse lists need not converge

CachedPlan file_plan{
    "UPDATE customer_profile.profile_feature f SET list_id = x.l "
    "FROM unnest($1::int8[], $2::int4[]) AS x(p, l) WHERE f.profile_id = x.p",
    2,
    {INT8ARRAYOID, INT4ARRAYOID}};
CachedPlan lists_plan{"SELECT centroid, size FROM customer_profile.feature_list ORDER BY list_id", 0, {}};
CachedPlan candidates_plan{
    "SELECT profile_id, vector FROM customer_profile.profile_feature WHERE list_id = ANY($1)", 1, {INT4ARRAYOID}};

}  // namespace
}  // namespace customer_profile::pg

// _nearest_cluster(vector real[], slots int[], centroids float8[]) returns int:
// 1-based number of the nearest centroid (k x slots, row-major) over the
// chosen 1-based slots of the vector.
CP_FUNCTION(nearest_cluster) {
    if (PG_ARGISNULL(0) || PG_ARGISNULL(1) || PG_ARGISNULL(2)) PG_RETURN_NULL();
    std::vector<float> vector = cp::pg::float4_array_values(PG_GETARG_DATUM(0));
    std::vector<std::int32_t> slots = cp::pg::int4_array_values(PG_GETARG_DATUM(1));
    // The centroids are the same on every row of a statement: decoded once.
    struct Centroids {
        std::string bytes;
        std::vector<double> values;
    };
    Centroids& cache = cp::pg::function_cache<Centroids>(fcinfo);
    struct varlena* raw = nullptr;
    cp::pg::pg_guard([&] { raw = PG_DETOAST_DATUM_PACKED(PG_GETARG_DATUM(2)); });
    std::string_view bytes(VARDATA_ANY(raw), VARSIZE_ANY_EXHDR(raw));
    if (cache.bytes != bytes) {
        cache.bytes.clear();
        cache.values = cp::pg::float8_array_values(PG_GETARG_DATUM(2));
        cache.bytes = std::string(bytes);
    }
    const std::vector<double>& centroids = cache.values;
    if (slots.empty() || centroids.empty() || centroids.size() % slots.size() != 0) PG_RETURN_NULL();
    std::vector<float> point;
    for (auto s : slots) point.push_back(s >= 1 && static_cast<std::size_t>(s) <= vector.size() ? vector[s - 1] : 0.0f);
    PG_RETURN_INT32(static_cast<std::int32_t>(cp::core::nearest_centroid(centroids, slots.size(), point.data())) + 1);
}

// _feature_lists_build(lists int, seed bigint, slots int[]) returns float8[]:
// files every vector under one of `lists` coarse centroids; returns them.
CP_FUNCTION(feature_lists_build) {
    if (PG_ARGISNULL(0) || PG_ARGISNULL(1) || PG_ARGISNULL(2))
        throw cp::core::Error(cp::core::ErrorCode::invalid_parameter, "lists, seed and slots must not be NULL");
    std::int32_t lists = PG_GETARG_INT32(0);
    std::vector<std::int32_t> slots = cp::pg::int4_array_values(PG_GETARG_DATUM(2));
    cp::pg::spi_connect();
    cp::pg::Loaded all = cp::pg::load_vectors(slots);
    std::size_t n = all.points.rows;
    if (n == 0 || slots.empty()) {
        cp::pg::spi_finish();
        return cp::pg::datum_array({}, {}, FLOAT8OID);
    }
    std::size_t k = std::min<std::size_t>(std::max(1, lists), n);
    // An evenly spaced sample (deterministic) trains the centroids.
    cp::core::Points sample;
    sample.dims = all.points.dims;
    std::size_t step = std::max<std::size_t>(1, n / cp::pg::kListTrainingSample);
    for (std::size_t i = 0; i < n; i += step) {
        sample.values.insert(sample.values.end(), all.points.row(i), all.points.row(i) + sample.dims);
        ++sample.rows;
    }
    k = std::min(k, sample.rows);
    cp::core::KMeansResult model = cp::core::kmeans(sample, k, static_cast<std::uint64_t>(PG_GETARG_INT64(1)),
                                                    &cp::pg::cancel_requested, cp::pg::kListIterations);
    std::vector<std::int32_t> filed;
    for (std::size_t i = 0; i < n; ++i) {
        if ((i & 1023) == 0 && cp::pg::cancel_requested())
            throw cp::core::Error(cp::core::ErrorCode::query_canceled, "canceling statement due to user request");
        filed.push_back(
            static_cast<std::int32_t>(cp::core::nearest_centroid(model.centroids, sample.dims, all.points.row(i))) + 1);
    }
    Datum args[2] = {cp::pg::int8_array(all.profiles), cp::pg::int4_array(filed)};
    cp::pg::spi_run(cp::pg::file_plan, args, nullptr, false);
    cp::pg::spi_finish();
    std::vector<Datum> centroids;
    for (double c : model.centroids) centroids.push_back(Float8GetDatum(c));
    return cp::pg::datum_array(centroids, {}, FLOAT8OID);
}

// _vector_search(query real[], k int, exclude bigint[]) returns table (profile_id bigint, distance float8):
// the k stored vectors nearest to the query (Euclidean), excluding some
// profiles, reading the nearest lists until they hold 100 candidates per
// result wanted (at least 2,000, and at least one list).
CP_FUNCTION(vector_search) {
    if (PG_ARGISNULL(0) || PG_ARGISNULL(1))
        throw cp::core::Error(cp::core::ErrorCode::invalid_parameter, "query and k must not be NULL");
    std::vector<float> query = cp::pg::float4_array_values(PG_GETARG_DATUM(0));
    std::int32_t k = PG_GETARG_INT32(1);
    if (k < 1 || k > 100000)
        throw cp::core::Error(cp::core::ErrorCode::invalid_parameter, "k must be between 1 and 100000");
    std::vector<std::int64_t> exclude =
        PG_ARGISNULL(2) ? std::vector<std::int64_t>{} : cp::pg::int8_array_arg(fcinfo, 2);
    std::sort(exclude.begin(), exclude.end());
    cp::core::NearestK top(static_cast<std::size_t>(k));
    cp::pg::spi_connect();
    std::vector<double> centroids;
    std::vector<std::int64_t> sizes;
    std::uint64_t lists = cp::pg::spi_run(cp::pg::lists_plan, nullptr, nullptr, true);
    for (std::uint64_t row = 0; row < lists; ++row) {
        Datum c = (Datum)0;
        bool isnull = true;
        cp::pg::pg_guard([&] { c = SPI_getbinval(SPI_tuptable->vals[row], SPI_tuptable->tupdesc, 1, &isnull); });
        std::vector<double> v = isnull ? std::vector<double>{} : cp::pg::float8_array_values(c);
        if (v.size() != query.size())
            throw cp::core::Error(cp::core::ErrorCode::invalid_parameter,
                                  "the query has " + std::to_string(query.size()) + " features, the lists " +
                                      std::to_string(v.size()) + ": run feature_build()");
        centroids.insert(centroids.end(), v.begin(), v.end());
        sizes.push_back(cp::pg::spi_int8(row, 2));
    }
    std::vector<std::int32_t> probe;
    std::int64_t wanted = std::max<std::int64_t>(2000, static_cast<std::int64_t>(k) * 100) + exclude.size(), held = 0;
    for (std::uint32_t l : cp::core::lists_by_distance(centroids, query.size(), query.data())) {
        if (held >= wanted) break;
        probe.push_back(static_cast<std::int32_t>(l) + 1);
        held += sizes[l];
    }
    if (!probe.empty()) {
        Datum args[1] = {cp::pg::int4_array(probe)};
        std::uint64_t n = cp::pg::spi_run(cp::pg::candidates_plan, args, nullptr, true);
        std::vector<double> q(query.begin(), query.end());
        for (std::uint64_t row = 0; row < n; ++row) {
            std::int64_t id = cp::pg::spi_int8(row, 1);
            if (std::binary_search(exclude.begin(), exclude.end(), id)) continue;
            Datum d = (Datum)0;
            bool isnull = true;
            cp::pg::pg_guard([&] { d = SPI_getbinval(SPI_tuptable->vals[row], SPI_tuptable->tupdesc, 2, &isnull); });
            if (isnull) continue;
            std::vector<float> v = cp::pg::float4_array_values(d);
            if (v.size() != q.size()) continue;
            top.offer(id, cp::core::squared_distance(v.data(), q.data(), q.size()));
        }
    }
    cp::pg::spi_finish();
    std::vector<cp::core::Neighbor> best = top.sorted();
    cp::pg::pg_guard([&] { InitMaterializedSRF(fcinfo, MAT_SRF_USE_EXPECTED_DESC); });
    ReturnSetInfo* rsinfo = reinterpret_cast<ReturnSetInfo*>(fcinfo->resultinfo);
    for (const auto& b : best)
        cp::pg::pg_guard([&] {
            Datum values[2] = {Int64GetDatum(b.id), Float8GetDatum(std::sqrt(b.distance))};
            bool nulls[2] = {false, false};
            tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
        });
    return (Datum)0;
}
