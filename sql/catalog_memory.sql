-- A catalog reloaded inside a call (an invalidation accepted at one of its
-- locks) is kept until the outermost call returns, not until the transaction
-- ends: one transaction that changes a namespace and resolves 300 times does
-- not keep 300 copies of a large catalog (review of issue 15: 1.1 MB per
-- reload of a namespace with 20,000 blocked values, 330 MB here).
SET client_min_messages = warning;
DROP EXTENSION customer_profile CASCADE;
CREATE EXTENSION customer_profile;
RESET client_min_messages;
SELECT customer_profile.identity_namespace_create('big', blocked_values := (
           SELECT array_agg('blocked-value-number-' || g) FROM generate_series(1, 20000) g)) > 0 AS big_namespace;
-- Anonymous memory of this backend, in kB (shared buffers are not in it).
CREATE FUNCTION pg_temp.rss_anon_kb() RETURNS bigint LANGUAGE sql AS $$
    SELECT (regexp_match(pg_read_file('/proc/self/status'), 'RssAnon:\s+(\d+)'))[1]::bigint
$$;
SELECT customer_profile.resolve_identity('{"email": "m@x.com"}') > 0 AS resolved;
SELECT pg_temp.rss_anon_kb() AS before_kb \gset
DO $$
BEGIN
    FOR i IN 1..300 LOOP
        PERFORM customer_profile.identity_namespace_alter('email', priority := 10 + i % 7);
        PERFORM customer_profile.resolve_identity(jsonb_build_object('email', 'm@x.com'));
    END LOOP;
END
$$;
SELECT pg_temp.rss_anon_kb() - :before_kb < 100000 AS memory_bounded;
SELECT customer_profile.identity_lookup('email', 'm@x.com') IS NOT NULL AS still_resolves;
-- Each reload of the trait catalog (every trait_define, every extension
-- change) frees the profile write plan of the catalog it replaces (review of
-- issue 17: one plan of about 3.8 kB was left behind per reload, 501 after
-- 500 reloads).
SELECT customer_profile.trait_observe('{"email": "w@x.com"}', '{"n": 0}', 'crm') IS NOT NULL AS observed;
DO $$
BEGIN
    FOR i IN 1..200 LOOP
        PERFORM customer_profile.trait_define('reload_' || (i % 3), 'number', 'max');
        PERFORM customer_profile.trait_observe('{"email": "w@x.com"}', jsonb_build_object('n', i), 'crm');
    END LOOP;
END
$$;
SELECT count(*) <= 2 AS write_plans_freed
  FROM pg_backend_memory_contexts
 WHERE name = 'CachedPlanSource' AND ident LIKE 'UPDATE customer_profile.unified_profile SET data = $2%';
SELECT customer_profile.profile_traits(customer_profile.profile_get('email', 'w@x.com')) ->> 'n' AS last_n;
SET client_min_messages = warning;
DROP EXTENSION customer_profile CASCADE;
CREATE EXTENSION customer_profile;
RESET client_min_messages;
