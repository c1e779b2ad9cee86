-- Predicates on values and rows (@@), the refresh that scans with them,
-- windows that slide without events (segment_schedule + segment_windows_run),
-- and deleted profiles leaving their segments.
SET search_path = customer_profile, public;
SELECT trait_define('tier', 'text', 'latest');
SELECT trait_define('trial_ends_at', 'timestamp', 'latest');
SELECT event_measure_define('order', 'total');

-- profile @@ segment_predicate: traits only, on the binary value.
CREATE TEMP TABLE v AS SELECT
    '{"traits": {"tier": {"value": "gold", "source": "crm", "observed_at": "2026-01-02T03:04:05Z"},
                 "ltv": {"value": 250, "source": "crm", "observed_at": "2026-01-02T03:04:05Z"}}}'::profile AS full_profile,
    '{"traits": {"tier": {"value": "gold", "source": "crm", "observed_at": "2026-01-02T03:04:05Z"}}}'::profile AS tier_only;
SELECT full_profile @@ 'tier = ''gold'' AND ltv > 100' AS gold,
       tier_only @@ 'ltv > 100' AS missing_trait_is_no_match,
       tier_only @@ 'NOT ltv > 100' AS not_unknown_is_no_match,
       tier_only @@ 'tier ILIKE ''G%'' OR has(ltv)' AS ilike,
       full_profile @@ 'tier = ''silver'' OR ltv BETWEEN 300 AND 400' AS neither
  FROM v;
SELECT regress.err($$SELECT '{}'::customer_profile.profile OPERATOR(customer_profile.@@) 'count(order) > 1'$$);
SELECT regress.err($$SELECT '{}'::customer_profile.profile OPERATOR(customer_profile.@@) 'known'$$);
SELECT regress.err($$SELECT '{}'::customer_profile.profile OPERATOR(customer_profile.@@) 'ltv >'$$);
SELECT '{}'::profile @@ NULL::segment_predicate IS NULL AS null_predicate_gives_null;

-- unified_profile @@ segment_predicate: the stored row, same answers as segment_matches().
SELECT resolve_identity('{"crm_id": "w-1"}') AS p1 \gset
SELECT resolve_identity('{"crm_id": "w-2"}') AS p2 \gset
SELECT track('{"cookie": "w-anon"}', 'order', now() - interval '1 day', '{"total": 20}') AS p3 \gset
SELECT trait_observe('{"crm_id": "w-1"}', '{"tier": "gold"}', 'crm') = :p1 AS t1;
SELECT trait_observe('{"crm_id": "w-2"}', '{"tier": "silver"}', 'crm') = :p2 AS t2;
SELECT track('{"crm_id": "w-1"}', 'order', now() - interval '20 days', '{"total": 50, "channel": "web"}') = :p1 AS o1;
SELECT track('{"crm_id": "w-1"}', 'order', now() - interval '2 days', '{"total": 70, "channel": "store"}') = :p1 AS o2;
SELECT track('{"crm_id": "w-2"}', 'order', now() - interval '3 days', '{"total": 10, "channel": "web"}') = :p2 AS o3;
CREATE TEMP TABLE predicates (predicate text);
INSERT INTO predicates VALUES
    ('tier = ''gold'''), ('count(order within 30 days) >= 2'), ('sum(order.total within 7 days) > 15'),
    ('known'), ('anonymous AND count(order) > 0'), ('count(order where channel = ''web'' within 30 days) > 0'),
    ('last_seen() > now() - 3 days'), ('NOT tier = ''gold'''), ('tier IS NULL');
SELECT p.predicate,
       array_agg(u.profile_id ORDER BY u.profile_id) FILTER (WHERE u @@ p.predicate::segment_predicate)
           = array_agg(u.profile_id ORDER BY u.profile_id) FILTER (WHERE segment_matches(u.profile_id, p.predicate::segment_predicate))
           AS same_as_segment_matches,
       count(*) FILTER (WHERE u @@ p.predicate::segment_predicate) AS matching
  FROM predicates p CROSS JOIN unified_profile u
 WHERE u.profile_id IN (:p1, :p2, :p3)
 GROUP BY p.predicate ORDER BY p.predicate;
-- in_segment() through @@ reads the stored definition.
SELECT segment_create('gold', 'tier = ''gold''') > 0 AS created;
SELECT array_agg(u.profile_id ORDER BY u.profile_id) = ARRAY[:p1]::bigint[] AS in_gold
  FROM unified_profile u WHERE u @@ 'in_segment(''gold'') AND count(order) > 0';

