-- Index-driven refresh (issue 16): unified_profile_index_keys_idx holds the
-- keys of each profile's traits and of its behavior (the day of each event
-- type's last event, the generated column behavior_keys). A refresh reads
-- the candidates the index picks; every member must be among them, so the
-- stored members of a refresh through the index must equal the live answer
-- (segment_matches, which reads no index) for each predicate below.
SET search_path = customer_profile, public;
SELECT trait_define('si_tier', 'text', 'latest');
SELECT event_measure_define('si_buy', 'amount');

-- 60 people: purchases and visits from today back to 300 days ago (one to
-- three each), amounts from -3 to 3, and a tier for two in three.
CREATE TEMP TABLE si_people AS
SELECT g AS n, resolve_identity(jsonb_build_object('crm_id', 'si-' || g)) AS profile_id FROM generate_series(1, 60) g;
SELECT count(track(jsonb_build_object('crm_id', 'si-' || g), CASE WHEN (g + k) % 4 = 0 THEN 'si_visit' ELSE 'si_buy' END,
                   now() - ((g * 5 + k * 11) % 300) * interval '1 day' - (g % 5) * interval '1 hour',
                   jsonb_build_object('amount', (g + k) % 7 - 3))) AS events
  FROM generate_series(1, 60) g, generate_series(1, 1 + g % 3) k;
SELECT count(trait_observe(jsonb_build_object('crm_id', 'si-' || g),
                           jsonb_build_object('si_tier', CASE WHEN g % 3 = 1 THEN 'gold' ELSE 'silver' END), 'crm')) AS tiers
  FROM generate_series(1, 60) g WHERE g % 3 <> 0;

