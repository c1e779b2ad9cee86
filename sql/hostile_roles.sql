-- Hostile users (issue 14): a login member of each role of the extension
-- tries the known ways to get more than its role gives. Each must be refused
-- with 42501 and leave nothing behind: the last part compares the state of
-- the extension (grants, triggers, rules, policies, objects, definitions,
-- superusers) with what it was before.
\set VERBOSITY terse
SET client_min_messages = warning;
DROP ROLE IF EXISTS hr_reader, hr_writer, hr_admin, hr_worker;
DROP SCHEMA IF EXISTS hr_space CASCADE;
RESET client_min_messages;
-- A schema where each may create objects (its trigger functions, shadows).
CREATE SCHEMA hr_space;
GRANT USAGE ON SCHEMA regress TO PUBLIC;

-- Defect 1, as in the issue: the admin puts its own trigger function on
-- event_key and queues an event; a superuser's call (here the drain; in 1.5
-- also the worker) would fire it, and ALTER ROLE ... SUPERUSER succeeded.
CREATE ROLE hr_admin LOGIN IN ROLE customer_profile_admin;
GRANT USAGE, CREATE ON SCHEMA hr_space TO hr_admin;
SET SESSION AUTHORIZATION hr_admin;
CREATE FUNCTION hr_space.esc() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN
  IF (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) THEN EXECUTE 'ALTER ROLE hr_admin SUPERUSER'; END IF;
  RETURN NULL; END $$;
SELECT regress.err($$CREATE TRIGGER zz AFTER INSERT ON customer_profile.event_key FOR EACH STATEMENT
                     EXECUTE FUNCTION hr_space.esc()$$) AS admin_trigger;
INSERT INTO customer_profile.event_inbox (identities, event_type, occurred_at)
VALUES ('{"cookie": "hr-escalation"}', 'visit', now()::text);
RESET SESSION AUTHORIZATION;
SELECT applied > 0 AS applied FROM customer_profile.event_inbox_drain(1000);
SELECT rolsuper AS admin_became_superuser FROM pg_roles WHERE rolname = 'hr_admin';
SELECT count(*) AS triggers_on_event_key FROM pg_trigger WHERE tgrelid = 'customer_profile.event_key'::regclass;

-- The other roles.
CREATE ROLE hr_reader LOGIN IN ROLE customer_profile_reader;
CREATE ROLE hr_writer LOGIN IN ROLE customer_profile_writer;
CREATE ROLE hr_worker LOGIN IN ROLE customer_profile_worker;
GRANT USAGE, CREATE ON SCHEMA hr_space TO hr_reader, hr_writer, hr_worker;

