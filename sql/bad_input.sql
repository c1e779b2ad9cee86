-- Hostile and broken input: every public function called with NULLs, then
-- the main entry points with empty, huge (10 MB) and malformed values,
-- invalid UTF-8 through the binary (recv) paths, wrong JSON shapes and
-- absurd intervals. Each answer is a result or an error with its SQLSTATE;
-- the server stays up and no failed call leaves a row behind.
SET search_path = customer_profile, public;
CREATE FUNCTION pg_temp.row_counts() RETURNS TABLE (table_name text, row_count bigint) LANGUAGE plpgsql AS $$
DECLARE
    t record;
BEGIN
    FOR t IN SELECT c.oid::regclass AS rel, c.relname FROM pg_class c
              WHERE c.relnamespace = 'customer_profile'::regnamespace AND c.relkind = 'r' ORDER BY c.relname LOOP
        table_name := t.relname;
        EXECUTE format('SELECT count(*) FROM %s', t.rel) INTO row_count;
        RETURN NEXT;
    END LOOP;
END $$;
SELECT resolve_identity('{"crm_id": "interval-1"}') AS ip \gset
SELECT event_measure_define('visit', 'seconds');
CREATE TEMP TABLE before_counts AS SELECT * FROM pg_temp.row_counts();

-- 1. Every public function with every argument NULL. (Functions that start or
-- stop workers or rewrite the whole graph are left out: their NULL-free
-- signatures are tested elsewhere.)
CREATE FUNCTION pg_temp.call_with_nulls(f regprocedure) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    args text;
    result text;
BEGIN
    SELECT string_agg(format('NULL::%s', format_type(t, NULL)), ', ' ORDER BY ord) INTO args
      FROM unnest((SELECT p.proargtypes::oid[] FROM pg_proc p WHERE p.oid = f)) WITH ORDINALITY AS a(t, ord);
    BEGIN
        EXECUTE format('SELECT (%s(%s))::text', f::oid::regproc, coalesce(args, '')) INTO result;
        RETURN CASE WHEN result IS NULL THEN 'NULL' ELSE 'a value' END;
    EXCEPTION WHEN OTHERS THEN
        RETURN SQLSTATE || ': ' || SQLERRM;
    END;
END $$;
SELECT p.oid::regprocedure AS function, pg_temp.call_with_nulls(p.oid) AS with_nulls
  FROM pg_proc p
 WHERE p.pronamespace = 'customer_profile'::regnamespace AND p.proname NOT LIKE '\_%'
   AND p.prorettype <> 'trigger'::regtype AND p.prokind = 'f' AND p.proretset = false
   AND NOT ('internal'::regtype = ANY (p.proargtypes::oid[])) AND p.prorettype <> 'cstring'::regtype
   AND p.proname NOT IN ('worker_start', 'worker_stop', 'identity_rebuild', 'retention_run', 'profiles_wide_refresh')
 ORDER BY p.oid::regprocedure::text;
SELECT p.oid::regprocedure AS set_returning_function,
       (SELECT regress.err(format('SELECT * FROM %s(%s)', p.oid::regproc,
                                  (SELECT string_agg(format('NULL::%s', format_type(t, NULL)), ', ')
                                     FROM unnest(p.proargtypes::oid[]) t)))) AS with_nulls
  FROM pg_proc p
 WHERE p.pronamespace = 'customer_profile'::regnamespace AND p.proname NOT LIKE '\_%' AND p.proretset
 ORDER BY p.oid::regprocedure::text;

