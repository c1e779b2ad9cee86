// The refresh scan: a segment predicate evaluated on stored unified_profile
// rows, as segment_refresh() and segment_windows_run() do on every row:
//   _segment_matches_columns(...)        @@ on the row's columns
//   _segment_next_change(columns, predicate)  the time the result can next
//                                        change
// and the whole-row form behind `unified_profile @@ segment_predicate`
// (segment_operators.cpp). The row forms are PARALLEL SAFE so that a refresh
// scans unified_profile with both cores; everything they read through SPI is
// read-only.
#include <algorithm>
#include <array>
#include <map>
#include <memory>

#include "pg/segments/segment_refresh_scan.hpp"

#include "core/behavior_codec.hpp"
#include "pg/infra/boundary.hpp"
#include "core/predicate_codec.hpp"
#include "core/profile_codec.hpp"
#include "pg/infra/datum_convert.hpp"
#include "pg/infra/function_cache.hpp"
#include "pg/profile/profile_datum.hpp"
#include "pg/segments/score_catalog.hpp"
#include "pg/segments/segment_eval.hpp"
#include "pg/infra/spi_util.hpp"

extern "C" {
#include "utils/typcache.h"
}

namespace cp = customer_profile;

namespace customer_profile::pg {
namespace {

// After this many single lookups in one query, read every known profile
// (every profile that granted the purpose) once instead: a refresh of a
// predicate that says `known` or `consent(purpose)`.
constexpr int kKnownLookupsBeforeBulk = 64;
constexpr int kConsentLookupsBeforeBulk = 64;

CachedPlan all_known_plan{
    "SELECT DISTINCT i.profile_id FROM customer_profile.identity i JOIN customer_profile.namespace n "
    "USING (namespace_id) WHERE n.is_known",
    0,
    {}};

CachedPlan granted_plan{
    "SELECT x.profile_id FROM (SELECT DISTINCT ON (i.profile_id) i.profile_id, c.granted "
    "FROM customer_profile.consent c JOIN customer_profile.identity i USING (identity_id) WHERE c.purpose = $1 "
    "ORDER BY i.profile_id, c.observed_at DESC, c.consent_id DESC) x WHERE x.granted ORDER BY 1",
    1,
    {TEXTOID}};

CachedPlan all_clusters_plan{
    "SELECT profile_id, cluster FROM customer_profile.profile_feature WHERE cluster IS NOT NULL ORDER BY profile_id",
    0,
    {}};

}  // namespace

RowPredicate& row_predicate(FunctionCallInfo fcinfo, int predicate_arg) {
    std::string_view bytes = profile_arg(fcinfo, predicate_arg);
    RowPredicate* cache = &function_cache<RowPredicate>(fcinfo);
    if (!cache->bytes.empty() && cache->bytes == bytes) return *cache;
    // Filled in full before bytes says it is valid: a predicate that fails
    // to decode leaves no half-made cache behind.
    std::string copy(bytes);
    cache->bytes.clear();
    cache->tree = core::cheapest_first(core::decode_predicate(copy));
    cache->deps = with_score_dependencies(core::predicate_dependencies(cache->tree), score_catalog());
    bool refers = !core::referenced_segments(cache->tree).empty();
    bool consent = !cache->deps.consents.empty() || cache->deps.clusters;
    cache->needs_spi = cache->deps.known || cache->deps.filtered || refers || consent;
    cache->traits_only =
        !cache->deps.known && !consent && !refers && cache->deps.event_types.empty() && !cache->deps.any_event;
    cache->decode_all = refers;
    cache->known_lookups = 0;
    cache->have_known_set = false;
    cache->known_set.clear();
    cache->consents.clear();
    cache->cluster_lookups = 0;
    cache->have_clusters = false;
    cache->clusters.clear();
    cache->bytes = std::move(copy);
    return *cache;
}

namespace {

// The row type's attribute numbers, found once per query.
void describe_row(FunctionCallInfo fcinfo, RowPredicate& cache, HeapTupleHeader row) {
    Oid type = HeapTupleHeaderGetTypeId(row);
    if (cache.row_desc != nullptr && cache.row_type == type) return;
    pg_guard([&] {
        TupleDesc desc = lookup_rowtype_tupdesc(type, HeapTupleHeaderGetTypMod(row));
        MemoryContext old = MemoryContextSwitchTo(fcinfo->flinfo->fn_mcxt);
        cache.row_desc = CreateTupleDescCopy(desc);
        MemoryContextSwitchTo(old);
        ReleaseTupleDesc(desc);
    });
    cache.row_type = type;
    cache.attno_id = cache.attno_data = cache.attno_behavior = 0;
    for (int i = 0; i < cache.row_desc->natts; ++i) {
        Form_pg_attribute a = TupleDescAttr(cache.row_desc, i);
        if (a->attisdropped) continue;
        std::string_view name = NameStr(a->attname);
        if (name == "profile_id") cache.attno_id = i + 1;
        if (name == "data") cache.attno_data = i + 1;
        if (name == "behavior") cache.attno_behavior = i + 1;
    }
    if (cache.attno_id == 0 || cache.attno_data == 0 || cache.attno_behavior == 0)
        throw core::Error(core::ErrorCode::invalid_parameter, "not a unified_profile row");
}

// A stored row, read lazily: a trait is found in the binary profile when the
// evaluation first asks for it, the behavior summary (only the event types
// the predicate reads) likewise, so a profile that fails a first trait
// condition costs one trait lookup. The bytes point into the row, which
// lives for the whole call.
class LazyRow {
public:
    // From a whole unified_profile row.
    LazyRow(HeapTupleHeader row, const RowPredicate& cache) : cache_(cache) {
        pg_guard([&] {
            HeapTupleData tuple;
            tuple.t_len = HeapTupleHeaderGetDatumLength(row);
            ItemPointerSetInvalid(&tuple.t_self);
            tuple.t_tableOid = InvalidOid;
            tuple.t_data = row;
            bool isnull = false;
            profile_id_ = DatumGetInt64(heap_getattr(&tuple, cache.attno_id, cache.row_desc, &isnull));
            Datum data = heap_getattr(&tuple, cache.attno_data, cache.row_desc, &isnull);
            if (!isnull) data_ = detoasted(data);
            Datum behavior = heap_getattr(&tuple, cache.attno_behavior, cache.row_desc, &isnull);
            if (!isnull) behavior_ = detoasted(behavior);
        });
    }
    // From the columns (arguments 0, 1, 2): no whole-row value to build.
    LazyRow(FunctionCallInfo fcinfo, const RowPredicate& cache) : cache_(cache) {
        profile_id_ = PG_GETARG_INT64(0);
        pg_guard([&] {
            if (!PG_ARGISNULL(1)) data_ = detoasted(PG_GETARG_DATUM(1));
            if (!PG_ARGISNULL(2)) behavior_ = detoasted(PG_GETARG_DATUM(2));
        });
    }

