// The @@ operators: a predicate evaluated on a value rather than by profile id.
//   profile @@ segment_predicate         traits only, on the binary value
//   unified_profile @@ segment_predicate the stored row: traits, behavior,
//                                        known/anonymous, consent, other segments
//                                        (evaluated as the refresh scan does,
//                                        segment_refresh_scan.cpp)
#include "core/profile_codec.hpp"
#include "pg/infra/boundary.hpp"
#include "pg/profile/profile_datum.hpp"
#include "pg/segments/segment_eval.hpp"
#include "pg/segments/segment_refresh_scan.hpp"

namespace cp = customer_profile;

// profile @@ segment_predicate: traits only (the value carries no behavior or identities)
CP_FUNCTION(profile_matches) {
    cp::pg::RowPredicate& cache = cp::pg::row_predicate(fcinfo, 1);
    if (!cache.traits_only)
        cp::pg::pg_guard([] {
            ereport(ERROR, (errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
                            errmsg("a profile value carries traits only; this predicate also reads behavior, "
                                   "known/anonymous, consent, clusters or other segments"),
                            errhint("Use unified_profile @@ predicate (the stored row) or "
                                    "segment_matches(profile_id, predicate).")));
        });
    cp::pg::ProfileFacts facts;
    facts.traits = cp::core::decode_profile(cp::pg::profile_arg(fcinfo, 0));
    PG_RETURN_BOOL(cp::pg::profile_matches(facts, cache.tree, false));
}

// unified_profile @@ segment_predicate: the whole stored profile
CP_FUNCTION(unified_profile_matches) {
    cp::pg::RowPredicate& cache = cp::pg::row_predicate(fcinfo, 1);
    HeapTupleHeader tuple = PG_GETARG_HEAPTUPLEHEADER(0);
    PG_RETURN_BOOL(cp::pg::stored_row_matches(fcinfo, cache, tuple));
}
