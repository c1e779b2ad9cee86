// A segment predicate evaluated on stored unified_profile rows, as a scan
// does (see segment_refresh_scan.cpp): the decoded predicate of one call
// site, kept for the whole query, and the whole-row evaluation behind
// `unified_profile @@ segment_predicate` (segment_operators.cpp).
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "core/predicate.hpp"
#include "pg/infra/pg_headers.hpp"

namespace customer_profile::pg {

struct ConsentLookups {
    int lookups = 0;
    bool have_set = false;
    std::vector<std::int64_t> granted;  // sorted
};

// The decoded predicate, kept for the whole query in fn_extra (freed with
// the function's memory context), with what a scan has read in bulk.
struct RowPredicate {
    std::string bytes;
    core::PredicateNode tree;
    core::PredicateDeps deps;
    bool needs_spi = false;   // reads known, consent, other segments or events
    bool traits_only = true;  // answerable from a profile value alone
    bool decode_all = false;  // in_segment(): the other predicates may read anything
    // unified_profile's row type, looked up once per query: attributes are
    // then read by number.
    Oid row_type = InvalidOid;
    TupleDesc row_desc = nullptr;  // in fn_mcxt
    int attno_id = 0, attno_data = 0, attno_behavior = 0;
    int known_lookups = 0;
    bool have_known_set = false;
    std::vector<std::int64_t> known_set;  // sorted
    std::map<std::string, ConsentLookups> consents;
    int cluster_lookups = 0;
    bool have_clusters = false;
    std::vector<std::pair<std::int64_t, int>> clusters;  // sorted by profile
};

// The segment_predicate of argument predicate_arg, decoded once per query.
RowPredicate& row_predicate(FunctionCallInfo fcinfo, int predicate_arg);

// Evaluates the predicate on a whole unified_profile row, read lazily.
bool stored_row_matches(FunctionCallInfo fcinfo, RowPredicate& predicate, HeapTupleHeader row);

}  // namespace customer_profile::pg