CREATE TEMP TABLE si_predicates (name text PRIMARY KEY, predicate text NOT NULL);
INSERT INTO si_predicates VALUES
    ('si_two_buys', 'count(si_buy within 30 days) >= 2'),
    ('si_gold_buyer', 'count(si_buy within 60 days) > 0 AND si_tier = ''gold'''),
    ('si_refunds', 'sum(si_buy.amount within 90 days) < -1'),
    ('si_spend_or_silver', 'sum(si_buy.amount within 45 days) > 0 OR si_tier = ''silver'''),
    ('si_recent_visit', 'last_seen(si_visit) > now() - 40 days'),
    ('si_visit_plus', 'last_seen(si_visit) + 30 days >= now()'),
    ('si_since', 'last_seen(si_buy) >= timestamp ''' || to_char(now() AT TIME ZONE 'UTC' - interval '100 days', 'YYYY-MM-DD"T"HH24:MI:SS"Z"') || ''''),
    ('si_between', 'count(si_buy) BETWEEN 2 AND 3'),
    ('si_flipped', '1 < count(si_buy within 200 days)'),
    ('si_either', 'count(si_buy within 20 days) >= 1 OR count(si_visit within 70 days) >= 1'),
    ('si_none', 'NOT count(si_buy within 30 days) > 0'),
    ('si_ever', 'count(si_visit) > 0'),
    -- Two or more in a window: the index reads the second most recent event's value.
    ('si_window_between', 'count(si_buy within 150 days) BETWEEN 2 AND 3'),
    ('si_exactly_two', 'count(si_buy within 120 days) = 2');

-- Built at once with sequential scans off: the index picks the candidates.
SET enable_seqscan = off;
SET customer_profile.segment_build_inline_limit = 1000000;
SELECT count(segment_create(name, predicate)) AS created FROM si_predicates;
SELECT sum(r.entered) AS entered_again, sum(r.exited) AS exited_again
  FROM si_predicates p, segment_refresh(p.name) r;
RESET enable_seqscan;
SELECT p.name,
       (SELECT count(*) FROM si_people s WHERE segment_matches(s.profile_id, p.predicate::segment_predicate)) > 0 AS someone,
       (SELECT array_agg(s.profile_id ORDER BY s.profile_id) FROM si_people s
         WHERE s.profile_id IN (SELECT segment_members(p.name)))
         IS NOT DISTINCT FROM
       (SELECT array_agg(s.profile_id ORDER BY s.profile_id) FROM si_people s
         WHERE segment_matches(s.profile_id, p.predicate::segment_predicate)) AS stored_equals_live
  FROM si_predicates p ORDER BY p.name;

-- One stored value per event type (its last event's block of 8 days) and
-- a second for a type whose buckets count two events or more (the block
-- from which they do); the index expression expands each into four keys.
SELECT cardinality(u.behavior_keys) AS keys_for_two_types,
       cardinality(_profile_index_keys(u.data, u.behavior_keys)) - cardinality(_profile_index_keys(u.data, NULL)) AS behavior_entries
  FROM unified_profile u JOIN si_people s USING (profile_id) WHERE s.n = 2;
SELECT _profile_index_keys(NULL, '{1}') IS NULL AS no_profile_no_keys;

-- A third event of a type on the same day leaves the keys as they were
-- (the first and second gave its two values): the update stays HOT (an
-- index over the behavior itself would make every event's update a new
-- index entry).
SELECT resolve_identity('{"crm_id": "si-hot"}') IS NOT NULL AS hot_person;
SELECT track('{"crm_id": "si-hot"}', 'si_visit', now() - interval '3 minutes') IS NOT NULL AS first_visit;
SELECT track('{"crm_id": "si-hot"}', 'si_visit', now() - interval '2 minutes') IS NOT NULL AS second_visit;
BEGIN;
SELECT pg_stat_get_xact_tuples_hot_updated('customer_profile.unified_profile'::regclass) AS hot_before \gset
SELECT track('{"crm_id": "si-hot"}', 'si_visit', now() - interval '1 minute') IS NOT NULL AS third_visit;
SELECT pg_stat_get_xact_tuples_hot_updated('customer_profile.unified_profile'::regclass) - :hot_before AS hot_updates;
COMMIT;

-- The same with ten traits and 150 event types of long names: a row past
-- 2 kB. The stored values (one per type, two for the type seen twice) stay in the row uncompressed while
-- the behavior gives way (a compressed or moved old value never equals the
-- new one, and the update could not be HOT).
SELECT trait_observe('{"crm_id": "si-many"}', (SELECT jsonb_object_agg('si_t' || g, 'value number ' || g || ' for this person')
                                               FROM generate_series(1, 10) g), 'crm') IS NOT NULL AS traits;
SELECT count(track('{"crm_id": "si-many"}', 'si_web_page_viewed_product_category_' || g, now() - interval '3 minutes'))
       AS types
  FROM generate_series(1, 150) g;
SELECT track('{"crm_id": "si-many"}', 'si_web_page_viewed_product_category_7', now() - interval '2 minutes') IS NOT NULL
       AS second_event;
VACUUM customer_profile.unified_profile;
SELECT cardinality(behavior_keys) AS stored_values, pg_column_compression(behavior_keys) IS NULL AS uncompressed,
       pg_column_size(u.*) > 2000 AS row_past_2kb
  FROM unified_profile u WHERE profile_id = identity_lookup('crm_id', 'si-many');
BEGIN;
SELECT pg_stat_get_xact_tuples_hot_updated('customer_profile.unified_profile'::regclass) AS hot_before \gset
SELECT track('{"crm_id": "si-many"}', 'si_web_page_viewed_product_category_7', now() - interval '1 minute') IS NOT NULL
       AS another_event;
SELECT pg_stat_get_xact_tuples_hot_updated('customer_profile.unified_profile'::regclass) - :hot_before AS hot_updates;
COMMIT;

-- The column is computed, never written.
SELECT regress.err($$UPDATE customer_profile.unified_profile SET behavior_keys = '{1}' WHERE false$$);
SELECT regress.err($$INSERT INTO customer_profile.unified_profile (profile_id, behavior_keys) VALUES (-5, '{}')$$);
-- The index expression refuses a NULL among the stored values.
SELECT regress.err($$SELECT customer_profile._profile_index_keys('{"traits": {}}', ARRAY[1, NULL]::bigint[])$$);
-- A behavior summary that does not decode is refused with its column.
SELECT regress.err($$UPDATE customer_profile.unified_profile SET behavior = '\x09'::bytea WHERE profile_id = (SELECT profile_id FROM si_people WHERE n = 1)$$);

SELECT count(segment_drop(name)) AS dropped FROM si_predicates;
-- The suites share one database: the people leave with their data.
SELECT count(profile_forget('crm_id', 'si-' || g)) AS forgotten FROM generate_series(1, 60) g;
SELECT profile_forget('crm_id', 'si-hot') IS NOT NULL AS forgotten_hot,
       profile_forget('crm_id', 'si-many') IS NOT NULL AS forgotten_many;
