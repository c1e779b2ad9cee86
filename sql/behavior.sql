-- Behavior: track(), the summary functions, deduplication, windows, merges
-- and splits, bad input with its SQLSTATE, and retention.
SET search_path = customer_profile, public;
SELECT event_measure_define('purchase', 'revenue');
SELECT event_measure_define('purchase', 'items');

-- One person, events out of order, one of them twice.
SELECT track('{"email": "ann@x.com"}', 'purchase', now() - interval '3 days', '{"revenue": 10.5, "items": 2}', 'o-1') AS ann \gset
SELECT track('{"email": "ann@x.com"}', 'purchase', now() - interval '45 days', '{"revenue": 4}', 'o-0') = :ann AS same;
SELECT track('{"email": "ann@x.com"}', 'purchase', now() - interval '3 days', '{"revenue": 10.5, "items": 2}', 'o-1') = :ann AS duplicate_same_profile;
SELECT track('{"email": "ann@x.com"}', 'purchase', now() - interval '1 day', '{"revenue": 99}', 'o-1') = :ann AS same_id_other_payload;
SELECT track('{"email": "ann@x.com"}', 'page_view', now(), '{"path": "/"}') = :ann AS page_view;
SELECT track('{"email": "ann@x.com"}', 'page_view', now(), '{"path": "/"}') = :ann AS identical_without_id;
SELECT track('{"email": "ann@x.com"}', 'newsletter', now() - interval '10 days') = :ann AS default_properties;

SELECT event_type, event_count, totals, active_days, first_at < last_at AS spread
  FROM profile_behavior(:ann) ORDER BY event_type;
SELECT event_count(:ann, 'purchase', '30 days') AS purchases_30d,
       event_count(:ann, 'purchase', '90 days') AS purchases_90d,
       event_count(:ann, 'purchase') AS purchases_all,
       event_count(:ann, 'refund', '30 days') AS refunds,
       event_sum(:ann, 'purchase', 'revenue', '30 days') AS revenue_30d,
       event_sum(:ann, 'purchase', 'revenue') AS revenue_all,
       event_sum(:ann, 'purchase', 'items', '1 day') AS items_today,
       event_count(:ann, 'purchase', '3 days 1 hour') AS partial_days_round_up;
SELECT last_seen(:ann) > now() - interval '1 minute' AS seen_now,
       now() - last_seen(:ann, 'purchase') BETWEEN interval '3 days' AND interval '3 days 1 minute' AS last_purchase,
       last_seen(:ann, 'refund') IS NULL AS never_refunded;
SELECT count(*) AS stored_events, count(DISTINCT tableoid) >= 2 AS partitioned_by_month FROM event;
SELECT event_count(-1, 'purchase') IS NULL AS unknown_profile;

-- Bad input: clear errors, nothing stored.
SELECT regress.err($$SELECT customer_profile.track('{"email": "ann@x.com"}', 'purchase', now(), '{"revenue": "lots"}')$$);
SELECT regress.err($$SELECT customer_profile.track('{"email": "ann@x.com"}', 'purchase', now(), '{"revenue": 1e30}')$$);
SELECT regress.err($$SELECT customer_profile.track('{"email": "ann@x.com"}', 'purchase', now() - interval '500 days')$$);
SELECT regress.err($$SELECT customer_profile.track('{"email": "ann@x.com"}', 'purchase', now() + interval '3 days')$$);
SELECT regress.err($$SELECT customer_profile.track('{"email": "ann@x.com"}', 'purchase', 'infinity')$$);
SELECT regress.err($$SELECT customer_profile.track('{}', 'purchase', now())$$);
SELECT regress.err($$SELECT customer_profile.track('["ann@x.com"]', 'purchase', now())$$);
SELECT regress.err($$SELECT customer_profile.track('{"nope": "1"}', 'purchase', now())$$);
SELECT regress.err($$SELECT customer_profile.track('{"email": ""}', 'purchase', now())$$);
SELECT regress.err($$SELECT customer_profile.track(NULL, 'purchase', now())$$);
SELECT regress.err($$SELECT customer_profile.track('{"email": "ann@x.com"}', NULL, now())$$);
SELECT regress.err($$SELECT customer_profile.track('{"email": "ann@x.com"}', '', now())$$);
SELECT regress.err($$SELECT customer_profile.track('{"email": "ann@x.com"}', repeat('x', 201), now())$$);
SELECT regress.err($$SELECT customer_profile.track('{"email": "ann@x.com"}', 'purchase', NULL)$$);
SELECT regress.err($$SELECT customer_profile.track('{"email": "ann@x.com"}', 'purchase', now(), '[1]')$$);
SELECT regress.err($$SELECT customer_profile.track('{"email": "ann@x.com"}', 'purchase', now(), '{}', '')$$);
SELECT regress.err($$SELECT customer_profile.track('{"email": "ann@x.com"}', 'purchase', now(), '{}', repeat('i', 201))$$);
SELECT regress.err($$SELECT customer_profile.event_sum(1, 'purchase', 'discount')$$);
SELECT regress.err($$SELECT customer_profile.event_measure_define('', 'revenue')$$);
SELECT regress.err($$SELECT customer_profile.event_measure_define('purchase', repeat('p', 64))$$);
SELECT regress.err($$SELECT customer_profile.event_measure_define(NULL, 'revenue')$$);
SELECT event_measure_define('purchase', 'revenue') AS defining_twice_is_harmless;
SELECT regress.err($$SELECT customer_profile.event_count(1, 'purchase', '401 days')$$);
SELECT regress.err($$SELECT customer_profile.event_count(1, 'purchase', '-1 day')$$);
SELECT regress.err($$SELECT customer_profile.event_partitions_ensure('2000-01-01', '2100-01-01')$$);
SELECT count(*) AS still_stored FROM event;