-- The state of the extension that no attempt may change.
CREATE FUNCTION hr_space.extension_state(OUT item text, OUT value text) RETURNS SETOF record
    LANGUAGE sql STABLE AS $$
    SELECT 'acl ' || c.oid::regclass, coalesce(c.relacl::text, '') FROM pg_class c
     WHERE c.relnamespace = 'customer_profile'::regnamespace
    UNION ALL
    SELECT 'column acl ' || a.attrelid::regclass || '.' || a.attname, a.attacl::text
      FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
     WHERE c.relnamespace = 'customer_profile'::regnamespace AND a.attacl IS NOT NULL
    UNION ALL
    SELECT 'function ' || p.oid::regprocedure, coalesce(p.proacl::text, '') || ' ' || pg_get_userbyid(p.proowner)
      FROM pg_proc p WHERE p.pronamespace = 'customer_profile'::regnamespace
    UNION ALL
    SELECT 'type ' || t.oid::regtype, coalesce(t.typacl::text, '') || ' ' || pg_get_userbyid(t.typowner)
      FROM pg_type t WHERE t.typnamespace = 'customer_profile'::regnamespace AND t.typrelid = 0
    UNION ALL
    SELECT 'schema', coalesce(n.nspacl::text, '') || ' ' || pg_get_userbyid(n.nspowner)
      FROM pg_namespace n WHERE n.nspname = 'customer_profile'
    UNION ALL
    SELECT 'owner ' || c.oid::regclass, pg_get_userbyid(c.relowner) || ' ' || c.relkind::text || ' ' || c.relrowsecurity
      FROM pg_class c WHERE c.relnamespace = 'customer_profile'::regnamespace
    UNION ALL
    SELECT 'trigger ' || t.tgrelid::regclass || ' ' || t.tgname, t.tgenabled::text
      FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid WHERE c.relnamespace = 'customer_profile'::regnamespace
    UNION ALL
    SELECT 'rule ' || r.ev_class::regclass || ' ' || r.rulename, '' FROM pg_rewrite r JOIN pg_class c ON c.oid = r.ev_class
     WHERE c.relnamespace = 'customer_profile'::regnamespace AND r.rulename <> '_RETURN'
    UNION ALL
    SELECT 'policy ' || p.polrelid::regclass || ' ' || p.polname, '' FROM pg_policy p JOIN pg_class c ON c.oid = p.polrelid
     WHERE c.relnamespace = 'customer_profile'::regnamespace
    UNION ALL
    SELECT 'column ' || a.attrelid::regclass || '.' || a.attname, format_type(a.atttypid, a.atttypmod)
      FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
     WHERE c.relnamespace = 'customer_profile'::regnamespace AND a.attnum > 0 AND NOT a.attisdropped
    UNION ALL
    SELECT 'index ' || i.indexrelid::regclass, pg_get_indexdef(i.indexrelid) FROM pg_index i JOIN pg_class c ON c.oid = i.indrelid
     WHERE c.relnamespace = 'customer_profile'::regnamespace
    UNION ALL
    SELECT 'comment ' || c.oid::regclass, coalesce(obj_description(c.oid, 'pg_class'), '') FROM pg_class c
     WHERE c.relnamespace = 'customer_profile'::regnamespace
    UNION ALL
    SELECT 'extension', e.extversion || ' ' || pg_get_userbyid(e.extowner) FROM pg_extension e WHERE e.extname = 'customer_profile'
    UNION ALL
    SELECT 'member ' || pg_describe_object(d.classid, d.objid, 0), '' FROM pg_depend d
     WHERE d.refclassid = 'pg_extension'::regclass AND d.deptype = 'e'
       AND d.refobjid = (SELECT oid FROM pg_extension WHERE extname = 'customer_profile')
    UNION ALL
    SELECT 'superuser ' || r.rolname, r.rolsuper::text FROM pg_roles r WHERE r.rolname LIKE 'hr\_%' OR r.rolname LIKE 'customer\_profile\_%'
    UNION ALL
    SELECT 'membership ' || pg_get_userbyid(m.member), pg_get_userbyid(m.roleid) FROM pg_auth_members m
     WHERE pg_get_userbyid(m.member) LIKE 'hr\_%' OR pg_get_userbyid(m.member) LIKE 'customer\_profile\_%'
    UNION ALL
    SELECT 'settings', md5(s::text) FROM customer_profile.settings s
    UNION ALL SELECT 'namespace', md5(string_agg(n::text, ',' ORDER BY n.namespace_id)) FROM customer_profile.namespace n
    UNION ALL SELECT 'trait_definition', md5(string_agg(d::text, ',' ORDER BY d.name)) FROM customer_profile.trait_definition d
    UNION ALL SELECT 'segment', md5(string_agg(s::text, ',' ORDER BY s.segment_id)) FROM customer_profile.segment s
    UNION ALL SELECT 'attached_table', md5(string_agg(a::text, ',' ORDER BY a.table_oid)) FROM customer_profile.attached_table a
    UNION ALL SELECT 'event_measure', md5(string_agg(m::text, ',' ORDER BY m.event_type, m.property)) FROM customer_profile.event_measure m
    UNION ALL SELECT 'event_property', md5(string_agg(p::text, ',' ORDER BY p.event_type, p.property)) FROM customer_profile.event_property p
    UNION ALL SELECT 'value_measure', md5(string_agg(v::text, ',' ORDER BY v.kind, v.expression)) FROM customer_profile.value_measure v
    UNION ALL SELECT 'feature', md5(string_agg(f::text, ',' ORDER BY f.name)) FROM customer_profile.feature f
$$;

CREATE TABLE hr_space.state_before AS SELECT * FROM hr_space.extension_state();

-- Each attempt runs as the caller in a subtransaction; the outcome is its
-- SQLSTATE ('ran' if it did not fail).
CREATE TABLE hr_space.outcome (who text, attempt text, sqlstate text);
GRANT INSERT ON hr_space.outcome TO PUBLIC;
CREATE FUNCTION hr_space.try(attempt text, statement text) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    BEGIN
        EXECUTE statement;
        INSERT INTO hr_space.outcome VALUES (current_user, attempt, 'ran');
    EXCEPTION WHEN OTHERS THEN
        INSERT INTO hr_space.outcome VALUES (current_user, attempt, SQLSTATE);
    END;
