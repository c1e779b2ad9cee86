// Direct unique-index probes for identities (see identity_lookup.hpp).
#include "identity_lookup.hpp"

#include "boundary.hpp"

extern "C" {
#include "access/genam.h"
#include "access/relscan.h"
#include "utils/fmgroids.h"
}

namespace customer_profile::pg {

std::map<std::string, FoundIdentity> find_identities_by_hash(const IdentityCatalog& catalog,
                                                             const std::vector<std::string>& hashes,
                                                             bool fresh_snapshot) {
    std::vector<FoundIdentity> rows(hashes.size());
    std::vector<char> present(hashes.size(), 0);
    pg_guard([&] {
        // Like a new statement: our own earlier writes visible, a fresh
        // snapshot in READ COMMITTED (the transaction's in REPEATABLE READ).
        if (fresh_snapshot) CommandCounterIncrement();
        Snapshot snapshot = RegisterSnapshot(fresh_snapshot ? GetTransactionSnapshot() : GetActiveSnapshot());
        Relation heap = table_open(catalog.identity_relid, AccessShareLock);
        Relation index = index_open(catalog.identity_hash_index_relid, AccessShareLock);
        TupleTableSlot* slot = table_slot_create(heap, nullptr);
        IndexScanDesc scan = index_beginscan(heap, index, snapshot, 1, 0);
        bytea* key_value = static_cast<bytea*>(palloc(VARHDRSZ + 64));
        for (std::size_t i = 0; i < hashes.size(); ++i) {
            const std::string& h = hashes[i];
            if (h.size() > 64) elog(ERROR, "customer_profile: identity hash longer than 64 bytes");
            SET_VARSIZE(key_value, VARHDRSZ + h.size());
            memcpy(VARDATA(key_value), h.data(), h.size());
            ScanKeyData key;
            ScanKeyInit(&key, 1, BTEqualStrategyNumber, F_BYTEAEQ, PointerGetDatum(key_value));
            index_rescan(scan, &key, 1, nullptr, 0);
            if (index_getnext_slot(scan, ForwardScanDirection, slot)) {
                bool isnull = false;
                rows[i].identity_id = DatumGetInt64(slot_getattr(slot, catalog.attr_identity_id, &isnull));
                rows[i].profile_id = DatumGetInt64(slot_getattr(slot, catalog.attr_profile_id, &isnull));
                rows[i].last_seen = DatumGetTimestampTz(slot_getattr(slot, catalog.attr_last_seen, &isnull));
                present[i] = 1;
            }
        }
        index_endscan(scan);
        ExecDropSingleTupleTableSlot(slot);
        index_close(index, AccessShareLock);
        table_close(heap, AccessShareLock);
        UnregisterSnapshot(snapshot);
    });
    std::map<std::string, FoundIdentity> found;
    for (std::size_t i = 0; i < hashes.size(); ++i)
        if (present[i]) found.emplace(hashes[i], rows[i]);
    return found;
}

Datum fetch_profile_data(const IdentityCatalog& catalog, std::int64_t profile_id, bool fresh_snapshot) {
    if (catalog.attr_profile_data == InvalidAttrNumber)
        throw core::Error(core::ErrorCode::undefined_object, "profiles have no data column before version 1.1", {},
                          "ALTER EXTENSION customer_profile UPDATE");
    Datum result = (Datum)0;
    pg_guard([&] {
        MemoryContext caller = CurrentMemoryContext;
        if (fresh_snapshot) CommandCounterIncrement();
        Snapshot snapshot = RegisterSnapshot(fresh_snapshot ? GetTransactionSnapshot() : GetActiveSnapshot());
        Relation heap = table_open(catalog.profile_relid, AccessShareLock);
        Relation index = index_open(catalog.profile_pkey_relid, AccessShareLock);
        TupleTableSlot* slot = table_slot_create(heap, nullptr);
        IndexScanDesc scan = index_beginscan(heap, index, snapshot, 1, 0);
        ScanKeyData key;
        ScanKeyInit(&key, 1, BTEqualStrategyNumber, F_INT8EQ, Int64GetDatum(profile_id));
        index_rescan(scan, &key, 1, nullptr, 0);
        if (index_getnext_slot(scan, ForwardScanDirection, slot)) {
            bool isnull = false;
            Datum d = slot_getattr(slot, catalog.attr_profile_data, &isnull);
            if (!isnull) {
                MemoryContext old = MemoryContextSwitchTo(caller);
                result = PointerGetDatum(PG_DETOAST_DATUM_COPY(d));
                MemoryContextSwitchTo(old);
            }
        }
        index_endscan(scan);
        ExecDropSingleTupleTableSlot(slot);
        index_close(index, AccessShareLock);
        table_close(heap, AccessShareLock);
        UnregisterSnapshot(snapshot);
    });
    return result;
}

}  // namespace customer_profile::pg
