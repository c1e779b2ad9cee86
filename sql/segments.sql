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

-- Live evaluation on one profile: traits, behavior, known/anonymous, other segments,
-- counts filtered on event properties.
SELECT event_measure_define('purchase', 'amount');
SELECT resolve_identity('{"crm_id": "s-1", "email": "seg@x.com"}') AS ann \gset
SELECT trait_observe('{"crm_id": "s-1"}', '{"score": 95, "city": "Lyon"}', 'crm') = :ann AS observed;
SELECT track('{"crm_id": "s-1"}', 'purchase', now() - interval '2 days', '{"amount": 30, "channel": "web"}') = :ann AS t1;
SELECT track('{"crm_id": "s-1"}', 'purchase', now() - interval '10 days', '{"amount": 80, "channel": "store"}') = :ann AS t2;
SELECT track('{"crm_id": "s-1"}', 'email_open', now() - interval '1 day', '{"campaign": "spring"}') = :ann AS t3;
SELECT track('{"cookie": "anon-1"}', 'page_view', now()) AS anon \gset
SELECT segment_create('high_score', 'score >= 90') > 0 AS created;
SELECT segment_create('buyers', 'count(purchase within 30 days) >= 2 AND sum(purchase.amount within 30 days) > 100') > 0 AS created;
SELECT segment_create('vip', 'in_segment(''high_score'') AND in_segment(''buyers'') AND known') > 0 AS created;
SELECT segment_create('spring_openers', 'count(email_open where campaign = ''spring'' within 7 days) > 0') > 0 AS created;
SELECT segment_create('web_buyers', 'sum(purchase.amount where channel = ''web'') >= 30 AND NOT city = ''Paris''') > 0 AS created;
SELECT segment_create('visitors', 'anonymous AND last_seen() > now() - 1 hour') > 0 AS created;
SELECT array_agg(s ORDER BY s) AS ann_segments FROM profile_segment(:ann) s;
SELECT array_agg(s ORDER BY s) AS anon_segments FROM profile_segment(:anon) s;
SELECT profile_segment(:ann, 'vip') AS ann_vip, profile_segment(:anon, 'vip') AS anon_vip,
       profile_segment(-1, 'vip') IS NULL AS unknown_profile;
SELECT regress.err($$SELECT customer_profile.profile_segment(1, 'nope')$$);
SELECT segment_matches(:ann, 'city = ''Lyon'' AND shoe_size > 40') AS unknown_is_not_a_match,
       segment_matches(:ann, 'NOT shoe_size > 40') AS not_unknown_is_not_a_match,
       segment_matches(:ann, 'city IN (''Lyon'', ''Nice'') AND has(score)') AS lyon;
-- Changing a definition changes the answer at once.
SELECT segment_alter('high_score', 'score >= 99');
SELECT profile_segment(:ann, 'vip') AS vip_after_raising_the_bar;

-- Stored membership: refresh records entries and exits, with history and outbox.
SELECT * FROM segment_refresh('buyers');
SELECT segment_members('buyers') = :ann AS ann_is_member, segment_size('buyers') AS size;
SELECT * FROM segment_refresh('buyers');
SELECT segment_alter('buyers', 'count(purchase within 5 days) >= 2');
SELECT * FROM segment_refresh('buyers');
SELECT segment_size('buyers') AS size_after_tightening;
SELECT profile_id = :ann AS ann, exited_at IS NOT NULL AND exited_at >= entered_at AS left_after_entering
  FROM segment_membership m JOIN segment s USING (segment_id) WHERE s.name = 'buyers';
SELECT segment, profile_id = :ann AS ann, change FROM segment_outbox ORDER BY position;
SELECT * FROM segment_refresh('visitors');
SELECT array_agg(p ORDER BY p) = ARRAY[:anon]::bigint[] AS anon_visits FROM segment_members('visitors') p;
SELECT regress.err($$SELECT * FROM customer_profile.segment_refresh('nope')$$);
SELECT regress.err($$SELECT customer_profile.segment_size('nope')$$);

