// Opening and closing direct index reads (see index_probe.hpp).
#include "pg/infra/index_probe.hpp"

namespace customer_profile::pg {

Snapshot probe_snapshot(bool fresh) {
    if (fresh) CommandCounterIncrement();
    return RegisterSnapshot(fresh ? GetTransactionSnapshot() : GetActiveSnapshot());
}

IndexProbe index_probe_open(Oid heap_relid, Oid index_relid, Snapshot snapshot) {
    IndexProbe p;
    p.heap = table_open(heap_relid, AccessShareLock);
    p.index = index_open(index_relid, AccessShareLock);
    p.slot = table_slot_create(p.heap, nullptr);
    p.scan = index_beginscan(p.heap, p.index, snapshot, 1, 0);
    return p;
}

void index_probe_close(IndexProbe& p) {
    index_endscan(p.scan);
    ExecDropSingleTupleTableSlot(p.slot);
    index_close(p.index, AccessShareLock);
    table_close(p.heap, AccessShareLock);
}

}  // namespace customer_profile::pg