-- 2. Empty values.
SELECT regress.err($$SELECT customer_profile.resolve_identity('{}')$$) AS empty_identities;
-- An empty identifier is a blocked value: refused (NULL, no profile) and counted by the guard rails.
SELECT customer_profile.resolve_identity('{"email": ""}') IS NULL AS empty_identifier_refused;
SELECT regress.err($$SELECT customer_profile.resolve_identity('{"": "x"}')$$) AS empty_namespace;
SELECT regress.err($$SELECT customer_profile.identity_lookup('', '')$$) AS empty_lookup;
SELECT regress.err($$SELECT customer_profile.trait_observe('{"crm_id": "bad-1"}', '{}', 'crm')$$) AS no_traits;
SELECT regress.err($$SELECT customer_profile.trait_observe('{"crm_id": "bad-1"}', '{"": 1}', 'crm')$$) AS empty_trait_name;
SELECT regress.err($$SELECT customer_profile.trait_observe('{"crm_id": "bad-1"}', '{"a": 1}', '')$$) AS empty_source;
SELECT regress.err($$SELECT customer_profile.track('{"crm_id": "bad-1"}', '', now())$$) AS empty_event_type;
SELECT regress.err($$SELECT customer_profile.track('{"crm_id": "bad-1"}', 'visit', now(), '{}', '')$$) AS empty_event_id;
SELECT regress.err($$SELECT customer_profile.segment_create('', 'known')$$) AS empty_segment_name;
SELECT regress.err($$SELECT customer_profile.segment_create('s', '')$$) AS empty_predicate;
SELECT regress.err($$SELECT ''::customer_profile.profile$$) AS empty_profile_text;
SELECT regress.err($$SELECT customer_profile.profile_from_binary('')$$) AS empty_profile_binary;
SELECT regress.err($$SELECT customer_profile.consent_set('{"crm_id": "bad-1"}', '', true, 'web')$$) AS empty_purpose;
SELECT regress.err($$SELECT customer_profile.event_measure_define('', '')$$) AS empty_measure;
SELECT regress.err($$SELECT customer_profile.trait_define('', 'text')$$) AS empty_trait_definition;
SELECT regress.err($$SELECT customer_profile.identity_namespace_create('')$$) AS empty_namespace_definition;

-- 3. Huge values: 10 MB strings wherever a string goes.
-- Messages quote at most about 1 kB of the input (C functions) or 64
-- characters (refused names); shown here cut to 100 characters with their length.
CREATE TEMP TABLE huge AS SELECT repeat('x', 10 * 1024 * 1024) AS s;
CREATE FUNCTION pg_temp.short(q text) RETURNS text LANGUAGE sql AS $$
    SELECT left(e, 100) || CASE WHEN length(e) > 100 THEN format(' ... (%s characters)', length(e)) ELSE '' END
      FROM regress.err(q) e $$;
SELECT pg_temp.short(format('SELECT customer_profile.resolve_identity(%L)', jsonb_build_object('crm_id', s))) AS huge_identifier FROM huge;
SELECT pg_temp.short(format('SELECT customer_profile.resolve_identity(%L)', jsonb_build_object('email', s || '@x.com'))) AS huge_email FROM huge;
SELECT pg_temp.short(format('SELECT customer_profile.identity_lookup(%L, %L)', s, 'x')) AS huge_namespace FROM huge;
SELECT pg_temp.short(format('SELECT customer_profile.trait_observe(%L, %L, %L)', '{"crm_id": "bad-1"}', jsonb_build_object('note', s), 'crm')) AS huge_trait_value FROM huge;
SELECT pg_temp.short(format('SELECT customer_profile.trait_observe(%L, %L, %L)', '{"crm_id": "bad-1"}', jsonb_build_object(s, 1), 'crm')) AS huge_trait_name FROM huge;
SELECT pg_temp.short(format('SELECT customer_profile.trait_observe(%L, %L, %L)', '{"crm_id": "bad-1"}', '{"a": 1}', s)) AS huge_source FROM huge;
SELECT pg_temp.short(format('SELECT customer_profile.track(%L, %L, now())', '{"crm_id": "bad-1"}', s)) AS huge_event_type FROM huge;
SELECT pg_temp.short(format('SELECT customer_profile.track(%L, %L, now(), %L)', '{"crm_id": "bad-1"}', 'visit', jsonb_build_object('p', s))) AS huge_properties FROM huge;
SELECT pg_temp.short(format('SELECT customer_profile.track(%L, %L, now(), %L, %L)', '{"crm_id": "bad-1"}', 'visit', '{}', s)) AS huge_event_id FROM huge;
SELECT pg_temp.short(format('SELECT %L::customer_profile.segment_predicate', 'a = ' || quote_literal(s))) AS huge_predicate FROM huge;
SELECT pg_temp.short(format('SELECT %L::customer_profile.profile', jsonb_build_object('traits', jsonb_build_object('a', jsonb_build_object('value', s, 'source', 'crm', 'observed_at', '2026-01-01T00:00:00Z'))))) AS huge_profile FROM huge;
SELECT pg_temp.short(format('SELECT customer_profile.segment_create(%L, %L)', s, 'known')) AS huge_segment_name FROM huge;
SELECT pg_temp.short(format('SELECT customer_profile.consent_set(%L, %L, true, %L)', '{"crm_id": "bad-1"}', s, 'web')) AS huge_purpose FROM huge;
SELECT pg_temp.short(format('SELECT customer_profile.profile_forget(%L, %L)', 'crm_id', s)) AS huge_forget FROM huge;
DROP TABLE huge;

