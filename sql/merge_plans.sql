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

-- Matching reads the values a record lacks from the identifiers seen with it,
-- in one statement over identity_link and trait_observation. Prepared while
-- identity_link was a dozen pages and trait_observation hundreds, it probes
-- identity_link's index once that has grown: the statement was prepared again
-- only when the two tables' total had doubled (2 sequential scans here), and
-- 42,000 probabilistic links under a sequential scan made match_run() over
-- 200,000 records twice as slow.
SELECT customer_profile.identity_namespace_create('plan_id', is_known => true) > 0 AS namespace;
SELECT customer_profile.match_rule_create('plans', ARRAY['plan_id'],
  '[{"trait": "plan_name", "levels": [{"exact": true}]}, {"trait": "plan_city", "levels": [{"exact": true}]}]',
  '[["plan_name"]]') > 0 AS rule;
-- 30,000 observations on identifiers of their own: hundreds of pages.
INSERT INTO customer_profile.unified_profile (profile_id) SELECT 910000000 + g FROM generate_series(1, 30000) g;
INSERT INTO customer_profile.identity (namespace_id, value_hash, profile_id)
SELECT n.namespace_id, sha256(convert_to('plan-bulk-' || g, 'UTF8')), 910000000 + g
  FROM generate_series(1, 30000) g, customer_profile.namespace n WHERE n.name = 'cookie';
INSERT INTO customer_profile.trait_observation (identity_id, trait, source, value_type, value, observed_at)
SELECT i.identity_id, 'plan_city', 'web', 'text', to_jsonb('city ' || i.identity_id), now()
  FROM customer_profile.identity i WHERE i.profile_id > 910000000;
-- 2,000 links among them: identity_link is a dozen pages.
INSERT INTO customer_profile.identity_link (identity_a, identity_b, source)
SELECT a.identity_id, a.identity_id + 1, 'web' FROM customer_profile.identity a
 WHERE a.profile_id > 910000000 AND a.profile_id % 2 = 1 AND a.profile_id < 910004000;
VACUUM ANALYZE customer_profile.unified_profile;
VACUUM ANALYZE customer_profile.identity;
VACUUM ANALYZE customer_profile.identity_link;
VACUUM ANALYZE customer_profile.trait_observation;
SELECT pg_relation_size('customer_profile.identity_link') BETWEEN 8 * 8192 AND 24 * 8192 AS links_small,
       pg_relation_size('customer_profile.trait_observation') > 300 * 8192 AS observations_large;
-- One transaction, as match_run() is (no ANALYZE, hence no invalidation,
-- reaches its plans; it links as it goes).
SELECT pg_stat_force_next_flush();
BEGIN;
-- Twenty records without a city: each reads its neighbours' values. The
-- statement's generic plan (the one the plan cache settles on after five
-- executions when it costs no more than planning each) is made here, with a
-- sequential scan of the small identity_link: made the planner's choice by
-- the cost of a random page, so that this test does not depend on how it
-- weighs a table of a few pages. The setting reset, the cached plan stays.
SET LOCAL plan_cache_mode = force_generic_plan;
SET LOCAL random_page_cost = 1000;
SELECT count(customer_profile.trait_observe(jsonb_build_object('plan_id', 'p' || g),
                                            jsonb_build_object('plan_name', 'n' || g), 'crm')) AS observed
  FROM generate_series(1, 20) g;
SET LOCAL random_page_cost = 4;
SELECT seq_scan > 0 AS link_scanned_while_small FROM pg_stat_xact_user_tables
 WHERE relid = 'customer_profile.identity_link'::regclass;
-- identity_link grows by 13,000 links (to about 100 pages).
INSERT INTO customer_profile.identity_link (identity_a, identity_b, source)
SELECT a.identity_id, a.identity_id + 1, 'web' FROM customer_profile.identity a
 WHERE a.profile_id > 910004000 AND a.profile_id % 2 = 1 AND a.profile_id < 910030000;
SELECT pg_relation_size('customer_profile.identity_link') > 80 * 8192 AS links_grown;
-- (A psql variable, not a temporary table: creating the session's temporary
-- schema changes the search path, which makes every cached plan again.)
SELECT seq_scan AS link_scans_before FROM pg_stat_xact_user_tables
 WHERE relid = 'customer_profile.identity_link'::regclass \gset
SELECT customer_profile.trait_observe('{"plan_id": "p21"}', '{"plan_name": "n21"}', 'crm') > 0 AS observed;
SELECT seq_scan - :link_scans_before AS link_sequential_scans FROM pg_stat_xact_user_tables
 WHERE relid = 'customer_profile.identity_link'::regclass;
COMMIT;
SELECT customer_profile.match_rule_drop('plans');
DELETE FROM customer_profile.identity_link l USING customer_profile.identity i
 WHERE i.identity_id = l.identity_a AND i.profile_id > 910000000;
DELETE FROM customer_profile.trait_observation o USING customer_profile.identity i
 WHERE i.identity_id = o.identity_id AND i.profile_id > 910000000;
DELETE FROM customer_profile.identity WHERE profile_id > 910000000;
DELETE FROM customer_profile.unified_profile WHERE profile_id > 910000000;

