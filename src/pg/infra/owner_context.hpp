// Running a few statements as the owner of one of the extension's tables,
// the way a SECURITY DEFINER function runs as its owner: reading the salt
// (pg/identity/identity_catalog.cpp), or writing a catalog after the caller's rights
// were checked as the caller (pg/attach/attached_table.cpp).
#pragma once

#include "pg/infra/pg_headers.hpp"

namespace customer_profile::pg {

// The owner of customer_profile.<table>, InvalidOid when it does not exist.
Oid extension_table_owner(const char* table);

// While alive, the current user is the owner of customer_profile.<table>
// (SECURITY_LOCAL_USERID_CHANGE: SET ROLE is refused meanwhile); the caller's
// user and security context come back when it goes out of scope. An error
// in between is no problem: aborting the (sub)transaction restores them too.
class AsTableOwner {
public:
    explicit AsTableOwner(const char* table);
    ~AsTableOwner() { SetUserIdAndSecContext(saved_user_, saved_context_); }
    AsTableOwner(const AsTableOwner&) = delete;
    AsTableOwner& operator=(const AsTableOwner&) = delete;

private:
    Oid saved_user_ = InvalidOid;
    int saved_context_ = 0;
};

}  // namespace customer_profile::pg
