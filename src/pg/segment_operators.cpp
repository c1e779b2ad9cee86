// Evaluating a predicate on a value rather than by profile id:
//   profile @@ segment_predicate         traits only, on the binary value
//   unified_profile @@ segment_predicate the stored row: traits, behavior,
//                                        known/anonymous, other segments
// and _segment_next_change(unified_profile, predicate), the time the result
// can next change. The row forms are PARALLEL SAFE so that a refresh scans
// unified_profile with both cores; everything they read through SPI is
// read-only.
#include <algorithm>
#include <memory>

#include "behavior_store.hpp"
#include "boundary.hpp"
#include "core/predicate_codec.hpp"
#include "core/profile_codec.hpp"
#include "profile_datum.hpp"
#include "segment_eval.hpp"
#include "spi_util.hpp"

namespace cp = customer_profile;

namespace customer_profile::pg {
namespace {

// After this many single lookups in one query, read every known profile
// once instead (a refresh of a predicate that says `known`).
constexpr int kKnownLookupsBeforeBulk = 64;

CachedPlan all_known_plan{
    "SELECT DISTINCT i.profile_id FROM customer_profile.identity i JOIN customer_profile.namespace n "
    "USING (namespace_id) WHERE n.is_known",
    0,
    {}};

// The decoded predicate, kept for the whole query in fn_extra (freed with
// the function's memory context).
struct CallCache {
    std::string bytes;
    core::PredicateNode tree;
    core::PredicateDeps deps;
    bool needs_spi = false;   // reads known, other segments or events
    bool traits_only = true;  // answerable from a profile value alone
    int known_lookups = 0;
    bool have_known_set = false;
    std::vector<std::int64_t> known_set;  // sorted
};

void delete_cache(void* arg) {
    delete static_cast<CallCache*>(arg);
}

CallCache& call_cache(FunctionCallInfo fcinfo, int predicate_arg) {
    std::string_view bytes = profile_arg(fcinfo, predicate_arg);
    auto* cache = static_cast<CallCache*>(fcinfo->flinfo->fn_extra);
    if (cache != nullptr && cache->bytes == bytes) return *cache;
    if (cache == nullptr) {
        auto fresh = std::make_unique<CallCache>();
        pg_guard([&] {
            auto* callback = static_cast<MemoryContextCallback*>(
                MemoryContextAllocZero(fcinfo->flinfo->fn_mcxt, sizeof(MemoryContextCallback)));
            callback->func = delete_cache;
            callback->arg = fresh.get();
            MemoryContextRegisterResetCallback(fcinfo->flinfo->fn_mcxt, callback);
        });
        cache = fresh.release();
        fcinfo->flinfo->fn_extra = cache;
    }
    cache->bytes = std::string(bytes);
    cache->tree = core::decode_predicate(cache->bytes);
    cache->deps = core::predicate_dependencies(cache->tree);
    bool refers = !core::referenced_segments(cache->tree).empty();
    cache->needs_spi = cache->deps.known || cache->deps.filtered || refers;
    cache->traits_only = !cache->deps.known && !refers && cache->deps.event_types.empty() && !cache->deps.any_event;
    cache->known_lookups = 0;
    cache->have_known_set = false;
    cache->known_set.clear();
    return *cache;
}

std::string_view bytes_of(Datum d) {
    auto* v = reinterpret_cast<struct varlena*>(PG_DETOAST_DATUM_PACKED(d));
    return {VARDATA_ANY(v), VARSIZE_ANY_EXHDR(v)};
}

ProfileFacts facts_from_row(HeapTupleHeader row) {
    ProfileFacts f;
    pg_guard([&] {
        bool isnull = false;
        f.profile_id = DatumGetInt64(GetAttributeByName(row, "profile_id", &isnull));
        Datum data = GetAttributeByName(row, "data", &isnull);
        if (!isnull) f.traits = core::decode_profile(bytes_of(data));
        Datum behavior = GetAttributeByName(row, "behavior", &isnull);
        if (!isnull) f.behavior = behavior_from_datum(behavior);
    });
    return f;
}

// Inside SPI.
bool known(CallCache& cache, std::int64_t profile_id) {
    if (!cache.have_known_set && ++cache.known_lookups > kKnownLookupsBeforeBulk) {
        std::uint64_t n = spi_run(all_known_plan, nullptr, nullptr, true);
        for (std::uint64_t row = 0; row < n; ++row) cache.known_set.push_back(spi_int8(row, 1));
        std::sort(cache.known_set.begin(), cache.known_set.end());
        cache.have_known_set = true;
    }
    if (cache.have_known_set) return std::binary_search(cache.known_set.begin(), cache.known_set.end(), profile_id);
    return profile_is_known(profile_id, false);
}

bool row_matches(CallCache& cache, ProfileFacts& facts) {
    if (!cache.needs_spi) return profile_matches(facts, cache.tree, false);
    spi_connect();
    if (cache.deps.known) facts.known = known(cache, facts.profile_id);
    bool result = profile_matches(facts, cache.tree, false);
    spi_finish();
    return result;
}

}  // namespace
}  // namespace customer_profile::pg

// profile @@ segment_predicate: traits only (the value carries no behavior or identities)
CP_FUNCTION(profile_matches) {
    cp::pg::CallCache& cache = cp::pg::call_cache(fcinfo, 1);
    if (!cache.traits_only)
        cp::pg::pg_guard([] {
            ereport(ERROR, (errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
                            errmsg("a profile value carries traits only; this predicate also reads behavior, "
                                   "known/anonymous or other segments"),
                            errhint("Use unified_profile @@ predicate (the stored row) or "
                                    "segment_matches(profile_id, predicate).")));
        });
    cp::pg::ProfileFacts facts;
    facts.traits = cp::core::decode_profile(cp::pg::profile_arg(fcinfo, 0));
    PG_RETURN_BOOL(cp::pg::profile_matches(facts, cache.tree, false));
}

// unified_profile @@ segment_predicate: the whole stored profile
CP_FUNCTION(unified_profile_matches) {
    cp::pg::CallCache& cache = cp::pg::call_cache(fcinfo, 1);
    cp::pg::ProfileFacts facts = cp::pg::facts_from_row(PG_GETARG_HEAPTUPLEHEADER(0));
    PG_RETURN_BOOL(cp::pg::row_matches(cache, facts));
}

// _segment_next_change(unified_profile, segment_predicate) returns timestamptz (NULL: never, without new data)
CP_FUNCTION(segment_next_change) {
    cp::pg::CallCache& cache = cp::pg::call_cache(fcinfo, 1);
    if (!cache.deps.time) PG_RETURN_NULL();
    cp::pg::ProfileFacts facts = cp::pg::facts_from_row(PG_GETARG_HEAPTUPLEHEADER(0));
    auto at = cp::pg::profile_next_change(facts, cache.tree);
    if (!at) PG_RETURN_NULL();
    PG_RETURN_TIMESTAMPTZ(*at);
}
