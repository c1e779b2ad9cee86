-- A segment's membership from the moment it exists: segment_create,
-- segment_alter and segment_enable backfill (at once for a small population,
-- queued to segment_build_run otherwise, with a visible building state),
-- disabled segments are kept but not evaluated, and segment_drop announces
-- the exits. The expected members are computed from what the test wrote
-- (which crm_id got which plan), not by the evaluator.
SET search_path = customer_profile, public;
SELECT trait_define('lc_plan', 'text', 'latest');
CREATE TEMP TABLE lc_people AS
SELECT i, 'lc-' || i AS crm_id, CASE WHEN i <= 3 THEN 'pro' ELSE 'free' END AS plan,
       trait_observe(jsonb_build_object('crm_id', 'lc-' || i),
                     jsonb_build_object('lc_plan', CASE WHEN i <= 3 THEN 'pro' ELSE 'free' END), 'crm') AS profile_id
  FROM generate_series(1, 5) i;
CREATE TEMP VIEW lc_expected AS SELECT plan, array_agg(profile_id ORDER BY profile_id) AS members FROM lc_people GROUP BY plan;

-- Backfilled at creation: members without a refresh, entries in the outbox.
SELECT segment_create('lc_pro', 'lc_plan = ''pro''') > 0 AS created;
SELECT array(SELECT segment_members('lc_pro')) = (SELECT members FROM lc_expected WHERE plan = 'pro') AS members_at_creation,
       segment_size('lc_pro') AS size;
SELECT state, build_progress FROM segments WHERE name = 'lc_pro';
SELECT count(*) AS announced_entries FROM segment_outbox WHERE segment = 'lc_pro' AND change = 'enter';
SELECT * FROM segment_refresh('lc_pro');  -- nothing left to do

-- segment_alter backfills the new predicate: entries and exits.
SELECT segment_alter('lc_pro', 'lc_plan IN (''pro'', ''free'')');
SELECT segment_size('lc_pro') AS widened;
SELECT segment_alter('lc_pro', 'lc_plan = ''free''');
SELECT array(SELECT segment_members('lc_pro')) = (SELECT members FROM lc_expected WHERE plan = 'free') AS narrowed,
       (SELECT count(*) FROM segment_outbox WHERE segment = 'lc_pro' AND change = 'exit') AS exits;
SELECT segment_alter('lc_pro', description => 'only the description');
SELECT segment_size('lc_pro') AS unchanged_by_description;

-- A population above customer_profile.segment_build_inline_limit is queued:
-- state building, progress, partial members (a NOTICE says so), streaming
-- already applies, and segment_build_run() completes it batch by batch.
SET customer_profile.segment_build_inline_limit = 0;
SELECT segment_create('lc_queued', 'lc_plan = ''pro''') > 0 AS queued;
SELECT state, build_progress FROM segments WHERE name = 'lc_queued';
SELECT segment_size('lc_queued') AS nothing_built_yet;
UPDATE lc_people SET plan = 'pro' WHERE i = 4;
SELECT trait_observe('{"crm_id": "lc-4"}', '{"lc_plan": "pro"}', 'crm') = (SELECT profile_id FROM lc_people WHERE i = 4) AS lc4;
SELECT array(SELECT segment_members('lc_queued')) = ARRAY[(SELECT profile_id FROM lc_people WHERE i = 4)] AS streamed_while_building;
SELECT segment_build_run(2) AS first_batch;
SELECT state, build_progress > 0 AND build_progress < 1 AS progressed FROM segments WHERE name = 'lc_queued';
DO $$
BEGIN
    FOR i IN 1..100000 LOOP
        EXIT WHEN (SELECT s.state FROM customer_profile.segment s WHERE s.name = 'lc_queued') = 'active';
        PERFORM customer_profile.segment_build_run(7);
    END LOOP;
END
$$;
SELECT state, build_progress FROM segments WHERE name = 'lc_queued';
SELECT array(SELECT segment_members('lc_queued')) = (SELECT members FROM lc_expected WHERE plan = 'pro') AS built,
       (SELECT count(*) FROM segment_outbox WHERE segment = 'lc_queued' AND change = 'enter') AS entries;
SELECT segment_build_run(100) AS nothing_to_build;
-- segment_refresh() completes a build at once.
SELECT segment_create('lc_queued_too', 'lc_plan = ''free''') > 0 AS queued;
SELECT * FROM segment_refresh('lc_queued_too');
SELECT state, build_progress FROM segments WHERE name = 'lc_queued_too';
-- segment_alter of a predicate queues a new build from the first profile.
SELECT segment_alter('lc_queued_too', 'lc_plan = ''pro''');
SELECT state, build_progress FROM segments WHERE name = 'lc_queued_too';
SELECT * FROM segment_refresh('lc_queued_too');
RESET customer_profile.segment_build_inline_limit;

-- Disabled: kept, not evaluated (no entries, exits or outbox rows); a
-- refresh is refused; enabling brings the members up to date.
SELECT segment_disable('lc_pro');
SELECT state FROM segments WHERE name = 'lc_pro';
SELECT count(*) AS outbox_before FROM segment_outbox WHERE segment = 'lc_pro' \gset
UPDATE lc_people SET plan = 'pro' WHERE i = 5;
SELECT trait_observe('{"crm_id": "lc-5"}', '{"lc_plan": "pro"}', 'crm') = (SELECT profile_id FROM lc_people WHERE i = 5) AS lc5;
SELECT segment_size('lc_pro') AS frozen_size,
       (SELECT count(*) FROM segment_outbox WHERE segment = 'lc_pro') = :outbox_before AS nothing_announced;
