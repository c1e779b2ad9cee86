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
                                                             const std::vector<std::string>& hashes) {
    std::vector<FoundIdentity> rows(hashes.size());
    std::vector<char> present(hashes.size(), 0);
    pg_guard([&] {
        // Like a new statement: our own earlier writes visible, a fresh
        // snapshot in READ COMMITTED (the transaction's in REPEATABLE READ).
        CommandCounterIncrement();
        Snapshot snapshot = RegisterSnapshot(GetTransactionSnapshot());
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

}  // namespace customer_profile::pg
