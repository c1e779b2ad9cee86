-- search_path hijacking: a schema placed before pg_catalog on the caller's
-- search_path holds an = operator for bigint and functions named like the
-- built-ins our queries use. Every entry point keeps working, and none of
-- the impostors runs (each would raise "hijacked").
CREATE SCHEMA evil;
CREATE FUNCTION evil.int8eq_hijack(bigint, bigint) RETURNS boolean LANGUAGE plpgsql AS
$$ BEGIN RAISE EXCEPTION 'hijacked: = on bigint'; END $$;
CREATE OPERATOR evil.= (LEFTARG = bigint, RIGHTARG = bigint, FUNCTION = evil.int8eq_hijack);
CREATE FUNCTION evil.unnest(bigint[]) RETURNS SETOF bigint LANGUAGE plpgsql AS
$$ BEGIN RAISE EXCEPTION 'hijacked: unnest'; END $$;
CREATE FUNCTION evil.now() RETURNS timestamptz LANGUAGE plpgsql AS
$$ BEGIN RAISE EXCEPTION 'hijacked: now'; END $$;
CREATE FUNCTION evil.count(bigint) RETURNS bigint LANGUAGE plpgsql AS
$$ BEGIN RAISE EXCEPTION 'hijacked: count'; END $$;
-- The impostors are live for the caller's own queries:
SET search_path = evil, pg_catalog, customer_profile, public;
SELECT regress.err($$SELECT 1::bigint = 1::bigint$$);
SELECT regress.err($$SELECT * FROM unnest('{1}'::bigint[])$$);

-- ...but not inside the extension.
SELECT resolve_identity('{"crm_id": "h-1", "email": "h1@example.com"}') AS p \gset
SELECT resolve_identity('{"email": "h1@example.com", "cookie": "h-c"}') = :p AS merged_by_email;
SELECT trait_observe('{"crm_id": "h-1"}', '{"hometown": "Lyon"}', 'crm') = :p AS observed;
SELECT track('{"crm_id": "h-1"}', 'visit', pg_catalog.now()) = :p AS tracked;
INSERT INTO event_inbox (identities, event_type, occurred_at) VALUES ('{"crm_id": "h-1"}', 'visit', '2026-01-01T00:00:00Z');
SELECT applied FROM event_inbox_drain(10);
SELECT segment_create('visitors', 'count(visit) >= 2 AND known') > 0 AS created;
SELECT entered FROM segment_refresh('visitors');
SELECT profile_segment(:p, 'visitors') AS in_visitors, segment_size('visitors') AS size;
SELECT track('{"crm_id": "h-1"}', 'visit', '2026-01-02T00:00:00Z') = :p AS streamed_again;
SELECT profile_export('crm_id', 'h-1') -> 'identities' IS NOT NULL AS exported;
SELECT consent_set('{"crm_id": "h-1"}', 'analytics', true, 'crm') = :p AS consented;
SELECT profile_consent(:p, 'analytics') AS analytics;
SELECT identity_unlink('email', 'h1@example.com', 'cookie', 'h-c') >= 0 AS unlinked;
SELECT coalesce(sum(count), 0) AS problems FROM identity_check();
SELECT segment_drop('visitors');
SELECT profile_forget('crm_id', 'h-1') IS NOT NULL AS forgotten;
SELECT identity_lookup('crm_id', 'h-1') IS NULL AS gone;
RESET search_path;
DROP SCHEMA evil CASCADE;

-- The catalog, checked: every SECURITY DEFINER function pins search_path,
-- and so does every PL/pgSQL or SQL function whose body is not bound at
-- creation (BEGIN ATOMIC bodies are).
SELECT p.oid::regprocedure AS security_definer_function,
       p.proconfig @> ARRAY['search_path=pg_catalog, pg_temp'] AS pinned
  FROM pg_proc p WHERE p.pronamespace = 'customer_profile'::regnamespace AND p.prosecdef ORDER BY p.oid::regprocedure::text;
SELECT p.oid::regprocedure AS unpinned_function
  FROM pg_proc p JOIN pg_language l ON l.oid = p.prolang
 WHERE p.pronamespace = 'customer_profile'::regnamespace AND l.lanname IN ('plpgsql', 'sql')
   AND p.prosqlbody IS NULL AND NOT coalesce(p.proconfig @> ARRAY['search_path=pg_catalog, pg_temp'], false)
 ORDER BY p.oid::regprocedure::text;
DELETE FROM customer_profile.segment_outbox;
DELETE FROM customer_profile.segment_membership;
