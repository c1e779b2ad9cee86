-- Upgrade path: install 1.0, fill it with data through each version's own
-- API, update one version at a time to the current one, check that the data
-- is kept and still works, and compare every definition with a fresh install
-- (CREATE EXTENSION on an empty schema, the same definitions replayed through
-- the current API). Definitions, not names: function bodies and attributes,
-- view definitions, columns, constraints, indexes, triggers, sequences,
-- types, operators, ACLs, comments, extension membership and the tables
-- pg_dump saves. The two paths run different scripts: CREATE EXTENSION runs
-- the install script the build generates from src/sql/current, the update
-- runs the released scripts of src/sql/history and then src/sql/upgrade. An
-- object changed in src/sql/current without an update step (or the other way
-- round) is a difference here. The end shows that the comparison reports
-- drift of every kind.
\set VERBOSITY terse
SET client_min_messages = warning;
DROP EXTENSION customer_profile CASCADE;
RESET client_min_messages;

-- Every definition of the extension, one row per (kind, object, attribute),
-- named without OIDs so that two installs compare. ACLs are sorted and a
-- default ACL is spelled out, so that a grant order or an explicit grant of
-- the defaults is no difference.
CREATE FUNCTION pg_temp.acl(acl aclitem[], kind text, owner oid) RETURNS text
    LANGUAGE sql STABLE AS $$
    SELECT string_agg(a::text, ' ' ORDER BY a::text)
      FROM unnest(coalesce(acl, CASE WHEN kind = 'c' THEN '{}' ELSE pg_catalog.acldefault(kind::"char", owner) END)) a
$$;
-- The rows the install writes: the default namespaces (and their sequence)
-- and the settings but the salt, which is random. (Read at run time: the
-- tables do not exist when the view is made.)
CREATE FUNCTION pg_temp.install_rows() RETURNS TABLE (kind text, object text, attribute text, value text)
    LANGUAGE plpgsql STABLE AS $$
BEGIN
    IF to_regclass('customer_profile.namespace') IS NULL THEN
        RETURN;
    END IF;
    RETURN QUERY EXECUTE $q$
        SELECT 'install row', 'namespace ' || n.name, 'row', (to_jsonb(n) - 'created_at')::text
          FROM customer_profile.namespace n
        UNION ALL
        SELECT 'install row', 'settings', 'row', (to_jsonb(s) - 'salt')::text FROM customer_profile.settings s
        UNION ALL
        SELECT 'install row', 'namespace_namespace_id_seq', 'value', q.last_value::text
          FROM customer_profile.namespace_namespace_id_seq q $q$;