END $$;

-- What every role tries. Tables, functions and types of the extension are
-- read from the catalog, so a new one is tried as well.
CREATE FUNCTION hr_space.attack() RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    t record;
    f record;
    args text;
BEGIN
    FOR t IN SELECT c.oid::regclass AS rel, c.relkind, CASE c.relkind WHEN 'v' THEN 'VIEW' ELSE 'TABLE' END AS kind,
                    (SELECT quote_ident(a.attname) FROM pg_attribute a
                      WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum LIMIT 1) AS col
               FROM pg_class c
              WHERE c.relnamespace = 'customer_profile'::regnamespace AND c.relkind IN ('r', 'p', 'v')
                AND NOT c.relispartition LOOP
        -- Code of one's own run by others: triggers, rules, policies.
        IF t.relkind <> 'v' THEN
            PERFORM hr_space.try('trigger', format('CREATE TRIGGER hr AFTER INSERT ON %s FOR EACH STATEMENT '
                                                   'EXECUTE FUNCTION hr_space.esc()', t.rel));
            PERFORM hr_space.try('truncate', format('TRUNCATE %s', t.rel));
            PERFORM hr_space.try('policy', format('CREATE POLICY hr ON %s USING (true)', t.rel));
            PERFORM hr_space.try('row security', format('ALTER TABLE %s ENABLE ROW LEVEL SECURITY', t.rel));
            PERFORM hr_space.try('disable triggers', format('ALTER TABLE %s DISABLE TRIGGER ALL', t.rel));
            PERFORM hr_space.try('index', format('CREATE INDEX ON %s (%s)', t.rel, t.col));
            PERFORM hr_space.try('add column', format('ALTER TABLE %s ADD COLUMN hr int', t.rel));
        END IF;
        PERFORM hr_space.try('rule', format('CREATE RULE hr AS ON UPDATE TO %s DO ALSO NOTHING', t.rel));
        -- Taking objects over, or changing them.
        PERFORM hr_space.try('owner', format('ALTER %s %s OWNER TO %I', t.kind, t.rel, current_user));
        PERFORM hr_space.try('comment', format('COMMENT ON %s %s IS %L', t.kind, t.rel, 'hr'));
        PERFORM hr_space.try('drop', format('DROP %s %s', t.kind, t.rel));
    END LOOP;
    -- The catalogs, written directly (each function that writes them checks
    -- what the row may hold; a direct write would skip that).
    FOR t IN SELECT c.oid::regclass AS rel,
                    (SELECT quote_ident(a.attname) FROM pg_attribute a
                      WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped AND a.attidentity = ''
                      ORDER BY a.attnum LIMIT 1) AS col
               FROM pg_class c
              WHERE c.oid IN ('customer_profile.settings'::regclass, 'customer_profile.namespace'::regclass,
                              'customer_profile.trait_definition'::regclass, 'customer_profile.event_measure'::regclass,
                              'customer_profile.event_property'::regclass, 'customer_profile.segment'::regclass,
                              'customer_profile.attached_table'::regclass, 'customer_profile.value_measure'::regclass,
                              'customer_profile.feature'::regclass, 'customer_profile.feature_list'::regclass,
                              'customer_profile.cluster_model'::regclass, 'customer_profile.erasure'::regclass) LOOP
        PERFORM hr_space.try('insert into a catalog', format('INSERT INTO %s DEFAULT VALUES', t.rel));
        PERFORM hr_space.try('update a catalog', format('UPDATE %s SET %s = %s WHERE false', t.rel, t.col, t.col));
        PERFORM hr_space.try('delete from a catalog', format('DELETE FROM %s WHERE false', t.rel));
        PERFORM hr_space.try('lock a catalog', format('LOCK TABLE %s IN EXCLUSIVE MODE NOWAIT', t.rel));
    END LOOP;
    -- Secrets.
    PERFORM hr_space.try('the salt', 'SELECT salt FROM customer_profile.settings');
    -- Functions: taking them over, replacing them, and calling every one
    -- the role is not granted (internal ones above all) with NULL arguments
    -- (from subqueries: a strict function of constant NULLs would be folded
    -- away by the planner without being called).
    FOR f IN SELECT p.oid, p.oid::regprocedure AS proc, p.proname, p.prorettype = 'trigger'::regtype AS is_trigger,
                    (SELECT string_agg(format('(SELECT NULL::%s)', CASE WHEN a.typ = 'anyelement'::regtype
                                                                         THEN 'integer'::regtype ELSE a.typ::regtype END),
                                       ', ' ORDER BY a.n)
                       FROM unnest(p.proargtypes::oid[]) WITH ORDINALITY AS a(typ, n)) AS nulls,
                    EXISTS (SELECT 1 FROM unnest(p.proargtypes::oid[]) a(typ)
                             WHERE a.typ IN ('internal'::regtype, 'cstring'::regtype)) AS pseudo_args
               FROM pg_proc p WHERE p.pronamespace = 'customer_profile'::regnamespace ORDER BY 2::text LOOP
        IF f.proname IN ('identity_hash', 'profile_resolve', 'profile_get', '_identity_hash_or_null',
                         'profile_attach_table', 'worker_start') THEN
            PERFORM hr_space.try('function owner', format('ALTER FUNCTION %s OWNER TO %I', f.proc, current_user));
            PERFORM hr_space.try('function security', format('ALTER FUNCTION %s SECURITY DEFINER', f.proc));
            PERFORM hr_space.try('function drop', format('DROP FUNCTION %s', f.proc));
        END IF;
        IF NOT has_function_privilege(f.oid, 'EXECUTE') AND NOT f.pseudo_args THEN
            PERFORM hr_space.try(CASE WHEN f.is_trigger THEN 'call a trigger function'
                                      WHEN f.proname LIKE '\_%' THEN 'call an internal function'
                                      ELSE 'call a function of another role' END,
                                 format('SELECT %s.%I(%s)', 'customer_profile', f.proname, coalesce(f.nulls, '')));
        END IF;
    END LOOP;
    -- Objects of one's own in the extension's schema, and the extension.
    PERFORM hr_space.try('create in the schema', 'CREATE TABLE customer_profile.hr (x int)');
    PERFORM hr_space.try('create in the schema', 'CREATE FUNCTION customer_profile.hr() RETURNS int LANGUAGE sql RETURN 1');
    PERFORM hr_space.try('create in the schema',
                         'CREATE OR REPLACE FUNCTION customer_profile.identity_hash(text, text) RETURNS bytea '
                         'LANGUAGE sql RETURN NULL');
    PERFORM hr_space.try('schema owner', format('ALTER SCHEMA customer_profile OWNER TO %I', current_user));
    PERFORM hr_space.try('type owner', format('ALTER TYPE customer_profile.profile OWNER TO %I', current_user));
    PERFORM hr_space.try('extension', 'ALTER EXTENSION customer_profile UPDATE');
    PERFORM hr_space.try('extension', 'ALTER EXTENSION customer_profile ADD FUNCTION hr_space.esc()');
    PERFORM hr_space.try('extension', 'DROP EXTENSION customer_profile');
    -- Workers are the superuser's.
    PERFORM hr_space.try('start a worker', 'SELECT customer_profile.worker_start()');
    PERFORM hr_space.try('stop the workers', 'SELECT customer_profile.worker_stop()');
