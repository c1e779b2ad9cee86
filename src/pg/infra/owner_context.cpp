// See owner_context.hpp.
#include "pg/infra/owner_context.hpp"

#include "pg/infra/boundary.hpp"

namespace customer_profile::pg {

Oid extension_table_owner(const char* table) {
    Oid owner = InvalidOid;
    pg_guard([&] {
        Oid relid = RangeVarGetRelid(makeRangeVar(const_cast<char*>("customer_profile"), const_cast<char*>(table), -1),
                                     NoLock, true);
        if (!OidIsValid(relid)) return;
        HeapTuple tuple = SearchSysCache1(RELOID, ObjectIdGetDatum(relid));
        if (!HeapTupleIsValid(tuple)) return;
        owner = reinterpret_cast<Form_pg_class>(GETSTRUCT(tuple))->relowner;
        ReleaseSysCache(tuple);
    });
    return owner;
}

AsTableOwner::AsTableOwner(const char* table) {
    Oid owner = extension_table_owner(table);
    GetUserIdAndSecContext(&saved_user_, &saved_context_);
    if (OidIsValid(owner)) SetUserIdAndSecContext(owner, saved_context_ | SECURITY_LOCAL_USERID_CHANGE);
}

}  // namespace customer_profile::pg