END
$$;
CREATE TEMP VIEW cp_definitions (kind, object, attribute, value) AS
WITH ext AS (SELECT * FROM pg_extension WHERE extname = 'customer_profile'),
     nsp AS (SELECT oid FROM pg_namespace WHERE nspname = 'customer_profile'),
     member AS (SELECT d.classid, d.objid FROM pg_depend d, ext
                 WHERE d.refclassid = 'pg_extension'::regclass AND d.refobjid = ext.oid AND d.deptype = 'e'),
     rel AS (SELECT c.*, c.oid AS reloid FROM pg_class c, nsp WHERE c.relnamespace = nsp.oid
              AND c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f', 'c')),
     trig AS (SELECT t.* FROM pg_trigger t JOIN pg_proc p ON p.oid = t.tgfoid JOIN pg_class c ON c.oid = t.tgrelid, nsp
               WHERE NOT t.tgisinternal AND nsp.oid IN (p.pronamespace, c.relnamespace))
-- The extension: version, schema and the tables pg_dump saves with it.
SELECT 'extension', 'customer_profile', a.attribute, a.value
  FROM ext, LATERAL (VALUES
       ('version', ext.extversion),
       ('schema', ext.extnamespace::regnamespace::text),
       ('relocatable', ext.extrelocatable::text),
       ('owner', pg_get_userbyid(ext.extowner)),
       ('comment', obj_description(ext.oid, 'pg_extension'))) a(attribute, value)
UNION ALL
SELECT 'extension', 'customer_profile', 'dumps ' || t.tbl::regclass::text, coalesce(t.cond, '')
  FROM ext, unnest(ext.extconfig, ext.extcondition) t(tbl, cond)
UNION ALL
-- Members, by description: also those of kinds not compared below.
SELECT 'member', pg_describe_object(d.classid, d.objid, 0), 'member', 'true'
  FROM member d
UNION ALL
SELECT 'schema', 'customer_profile', a.attribute, a.value
  FROM pg_namespace n, nsp, LATERAL (VALUES
       ('owner', pg_get_userbyid(n.nspowner)),
       ('acl', pg_temp.acl(n.nspacl, 'n', n.nspowner)),
       ('comment', obj_description(n.oid, 'pg_namespace'))) a(attribute, value)
 WHERE n.oid = nsp.oid
UNION ALL
-- Functions and procedures: body, every attribute, ACL, comment.
SELECT 'function', p.oid::regprocedure::text, a.attribute, a.value
  FROM pg_proc p JOIN pg_language l ON l.oid = p.prolang JOIN nsp ON p.pronamespace = nsp.oid
  LEFT JOIN pg_aggregate g ON g.aggfnoid = p.oid,
       LATERAL (VALUES
       ('member', EXISTS (SELECT 1 FROM member m WHERE m.classid = 'pg_proc'::regclass AND m.objid = p.oid)::text),
       ('kind', p.prokind::text),
       ('language', l.lanname),
       ('body', CASE WHEN p.prosqlbody IS NOT NULL THEN pg_get_function_sqlbody(p.oid) ELSE p.prosrc END),
       ('library', p.probin),
       ('arguments', pg_get_function_arguments(p.oid)),
       ('returns', pg_get_function_result(p.oid)),
       ('volatility', p.provolatile::text),
       ('strict', p.proisstrict::text),
       ('security definer', p.prosecdef::text),
       ('leakproof', p.proleakproof::text),
       ('parallel', p.proparallel::text),
       ('config', p.proconfig::text),
       ('cost', p.procost::text),
       ('rows', p.prorows::text),
       ('support', p.prosupport::regproc::text),
       ('owner', pg_get_userbyid(p.proowner)),
       ('acl', pg_temp.acl(p.proacl, 'f', p.proowner)),
       ('comment', obj_description(p.oid, 'pg_proc')),
       ('aggregate', CASE WHEN g.aggfnoid IS NOT NULL THEN concat_ws(' ', g.aggkind, g.aggtransfn::regproc,
                     g.aggfinalfn::regproc, g.aggcombinefn::regproc, g.aggtranstype::regtype, g.agginitval) END)
       ) a(attribute, value)
UNION ALL
-- Tables, partitions, views, sequences: kind, options, partitioning, view
-- definition, row security, ACL, comment, membership.
SELECT 'relation', c.reloid::regclass::text, a.attribute, a.value
  FROM rel c,
       LATERAL (VALUES
       ('member', EXISTS (SELECT 1 FROM member m WHERE m.classid = 'pg_class'::regclass AND m.objid = c.reloid)::text),
       ('kind', c.relkind::text),
       ('persistence', c.relpersistence::text),
       ('options', (SELECT string_agg(o, ',' ORDER BY o) FROM unnest(c.reloptions) o)),
       ('partitioned by', pg_get_partkeydef(c.reloid)),
       ('partition of', (SELECT string_agg(i.inhparent::regclass::text, ',' ORDER BY i.inhparent::regclass::text)
                           FROM pg_inherits i WHERE i.inhrelid = c.reloid)),
       ('partition bound', pg_get_expr(c.relpartbound, c.reloid)),
       ('view definition', CASE WHEN c.relkind IN ('v', 'm') THEN pg_get_viewdef(c.reloid, true) END),
       ('row security', c.relrowsecurity::text || '/' || c.relforcerowsecurity::text),
       ('replica identity', c.relreplident::text),
       ('owner', pg_get_userbyid(c.relowner)),
       ('acl', pg_temp.acl(c.relacl, CASE c.relkind WHEN 'S' THEN 's' ELSE 'r' END, c.relowner)),
       -- Who may use the row type (a column of it pins the relation).
       ('row type acl', (SELECT pg_temp.acl(t.typacl, 'T', t.typowner) FROM pg_type t WHERE t.oid = c.reltype)),
       ('comment', obj_description(c.reloid, 'pg_class'))) a(attribute, value)
UNION ALL
-- Columns: position, type, default, not null, identity, generation,
-- collation, column ACL, comment.
SELECT 'column', c.reloid::regclass::text || '.' || quote_ident(t.attname), a.attribute, a.value
  FROM rel c
  JOIN (SELECT at.*, row_number() OVER (PARTITION BY at.attrelid ORDER BY at.attnum) AS position
          FROM pg_attribute at WHERE at.attnum > 0 AND NOT at.attisdropped) t ON t.attrelid = c.reloid
  LEFT JOIN pg_attrdef ad ON ad.adrelid = t.attrelid AND ad.adnum = t.attnum,
       LATERAL (VALUES
       ('position', t.position::text),
       ('type', format_type(t.atttypid, t.atttypmod)),
       ('not null', t.attnotnull::text),
       ('default', pg_get_expr(ad.adbin, ad.adrelid)),
       ('identity', nullif(t.attidentity, '')::text),
       ('generated', nullif(t.attgenerated, '')::text),
       ('collation', (SELECT co.collname FROM pg_collation co WHERE co.oid = t.attcollation
                         AND t.attcollation <> 'pg_catalog.default'::regcollation)),
       ('statistics', nullif(t.attstattarget, -1)::text),
       ('storage', t.attstorage::text || '/' || coalesce(nullif(t.attcompression, '')::text, '-')),
       -- (this server's build marks every column with a pg_attver option)
       ('options', (SELECT string_agg(o, ',' ORDER BY o) FROM unnest(t.attoptions) o WHERE o NOT LIKE 'pg\_attver=%')),
       ('acl', pg_temp.acl(t.attacl, 'c', c.relowner)),
       ('comment', col_description(t.attrelid, t.attnum))) a(attribute, value)
UNION ALL
-- Constraints of tables and domains.
SELECT 'constraint', coalesce(r.reloid::regclass::text, k.contypid::regtype::text) || ' ' || quote_ident(k.conname),
       a.attribute, a.value
  FROM pg_constraint k LEFT JOIN rel r ON r.reloid = k.conrelid, nsp,
       LATERAL (VALUES
       ('definition', pg_get_constraintdef(k.oid)),
       ('deferrable', k.condeferrable::text || '/' || k.condeferred::text),
       ('validated', k.convalidated::text),
       ('comment', obj_description(k.oid, 'pg_constraint'))) a(attribute, value)
 WHERE k.connamespace = nsp.oid
UNION ALL
-- Indexes: definition (columns, method, uniqueness, predicate), the
-- partitioned index it is attached to, clustering, comment.
SELECT 'index', x.indexrelid::regclass::text, a.attribute, a.value
  FROM pg_index x JOIN rel r ON r.reloid = x.indrelid,
       LATERAL (VALUES
       ('definition', pg_get_indexdef(x.indexrelid)),
       ('attached to', (SELECT string_agg(i.inhparent::regclass::text, ',') FROM pg_inherits i
                         WHERE i.inhrelid = x.indexrelid)),
       ('clustered', x.indisclustered::text),
       ('replica identity', x.indisreplident::text),
       ('comment', obj_description(x.indexrelid, 'pg_class'))) a(attribute, value)
UNION ALL
-- Triggers on the extension's tables, and the extension's triggers on
-- other tables (attached CRM tables).
SELECT 'trigger', t.tgrelid::regclass::text || ' ' || quote_ident(t.tgname), a.attribute, a.value
  FROM trig t,
       LATERAL (VALUES
       ('definition', pg_get_triggerdef(t.oid)),
       ('enabled', t.tgenabled::text),
       ('comment', obj_description(t.oid, 'pg_trigger'))) a(attribute, value)
UNION ALL
SELECT 'rule', r.ev_class::regclass::text || ' ' || quote_ident(r.rulename), 'definition', pg_get_ruledef(r.oid)
  FROM pg_rewrite r JOIN rel c ON c.reloid = r.ev_class
 WHERE r.rulename <> '_RETURN'
UNION ALL
SELECT 'policy', p.polrelid::regclass::text || ' ' || quote_ident(p.polname), a.attribute, a.value
  FROM pg_policy p JOIN rel c ON c.reloid = p.polrelid,
       LATERAL (VALUES
       ('command', p.polcmd::text || '/' || p.polpermissive::text),
       ('roles', (SELECT string_agg(CASE WHEN r = 0 THEN 'public' ELSE pg_get_userbyid(r)::text END, ',' ORDER BY 1)
                    FROM unnest(p.polroles) r)),
       ('using', pg_get_expr(p.polqual, p.polrelid)),
       ('with check', pg_get_expr(p.polwithcheck, p.polrelid))) a(attribute, value)
UNION ALL
-- Sequences: parameters and owning column (not their values: data).
SELECT 'sequence', s.seqrelid::regclass::text, a.attribute, a.value
  FROM pg_sequence s JOIN rel c ON c.reloid = s.seqrelid,
       LATERAL (VALUES
       ('parameters', concat_ws(' ', format_type(s.seqtypid, NULL), s.seqstart, s.seqincrement, s.seqmin, s.seqmax,
                                s.seqcache, s.seqcycle)),
       ('owned by', (SELECT d.refobjid::regclass::text || '.' || quote_ident(at.attname)
                       FROM pg_depend d JOIN pg_attribute at ON at.attrelid = d.refobjid AND at.attnum = d.refobjsubid
                      WHERE d.classid = 'pg_class'::regclass AND d.objid = s.seqrelid
                        AND d.refclassid = 'pg_class'::regclass AND d.deptype IN ('a', 'i')))) a(attribute, value)
UNION ALL
-- Types of their own (row types of tables and array types follow their
-- relation or element).
SELECT 'type', t.oid::regtype::text, a.attribute, a.value
  FROM pg_type t JOIN nsp ON t.typnamespace = nsp.oid,
       LATERAL (VALUES
       ('member', EXISTS (SELECT 1 FROM member m WHERE m.classid = 'pg_type'::regclass AND m.objid = t.oid)::text),
       ('kind', t.typtype::text || '/' || t.typcategory::text),
       ('functions', concat_ws(' ', t.typinput::regproc, t.typoutput::regproc, t.typreceive::regproc,
                               t.typsend::regproc, t.typmodin::regproc, t.typmodout::regproc, t.typanalyze::regproc)),
       ('storage', concat_ws(' ', t.typlen, t.typbyval, t.typalign, t.typstorage, t.typcollation <> 0)),
       ('delimiter and preference', t.typdelim::text || ' ' || t.typispreferred::text),
       ('default', t.typdefault),
       ('domain of', CASE WHEN t.typtype = 'd' THEN format_type(t.typbasetype, t.typtypmod) || ' not null '
                          || t.typnotnull END),
       ('labels', (SELECT string_agg(e.enumlabel, ',' ORDER BY e.enumsortorder) FROM pg_enum e
                    WHERE e.enumtypid = t.oid)),
       ('owner', pg_get_userbyid(t.typowner)),
       ('acl', pg_temp.acl(t.typacl, 'T', t.typowner)),
       ('comment', obj_description(t.oid, 'pg_type'))) a(attribute, value)
 WHERE NOT (t.typrelid <> 0 AND (SELECT c.relkind FROM pg_class c WHERE c.oid = t.typrelid) <> 'c')
   AND NOT (t.typcategory = 'A' AND t.typelem <> 0)
UNION ALL
SELECT 'operator', o.oid::regoperator::text, a.attribute, a.value
  FROM pg_operator o JOIN nsp ON o.oprnamespace = nsp.oid,
       LATERAL (VALUES
       ('member', EXISTS (SELECT 1 FROM member m WHERE m.classid = 'pg_operator'::regclass AND m.objid = o.oid)::text),
       ('function', o.oprcode::regproc::text),
       ('result', o.oprresult::regtype::text),
       ('commutator and negator', concat_ws(' ', nullif(o.oprcom, 0)::regoperator, nullif(o.oprnegate, 0)::regoperator)),
       ('estimators', concat_ws(' ', o.oprrest::regproc, o.oprjoin::regproc, o.oprcanhash, o.oprcanmerge)),
       ('comment', obj_description(o.oid, 'pg_operator'))) a(attribute, value)
UNION ALL
SELECT 'cast', format('(%s AS %s)', c.castsource::regtype, c.casttarget::regtype), 'definition',
       concat_ws(' ', c.castfunc::regprocedure, c.castcontext, c.castmethod)
  FROM pg_cast c JOIN member m ON m.classid = 'pg_cast'::regclass AND m.objid = c.oid
UNION ALL
SELECT 'event trigger', e.evtname, 'definition', concat_ws(' ', e.evtevent, e.evtfoid::regproc, e.evtenabled, e.evttags::text)
  FROM pg_event_trigger e JOIN member m ON m.classid = 'pg_event_trigger'::regclass AND m.objid = e.oid
UNION ALL
-- Default privileges in the schema, or of the extension's roles anywhere.
SELECT 'default acl', concat_ws(' ', pg_get_userbyid(d.defaclrole), d.defaclnamespace::regnamespace, d.defaclobjtype),
       'acl', (SELECT string_agg(a::text, ' ' ORDER BY a::text) FROM unnest(d.defaclacl) a)
  FROM pg_default_acl d, nsp
 WHERE d.defaclnamespace = nsp.oid OR pg_get_userbyid(d.defaclrole) LIKE 'customer\_profile\_%'
UNION ALL
-- The extension's roles: attributes, comment, memberships. Roles outlive
-- DROP EXTENSION, so what an update alone does to them shows only in the
-- comparison of two clusters (test/tap/010_install_paths.pl).
SELECT 'role', r.rolname, a.attribute, a.value
  FROM pg_roles r,
       LATERAL (VALUES
       ('attributes', concat_ws(' ', r.rolsuper, r.rolinherit, r.rolcreaterole, r.rolcreatedb, r.rolcanlogin,
                                r.rolreplication, r.rolbypassrls, r.rolconnlimit, r.rolconfig::text)),
       ('comment', shobj_description(r.oid, 'pg_authid')),
       ('member of', (SELECT string_agg(g.rolname, ',' ORDER BY g.rolname) FROM pg_auth_members m
                        JOIN pg_roles g ON g.oid = m.roleid WHERE m.member = r.oid)),
       ('members among the extension''s roles',
        (SELECT string_agg(u.rolname, ',' ORDER BY u.rolname) FROM pg_auth_members m
           JOIN pg_roles u ON u.oid = m.member WHERE m.roleid = r.oid AND u.rolname LIKE 'customer\_profile\_%'))
       ) a(attribute, value)
 WHERE r.rolname LIKE 'customer\_profile\_%'
UNION ALL
SELECT * FROM pg_temp.install_rows();

-- The upgrade path, each version with data written through its own API.
CREATE EXTENSION customer_profile VERSION '1.0';
SELECT extversion FROM pg_extension WHERE extname = 'customer_profile';
SELECT to_regtype('customer_profile.profile') IS NULL AS no_profile_type_in_1_0;
SELECT customer_profile.resolve_identity('{"email": "kept@x.com", "cookie": "ck-kept"}') IS NOT NULL AS data_before_update;
SELECT customer_profile.resolve_identity('{"email": "ann@x.com"}') <> customer_profile.resolve_identity('{"cookie": "ck-ann"}')
       AS two_profiles;
SELECT customer_profile.resolve_identity('{"email": "ann@x.com", "cookie": "ck-ann"}') IS NOT NULL AS merging;
SELECT customer_profile.identity_lookup('email', 'ann@x.com') = customer_profile.identity_lookup('cookie', 'ck-ann') AS merged;
SELECT customer_profile.identity_namespace_create('loyalty', 'lowercase', true) > 0 AS namespace_created;
SELECT customer_profile.resolve_identity('{"loyalty": "L-7", "email": "kept@x.com"}') = customer_profile.identity_lookup('email', 'kept@x.com')
       AS loyalty_linked;

ALTER EXTENSION customer_profile UPDATE TO '1.1';
SELECT customer_profile.trait_define('tier', 'text');
SELECT customer_profile.trait_define('ltv', 'number', 'sum');
SELECT customer_profile.trait_observe('{"email": "kept@x.com"}', '{"tier": "gold", "ltv": 10}', 'crm') IS NOT NULL AS observed;
SELECT customer_profile.trait_observe('{"cookie": "ck-kept"}', '{"ltv": 5}', 'web') IS NOT NULL AS observed;
CREATE TABLE public.upgrade_crm (id integer PRIMARY KEY, email text, tier text);
INSERT INTO public.upgrade_crm VALUES (1, 'crm1@x.com', 'silver');
SELECT customer_profile.profile_attach_table('public.upgrade_crm', 'crm_table', '{"crm_id": "id", "email": "email"}',
                                             '{"tier": "tier"}') AS backfilled;

ALTER EXTENSION customer_profile UPDATE TO '1.2';
SELECT customer_profile.event_measure_define('buy', 'amount');
SELECT customer_profile.event_partitions_ensure(now(), now() + interval '1 month') >= 0 AS partitions;
SELECT customer_profile.track('{"email": "kept@x.com"}', 'buy', now() - interval '1 hour', '{"amount": 30}', 'u-1')
       = customer_profile.identity_lookup('email', 'kept@x.com') AS tracked;
INSERT INTO customer_profile.event_inbox (identities, event_type, occurred_at, properties, event_id)
VALUES ('{"email": "ann@x.com"}', 'buy', to_char((now() - interval '2 hours') AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'),
        '{"amount": 12}', 'u-2');
SELECT taken, applied FROM customer_profile.event_inbox_drain();

ALTER EXTENSION customer_profile UPDATE TO '1.3';
SELECT customer_profile.segment_create('gold', 'tier = ''gold''') > 0 AS created;
SELECT customer_profile.segment_create('buyers', 'count(buy) >= 1') > 0 AS created;
SELECT * FROM customer_profile.segment_refresh('gold');
SELECT * FROM customer_profile.segment_refresh('buyers');
SELECT count(*) AS changes_read FROM customer_profile.segment_outbox_read('upgrade_consumer');
SELECT customer_profile.segment_outbox_ack('upgrade_consumer', max(position)) FROM customer_profile.segment_outbox;

ALTER EXTENSION customer_profile UPDATE TO '1.4';
SELECT customer_profile.consent_set('{"email": "kept@x.com"}', 'email_marketing', true, 'web') IS NOT NULL AS consent;
SELECT customer_profile.segment_create('recent_buyers', 'count(buy within 30 days) >= 1') > 0 AS created;
SELECT * FROM customer_profile.segment_refresh('recent_buyers');

ALTER EXTENSION customer_profile UPDATE TO '1.5';
SELECT customer_profile.value_define('revenue', 'sum(buy.amount)') AS revenue;
SELECT customer_profile.resolve_identity('{"email": "gone@x.com"}') IS NOT NULL AS to_forget;
SELECT customer_profile.profile_forget('email', 'gone@x.com') > 0 AS forgotten;
-- 1.5's identity_remove leaves the identifier's events behind (issue 13, defect 4).
SELECT customer_profile.resolve_identity('{"email": "orph@x.com", "cookie": "orph-ck"}') IS NOT NULL AS person;
SELECT customer_profile.track('{"cookie": "orph-ck"}', 'visit', now(), '{}', 'orph-ev') IS NOT NULL AS tracked;
SELECT customer_profile.identity_remove('cookie', 'orph-ck') AS carved_out;
SELECT count(*) AS orphaned_events_in_1_5 FROM customer_profile.event e
 WHERE NOT EXISTS (SELECT 1 FROM customer_profile.identity i WHERE i.identity_id = e.identity_id);

ALTER EXTENSION customer_profile UPDATE;
SELECT extversion FROM pg_extension WHERE extname = 'customer_profile';

-- The data of every version is kept and works with the current code.
SELECT customer_profile.identity_lookup('email', 'kept@x.com') IS NOT NULL AS data_kept,
       customer_profile.identity_lookup('cookie', 'ck-kept') = customer_profile.identity_lookup('email', 'kept@x.com')
       AS links_kept,
       customer_profile.identity_lookup('loyalty', 'L-7') = customer_profile.identity_lookup('email', 'kept@x.com')
       AS namespace_kept,
       customer_profile.identity_lookup('email', 'ann@x.com') = customer_profile.identity_lookup('cookie', 'ck-ann')
       AS merge_kept,
       customer_profile.identity_lookup('email', 'gone@x.com') IS NULL AS erasure_kept;
SELECT customer_profile.profile_traits(customer_profile.profile_get('email', 'kept@x.com')) AS traits;
SELECT tier, ltv FROM customer_profile.profiles_wide
 WHERE profile_id = customer_profile.identity_lookup('email', 'kept@x.com');
SELECT customer_profile.event_count(customer_profile.identity_lookup('email', 'kept@x.com'), 'buy') AS kept_buys,
       customer_profile.event_sum(customer_profile.identity_lookup('email', 'ann@x.com'), 'buy', 'amount') AS ann_amount;
-- The update removed them, and the same event delivered again counts.
SELECT count(*) AS orphaned_events FROM customer_profile.event e
 WHERE NOT EXISTS (SELECT 1 FROM customer_profile.identity i WHERE i.identity_id = e.identity_id);
SELECT customer_profile.track('{"cookie": "orph-ck"}', 'visit', now(), '{}', 'orph-ev') AS redelivered \gset
SELECT customer_profile.event_count(:redelivered, 'visit') AS redelivered_counts;
SELECT count(*) > 0 AS recomputed
  FROM customer_profile.unified_profile u, LATERAL customer_profile.profile_recompute(u.profile_id);
-- Profiles created before 1.2 take events.
SELECT customer_profile.track('{"email": "kept@x.com"}', 'visit', now()) = customer_profile.identity_lookup('email', 'kept@x.com') AS tracks_after_update;
SELECT customer_profile.event_count(customer_profile.identity_lookup('email', 'kept@x.com'), 'visit') AS visits;
SELECT s AS kept_segments FROM customer_profile.profile_segment(customer_profile.identity_lookup('email', 'kept@x.com')) s ORDER BY 1;
SELECT customer_profile.profile_consent(customer_profile.identity_lookup('email', 'kept@x.com'), 'email_marketing') AS consent_kept;
SELECT revenue FROM customer_profile.customer_value WHERE profile_id = customer_profile.identity_lookup('email', 'kept@x.com');
-- The CRM table attached in 1.1 still flows, into the segments of 1.3.
INSERT INTO public.upgrade_crm VALUES (2, 'crm2@x.com', 'gold');
SELECT customer_profile.profile_trait_text(customer_profile.profile_get('crm_id', '2'), 'tier') AS attached_row_flows,
       customer_profile.profile_segment(customer_profile.identity_lookup('crm_id', '2'), 'gold') AS in_gold;
-- The consumer registered in 1.3 reads what changed since its acknowledgement.
SELECT segment, change FROM customer_profile.segment_outbox_read('upgrade_consumer')
 WHERE profile_id = customer_profile.identity_lookup('crm_id', '2');

CREATE TEMP TABLE updated AS SELECT * FROM cp_definitions;

-- The fresh install, with the same definitions replayed in the same order.
SET client_min_messages = warning;
DROP EXTENSION customer_profile CASCADE;   -- and the attached table's trigger
RESET client_min_messages;
CREATE EXTENSION customer_profile;
SELECT customer_profile.identity_namespace_create('loyalty', 'lowercase', true) > 0 AS namespace_created;
SELECT customer_profile.trait_define('tier', 'text');
SELECT customer_profile.trait_define('ltv', 'number', 'sum');
SELECT customer_profile.profile_attach_table('public.upgrade_crm', 'crm_table', '{"crm_id": "id", "email": "email"}',
                                             '{"tier": "tier"}') AS backfilled;
SELECT customer_profile.event_measure_define('buy', 'amount');
SELECT customer_profile.event_partitions_ensure(now(), now() + interval '1 month') > 0 AS partitions;
SELECT customer_profile.segment_create('gold', 'tier = ''gold''') > 0 AS created;
SELECT customer_profile.segment_create('buyers', 'count(buy) >= 1') > 0 AS created;
SELECT customer_profile.segment_create('recent_buyers', 'count(buy within 30 days) >= 1') > 0 AS created;
SELECT customer_profile.value_define('revenue', 'sum(buy.amount)') AS revenue;
CREATE TEMP TABLE fresh AS SELECT * FROM cp_definitions;

SELECT count(DISTINCT object) > 300 AS many_objects, count(*) > 2000 AS many_definitions FROM fresh;
SELECT kind, count(DISTINCT object) > 0 AS compared FROM fresh GROUP BY kind ORDER BY kind;
-- No difference.
SELECT side, kind, object, attribute, left(value, 300) AS value
  FROM ((SELECT 'only after update' AS side, * FROM updated EXCEPT SELECT 'only after update', * FROM fresh)
        UNION ALL
        (SELECT 'only in fresh install', * FROM fresh EXCEPT SELECT 'only in fresh install', * FROM updated)) d
 ORDER BY kind, object, attribute, side;

-- The comparison reports drift of every kind: change one object of each in
-- the fresh install (and undo it).
BEGIN;
DO $drift$
BEGIN
    -- function bodies: PL/pgSQL (prosrc) and SQL-standard (BEGIN ATOMIC)
    EXECUTE regexp_replace(pg_get_functiondef('customer_profile.segment_drop(text)'::regprocedure),
                           '\$function\$\s*$', E'-- drift\n$function$');
    EXECUTE regexp_replace(pg_get_functiondef('customer_profile.profile_resolve(bigint)'::regprocedure),
                           'BEGIN ATOMIC', 'BEGIN ATOMIC SELECT 1;');
    -- a view definition
    EXECUTE format('CREATE OR REPLACE VIEW customer_profile.merges AS SELECT * FROM (%s) drifted',
                   rtrim(pg_get_viewdef('customer_profile.merges'::regclass), ';'));
END
$drift$;
ALTER FUNCTION customer_profile.identity_normalize(text, text) VOLATILE LEAKPROOF;
ALTER FUNCTION customer_profile.identity_hash(text, text) CALLED ON NULL INPUT;
ALTER FUNCTION customer_profile.identity_components() PARALLEL RESTRICTED;
ALTER FUNCTION customer_profile.profile_identities(bigint) ROWS 7;
ALTER FUNCTION customer_profile.profile_resolve(bigint) SECURITY DEFINER;
ALTER FUNCTION customer_profile.identity_lookup(text, text) RESET search_path;
ALTER FUNCTION customer_profile.segment_size(text) COST 1000;
ALTER FUNCTION customer_profile.identity_explain(text, text, text, text) OWNER TO customer_profile_admin;
COMMENT ON FUNCTION customer_profile.segment_size(text) IS 'drift';
GRANT EXECUTE ON FUNCTION customer_profile.identity_check() TO PUBLIC;
ALTER TABLE customer_profile.settings ADD COLUMN drift integer;
ALTER TABLE customer_profile.identity_link ALTER COLUMN source SET DEFAULT 'drift';
ALTER TABLE customer_profile.profile_merge ALTER COLUMN cause DROP NOT NULL;
ALTER TABLE customer_profile.identity_conflict ALTER COLUMN detail TYPE varchar(500);
ALTER TABLE customer_profile.identity_conflict ADD CONSTRAINT drift CHECK (conflict_id > 0);
ALTER TABLE customer_profile.unified_profile SET (fillfactor = 90);
DROP INDEX customer_profile.identity_profile_idx;
CREATE INDEX drift_idx ON customer_profile.profile_merge (merged_at);
ALTER TABLE customer_profile.namespace DISABLE TRIGGER namespace_changed;
REVOKE SELECT ON customer_profile.profiles FROM customer_profile_reader;
GRANT SELECT (identity_a) ON customer_profile.identity_link TO customer_profile_reader;
GRANT USAGE ON SCHEMA customer_profile TO PUBLIC;
GRANT USAGE ON TYPE customer_profile.profile TO PUBLIC;
ALTER SEQUENCE customer_profile.identity_identity_id_seq INCREMENT BY 2;
COMMENT ON COLUMN customer_profile.identity.last_seen IS 'drift';
ALTER EXTENSION customer_profile DROP FUNCTION customer_profile.segment_members(text);
UPDATE pg_extension SET extconfig = extconfig[2:], extcondition = extcondition[2:] WHERE extname = 'customer_profile';
COMMENT ON EXTENSION customer_profile IS 'drift';
ALTER TABLE customer_profile.segment ALTER COLUMN predicate SET STORAGE EXTERNAL;
ALTER TABLE customer_profile.event_inbox ALTER COLUMN identities SET (n_distinct = 100);
GRANT USAGE ON TYPE customer_profile.merges TO PUBLIC;
ALTER DEFAULT PRIVILEGES IN SCHEMA customer_profile GRANT SELECT ON TABLES TO customer_profile_reader;
COMMENT ON ROLE customer_profile_worker IS 'drift';
GRANT customer_profile_reader TO customer_profile_worker;
ALTER ROLE customer_profile_worker BYPASSRLS;
UPDATE customer_profile.namespace SET priority = 21 WHERE name = 'cookie';
ALTER SEQUENCE customer_profile.namespace_namespace_id_seq RESTART WITH 50;  -- transactional, unlike setval
CREATE TEMP TABLE drifted ON COMMIT DROP AS SELECT * FROM cp_definitions;
SELECT kind, object, found, string_agg(attribute, ', ' ORDER BY attribute) AS attributes
  FROM (SELECT kind, object, attribute,
               CASE WHEN count(*) = 2 THEN 'changed' WHEN min(side) = 'fresh' THEN 'missing' ELSE 'added' END AS found
          FROM ((SELECT 'fresh' AS side, * FROM fresh EXCEPT SELECT 'fresh', * FROM drifted)
                UNION ALL
                (SELECT 'drifted', * FROM drifted EXCEPT SELECT 'drifted', * FROM fresh)) d
         GROUP BY kind, object, attribute) a
 GROUP BY kind, object, found
 ORDER BY kind, object, found;
ROLLBACK;
SELECT count(*) AS drift_undone FROM (SELECT * FROM cp_definitions EXCEPT SELECT * FROM fresh) d;

DROP TABLE public.upgrade_crm;
