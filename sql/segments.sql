-- Segment definitions: create, alter, drop; predicates parsed, type-checked
-- and checked for in_segment() cycles at creation.
SET search_path = customer_profile, public;
SELECT trait_define('score', 'number', 'max');
SELECT segment_create('high_score', 'score >= 80', 'Scored 80 or more') > 0 AS created;
SELECT segment_create('vip', 'in_segment(''high_score'') AND count(purchase within 30 days) >= 2') > 0 AS created;
SELECT segment_create('vip_or_new', 'in_segment(''vip'') or last_seen() > now() - 1 day') > 0 AS created;
SELECT name, predicate, refers_to, description FROM segments ORDER BY segment_id;

-- Bad definitions: clear errors, nothing stored.
SELECT regress.err($$SELECT customer_profile.segment_create('High', 'score > 1')$$);
SELECT regress.err($$SELECT customer_profile.segment_create(NULL, 'score > 1')$$);
SELECT regress.err($$SELECT customer_profile.segment_create('x', NULL)$$);
SELECT regress.err($$SELECT customer_profile.segment_create('vip', 'score > 1')$$);
SELECT regress.err($$SELECT customer_profile.segment_create('bad_syntax', 'score >')$$);
SELECT regress.err($$SELECT customer_profile.segment_create('bad_type', 'score = ''high''')$$);
SELECT regress.err($$SELECT customer_profile.segment_create('dangling', 'in_segment(''nope'')')$$);
SELECT regress.err($$SELECT customer_profile.segment_create('selfish', 'in_segment(''selfish'')')$$);
-- A cycle through existing segments: high_score -> vip_or_new -> vip -> high_score.
SELECT regress.err($$SELECT customer_profile.segment_alter('high_score', 'in_segment(''vip_or_new'')')$$);
SELECT name, predicate FROM segments WHERE name = 'high_score';
SELECT regress.err($$SELECT customer_profile.segment_drop('vip')$$);
SELECT regress.err($$SELECT customer_profile.segment_drop('nope')$$);
SELECT regress.err($$SELECT customer_profile.segment_alter('nope', 'score > 1')$$);
SELECT count(*) AS segments FROM segment;

-- Changes.
SELECT segment_alter('high_score', 'score >= 90');
SELECT segment_alter('high_score', description => 'Scored 90 or more');
SELECT name, predicate, description, updated_at >= created_at AS touched FROM segments WHERE name = 'high_score';
SELECT segment_drop('vip_or_new');
SELECT segment_drop('vip');
SELECT segment_drop('high_score');
SELECT count(*) AS segments_left FROM segment;