-- A second person with events merges into Ann: summaries add up.
SELECT track('{"cookie": "c-ann"}', 'page_view', now() - interval '2 days') AS cookie_profile \gset
SELECT track('{"cookie": "c-ann"}', 'purchase', now() - interval '2 days', '{"revenue": 1}') = :cookie_profile AS same;
SELECT resolve_identity('{"email": "ann@x.com", "cookie": "c-ann"}') = :ann AS merged_into_ann;
SELECT event_type, event_count, totals FROM profile_behavior(:ann) ORDER BY event_type;
SELECT event_count(:cookie_profile, 'page_view') AS via_merged_id;
-- The link is withdrawn: each half is recomputed from its stored events.
SELECT identity_unlink('email', 'ann@x.com', 'cookie', 'c-ann') AS carved;
SELECT event_type, event_count, totals FROM profile_behavior(:ann) ORDER BY event_type;
SELECT event_type, event_count, totals FROM profile_behavior(resolve_identity('{"cookie": "c-ann"}')) ORDER BY event_type;
-- identity_rebuild() agrees with the incremental summaries.
CREATE TEMP TABLE before_rebuild AS
    SELECT i.namespace_id, i.value_hash, b.* FROM identity i, profile_behavior(i.profile_id) b;
SELECT count(*) AS rebuilt FROM identity_rebuild();
SELECT count(*) AS differences FROM (
    (SELECT * FROM before_rebuild EXCEPT
     SELECT i.namespace_id, i.value_hash, b.* FROM identity i, profile_behavior(i.profile_id) b)
    UNION ALL
    (SELECT i.namespace_id, i.value_hash, b.* FROM identity i, profile_behavior(i.profile_id) b EXCEPT
     SELECT * FROM before_rebuild)) d;

-- identity_remove takes the identifier's events and their ids along: the
-- profile is the fold of the events that remain, no event is left attached
-- to no one, a redelivered event with the same id is applied again, and
-- profile_forget still finds every event of the person.
CREATE FUNCTION pg_temp.fold_differences(p bigint) RETURNS bigint LANGUAGE sql AS $$
    WITH summary AS (
        SELECT b.event_type, b.event_count, b.first_at, b.last_at, (b.totals ->> 'revenue')::float8 AS revenue
          FROM customer_profile.profile_behavior(p) b),
    fold AS (
        SELECT e.event_type, count(*), min(e.occurred_at), max(e.occurred_at),
               sum((e.properties ->> 'revenue')::float8)
          FROM customer_profile.event e JOIN customer_profile.identity i USING (identity_id)
         WHERE i.profile_id = customer_profile.profile_resolve(p) GROUP BY e.event_type)
    SELECT count(*) FROM ((TABLE summary EXCEPT TABLE fold) UNION ALL (TABLE fold EXCEPT TABLE summary)) d
$$;
SELECT resolve_identity('{"email": "rem@x.com", "cookie": "c-rem", "device_id": "d-rem"}') AS rem \gset
SELECT track('{"email": "rem@x.com"}', 'purchase', now() - interval '1 day', '{"revenue": 7}', 'rem-1') = :rem AS t1,
       track('{"cookie": "c-rem"}', 'purchase', now() - interval '2 days', '{"revenue": 3}', 'rem-2') = :rem AS t2,
       track('{"cookie": "c-rem"}', 'page_view', now() - interval '2 days', '{}', 'rem-3') = :rem AS t3,
       track('{"device_id": "d-rem"}', 'page_view', now(), '{}', 'rem-4') = :rem AS t4;
