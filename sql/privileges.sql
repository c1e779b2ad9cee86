-- The privilege matrix (issue 14): every privilege that PUBLIC and each role
-- of the extension holds on the extension's schema, tables, views,
-- sequences, functions and types (and on single columns), read from the
-- catalog (aclexplode over relacl/attacl/proacl/typacl/nspacl, acldefault
-- where an ACL was never set), sorted. The expected output is the reviewed
-- allow-list: docs/security.md gives the reason for every line. A new
-- object, or a grant or revoke, changes this output and fails the suite
-- until someone decides about it and updates the list and the reasons.
--
-- Privileges held through membership (the admin is a writer, the writer a
-- reader) are not repeated: each line is a grant of its own. The owner (the
-- role that created the extension) is left out; it owns everything.
CREATE TEMP VIEW cp_privileges (grantee, kind, object, privilege) AS
WITH roles(oid, name) AS (
    SELECT 0::oid, 'PUBLIC'
    UNION ALL
    SELECT r.oid, r.rolname::text FROM pg_roles r
     WHERE r.rolname IN ('customer_profile_reader', 'customer_profile_writer', 'customer_profile_admin',
                         'customer_profile_worker')),
objects(kind, object, acl) AS (
    SELECT 'schema', n.nspname::text, coalesce(n.nspacl, acldefault('n', n.nspowner))
      FROM pg_namespace n WHERE n.nspname = 'customer_profile'
    UNION ALL
    -- Partitions of customer_profile.event are named by month: counted below.
    SELECT CASE c.relkind WHEN 'S' THEN 'sequence' WHEN 'v' THEN 'view' ELSE 'table' END, c.oid::regclass::text,
           coalesce(c.relacl, acldefault(CASE c.relkind WHEN 'S' THEN 's' ELSE 'r' END::"char", c.relowner))
      FROM pg_class c
     WHERE c.relnamespace = 'customer_profile'::regnamespace AND c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f')
       AND NOT c.relispartition
    UNION ALL
    SELECT 'column', c.oid::regclass::text || '.' || quote_ident(a.attname), a.attacl
      FROM pg_class c JOIN pg_attribute a ON a.attrelid = c.oid
     WHERE c.relnamespace = 'customer_profile'::regnamespace AND a.attnum > 0 AND NOT a.attisdropped
       AND a.attacl IS NOT NULL
    UNION ALL
    SELECT 'function', p.oid::regprocedure::text, coalesce(p.proacl, acldefault('f', p.proowner))
      FROM pg_proc p WHERE p.pronamespace = 'customer_profile'::regnamespace
    UNION ALL
    -- Types, row types of tables and views included (USAGE on one lets a
    -- role pin the table in a column of its own); array types follow their
    -- element. Row types of event partitions are checked with the partitions.
    SELECT 'type', t.oid::regtype::text, coalesce(t.typacl, acldefault('T', t.typowner))
      FROM pg_type t
     WHERE t.typnamespace = 'customer_profile'::regnamespace AND t.typelem = 0
       AND NOT EXISTS (SELECT 1 FROM pg_class c WHERE c.oid = t.typrelid AND c.relispartition))
SELECT r.name, o.kind, o.object, a.privilege_type || CASE WHEN a.is_grantable THEN ' WITH GRANT OPTION' ELSE '' END
  FROM objects o CROSS JOIN LATERAL aclexplode(o.acl) a JOIN roles r ON r.oid = a.grantee;

