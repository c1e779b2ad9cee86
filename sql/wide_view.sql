-- Views that users build on profiles_wide (what dbt or a BI tool creates)
-- survive trait definitions and redefinitions. In 1.5 every trait_define
-- failed once such a view existed ("cannot drop view profiles_wide because
-- other objects depend on it").
\set VERBOSITY terse
SET client_min_messages = warning;
DROP EXTENSION customer_profile CASCADE;
RESET client_min_messages;

-- The update from 1.5 keeps a user's view on profiles_wide. Here the 1.5
-- view is also stale (a trait definition was deleted without a refresh), so
-- the update creates profiles_wide again, and the user's view with it: it
-- stays the user's (not an extension member, so pg_dump dumps it).
CREATE EXTENSION customer_profile VERSION '1.5';
SELECT customer_profile.trait_define('tier', 'text');
SELECT customer_profile.trait_define('stale', 'number');
SELECT customer_profile.trait_observe('{"email": "old@x.com"}', '{"tier": "gold"}', 'crm') > 0 AS observed;
DELETE FROM customer_profile.trait_definition WHERE name = 'stale';
CREATE VIEW public.gold_before_update AS SELECT profile_id, tier FROM customer_profile.profiles_wide WHERE tier = 'gold';
ALTER EXTENSION customer_profile UPDATE;
SELECT attname FROM pg_attribute
 WHERE attrelid = 'customer_profile.profiles_wide'::regclass AND attnum > 0 ORDER BY attnum;
SELECT tier FROM public.gold_before_update;
SELECT c.relname, count(d.objid) AS extension_member FROM pg_class c
  LEFT JOIN pg_depend d ON d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'e'
 WHERE c.oid IN ('customer_profile.profiles_wide'::regclass, 'public.gold_before_update'::regclass)
 GROUP BY 1 ORDER BY 1;
SELECT customer_profile.trait_define('ltv', 'number');
SELECT tier FROM public.gold_before_update;
DROP VIEW public.gold_before_update;
DROP EXTENSION customer_profile;

CREATE EXTENSION customer_profile;
SET search_path = customer_profile, public;
SELECT trait_define('tier', 'text');
SELECT trait_define('ltv', 'number', 'sum');
SELECT trait_define('score', 'text');
SELECT trait_observe('{"email": "ann@x.com"}', '{"tier": "gold", "ltv": 10}', 'crm') > 0 AS ann;
SELECT trait_observe('{"email": "bob@x.com"}', '{"tier": "silver", "ltv": 3}', 'crm') > 0 AS bob;
CREATE SCHEMA bi;
CREATE ROLE wide_view_bi_user NOLOGIN IN ROLE customer_profile_reader;
-- A dbt model and a view on top of it, with a grant, a comment and an option.
CREATE VIEW bi.gold AS SELECT profile_id, tier, ltv, score FROM customer_profile.profiles_wide WHERE tier = 'gold';
CREATE VIEW bi.gold_total WITH (security_barrier) AS SELECT count(*) AS people, sum(ltv) AS ltv FROM bi.gold;
GRANT USAGE ON SCHEMA bi TO wide_view_bi_user;
GRANT SELECT ON bi.gold, bi.gold_total TO wide_view_bi_user;
COMMENT ON VIEW bi.gold IS 'Gold customers (dbt model)';
COMMENT ON COLUMN bi.gold.ltv IS 'Lifetime value';
GRANT SELECT ON customer_profile.profiles_wide TO wide_view_bi_user;
CREATE TEMP VIEW bi_views AS
    SELECT c.oid::regclass::text AS view, c.relowner::regrole AS owner, c.relacl, c.reloptions,
           obj_description(c.oid, 'pg_class') AS comment, pg_get_viewdef(c.oid) AS definition
      FROM pg_class c WHERE c.relnamespace = 'bi'::regnamespace ORDER BY 1;
CREATE TEMP TABLE before AS SELECT * FROM bi_views;

-- A new trait is a new last column: the user's views are untouched.
SELECT trait_define('signed_up', 'timestamp');
SELECT attname, format_type(atttypid, atttypmod) FROM pg_attribute
 WHERE attrelid = 'customer_profile.profiles_wide'::regclass AND attnum > 0 ORDER BY attnum;
SELECT * FROM bi.gold_total;
-- Redefining a trait's policy keeps its column.
SELECT trait_define('ltv', 'number', 'max');
SELECT profile_id > 0 AS ann, tier, ltv, score FROM bi.gold;
-- profiles_wide_refresh(), as after a restore, changes nothing either.
SELECT profiles_wide_refresh();
SELECT count(*) AS unchanged_views FROM (SELECT * FROM bi_views INTERSECT SELECT * FROM before) x;

-- A type change: the column changes type, and the views on it are created
-- again exactly as they were (definition, owner, grants, comments, options).
SELECT trait_define('score', 'number');
SELECT format_type(atttypid, atttypmod) AS score_type FROM pg_attribute
 WHERE attrelid = 'customer_profile.profiles_wide'::regclass AND attname = 'score';
SELECT format_type(atttypid, atttypmod) AS dbt_score_type FROM pg_attribute
 WHERE attrelid = 'bi.gold'::regclass AND attname = 'score';
SELECT score + 1 AS typed_score FROM bi.gold;
SELECT count(*) AS same_views FROM (SELECT * FROM bi_views INTERSECT SELECT * FROM before) x;
SELECT col_description('bi.gold'::regclass, 3) AS column_comment;
SELECT relacl::text LIKE '%wide_view_bi_user=r/%' AS wide_grant_kept,
       has_table_privilege('customer_profile_reader', 'customer_profile.profiles_wide', 'SELECT') AS reader_grant_kept
  FROM pg_class WHERE oid = 'customer_profile.profiles_wide'::regclass;
SET ROLE wide_view_bi_user;
SELECT people, ltv FROM bi.gold_total;
RESET ROLE;

-- A change a dependent view cannot follow is refused with the view's name,
-- and nothing changes: gold compares tier with text, a text[] cannot.
SELECT regress.err($$SELECT customer_profile.trait_define('tier', 'text[]')$$) AS cannot_follow;
SELECT type FROM trait_definition WHERE name = 'tier';
SELECT format_type(atttypid, atttypmod) AS tier_type FROM pg_attribute
 WHERE attrelid = 'customer_profile.profiles_wide'::regclass AND attname = 'tier';
SELECT count(*) AS same_views FROM (SELECT * FROM bi_views INTERSECT SELECT * FROM before) x;

-- A trait that is no longer defined keeps its column while a view reads it;
-- an unused one goes.
DELETE FROM trait_definition WHERE name IN ('score', 'signed_up');
SELECT profiles_wide_refresh();
SELECT attname FROM pg_attribute
 WHERE attrelid = 'customer_profile.profiles_wide'::regclass AND attnum > 0 ORDER BY attnum;
SELECT score FROM bi.gold;

-- profiles_wide belongs to the database (pg_dump dumps it, so views on it
-- restore) and goes with the extension.
SELECT count(*) AS member_of_extension FROM pg_depend
 WHERE classid = 'pg_class'::regclass AND objid = 'customer_profile.profiles_wide'::regclass AND deptype = 'e';
SELECT count(*) AS dropped_with_extension FROM pg_depend
 WHERE classid = 'pg_class'::regclass AND objid = 'customer_profile.profiles_wide'::regclass AND deptype = 'x';
SELECT regress.err($$DROP EXTENSION customer_profile$$) AS drop_needs_cascade_for_user_views;
DROP VIEW bi_views;
DROP SCHEMA bi CASCADE;
DROP EXTENSION customer_profile;
DROP ROLE wide_view_bi_user;
SELECT to_regclass('customer_profile.profiles_wide') IS NULL AS gone_with_extension;
CREATE EXTENSION customer_profile;
-- A fresh install has no profiles_wide until a trait is defined.
SELECT to_regclass('customer_profile.profiles_wide') IS NULL AS none_before_traits;
SELECT trait_define('tier', 'text');
SELECT attname FROM pg_attribute
 WHERE attrelid = 'customer_profile.profiles_wide'::regclass AND attnum > 0 ORDER BY attnum;
RESET search_path;
DROP EXTENSION customer_profile;
CREATE EXTENSION customer_profile;