SELECT pg_temp.fold_differences(:rem) AS differences_before;
SELECT identity_remove('cookie', 'c-rem') AS carved;
SELECT event_type, event_count, totals FROM profile_behavior(:rem) ORDER BY event_type;
SELECT pg_temp.fold_differences(:rem) AS differences_after;
SELECT (SELECT count(*) FROM event WHERE event_id IN ('rem-2', 'rem-3')) AS removed_events_left,
       (SELECT count(*) FROM event_key WHERE event_id IN ('rem-2', 'rem-3')) AS removed_event_ids_left,
       (SELECT count(*) FROM event e WHERE NOT EXISTS (SELECT 1 FROM identity i WHERE i.identity_id = e.identity_id))
           AS events_of_no_one;
-- The same event delivered again (the identifier comes back as a new person): applied, not a duplicate.
SELECT track('{"cookie": "c-rem"}', 'purchase', now() - interval '2 days', '{"revenue": 3}', 'rem-2') AS back \gset
SELECT :back <> :rem AS own_profile, event_count(:back, 'purchase') AS redelivered_purchases,
       pg_temp.fold_differences(:back) AS differences_back;
-- Removing a profile's last identifier removes the profile, its events and their ids.
SELECT identity_remove('cookie', 'c-rem') AS last_identifier;
SELECT (SELECT count(*) FROM event WHERE event_id = 'rem-2') AS events_left,
       (SELECT count(*) FROM event_key WHERE event_id = 'rem-2') AS event_ids_left,
       (SELECT count(*) FROM unified_profile WHERE profile_id = :back) AS profiles_left;
-- Erasure of the person finds every event that is still theirs, and leaves none behind.
SELECT profile_forget('email', 'rem@x.com') AS rem_erasure \gset
SELECT removed ->> 'events' AS events_erased FROM erasure WHERE erasure_id = :rem_erasure;
SELECT count(*) AS rem_events_left FROM event WHERE event_id LIKE 'rem-%';
SELECT count(*) AS rem_event_ids_left FROM event_key WHERE event_id LIKE 'rem-%';

-- A partition created by a rolled-back call is created again (the per-backend
-- cache of existing months forgets it with the rollback).
BEGIN;
SELECT track('{"email": "ann@x.com"}', 'purchase', now() - interval '350 days', '{}', 'rolled-back') = :ann AS in_transaction;
ROLLBACK;
SELECT track('{"email": "ann@x.com"}', 'purchase', now() - interval '350 days', '{}', 'rolled-back') = :ann AS after_rollback;
SELECT event_count(:ann, 'purchase', '400 days') AS purchases_400d;

-- Retention: a shorter horizon drops whole partitions and their event ids.
SELECT track('{"email": "old@x.com"}', 'purchase', now() - interval '60 days', '{"revenue": 5}', 'old-1') AS old \gset
SET customer_profile.behavior_horizon = 2;
SELECT partitions_dropped >= 1 AS dropped, event_keys_deleted >= 1 AS keys_forgotten FROM retention_run();
SELECT count(*) AS events_in_dropped_months FROM event
 WHERE occurred_at < date_trunc('month', (now() AT TIME ZONE 'UTC') - interval '1 day') AT TIME ZONE 'UTC';
SELECT event_count(:old, 'purchase') AS total_kept, event_count(:old, 'purchase', '2 days') AS recent;
RESET customer_profile.behavior_horizon;
-- Anonymous profiles idle past the TTL go, with identities and events; known ones stay.
SELECT track('{"cookie": "idle"}', 'page_view', now() - interval '1 day') AS idle \gset
UPDATE unified_profile SET updated_at = now() - interval '100 days' WHERE profile_id IN (:idle, :old);
UPDATE identity SET last_seen = now() - interval '100 days' WHERE profile_id IN (:idle, :old);
SELECT profiles_purged, identities_purged FROM retention_run();
SELECT identity_lookup('cookie', 'idle') IS NULL AS idle_gone, identity_lookup('email', 'old@x.com') = :old AS known_kept;
SELECT count(*) AS idle_events FROM event e WHERE NOT EXISTS (SELECT 1 FROM identity i WHERE i.identity_id = e.identity_id);

-- Settings: ranges, contexts, the reserved prefix.
SHOW customer_profile.behavior_horizon;
SHOW customer_profile.batch_size;
SHOW customer_profile.naptime;
SHOW customer_profile.anonymous_ttl_days;
SELECT regress.err($$SET customer_profile.behavior_horizon = 0$$);
SELECT regress.err($$SET customer_profile.behavior_horizon = 4000$$);
SELECT regress.err($$SET customer_profile.batch_size = 10$$);
SELECT regress.err($$SET customer_profile.batchsize = 10$$);