-- PUBLIC: nothing.
SELECT * FROM cp_privileges WHERE grantee = 'PUBLIC' ORDER BY 1, 2, 3, 4;
-- customer_profile_reader
SELECT kind, object, privilege FROM cp_privileges WHERE grantee = 'customer_profile_reader' ORDER BY 1, 2, 3;
-- customer_profile_writer (and the reader's, as a member of it)
SELECT kind, object, privilege FROM cp_privileges WHERE grantee = 'customer_profile_writer' ORDER BY 1, 2, 3;
-- customer_profile_admin (and the writer's, as a member of it)
SELECT kind, object, privilege FROM cp_privileges WHERE grantee = 'customer_profile_admin' ORDER BY 1, 2, 3;
-- customer_profile_worker (a member of no other role)
SELECT kind, object, privilege FROM cp_privileges WHERE grantee = 'customer_profile_worker' ORDER BY 1, 2, 3;

-- The rules, checked on their own as well.
-- No role but the owner holds TRIGGER, TRUNCATE or REFERENCES on anything of
-- the extension, nor a privilege WITH GRANT OPTION.
SELECT count(*) AS forbidden FROM cp_privileges
 WHERE privilege IN ('TRIGGER', 'TRUNCATE', 'REFERENCES') OR privilege LIKE '% WITH GRANT OPTION';
-- Nobody but the owner and the extension's roles holds any privilege.
SELECT count(*) AS other_grantees
  FROM (SELECT c.relacl AS acl, c.relowner AS owner FROM pg_class c WHERE c.relnamespace = 'customer_profile'::regnamespace
        UNION ALL SELECT p.proacl, p.proowner FROM pg_proc p WHERE p.pronamespace = 'customer_profile'::regnamespace
        UNION ALL SELECT t.typacl, t.typowner FROM pg_type t WHERE t.typnamespace = 'customer_profile'::regnamespace
        UNION ALL SELECT n.nspacl, n.nspowner FROM pg_namespace n WHERE n.nspname = 'customer_profile') o,
       aclexplode(o.acl) a
 WHERE a.grantee <> o.owner AND a.grantee <> 0
   AND pg_get_userbyid(a.grantee) NOT IN ('customer_profile_reader', 'customer_profile_writer', 'customer_profile_admin',
                                          'customer_profile_worker');
-- Event partitions (created by month) carry no grant: they are read and
-- written through customer_profile.event.
SELECT count(*) AS partition_grants
  FROM pg_class c, aclexplode(c.relacl) a
 WHERE c.relispartition AND c.relnamespace = 'customer_profile'::regnamespace AND a.grantee <> c.relowner;
SELECT count(*) AS partition_row_types_usable
  FROM pg_class c JOIN pg_type t ON t.oid = c.reltype, aclexplode(coalesce(t.typacl, acldefault('T', t.typowner))) a
 WHERE c.relispartition AND c.relnamespace = 'customer_profile'::regnamespace AND a.grantee <> t.typowner;
SELECT customer_profile.event_partitions_ensure(now() + interval '2 months', now() + interval '2 months') >= 0 AS created;
SELECT count(*) AS partition_row_types_usable_after
  FROM pg_class c JOIN pg_type t ON t.oid = c.reltype, aclexplode(coalesce(t.typacl, acldefault('T', t.typowner))) a
 WHERE c.relispartition AND c.relnamespace = 'customer_profile'::regnamespace AND a.grantee <> t.typowner;
-- Every object of the extension belongs to the role that created it.
SELECT count(*) AS not_owned_by_the_extension_owner
  FROM (SELECT c.relowner AS owner FROM pg_class c WHERE c.relnamespace = 'customer_profile'::regnamespace
        UNION ALL SELECT p.proowner FROM pg_proc p WHERE p.pronamespace = 'customer_profile'::regnamespace
        UNION ALL SELECT t.typowner FROM pg_type t WHERE t.typnamespace = 'customer_profile'::regnamespace) o
 WHERE o.owner <> (SELECT e.extowner FROM pg_extension e WHERE e.extname = 'customer_profile');
-- The extension's roles cannot log in, and none is a superuser or may
-- create roles or databases, bypass row security or replicate.
SELECT rolname, rolcanlogin, rolsuper, rolcreaterole, rolcreatedb, rolbypassrls, rolreplication, rolinherit
  FROM pg_roles WHERE rolname LIKE 'customer\_profile\_%' ORDER BY 1;
-- Memberships among them.
SELECT r.rolname AS role, m.rolname AS member_of, a.admin_option
  FROM pg_auth_members a JOIN pg_roles r ON r.oid = a.member JOIN pg_roles m ON m.oid = a.roleid
 WHERE r.rolname LIKE 'customer\_profile\_%' OR m.rolname LIKE 'customer\_profile\_%'
 ORDER BY 1, 2;
-- The SECURITY DEFINER functions: each pins search_path.
SELECT p.oid::regprocedure AS security_definer, p.proconfig
  FROM pg_proc p WHERE p.pronamespace = 'customer_profile'::regnamespace AND p.prosecdef ORDER BY p.oid::regprocedure::text;