END $$;

-- Tables the admin tries to attach: one it may not create triggers on, one
-- it may not read, one with a column it may not read.
CREATE TABLE hr_space.crm_private (id int PRIMARY KEY, email text);
CREATE TABLE hr_space.crm_readable (id int PRIMARY KEY, email text);
GRANT SELECT ON hr_space.crm_readable TO hr_admin;
CREATE TABLE hr_space.crm_columns (id int PRIMARY KEY, email text, ssn text);
GRANT TRIGGER, SELECT (id, email) ON hr_space.crm_columns TO hr_admin;

SET SESSION AUTHORIZATION hr_reader;
SELECT hr_space.attack();
RESET SESSION AUTHORIZATION;
SET SESSION AUTHORIZATION hr_writer;
SELECT hr_space.attack();
RESET SESSION AUTHORIZATION;
SET SESSION AUTHORIZATION hr_admin;
SELECT hr_space.attack();
SELECT hr_space.try('attach a table without TRIGGER',
                    $$SELECT customer_profile.profile_attach_table('hr_space.crm_readable', 'hr', '{"crm_id": "id"}')$$);
SELECT hr_space.try('attach a table it may not read',
                    $$SELECT customer_profile.profile_attach_table('hr_space.crm_private', 'hr', '{"crm_id": "id"}')$$);
