// Direct reads through a btree index, bypassing the executor: used on hot
// paths whose cached plans must not depend on statistics (identity lookups,
// profile rows, a profile's observations). Call only inside pg_guard.
#pragma once

#include "pg/infra/pg_headers.hpp"

namespace customer_profile::pg {

// A statement-like snapshot. fresh: this transaction's earlier writes and, in
// READ COMMITTED, everything committed so far (as a new statement would see);
// otherwise the running statement's snapshot. Release with UnregisterSnapshot.
Snapshot probe_snapshot(bool fresh);

struct IndexProbe {
    Relation heap = nullptr;
    Relation index = nullptr;
    TupleTableSlot* slot = nullptr;
    IndexScanDesc scan = nullptr;
};

IndexProbe index_probe_open(Oid heap_relid, Oid index_relid, Snapshot snapshot);
void index_probe_close(IndexProbe& probe);

// Calls on_row(slot) for every row whose first index column equals key
// (eq_proc: the equality function, e.g. F_INT8EQ).
template <typename OnRow>
void index_probe(IndexProbe& probe, RegProcedure eq_proc, Datum key, OnRow&& on_row) {
    ScanKeyData scan_key;
    ScanKeyInit(&scan_key, 1, BTEqualStrategyNumber, eq_proc, key);
    index_rescan(probe.scan, &scan_key, 1, nullptr, 0);
    while (index_getnext_slot(probe.scan, ForwardScanDirection, probe.slot)) on_row(probe.slot);
}

}  // namespace customer_profile::pg