SELECT regress.err($$SELECT customer_profile.segment_refresh('lc_pro')$$);
SELECT segment_alter('lc_pro', 'lc_plan = ''free'' OR lc_plan = ''gold''');  -- stays disabled, nothing evaluated
SELECT state, segment_size('lc_pro') AS still_frozen FROM segments WHERE name = 'lc_pro';
SELECT segment_enable('lc_pro');
SELECT state FROM segments WHERE name = 'lc_pro';
SELECT array(SELECT segment_members('lc_pro')) = coalesce((SELECT members FROM lc_expected WHERE plan = 'free'), '{}') AS caught_up,
       (SELECT count(*) FROM segment_outbox WHERE segment = 'lc_pro') - :outbox_before AS announced_on_enable;
SELECT segment_enable('lc_pro');  -- twice: nothing to do
SELECT state, segment_size('lc_pro') AS same_size FROM segments WHERE name = 'lc_pro';
SELECT regress.err($$SELECT customer_profile.segment_disable('lc_nope')$$);
SELECT regress.err($$SELECT customer_profile.segment_enable('lc_nope')$$);
SELECT regress.err($$SELECT customer_profile.segment_build_run(0)$$);

-- segment_drop announces the exits of its current members.
SELECT segment_size('lc_queued') AS members_before_drop;
SELECT segment_drop('lc_queued');
SELECT count(*) AS exits_announced FROM segment_outbox WHERE segment = 'lc_queued' AND change = 'exit';
SELECT count(*) AS memberships_left FROM segment_membership m
 WHERE NOT EXISTS (SELECT 1 FROM segment s WHERE s.segment_id = m.segment_id);
SELECT segment_drop('lc_queued_too');
SELECT segment_drop('lc_pro');

-- Review of issue 16: a disabled segment's members leave it when their
-- profile is deleted (here merged away), a segment that reads a disabled one
-- reads its frozen members, and the segments that read a segment follow its
-- backfill.
SELECT trait_define('lc_score', 'number', 'latest');
SELECT trait_observe('{"crm_id": "lc-m1"}', '{"lc_score": 10}', 'crm') AS m1 \gset
SELECT trait_observe('{"cookie": "lc-m2"}', '{"lc_score": 20}', 'crm') AS m2 \gset
SELECT segment_create('lc_scored', 'lc_score > 5') > 0 AS created,
       segment_create('lc_scored_fan', 'in_segment(''lc_scored'')') > 0 AS fan_created;
SELECT segment_disable('lc_scored');
SELECT resolve_identity('{"crm_id": "lc-m1", "cookie": "lc-m2"}') = :m1 AS merged;
SELECT array(SELECT segment_members('lc_scored')) = ARRAY[:m1]::bigint[] AS merged_away_member_left;
SELECT count(*) AS exit_announced FROM segment_outbox
 WHERE segment = 'lc_scored' AND change = 'exit' AND profile_id = :m2;
SELECT trait_observe('{"crm_id": "lc-m3"}', '{"lc_score": 50}', 'crm') AS m3 \gset
SELECT profile_segment(:m3, 'lc_scored') AS m3_in_frozen, profile_segment(:m3, 'lc_scored_fan') AS m3_in_fan_live,
       :m3 = ANY (ARRAY(SELECT segment_members('lc_scored_fan'))) AS m3_in_fan_stored;
SELECT segment_enable('lc_scored');
SELECT :m3 = ANY (ARRAY(SELECT segment_members('lc_scored'))) AS m3_in_enabled,
       :m3 = ANY (ARRAY(SELECT segment_members('lc_scored_fan'))) AS m3_in_fan_after_enable;
SELECT segment_alter('lc_scored', 'lc_score > 30');
SELECT array(SELECT segment_members('lc_scored')) = ARRAY[:m3]::bigint[] AS narrowed,
       array(SELECT segment_members('lc_scored_fan')) = ARRAY[:m3]::bigint[] AS fan_followed;
SELECT segment_drop('lc_scored_fan');
SELECT segment_drop('lc_scored');
-- A build's stream names any segment id an int4 holds.
SELECT customer_profile._segment_stream(ARRAY[]::bigint[], 'segment:2147483647');
SELECT regress.err($$SELECT customer_profile._segment_stream(ARRAY[]::bigint[], 'segment:2147483648')$$);
DELETE FROM segment_outbox WHERE segment LIKE 'lc\_%';

-- segment_refresh_all: every evaluated segment over every profile in one
-- scan, each one's changes applied as segment_refresh applies them.
SELECT segment_create('lc_all_a', 'lc_plan = ''pro''') > 0 AS a, segment_create('lc_all_b', 'in_segment(''lc_all_a'') AND has(lc_plan)') > 0 AS b;
DELETE FROM segment_membership m USING segment s WHERE s.segment_id = m.segment_id AND s.name IN ('lc_all_a', 'lc_all_b');
SELECT segment, entered, exited FROM segment_refresh_all() WHERE segment LIKE 'lc\_all\_%' ORDER BY segment;
SELECT array(SELECT segment_members('lc_all_a')) = (SELECT members FROM lc_expected WHERE plan = 'pro') AS a_rebuilt,
       array(SELECT segment_members('lc_all_b')) = (SELECT members FROM lc_expected WHERE plan = 'pro') AS b_rebuilt;
SELECT count(*) AS nothing_left_to_do FROM segment_refresh_all() WHERE entered + exited > 0;
SELECT segment_drop('lc_all_b'), segment_drop('lc_all_a');
DELETE FROM segment_outbox WHERE segment LIKE 'lc\_%';
