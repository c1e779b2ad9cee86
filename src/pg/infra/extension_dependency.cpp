// Objects that the extension creates for its users but does not own.
// profiles_wide is regenerated from the trait definitions, and users build
// views on it; as an extension member it would not be dumped, so a dumped
// view on it could not be restored. It is an ordinary view instead, which
// pg_dump dumps with its columns, and depends on the extension the way
// ALTER ... DEPENDS ON EXTENSION records it (PostgreSQL has that statement
// for functions, indexes and materialized views, not for views): DROP
// EXTENSION drops it, without a CASCADE.
#include "pg/infra/boundary.hpp"

extern "C" {
#include "catalog/dependency.h"
#include "catalog/objectaddress.h"
#include "catalog/pg_extension.h"
#include "commands/extension.h"
#include "nodes/pg_list.h"
}

// _depend_on_extension(rel regclass) returns void: rel is dropped with the
// extension (a DEPENDENCY_AUTO_EXTENSION entry), once.
CP_FUNCTION(depend_on_extension) {
    Oid relid = PG_GETARG_OID(0);
    customer_profile::pg::pg_guard([&] {
        Oid extension = get_extension_oid("customer_profile", false);
        if (list_member_oid(getAutoExtensionsOfObject(RelationRelationId, relid), extension)) return;
        ObjectAddress object;
        ObjectAddress referenced;
        ObjectAddressSet(object, RelationRelationId, relid);
        ObjectAddressSet(referenced, ExtensionRelationId, extension);
        recordDependencyOn(&object, &referenced, DEPENDENCY_AUTO_EXTENSION);
    });
    PG_RETURN_VOID();
}