    ProfileFacts facts() {
        ProfileFacts f;
        f.profile_id = profile_id_;
        if (cache_.decode_all) {
            if (data_) f.traits = core::decode_profile(*data_);
            if (behavior_) f.behavior = core::decode_behavior(*behavior_);
            return f;
        }
        f.trait_source = [this](const std::string& name) { return trait(name); };
        f.behavior_source = [this] { return behavior(); };
        return f;
    }

private:
    static std::string_view detoasted(Datum d) {
        auto* v = reinterpret_cast<struct varlena*>(PG_DETOAST_DATUM_PACKED(d));
        return {VARDATA_ANY(v), VARSIZE_ANY_EXHDR(v)};
    }

    // Names come from the predicate tree, which outlives the row: kept by address.
    const core::Trait* trait(const std::string& name) {
        for (std::size_t i = 0; i < cached_; ++i)
            if (traits_[i].name == &name || *traits_[i].name == name)
                return traits_[i].trait ? &*traits_[i].trait : nullptr;
        std::optional<core::Trait> found = data_ ? core::find_trait(*data_, name) : std::nullopt;
        CachedTrait& slot = cached_ < traits_.size() ? traits_[cached_++] : overflow_;
        slot.name = &name;
        slot.trait = std::move(found);
        return slot.trait ? &*slot.trait : nullptr;
    }

    const core::Behavior* behavior() {
        if (!behavior_decoded_ && behavior_) {
            behavior_value_ = cache_.deps.any_event ? core::decode_behavior(*behavior_)
                                                    : core::decode_behavior_types(*behavior_, cache_.deps.event_types);
        }
        behavior_decoded_ = true;
        return &behavior_value_;
    }