-- Outbox consumers: read after the acknowledged position, acknowledge, read on.
SELECT count(*) AS first_read FROM segment_outbox_read('mailer');
SELECT max(outbox_position) AS upto FROM segment_outbox_read('mailer', 2) \gset
SELECT segment_outbox_ack('mailer', :upto);
SELECT segment, change FROM segment_outbox_read('mailer');
SELECT segment_outbox_ack('mailer', 1);  -- never moves back
SELECT count(*) AS still_after_ack FROM segment_outbox_read('mailer');
SELECT count(*) AS other_consumer_sees_all FROM segment_outbox_read('ab_tests');
SELECT regress.err($$SELECT customer_profile.segment_outbox_ack('nobody', 1)$$);
SELECT regress.err($$SELECT * FROM customer_profile.segment_outbox_read('', 10)$$);
SELECT regress.err($$SELECT * FROM customer_profile.segment_outbox_read('x', 0)$$);

-- segment_explain: the tree, and SQL that finds the same people.
SELECT segment_create('explained', 'score >= 90 AND city IN (''Lyon'', ''Nice'') AND known AND count(purchase within 30 days) >= 2 AND sum(purchase.amount where channel = ''web'' within 7 days) > 10') > 0 AS created;
SELECT predicate, tree FROM segment_explain('explained');
SELECT equivalent_sql FROM segment_explain('explained');
-- Every segment: the equivalent SQL finds exactly the members that refresh stored.
CREATE TEMP TABLE sql_check (segment text, same boolean, members int);
DO $$
DECLARE
    s record;
    via_sql bigint[];
    stored bigint[];
BEGIN
    FOR s IN SELECT name FROM customer_profile.segment ORDER BY name LOOP
        PERFORM customer_profile.segment_refresh(s.name);
        EXECUTE format('SELECT coalesce(array_agg(profile_id ORDER BY profile_id), ''{}'') FROM (%s) q',
                       (SELECT equivalent_sql FROM customer_profile.segment_explain(s.name))) INTO via_sql;
        SELECT coalesce(array_agg(m ORDER BY m), '{}') INTO stored FROM customer_profile.segment_members(s.name) m;
        INSERT INTO sql_check VALUES (s.name, via_sql = stored, cardinality(stored));
    END LOOP;
END $$;
SELECT segment, same, members FROM sql_check ORDER BY segment;
SELECT regress.err($$SELECT * FROM customer_profile.segment_explain('nope')$$);

-- Streaming: changes re-evaluate the affected segments in the same transaction.
SELECT segment_create('frequent', 'count(purchase within 30 days) >= 3') > 0 AS created;
SELECT segment_create('lyonnais', 'city = ''Lyon''') > 0 AS created;
SELECT segment_create('frequent_lyonnais', 'in_segment(''frequent'') AND in_segment(''lyonnais'')') > 0 AS created;
SELECT * FROM segment_refresh('frequent');
SELECT * FROM segment_refresh('lyonnais');
SELECT * FROM segment_refresh('frequent_lyonnais');
SELECT max(position) AS before_stream FROM segment_outbox \gset
BEGIN;
SELECT track('{"crm_id": "s-1"}', 'purchase', now(), '{"amount": 5}') = :ann AS third_purchase;
SELECT segment, change FROM segment_outbox WHERE position > :before_stream ORDER BY position;
ROLLBACK;
SELECT count(*) AS nothing_after_rollback FROM segment_outbox WHERE position > :before_stream;
SELECT track('{"crm_id": "s-1"}', 'purchase', now(), '{"amount": 5}') = :ann AS third_purchase;
SELECT segment_members('frequent') = :ann AS ann_frequent, segment_members('frequent_lyonnais') = :ann AS ann_both;
SELECT trait_observe('{"crm_id": "s-1"}', '{"city": "Paris"}', 'crm') = :ann AS moved;
SELECT segment, change FROM segment_outbox WHERE position > :before_stream ORDER BY position;
SELECT segment_size('lyonnais') AS lyonnais_left, segment_size('frequent') AS frequent_stays;
-- An event type no segment reads changes nothing.
SELECT max(position) AS before_visit FROM segment_outbox \gset
SELECT track('{"crm_id": "s-1"}', 'page_view', now()) = :ann AS visit;
SELECT count(*) AS no_changes FROM segment_outbox WHERE position > :before_visit;
-- A merge: the merged-away profile leaves its segments.
SELECT segment_members('visitors') = :anon AS anon_visiting;
SELECT resolve_identity('{"crm_id": "s-1", "cookie": "anon-1"}') = :ann AS merged_into_ann;
SELECT segment_size('visitors') AS visitors_after_merge;
SELECT segment, profile_id = :anon AS merged_profile, change FROM segment_outbox WHERE position > :before_visit ORDER BY position;