SELECT hr_space.try('attach a column it may not read',
                    $$SELECT customer_profile.profile_attach_table('hr_space.crm_columns', 'hr', '{"crm_id": "id"}',
                                                                   '{"hr_ssn": "ssn"}')$$);
SELECT hr_space.try('record an attachment directly',
                    $$SELECT customer_profile._attached_table_insert('hr_space.crm_columns', 'hr', '{"crm_id": "ssn"}', '{}')$$);
RESET SESSION AUTHORIZATION;
SET SESSION AUTHORIZATION hr_worker;
SELECT hr_space.attack();
RESET SESSION AUTHORIZATION;

-- Every attempt refused with 42501: none is listed here.
SELECT who, attempt, sqlstate, count(*) FROM hr_space.outcome WHERE sqlstate <> '42501'
 GROUP BY 1, 2, 3 ORDER BY 1, 2, 3;
-- What was tried, by whom (each refused).
SELECT attempt, string_agg(DISTINCT who || ' ' || n, ', ') AS tries
  FROM (SELECT who, attempt, count(*) AS n FROM hr_space.outcome GROUP BY 1, 2) o
 GROUP BY attempt ORDER BY attempt;

-- Names the admin controls go into SQL only quoted: a trait, an event type
-- and an attached table named to break out of a statement are names.
SET SESSION AUTHORIZATION hr_admin;
CREATE TABLE hr_space."crm""; DROP TABLE customer_profile.erasure; --" (id int PRIMARY KEY, "e""; DROP ROLE hr_reader; --" text);
INSERT INTO hr_space."crm""; DROP TABLE customer_profile.erasure; --" VALUES (9201, 'hr-quoted');
SELECT customer_profile.trait_define('x"; CREATE ROLE hr_evil SUPERUSER; --', 'text');
SELECT customer_profile.event_measure_define('buy''); DROP TABLE customer_profile.erasure; --', 'amount');
SELECT customer_profile.profile_attach_table('hr_space."crm""; DROP TABLE customer_profile.erasure; --"', 'hr',
                                             '{"crm_id": "id"}', '{"x\"; CREATE ROLE hr_evil SUPERUSER; --": "e\"; DROP ROLE hr_reader; --"}')
       AS attached_quoted;
SELECT customer_profile.profile_traits(customer_profile.profile_get('crm_id', '9201')) ->> 'x"; CREATE ROLE hr_evil SUPERUSER; --'
       AS quoted_trait_flowed;
SELECT customer_profile.profile_detach_table('hr_space."crm""; DROP TABLE customer_profile.erasure; --"');
SELECT count(*) AS quoted_column FROM pg_attribute
 WHERE attrelid = 'customer_profile.profiles_wide'::regclass AND attname = 'x"; CREATE ROLE hr_evil SUPERUSER; --';
RESET SESSION AUTHORIZATION;
SELECT count(*) AS evil_roles FROM pg_roles WHERE rolname = 'hr_evil';
SELECT to_regclass('customer_profile.erasure') IS NOT NULL AS erasure_log_kept,
       EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'hr_reader') AS reader_kept;
DELETE FROM customer_profile.trait_definition WHERE name = 'x"; CREATE ROLE hr_evil SUPERUSER; --';
DELETE FROM customer_profile.event_measure WHERE event_type = 'buy''); DROP TABLE customer_profile.erasure; --';
SELECT customer_profile.profiles_wide_refresh();
SELECT customer_profile.identity_remove('crm_id', '9201');

-- search_path and pg_temp: shadows of pg_catalog's functions and operators
-- in a schema put first on the search_path, and temporary tables named like
-- the extension's, are never used by the extension's functions (each pins
-- search_path = pg_catalog, pg_temp and names its tables with their
-- schema), whoever calls them.
CREATE TABLE hr_space.shadow_calls (who text, what text);
GRANT INSERT ON hr_space.shadow_calls TO PUBLIC;
CREATE FUNCTION hr_space.lower(t text) RETURNS text LANGUAGE sql AS
    $$ INSERT INTO hr_space.shadow_calls VALUES (current_user, 'lower') RETURNING pg_catalog.lower(t) $$;
CREATE FUNCTION hr_space.now() RETURNS timestamptz LANGUAGE sql AS
    $$ INSERT INTO hr_space.shadow_calls VALUES (current_user, 'now') RETURNING pg_catalog.now() $$;
CREATE FUNCTION hr_space.jsonb_typeof(j jsonb) RETURNS text LANGUAGE sql AS
    $$ INSERT INTO hr_space.shadow_calls VALUES (current_user, 'jsonb_typeof') RETURNING pg_catalog.jsonb_typeof(j) $$;