    const RowPredicate& cache_;
    std::int64_t profile_id_ = 0;
    std::optional<std::string_view> data_, behavior_;
    struct CachedTrait {
        const std::string* name = nullptr;
        std::optional<core::Trait> trait;
    };
    std::array<CachedTrait, 8> traits_;  // no allocation per row
    std::size_t cached_ = 0;
    CachedTrait overflow_;  // the ninth and later names: looked up again each time
    core::Behavior behavior_value_;
    bool behavior_decoded_ = false;
};

// Inside SPI.
bool known(RowPredicate& cache, std::int64_t profile_id) {
    if (!cache.have_known_set && ++cache.known_lookups > kKnownLookupsBeforeBulk) {
        std::uint64_t n = spi_run(all_known_plan, nullptr, nullptr, true);
        for (std::uint64_t row = 0; row < n; ++row) cache.known_set.push_back(spi_int8(row, 1));
        std::sort(cache.known_set.begin(), cache.known_set.end());
        cache.have_known_set = true;
    }
    if (cache.have_known_set) return std::binary_search(cache.known_set.begin(), cache.known_set.end(), profile_id);
    return profile_is_known(profile_id, false);
}

// Inside SPI. Granted or not (a withdrawal and silence both read as false).
std::optional<bool> consent(RowPredicate& cache, std::int64_t profile_id, const std::string& purpose) {
    ConsentLookups& c = cache.consents[purpose];
    if (!c.have_set && ++c.lookups > kConsentLookupsBeforeBulk) {
        Datum args[1] = {text_datum(purpose)};
        std::uint64_t n = spi_run(granted_plan, args, nullptr, true);
        for (std::uint64_t row = 0; row < n; ++row) c.granted.push_back(spi_int8(row, 1));
        c.have_set = true;
    }
    if (c.have_set) return std::binary_search(c.granted.begin(), c.granted.end(), profile_id);
    return profile_consent(profile_id, purpose, false);
}

// Inside SPI: the profile's cluster, from every assignment read once after
// the first lookups of a scan.
std::optional<int> cluster(RowPredicate& cache, std::int64_t profile_id) {
    if (!cache.have_clusters && ++cache.cluster_lookups > kConsentLookupsBeforeBulk) {
        std::uint64_t n = spi_run(all_clusters_plan, nullptr, nullptr, true);
        for (std::uint64_t row = 0; row < n; ++row) cache.clusters.emplace_back(spi_int8(row, 1), spi_int4(row, 2));
        cache.have_clusters = true;
    }
    if (!cache.have_clusters) return profile_cluster_of(profile_id, false);
    auto it = std::lower_bound(cache.clusters.begin(), cache.clusters.end(), std::make_pair(profile_id, INT32_MIN));
    if (it == cache.clusters.end() || it->first != profile_id) return std::nullopt;
    return it->second;
}

bool row_matches(RowPredicate& cache, ProfileFacts& facts) {
    if (!cache.needs_spi) return profile_matches(facts, cache.tree, false);
    spi_connect();
    if (cache.deps.known) facts.known = known(cache, facts.profile_id);
    if (!cache.deps.consents.empty())
        facts.consent_source = [&cache, id = facts.profile_id](const std::string& purpose) {
            return consent(cache, id, purpose);
        };
    if (cache.deps.clusters) facts.cluster_source = [&cache, id = facts.profile_id] { return cluster(cache, id); };
    bool result = profile_matches(facts, cache.tree, false);
    spi_finish();
    return result;
}

}  // namespace

bool stored_row_matches(FunctionCallInfo fcinfo, RowPredicate& predicate, HeapTupleHeader row) {
    describe_row(fcinfo, predicate, row);
    LazyRow lazy(row, predicate);
    ProfileFacts facts = lazy.facts();
    return row_matches(predicate, facts);
}

}  // namespace customer_profile::pg

// _segment_matches_columns(profile_id, data, behavior, segment_predicate) returns boolean: @@ on the columns
CP_FUNCTION(segment_matches_columns) {
    if (PG_ARGISNULL(0) || PG_ARGISNULL(3)) PG_RETURN_NULL();
    cp::pg::RowPredicate& cache = cp::pg::row_predicate(fcinfo, 3);
    cp::pg::LazyRow row(fcinfo, cache);
    cp::pg::ProfileFacts facts = row.facts();
    PG_RETURN_BOOL(cp::pg::row_matches(cache, facts));
}

// _segment_next_change(profile_id, data, behavior, segment_predicate) returns timestamptz (NULL: never, without new
// data)
CP_FUNCTION(segment_next_change) {
    if (PG_ARGISNULL(0) || PG_ARGISNULL(3)) PG_RETURN_NULL();
    cp::pg::RowPredicate& cache = cp::pg::row_predicate(fcinfo, 3);
    if (!cache.deps.time) PG_RETURN_NULL();
    cp::pg::LazyRow row(fcinfo, cache);
    cp::pg::ProfileFacts facts = row.facts();
    auto at = cp::pg::profile_next_change(facts, cache.tree);
    if (!at) PG_RETURN_NULL();
    PG_RETURN_TIMESTAMPTZ(*at);
}
