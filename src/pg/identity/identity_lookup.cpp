// Direct unique-index probes for identities (see identity_lookup.hpp).
#include "pg/identity/identity_lookup.hpp"

#include "pg/infra/boundary.hpp"
#include "pg/infra/index_probe.hpp"

namespace customer_profile::pg {

std::map<std::string, FoundIdentity> find_identities_by_hash(const IdentityCatalog& catalog,
                                                             const std::vector<std::string>& hashes,
                                                             bool fresh_snapshot) {
    std::vector<FoundIdentity> rows(hashes.size());
    std::vector<char> present(hashes.size(), 0);
    pg_guard([&] {
        Snapshot snapshot = probe_snapshot(fresh_snapshot);
        IndexProbe probe = index_probe_open(catalog.identity_relid, catalog.identity_hash_index_relid, snapshot);
        bytea* key = static_cast<bytea*>(palloc(VARHDRSZ + 64));
        for (std::size_t i = 0; i < hashes.size(); ++i) {
            const std::string& h = hashes[i];
            if (h.size() > 64) elog(ERROR, "customer_profile: identity hash longer than 64 bytes");
            SET_VARSIZE(key, VARHDRSZ + h.size());
            memcpy(VARDATA(key), h.data(), h.size());
            index_probe(probe, F_BYTEAEQ, PointerGetDatum(key), [&](TupleTableSlot* slot) {
                bool isnull = false;
                rows[i].identity_id = DatumGetInt64(slot_getattr(slot, catalog.attr_identity_id, &isnull));
                rows[i].profile_id = DatumGetInt64(slot_getattr(slot, catalog.attr_profile_id, &isnull));
                rows[i].last_seen = DatumGetTimestampTz(slot_getattr(slot, catalog.attr_last_seen, &isnull));
                present[i] = 1;
            });
        }
        index_probe_close(probe);
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
    return fetch_profile_column(catalog, profile_id, catalog.attr_profile_data, fresh_snapshot);
}

Datum fetch_profile_column(const IdentityCatalog& catalog, std::int64_t profile_id, AttrNumber attr,
                           bool fresh_snapshot, bool* found) {
    Datum result = (Datum)0;
    if (found) *found = false;
    pg_guard([&] {
        MemoryContext caller = CurrentMemoryContext;
        Snapshot snapshot = probe_snapshot(fresh_snapshot);
        IndexProbe probe = index_probe_open(catalog.profile_relid, catalog.profile_pkey_relid, snapshot);
        index_probe(probe, F_INT8EQ, Int64GetDatum(profile_id), [&](TupleTableSlot* slot) {
            bool isnull = false;
            if (found) *found = true;
            Datum d = slot_getattr(slot, attr, &isnull);
            if (!isnull) {
                MemoryContext old = MemoryContextSwitchTo(caller);
                result = PointerGetDatum(PG_DETOAST_DATUM_COPY(d));
                MemoryContextSwitchTo(old);
            }
        });
        index_probe_close(probe);
        UnregisterSnapshot(snapshot);
    });
    return result;
}

}  // namespace customer_profile::pg