-- A guard rail's refusal of a probabilistic link is queued for review only
-- with the refusal's record, which the review looks up in identity_conflict:
-- through an index (the table keeps every refusal until retention; scanning
-- it took 30 ms per refused record at 219,000 rows, and a bulk load of
-- duplicates scanned it once per refusal). Sequential scans are turned off so
-- that the count below does not depend on how the planner weighs a small
-- table: without an index the scan happens anyway.
SELECT customer_profile.match_rule_create('capped', ARRAY['crm_id'],
  '[{"trait": "cap_name", "levels": [{"exact": true}], "m": [0.99, 0.01], "u": [0.0001, 0.9999]},
    {"trait": "cap_city", "levels": [{"exact": true}], "m": [0.99, 0.01], "u": [0.0001, 0.9999]}]',
  '[["cap_name"]]') > 0 AS rule;
SELECT pg_stat_force_next_flush();
BEGIN;
SET LOCAL enable_seqscan = off;
SELECT customer_profile.trait_observe('{"crm_id": "cap-1"}', '{"cap_name": "Ada", "cap_city": "Oslo"}', 'crm') > 0 AS first,
       customer_profile.trait_observe('{"crm_id": "cap-2"}', '{"cap_name": "Ada", "cap_city": "Oslo"}', 'crm') > 0 AS second;
SELECT count(*) AS refused_and_queued FROM customer_profile.match_review v
  JOIN customer_profile.match_rule r USING (rule_id) WHERE r.name = 'capped' AND v.reason LIKE '%guard rail%';
SELECT seq_scan AS conflict_sequential_scans FROM pg_stat_xact_user_tables
 WHERE relid = 'customer_profile.identity_conflict'::regclass;
COMMIT;
SELECT customer_profile.match_rule_drop('capped');
SELECT count(customer_profile.identity_remove('crm_id', v)) AS removed FROM unnest(ARRAY['cap-1', 'cap-2']) v;

-- trait_observe's profile lock, its check that the identifier is still the
-- profile's and its write of the merged traits are prepared again as their
-- tables grow. A session that began on tables vacuumed empty (a fresh
-- database, or one purged) kept sequential scans of unified_profile and
-- identity for these primary-key lookups while a bulk load grew them: 8,000
-- records in one transaction took 23 s instead of 5. A new session, so that
-- the statements are prepared here; their plans made sequential scans by the
-- cost of a random page, as above.
-- (VACUUM FULL gives back the pages of the rows the tests above deleted.
-- What other tests leave depends on which ran before: the tables grow below
-- to more than twice what they are here, whatever that is.)
\c
VACUUM FULL customer_profile.unified_profile, customer_profile.identity;
SELECT pg_relation_size('customer_profile.unified_profile') AS profile_bytes,
       pg_relation_size('customer_profile.identity') AS identity_bytes,
       60000 + 400 * (greatest(pg_relation_size('customer_profile.unified_profile'),
                               pg_relation_size('customer_profile.identity')) / 8192) AS grow_rows \gset
SELECT pg_stat_force_next_flush();
BEGIN;
SET LOCAL plan_cache_mode = force_generic_plan;
SET LOCAL random_page_cost = 1000;
SELECT count(customer_profile.trait_observe(jsonb_build_object('crm_id', 'grow-' || g),
                                            jsonb_build_object('grow_name', 'n' || g), 'crm')) AS observed
  FROM generate_series(1, 10) g;
SET LOCAL random_page_cost = 4;
-- unified_profile and identity grow by at least 60,000 rows each, to more than twice their pages.
INSERT INTO customer_profile.unified_profile (profile_id) SELECT 920000000 + g FROM generate_series(1, :grow_rows) g;
INSERT INTO customer_profile.identity (namespace_id, value_hash, profile_id)
SELECT n.namespace_id, sha256(convert_to('grow-bulk-' || g, 'UTF8')), 920000000 + g
  FROM generate_series(1, :grow_rows) g, customer_profile.namespace n WHERE n.name = 'cookie';
SELECT pg_relation_size('customer_profile.unified_profile') > 2 * :profile_bytes + 16 * 8192 AS profiles_doubled,
       pg_relation_size('customer_profile.identity') > 2 * :identity_bytes + 16 * 8192 AS identities_doubled;
SELECT seq_scan AS profile_scans_before FROM pg_stat_xact_user_tables
 WHERE relid = 'customer_profile.unified_profile'::regclass \gset
SELECT seq_scan AS identity_scans_before FROM pg_stat_xact_user_tables
 WHERE relid = 'customer_profile.identity'::regclass \gset
SELECT count(customer_profile.trait_observe(jsonb_build_object('crm_id', 'grow-' || g),
                                            jsonb_build_object('grow_name', 'm' || g), 'crm')) AS observed_again
  FROM generate_series(1, 10) g;
SELECT (SELECT seq_scan FROM pg_stat_xact_user_tables WHERE relid = 'customer_profile.unified_profile'::regclass)
       - :profile_scans_before AS profile_sequential_scans,
       (SELECT seq_scan FROM pg_stat_xact_user_tables WHERE relid = 'customer_profile.identity'::regclass)
       - :identity_scans_before AS identity_sequential_scans;
ROLLBACK;