CREATE FUNCTION hr_space.text_eq(a text, b text) RETURNS boolean LANGUAGE sql AS
    $$ INSERT INTO hr_space.shadow_calls VALUES (current_user, 'text =') RETURNING pg_catalog.texteq(a, b) $$;
CREATE OPERATOR hr_space.= (LEFTARG = text, RIGHTARG = text, FUNCTION = hr_space.text_eq);
CREATE FUNCTION hr_space.int8_eq(a bigint, b bigint) RETURNS boolean LANGUAGE sql AS
    $$ INSERT INTO hr_space.shadow_calls VALUES (current_user, 'bigint =') RETURNING pg_catalog.int8eq(a, b) $$;
CREATE OPERATOR hr_space.= (LEFTARG = bigint, RIGHTARG = bigint, FUNCTION = hr_space.int8_eq);
-- This session's temporary schema, which every role below shares.
CREATE TEMP TABLE namespace (namespace_id int, name text);
CREATE TEMP TABLE identity (identity_id bigint, value_hash bytea, profile_id bigint);
CREATE TEMP TABLE segment (segment_id int, name text);
CREATE TEMP TABLE event_inbox (inbox_id bigint, identities jsonb);
GRANT ALL ON pg_temp.namespace, pg_temp.identity, pg_temp.segment, pg_temp.event_inbox TO PUBLIC;

SET SESSION AUTHORIZATION hr_reader;
SET search_path = pg_temp, hr_space, pg_catalog;
SELECT customer_profile.identity_lookup('cookie', 'hr-escalation') IS NOT NULL AS lookup,
       (SELECT count(*) FROM customer_profile.profile_segment(customer_profile.identity_lookup('cookie', 'hr-escalation')))
       >= 0 AS segments,
       customer_profile.identity_normalize('email', ' HR@X.COM ') AS normalized;
RESET search_path;
RESET SESSION AUTHORIZATION;
SET SESSION AUTHORIZATION hr_writer;
SET search_path = pg_temp, hr_space, pg_catalog;
SELECT customer_profile.resolve_identity('{"email": "hr-shadow@x.com", "cookie": "hr-escalation"}') IS NOT NULL AS resolved,
       customer_profile.track('{"email": "hr-shadow@x.com"}', 'hr_visit', pg_catalog.now()) IS NOT NULL AS tracked,
       customer_profile.consent_set('{"email": "hr-shadow@x.com"}', 'hr_news', true, 'hr') IS NOT NULL AS consent;
RESET search_path;
RESET SESSION AUTHORIZATION;
SET SESSION AUTHORIZATION hr_admin;
SET search_path = pg_temp, hr_space, pg_catalog;
SELECT customer_profile.identity_namespace_create('hr_ns', 'lowercase') > 0 AS namespace,
       customer_profile.segment_create('hr_seg', 'count(hr_visit) >= 1') > 0 AS segment;
SELECT entered FROM customer_profile.segment_refresh('hr_seg');
SELECT customer_profile.segment_drop('hr_seg');
SELECT customer_profile.profile_forget('email', 'hr-shadow@x.com') > 0 AS forgotten;
RESET search_path;
RESET SESSION AUTHORIZATION;
SELECT count(*) AS temp_rows FROM (SELECT 1 FROM pg_temp.namespace UNION ALL SELECT 1 FROM pg_temp.identity
                                   UNION ALL SELECT 1 FROM pg_temp.segment UNION ALL SELECT 1 FROM pg_temp.event_inbox) t;
SELECT who, what FROM hr_space.shadow_calls;
DROP TABLE pg_temp.namespace, pg_temp.identity, pg_temp.segment, pg_temp.event_inbox;
DELETE FROM customer_profile.namespace WHERE name = 'hr_ns';

-- Nothing left behind: the extension is as it was before the attempts.
SELECT coalesce(b.item, a.item) AS item, b.value AS before, a.value AS after
  FROM hr_space.state_before b FULL JOIN hr_space.extension_state() a USING (item)
 WHERE b.value IS DISTINCT FROM a.value
 ORDER BY 1;

SET client_min_messages = warning;
DROP SCHEMA hr_space CASCADE;
RESET client_min_messages;
REVOKE USAGE ON SCHEMA regress FROM PUBLIC;
DROP ROLE hr_reader, hr_writer, hr_admin, hr_worker;