-- The refresh can use parallel workers: the plan of its scan.
SET parallel_setup_cost = 0;
SET parallel_tuple_cost = 0;
SET min_parallel_table_scan_size = 0;
SET max_parallel_workers_per_gather = 2;
EXPLAIN (COSTS OFF)
SELECT u.profile_id FROM unified_profile u WHERE u @@ 'count(order within 30 days) >= 2'::segment_predicate;
SELECT array_agg(u.profile_id ORDER BY u.profile_id) = ARRAY[:p1]::bigint[] AS parallel_scan_finds_p1
  FROM unified_profile u WHERE u @@ 'count(order within 30 days) >= 2 AND known'::segment_predicate;
RESET parallel_setup_cost;
RESET parallel_tuple_cost;
RESET min_parallel_table_scan_size;
RESET max_parallel_workers_per_gather;

-- Windows: a refresh schedules each member's next possible change; the
-- order 20 days ago leaves a 30-day window at the start of its day + 30.
SELECT segment_create('two_orders', 'count(order within 30 days) >= 2') > 0 AS created;
SELECT * FROM segment_refresh('two_orders');
SELECT profile_id = :p1 AS p1,
       due_at = (date_trunc('day', (now() - interval '20 days') AT TIME ZONE 'UTC') + interval '30 days') AT TIME ZONE 'UTC'
           AS due_when_the_old_order_leaves
  FROM segment_schedule WHERE profile_id = :p1;
SELECT count(*) AS scheduled FROM segment_schedule;  -- p1, p2, p3 each have orders in the window
SELECT segment_windows_run() AS nothing_due_yet;
-- A time-free segment schedules nothing.
SELECT segment_create('silver', 'tier = ''silver''') > 0 AS created;
DELETE FROM segment_schedule;
SELECT * FROM segment_refresh('silver');
SELECT count(*) AS nothing_scheduled FROM segment_schedule;

-- Time passes: a trial that ends in 2 seconds. Streaming enters the member
-- and schedules it at the end of the trial; after it, segment_windows_run()
-- makes it exit (history, outbox).
SELECT segment_create('on_trial', 'trial_ends_at > now()') > 0 AS created;
SELECT trait_observe('{"crm_id": "w-2"}', jsonb_build_object('trial_ends_at', now() + interval '2 seconds'), 'crm') = :p2 AS trial;
SELECT * FROM segment_refresh('on_trial');
SELECT s.due_at = profile_trait_text(u.data, 'trial_ends_at')::timestamptz AS due_at_trial_end
  FROM segment_schedule s JOIN unified_profile u USING (profile_id) WHERE profile_id = :p2;
SELECT max(position) AS before_expiry FROM segment_outbox \gset
SELECT pg_sleep(2.5);
SELECT segment_windows_run() >= 1 AS ran;
SELECT segment, profile_id = :p2 AS p2, change FROM segment_outbox WHERE position > :before_expiry ORDER BY position;
SELECT segment_size('on_trial') AS trial_members, exited_at IS NOT NULL AS history_closed
  FROM segment_membership m JOIN segment s USING (segment_id) WHERE s.name = 'on_trial';
SELECT count(*) AS p2_still_scheduled_for_its_order_window FROM segment_schedule WHERE profile_id = :p2;
SELECT regress.err($$SELECT customer_profile.segment_windows_run(0)$$);
SELECT regress.err($$SELECT customer_profile.segment_windows_run(NULL)$$);
SELECT regress.err($$SELECT customer_profile._segment_stream(ARRAY[1]::bigint[], 'later')$$);
SELECT regress.err($$SELECT customer_profile._segment_stream(ARRAY[1]::bigint[], NULL)$$);

-- Deleted profiles leave every segment they were in (here: purged anonymous).
SELECT segment_create('buyers', 'count(order) > 0') > 0 AS created;
SELECT * FROM segment_refresh('buyers');
SELECT count(*) AS buyers FROM segment_members('buyers');
SELECT max(position) AS before_purge FROM segment_outbox \gset
UPDATE unified_profile SET updated_at = now() - interval '100 days' WHERE profile_id = :p3;
UPDATE identity SET last_seen = now() - interval '100 days' WHERE profile_id = :p3;
SELECT profiles_purged FROM retention_run();
SELECT segment, profile_id = :p3 AS p3, change FROM segment_outbox WHERE position > :before_purge ORDER BY position;
SELECT count(*) AS current_rows_of_purged FROM segment_membership WHERE profile_id = :p3 AND exited_at IS NULL;
SELECT count(*) AS schedule_rows_of_purged FROM segment_schedule WHERE profile_id = :p3;

SELECT count(*) AS dropped FROM (SELECT segment_drop(name) FROM segment ORDER BY segment_id DESC) d;
DELETE FROM segment_outbox;
DELETE FROM segment_membership;
DELETE FROM segment_schedule;
