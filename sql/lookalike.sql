-- Look-alikes: a planted population of 60 "a" customers, 20 of them in a
-- seed segment; the 40 profiles most like the seed must be mostly the other
-- "a" customers (precision@40 >= 0.8), and so must a member's 10 most
-- similar profiles (precision@10 >= 0.8).
SET search_path = customer_profile, public;
SELECT feature_define('la_score', 'la_score') AS score, feature_define('la_visits', 'count(la_visit)') AS visits,
       feature_define('la_tier', 'la_tier', 'category') AS tier;
CREATE TEMP TABLE population AS
    SELECT g, i, 'la-' || g || '-' || i AS crm_id,
           CASE g WHEN 'a' THEN 100 WHEN 'b' THEN 0 ELSE 50 END + (i * 37 % 21) - 10 AS score,
           CASE g WHEN 'a' THEN 2 WHEN 'b' THEN 16 ELSE 8 END + (i % 3) - 1 AS visits,
           CASE g WHEN 'a' THEN 'gold' WHEN 'b' THEN 'basic' ELSE (CASE WHEN i % 2 = 0 THEN 'gold' ELSE 'basic' END) END AS tier
      FROM unnest(ARRAY['a', 'b', 'c']) g, generate_series(1, 60) i;
SELECT count(trait_observe(jsonb_build_object('crm_id', crm_id),
                           jsonb_build_object('la_score', score, 'la_tier', tier, 'la_seed', g = 'a' AND i <= 20), 'crm'))
  AS observed FROM population;
SELECT count(track(jsonb_build_object('crm_id', p.crm_id), 'la_visit', now() - make_interval(hours => v), '{}',
                   p.crm_id || '-v' || v)) AS visits
  FROM population p, generate_series(1, 20) v WHERE v <= p.visits;
SELECT feature_build() >= 180 AS built;
SELECT count(*) > 1 AS several_lists, sum(size) = (SELECT count(*) FROM profile_feature) AS every_vector_filed FROM feature_list;
SELECT segment_create('la_seed', 'la_seed = TRUE') > 0 AS seed_segment;
SELECT entered FROM segment_refresh('la_seed');

CREATE TEMP TABLE who AS
    SELECT p.g, p.i, i.profile_id FROM population p JOIN identity i ON i.raw_value = p.crm_id;
SELECT count(*) AS results,
       round(avg((w.g = 'a')::int), 2) >= 0.8 AS precision_at_40_at_least_0_8,
       count(*) FILTER (WHERE w.g = 'a' AND w.i <= 20) AS seed_members_returned,
       bool_and(l.score > 0 AND l.score <= 1) AS scores_in_range
  FROM segment_lookalike('la_seed', 40) l LEFT JOIN who w USING (profile_id);
-- Ordered by score, best first.
SELECT bool_and(score >= next_score) AS descending FROM (
    SELECT score, lead(score, 1, 0::float8) OVER (ORDER BY score DESC) AS next_score FROM segment_lookalike('la_seed', 40)) x;
SELECT (SELECT profile_id FROM who WHERE g = 'a' AND i = 30) AS member \gset
SELECT count(*) AS results, round(avg((w.g = 'a')::int), 2) >= 0.8 AS precision_at_10_at_least_0_8,
       count(*) FILTER (WHERE s.similar_profile_id = :member) AS itself
  FROM profile_similar(:member, 10) s LEFT JOIN who w ON w.profile_id = s.similar_profile_id;
SELECT count(*) AS unknown_profile FROM profile_similar(-1, 5);
-- Bad input.
SELECT regress.err($$SELECT * FROM customer_profile.segment_lookalike('la_seed', 0)$$) AS k_zero;
SELECT regress.err($$SELECT * FROM customer_profile.segment_lookalike('nope', 5)$$) AS unknown_segment;
SELECT segment_create('la_empty', 'la_score > 1000') > 0 AS empty_segment;
SELECT regress.err($$SELECT * FROM customer_profile.segment_lookalike('la_empty', 5)$$) AS empty_seed;
SELECT regress.err($$SELECT * FROM customer_profile.profile_similar(1, NULL)$$) AS k_null;

SELECT segment_drop('la_seed'), segment_drop('la_empty');
DELETE FROM feature_list;
DELETE FROM profile_feature;
DELETE FROM feature;
DELETE FROM segment_outbox;
DELETE FROM segment_membership;
