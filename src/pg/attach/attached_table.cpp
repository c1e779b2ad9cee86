// Registering an attached CRM table (profile_attach_table). No role writes
// customer_profile.attached_table itself (an admin that could rewrite a
// mapping would copy a column it may not read into profiles). This function
// is SECURITY INVOKER on purpose: it checks the rights of its caller, the
// attaching role, which a SECURITY DEFINER function could not see, and only
// then writes the row (naming that role in attached_by) as the owner of
// attached_table. The attach trigger checks attached_by's rights again on
// every row.
#include <string>
#include <vector>

#include "pg/infra/boundary.hpp"
#include "pg/infra/owner_context.hpp"
#include "pg/infra/spi_util.hpp"

extern "C" {
#include "utils/acl.h"
}

namespace cp = customer_profile;

namespace {

// The mapped column names, each once (as SQL: the mappings are jsonb).
cp::pg::CachedPlan mapped_columns_plan{
    "SELECT DISTINCT s.c FROM (SELECT m.value #>> '{}' FROM pg_catalog.jsonb_each($1) m "
    "UNION ALL SELECT m.value #>> '{}' FROM pg_catalog.jsonb_each($2) m) s(c) WHERE s.c IS NOT NULL ORDER BY 1",
    2,
    {JSONBOID, JSONBOID}};
// Rows of tables dropped since they were attached (their oid means nothing).
cp::pg::CachedPlan forget_dropped_plan{
    "DELETE FROM customer_profile.attached_table a "
    "WHERE NOT EXISTS (SELECT 1 FROM pg_catalog.pg_class c WHERE c.oid = a.table_oid)",
    0,
    {}};
cp::pg::CachedPlan insert_plan{
    "INSERT INTO customer_profile.attached_table (table_oid, source, identity_columns, trait_columns, attached_by) "
    "VALUES ($1, $2, $3, $4, $5::name) ON CONFLICT (table_oid) DO NOTHING",
    5,
    {REGCLASSOID, TEXTOID, JSONBOID, JSONBOID, TEXTOID}};

}  // namespace

// _attached_table_insert(tbl regclass, source text, identity_columns jsonb,
// trait_columns jsonb) returns void: 42501 unless the calling role may create
// triggers on tbl (owns it, or was granted TRIGGER) and SELECT every mapped
// column; 42703 for a mapped column tbl does not have.
CP_FUNCTION(attached_table_insert) {
    for (int i = 0; i < 4; ++i)
        if (PG_ARGISNULL(i))
            throw cp::core::Error(cp::core::ErrorCode::invalid_parameter,
                                  "table, source, identity_columns and trait_columns must not be NULL");
    Oid relid = PG_GETARG_OID(0);
    Oid caller = GetUserId();  // SECURITY INVOKER: the attaching role
    Datum caller_name = 0;
    cp::pg::pg_guard([&] { caller_name = CStringGetTextDatum(GetUserNameFromId(caller, false)); });
    Datum args[5] = {PG_GETARG_DATUM(0), PG_GETARG_DATUM(1), PG_GETARG_DATUM(2), PG_GETARG_DATUM(3), caller_name};

    cp::pg::spi_connect();
    std::uint64_t n = cp::pg::spi_run(mapped_columns_plan, &args[2], nullptr, true);
    std::vector<std::string> columns;
    for (std::uint64_t row = 0; row < n; ++row) columns.push_back(cp::pg::spi_bytes(row, 1));

    cp::pg::pg_guard([&] {
        char* table = get_rel_name(relid);
        if (table == nullptr)
            ereport(ERROR, (errcode(ERRCODE_UNDEFINED_TABLE), errmsg("relation with OID %u does not exist", relid)));
        if (pg_class_aclcheck(relid, caller, ACL_TRIGGER) != ACLCHECK_OK)
            ereport(ERROR,
                    (errcode(ERRCODE_INSUFFICIENT_PRIVILEGE), errmsg("permission denied to attach table %s", table),
                     errdetail("Attaching creates a trigger on the table: only its owner, or a role granted "
                               "TRIGGER on it, may attach it.")));
        bool table_readable = pg_class_aclcheck(relid, caller, ACL_SELECT) == ACLCHECK_OK;
        for (const std::string& column : columns) {
            AttrNumber attnum = get_attnum(relid, column.c_str());
            if (attnum == InvalidAttrNumber || attnum < 0)
                ereport(ERROR, (errcode(ERRCODE_UNDEFINED_COLUMN),
                                errmsg("column \"%s\" of %s does not exist", column.c_str(), table)));
            // SELECT on the table covers every column; a column's own ACL
            // holds only what was granted on that column.
            if (!table_readable && pg_attribute_aclcheck(relid, attnum, caller, ACL_SELECT) != ACLCHECK_OK)
                ereport(ERROR, (errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
                                errmsg("permission denied to attach column \"%s\" of %s", column.c_str(), table),
                                errdetail("Its values would flow into profiles, which others read."),
                                errhint("The attaching role must be allowed to SELECT every mapped column.")));
        }
    });

    {
        cp::pg::AsTableOwner as_owner("attached_table");
        cp::pg::spi_run(forget_dropped_plan, nullptr, nullptr, false);
        if (cp::pg::spi_run(insert_plan, args, nullptr, false) == 0)
            throw cp::core::Error(cp::core::ErrorCode::invalid_parameter, "the table is already attached", {},
                                  "Detach it first (customer_profile.profile_detach_table).");
    }
    cp::pg::spi_finish();
    PG_RETURN_VOID();
}
