-- The graph: explain, unlink and split, remove, components and rebuild.
\set VERBOSITY terse
DROP EXTENSION customer_profile;
CREATE EXTENSION customer_profile;
CREATE FUNCTION pg_temp.r(j text) RETURNS bigint LANGUAGE sql AS $$ SELECT customer_profile.resolve_identity(j::jsonb, 'test') $$;
-- The partition of identities into profiles, independent of profile ids.
CREATE FUNCTION pg_temp.partition() RETURNS SETOF bigint[] LANGUAGE sql AS $$
    SELECT array_agg(identity_id ORDER BY identity_id) FROM customer_profile.identity GROUP BY profile_id ORDER BY 1 $$;

-- crm 1 -- email a -- cookie c1, and email a -- cookie c2
SELECT pg_temp.r('{"crm_id": "1", "email": "a@x.com"}');
SELECT pg_temp.r('{"email": "a@x.com", "cookie": "c1"}');
SELECT pg_temp.r('{"email": "a@x.com", "cookie": "c2"}');
SELECT pg_temp.r('{"cookie": "c2", "device_id": "dev-9"}');

SELECT customer_profile.identity_explain('crm_id', '1', 'device_id', 'dev-9') - 'path' - 'profile_id' AS explained;
SELECT s->>'step' AS step, s->'from'->>'namespace' AS from_ns, s->'from'->>'value' AS from_value,
       s->'to'->>'namespace' AS to_ns, s->>'source' AS source, (s->>'linked_at')::timestamptz <= now() AS dated
  FROM jsonb_array_elements(customer_profile.identity_explain('crm_id', '1', 'device_id', 'dev-9')->'path') s;
SELECT customer_profile.identity_explain('crm_id', '1', 'cookie', 'nope');
SELECT pg_temp.r('{"crm_id": "2", "email": "b@x.com"}');
SELECT customer_profile.identity_explain('crm_id', '2', 'cookie', 'c1') - 'refusals' - 'profiles' AS explained,
       jsonb_array_length(customer_profile.identity_explain('crm_id', '2', 'cookie', 'c1')->'profiles') AS profiles;
-- A refused merge is part of the explanation.
SELECT pg_temp.r('{"crm_id": "2", "cookie": "c1"}');
SELECT r->>'rule' AS rule, r->>'namespace' AS namespace
  FROM jsonb_array_elements(customer_profile.identity_explain('crm_id', '2', 'cookie', 'c1')->'refusals') r;

-- Unlinking email a -- cookie c2 splits {c2, dev-9} off; the crm side keeps the id.
SELECT customer_profile.identity_lookup('crm_id', '1') AS before;
SELECT customer_profile.identity_unlink('email', 'a@x.com', 'cookie', 'c2') AS carved_out;
SELECT customer_profile.identity_lookup('crm_id', '1') AS crm_keeps,
       customer_profile.identity_lookup('cookie', 'c2') = customer_profile.identity_lookup('device_id', 'dev-9') AS c2_with_device,
       customer_profile.identity_lookup('cookie', 'c2') <> customer_profile.identity_lookup('crm_id', '1') AS split;
SELECT profile_id = customer_profile.identity_lookup('crm_id', '1') AS from_crm_profile, cause FROM customer_profile.profile_split;
SELECT regress.err($$SELECT customer_profile.identity_unlink('crm_id', '1', 'cookie', 'c1')$$);
SELECT regress.err($$SELECT customer_profile.identity_unlink('crm_id', '1', 'cookie', 'never')$$);

-- Removing the email (the hub) leaves crm 1 and cookie c1 apart.
SELECT customer_profile.identity_remove('email', 'a@x.com') AS carved_out;
SELECT customer_profile.identity_lookup('email', 'a@x.com') AS gone,
       customer_profile.identity_lookup('cookie', 'c1') <> customer_profile.identity_lookup('crm_id', '1') AS apart;
SELECT customer_profile.identity_remove('device_id', 'dev-9'), customer_profile.identity_remove('cookie', 'c2');
SELECT regress.err($$SELECT customer_profile.identity_remove('cookie', 'c2')$$);
SELECT * FROM customer_profile.identity_check();

-- Randomized equivalence: incremental resolution == rebuild from links.
SELECT setseed(0.42);
SELECT count(pg_temp.r(j::text)) AS calls FROM (
    SELECT jsonb_object_agg(ns, ns || '-' || (random() * 300)::int || CASE ns WHEN 'email' THEN '@x.com' ELSE '' END) AS j
      FROM generate_series(1, 600) call
      CROSS JOIN LATERAL (SELECT unnest(ARRAY['cookie', 'device_id', 'email']) AS ns
                           WHERE call > 0 ORDER BY random() LIMIT 1 + (random() * 2)::int) n
     GROUP BY call) calls;
SELECT * FROM customer_profile.identity_check();
CREATE TEMP TABLE incremental AS SELECT * FROM pg_temp.partition() p;
SELECT count(*) > 10 AS many_profiles, max(cardinality(p)) > 3 AS some_merges FROM incremental;
-- Components agree with profiles before any rebuild...
SELECT count(DISTINCT component_id) = (SELECT count(*) FROM customer_profile.unified_profile) AS components_match FROM customer_profile.identity_components();
-- ...and a rebuild from a scrambled state restores exactly the same partition.
UPDATE customer_profile.identity SET profile_id = identity_id + 100000;
INSERT INTO customer_profile.unified_profile (profile_id) SELECT identity_id + 100000 FROM customer_profile.identity;
DELETE FROM customer_profile.unified_profile WHERE profile_id < 100000;
SELECT identities, components, identities_moved > 0 AS moved, profiles_merged > 0 AS merged FROM customer_profile.identity_rebuild();
SELECT (SELECT string_agg(p::text, ';' ORDER BY p::text) FROM incremental) =
       (SELECT string_agg(p::text, ';' ORDER BY p::text) FROM pg_temp.partition() p) AS same_partition;
SELECT * FROM customer_profile.identity_check();
-- A second rebuild changes nothing.
SELECT identities_moved, profiles_created, profiles_merged FROM customer_profile.identity_rebuild();