-- 4. Invalid UTF-8 and corrupt bytes through the binary paths (bytea, and
-- COPY ... FORMAT binary, which calls the types' recv functions).
SELECT regress.err($$SELECT customer_profile.profile_from_binary('\xff')$$) AS unknown_version;
SELECT regress.err($$SELECT customer_profile.profile_from_binary(customer_profile.profile_send('{"traits": {"ab": {"value": "cd", "source": "crm", "observed_at": "2026-01-01T00:00:00Z"}}}'))$$) AS valid_round_trip;
SELECT regress.err(format('SELECT customer_profile.profile_from_binary(%L::bytea)',
       overlay(customer_profile.profile_send('{"traits": {"ab": {"value": "cd", "source": "crm", "observed_at": "2026-01-01T00:00:00Z"}}}') placing '\xfffe'::bytea
               from octet_length(customer_profile.profile_send('{"traits": {"ab": {"value": "cd", "source": "crm", "observed_at": "2026-01-01T00:00:00Z"}}}')) - 1))) AS invalid_utf8_value;
CREATE TEMP TABLE recv_profile (p customer_profile.profile);
CREATE TEMP TABLE recv_predicate (q customer_profile.segment_predicate);
CREATE FUNCTION pg_temp.copy_binary(bytes bytea, target text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE format('COPY (SELECT %L::bytea) TO %L WITH (FORMAT binary)', bytes, '/tmp/customer_profile_bad_input.bin');
    EXECUTE format('COPY %s FROM %L WITH (FORMAT binary)', target, '/tmp/customer_profile_bad_input.bin');
    RETURN 'accepted';
EXCEPTION WHEN OTHERS THEN
    RETURN SQLSTATE || ': ' || SQLERRM;
END $$;
SELECT pg_temp.copy_binary(customer_profile.profile_send('{"traits": {"a": {"value": 1, "source": "crm", "observed_at": "2026-01-01T00:00:00Z"}}}'), 'recv_profile') AS good_profile;
SELECT pg_temp.copy_binary('\x01', 'recv_profile') AS truncated_profile;
SELECT pg_temp.copy_binary(overlay(customer_profile.profile_send('{"traits": {"ab": {"value": "cd", "source": "crm", "observed_at": "2026-01-01T00:00:00Z"}}}') placing '\xc328'::bytea
                                   from octet_length(customer_profile.profile_send('{"traits": {"ab": {"value": "cd", "source": "crm", "observed_at": "2026-01-01T00:00:00Z"}}}')) - 1),
                           'recv_profile') AS profile_invalid_utf8;
SELECT pg_temp.copy_binary(customer_profile.segment_predicate_send('a = ''bc'''), 'recv_predicate') AS good_predicate;
SELECT pg_temp.copy_binary(overlay(customer_profile.segment_predicate_send('a = ''bc''') placing '\xc328'::bytea
                                   from octet_length(customer_profile.segment_predicate_send('a = ''bc''')) - 1),
                           'recv_predicate') AS predicate_invalid_utf8;
SELECT pg_temp.copy_binary('\x01ffffffffffffffffff01', 'recv_predicate') AS predicate_garbage;
SELECT count(*) AS profiles_received FROM recv_profile;
SELECT count(*) AS predicates_received FROM recv_predicate;
-- Text and jsonb arguments cannot carry invalid UTF-8: the server refuses it before any function runs.
SELECT regress.err($$SELECT customer_profile.resolve_identity(convert_from('\x7b22656d61696c223a2022c328407822207d', 'UTF8')::jsonb)$$) AS invalid_utf8_json;

-- 5. Wrong JSON shapes.
SELECT regress.err($$SELECT customer_profile.resolve_identity('[]')$$) AS identities_array;
SELECT regress.err($$SELECT customer_profile.resolve_identity('"x"')$$) AS identities_string;
SELECT regress.err($$SELECT customer_profile.resolve_identity('{"email": [1]}')$$) AS identifier_array_of_numbers;
SELECT regress.err($$SELECT customer_profile.resolve_identity('{"email": {"v": 1}}')$$) AS identifier_object;
SELECT regress.err($$SELECT customer_profile.resolve_identity('{"crm_id": 12}')$$) AS identifier_number;
SELECT regress.err($$SELECT customer_profile.trait_observe('{"crm_id": "bad-1"}', '[1, 2]', 'crm')$$) AS traits_array;
SELECT regress.err($$SELECT customer_profile.trait_observe('{"crm_id": "bad-1"}', 'null', 'crm')$$) AS traits_null;
SELECT regress.err($$SELECT customer_profile.track('{"crm_id": "bad-1"}', 'visit', now(), '[1]')$$) AS properties_array;
SELECT regress.err($$SELECT customer_profile.consent_set('[]', 'analytics', true, 'web')$$) AS consent_identities_array;
SELECT regress.err($$SELECT '{"traits": []}'::customer_profile.profile$$) AS profile_traits_array;
SELECT regress.err($$SELECT '{"traits": {"a": {"value": 1, "type": "colour", "source": "crm", "observed_at": "2026-01-01T00:00:00Z"}}}'::customer_profile.profile$$) AS profile_bad_type;
SELECT regress.err($$SELECT '{"traits": {"a": 1}, "extra": true}'::customer_profile.profile$$) AS profile_extra_key;
SELECT regress.err($$SELECT customer_profile.profile_attach_table('pg_class', 'crm', '[]')$$) AS attach_identity_columns_array;

-- 6. Negative and enormous intervals and times.
SELECT regress.err(format('SELECT customer_profile.event_count(%s, %L, interval %L)', :ip, 'visit', '-1 day')) AS negative_window;
SELECT regress.err(format('SELECT customer_profile.event_count(%s, %L, interval %L)', :ip, 'visit', '1000000 years')) AS enormous_window;
SELECT regress.err(format('SELECT customer_profile.event_count(%s, %L, interval %L)', :ip, 'visit', '-178000000 years')) AS hugely_negative_window;
SELECT regress.err(format('SELECT customer_profile.event_count(%s, %L, interval %L)', :ip, 'visit', '2562047788 hours')) AS enormous_time_window;
SELECT regress.err(format('SELECT customer_profile.event_sum(%s, %L, %L, interval %L)', :ip, 'visit', 'seconds', '-5 minutes')) AS negative_sum_window;
SELECT regress.err($$SELECT 'count(visit within 100000 days) > 1'::customer_profile.segment_predicate$$) AS predicate_window_too_long;
SELECT regress.err($$SELECT 'last_seen() > now() - 9999999999 days'::customer_profile.segment_predicate$$) AS predicate_interval_overflow;
SELECT regress.err($$SELECT customer_profile.track('{"crm_id": "interval-1"}', 'visit', 'infinity')$$) AS infinite_time;
SELECT regress.err($$SELECT customer_profile.track('{"crm_id": "interval-1"}', 'visit', '4713-01-01 BC')$$) AS ancient_time;
SELECT regress.err($$SELECT customer_profile.trait_observe('{"crm_id": "interval-1"}', '{"a": 1}', 'crm', '-infinity')$$) AS observed_minus_infinity;
SELECT regress.err($$SELECT customer_profile.consent_set('{"crm_id": "interval-1"}', 'analytics', true, 'web', 'infinity')$$) AS consent_infinity;
SELECT regress.err($$SELECT customer_profile.segment_windows_run(-1)$$) AS negative_batch;
SELECT regress.err($$SELECT * FROM customer_profile.event_inbox_drain(-5)$$) AS negative_drain;
SELECT regress.err($$SELECT * FROM customer_profile.segment_outbox_read('c', -1)$$) AS negative_max_changes;

-- Nothing partial: every table holds what it held before (but the guard rails' count of the refused empty identifier).
SELECT coalesce(b.table_name, a.table_name) AS table_name, b.row_count AS before, a.row_count AS after
  FROM before_counts b FULL JOIN pg_temp.row_counts() a USING (table_name)
 WHERE b.row_count IS DISTINCT FROM a.row_count ORDER BY 1;
SELECT 'still up' AS server;
DELETE FROM event_measure WHERE event_type = 'visit' AND property = 'seconds';
