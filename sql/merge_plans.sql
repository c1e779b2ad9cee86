-- A session that merged profiles while customer_profile.identity was small
-- keeps probing its profile index once the table has grown: a freshly loaded
-- database has no statistics until autovacuum analyzes it, and a plan cached
-- on the small table (a sequential scan) would read every identity at every
-- merge for the rest of the session.
SET client_min_messages = warning;
-- Statistics of the small table, as autovacuum leaves them.
VACUUM ANALYZE customer_profile.identity;
-- Twenty merges in this session: each links a CRM record and a cookie.
SELECT count(*) AS merged FROM generate_series(1, 20) AS i,
       LATERAL (SELECT customer_profile.resolve_identity(jsonb_build_object('crm_id', 'mp-' || i), 'crm') AS a,
                       customer_profile.resolve_identity(jsonb_build_object('cookie', 'mp-' || i), 'web') AS b) p,
       LATERAL (SELECT customer_profile.resolve_identity(
                    jsonb_build_object('crm_id', 'mp-' || i, 'cookie', 'mp-' || i), 'web') AS m) q
 WHERE q.m = least(p.a, p.b);
-- The table grows by 50,000 identities (a bulk load), without ANALYZE.
INSERT INTO customer_profile.unified_profile (profile_id) SELECT 900000000 + g FROM generate_series(1, 50000) g;
INSERT INTO customer_profile.identity (namespace_id, value_hash, profile_id)
SELECT n.namespace_id, sha256(convert_to('mp-bulk-' || g, 'UTF8')), 900000000 + g
  FROM generate_series(1, 50000) g, customer_profile.namespace n WHERE n.name = 'cookie';
-- A merge now reads the two profiles' identities through the index. (The
-- statistics pending in this session are flushed first, so that the counter
-- below counts this transaction's scans only.)
SELECT pg_stat_force_next_flush();
BEGIN;
SELECT customer_profile.resolve_identity('{"crm_id": "mp-21"}', 'crm') > 0 AS created,
       customer_profile.resolve_identity('{"cookie": "mp-21"}', 'web') > 0 AS created;
SELECT customer_profile.resolve_identity('{"crm_id": "mp-21", "cookie": "mp-21"}', 'web') > 0 AS merged;
SELECT seq_scan AS identity_sequential_scans FROM pg_stat_xact_user_tables
 WHERE relid = 'customer_profile.identity'::regclass;
COMMIT;
DELETE FROM customer_profile.identity WHERE profile_id > 900000000;
DELETE FROM customer_profile.unified_profile WHERE profile_id > 900000000;
