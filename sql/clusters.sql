-- Feature vectors and automatic grouping: three planted groups of customers
-- (different spend, visits and plan) must come back as three clusters
-- (adjusted Rand index >= 0.9), stored as segments auto_cluster_1..3 with a
-- summary in original units; a changed profile moves with feature_refresh().
-- A fresh extension: the suites share one database, and features and
-- clusters cover every profile.
DROP EXTENSION customer_profile CASCADE;
CREATE EXTENSION customer_profile;
SET search_path = customer_profile, public;
SELECT regress.err($$SELECT * FROM customer_profile.profile_cluster(3)$$) AS before_any_feature;
SELECT regress.err($$SELECT customer_profile.feature_build()$$) AS build_without_features;
-- An unquoted name with capitals would be folded to lower case: refused (issue 13).
SELECT regress.err($$SELECT customer_profile.feature_define('ltv', 'LTV')$$) AS capitals_refused;
SELECT feature_define('ltv', 'ltv') AS ltv, feature_define('visits', 'count(visit)') AS visits,
       feature_define('plan', 'plan', 'category') AS plan;
-- 40 people per group; deterministic noise from the person's number.
CREATE TEMP TABLE planted AS
    SELECT g, i, 'cl-' || g || '-' || i AS crm_id,
           CASE g WHEN 'a' THEN 1000 WHEN 'b' THEN 100 ELSE 500 END + (i * 37 % 41) - 20 AS ltv,
           CASE g WHEN 'a' THEN 2 WHEN 'b' THEN 20 ELSE 9 END + (i % 3) - 1 AS visits,
           CASE g WHEN 'a' THEN 'pro' WHEN 'b' THEN 'free' ELSE 'team' END AS plan
      FROM unnest(ARRAY['a', 'b', 'c']) g, generate_series(1, 40) i;
SELECT count(trait_observe(jsonb_build_object('crm_id', crm_id), jsonb_build_object('ltv', ltv, 'plan', plan), 'crm'))
  AS observed FROM planted;
SELECT count(track(jsonb_build_object('crm_id', p.crm_id), 'visit', now() - make_interval(hours => v), '{}',
                   p.crm_id || '-v' || v)) AS visits
  FROM planted p, generate_series(1, 30) v WHERE v <= p.visits;
SELECT feature_build() >= 120 AS vectors_built;
SELECT name, kind, expression, first_slot, categories, round(mean::numeric, 1) AS mean
  FROM feature ORDER BY first_slot;
SELECT cardinality(vector) AS slots FROM profile_feature LIMIT 1;

SELECT cluster, size FROM profile_cluster(3, NULL, 42) ORDER BY cluster;
-- Recovery of the planted groups.
CREATE TEMP TABLE outcome AS
    SELECT p.g AS planted, f.cluster AS found
      FROM planted p JOIN identity i ON i.raw_value = p.crm_id JOIN profile_feature f ON f.profile_id = i.profile_id;
WITH pairs AS (SELECT count(*) * (count(*) - 1) / 2.0 AS c FROM outcome),
     ij AS (SELECT sum(n * (n - 1) / 2.0) AS s FROM (SELECT count(*) AS n FROM outcome GROUP BY planted, found) x),
     a AS (SELECT sum(n * (n - 1) / 2.0) AS s FROM (SELECT count(*) AS n FROM outcome GROUP BY planted) x),
     b AS (SELECT sum(n * (n - 1) / 2.0) AS s FROM (SELECT count(*) AS n FROM outcome GROUP BY found) x)
SELECT (ij.s - a.s * b.s / pairs.c) / ((a.s + b.s) / 2 - a.s * b.s / pairs.c) >= 0.9 AS adjusted_rand_index_at_least_0_9
  FROM pairs, ij, a, b;
-- Each planted group is one cluster, and its summary speaks in original units.
SELECT o.planted, count(DISTINCT o.found) AS clusters,
       round((m.summary ->> 'ltv')::numeric, -1) AS centroid_ltv, round((m.summary ->> 'visits')::numeric) AS centroid_visits,
       (m.summary -> 'plan' ->> (SELECT plan FROM planted WHERE g = o.planted LIMIT 1))::numeric AS share_of_its_plan
  FROM outcome o JOIN cluster_model m ON m.cluster = o.found
 GROUP BY o.planted, m.summary ORDER BY o.planted;
-- The clusters are segments.
SELECT name, predicate::text, segment_size(name) AS members FROM segments WHERE name LIKE 'auto\_cluster\_%' ORDER BY name;
SELECT count(*) AS mismatches FROM outcome o JOIN planted p ON p.g = o.planted
 WHERE NOT profile_segment(identity_lookup('crm_id', p.crm_id), 'auto_cluster_' || o.found);

-- A "b" customer who starts behaving like "a" moves there at the next feature_refresh(), and the segments follow.
SELECT identity_lookup('crm_id', 'cl-b-1') AS mover \gset
SELECT found AS from_cluster FROM outcome o JOIN planted p ON p.g = o.planted WHERE p.crm_id = 'cl-b-1' LIMIT 1 \gset
SELECT DISTINCT found AS to_cluster FROM outcome WHERE planted = 'a' \gset
DELETE FROM segment_outbox;
SELECT trait_observe('{"crm_id": "cl-b-1"}', '{"ltv": 1010, "plan": "pro"}', 'crm', now() + interval '1 second') = :mover AS changed;
SELECT feature_refresh() AS refreshed;
SELECT cluster = :to_cluster AS moved FROM profile_feature WHERE profile_id = :mover;
SELECT segment = 'auto_cluster_' || :from_cluster AS left_old, change FROM segment_outbox WHERE change = 'exit';
SELECT segment = 'auto_cluster_' || :to_cluster AS joined_new, change FROM segment_outbox WHERE change = 'enter';
SELECT feature_refresh() AS nothing_left;

-- Fewer clusters drop the extra segments; bad input is refused.
SELECT count(*) AS clusters FROM profile_cluster(2, ARRAY['ltv', 'plan'], 7);
SELECT count(*) AS auto_segments FROM segments WHERE name LIKE 'auto\_cluster\_%';
SELECT regress.err($$SELECT * FROM customer_profile.profile_cluster(0)$$) AS k_zero;
SELECT regress.err($$SELECT * FROM customer_profile.profile_cluster(1001)$$) AS k_huge;
SELECT regress.err($$SELECT * FROM customer_profile.profile_cluster(100000 - 99000)$$) AS k_over_profiles;
SELECT regress.err($$SELECT * FROM customer_profile.profile_cluster(2, ARRAY['shoe_size'])$$) AS unknown_feature;
SELECT regress.err($$SELECT customer_profile.feature_define('Bad Name', 'ltv')$$) AS bad_name;
SELECT regress.err($$SELECT customer_profile.feature_define('x', 'ltv', 'vector')$$) AS bad_kind;
SELECT regress.err($$SELECT customer_profile.feature_define('x', 'count(visit')$$) AS bad_expression;
SELECT regress.err($$SELECT customer_profile.feature_drop('nope')$$) AS drop_unknown;
SELECT regress.err($$SELECT 'in_cluster(0)'::customer_profile.segment_predicate$$) AS cluster_zero;

-- Clean up for the suites that follow.
SELECT segment_drop(name) FROM segments WHERE name LIKE 'auto\_cluster\_%';
DELETE FROM cluster_model;
DELETE FROM profile_feature;
DELETE FROM feature;
DELETE FROM segment_outbox;
DELETE FROM segment_membership;
