-- Merges and splits keep every behavior summary equal to the fold of the
-- profile's stored events (issue 13, defect 1): several merges in one
-- statement, two merging events in one inbox batch, a split followed by a
-- merge in one transaction. The reference is computed here from the event
-- and identity tables, not by the extension.
-- A fresh extension: the suites share one database, and the checks below
-- cover every profile.
DROP EXTENSION customer_profile CASCADE;
CREATE EXTENSION customer_profile;
SET search_path = customer_profile, public;
SELECT event_measure_define('order', 'amount');
-- Every live profile whose summary differs from its events.
CREATE FUNCTION regress.behavior_drift() RETURNS TABLE (profile_id bigint, event_type text, stored bigint, expected bigint,
                                                        stored_amount float8, expected_amount float8)
LANGUAGE sql AS $$
    WITH expected AS (
        SELECT i.profile_id, e.event_type, count(*) AS n, min(e.occurred_at) AS first_at, max(e.occurred_at) AS last_at,
               sum((e.properties->>'amount')::float8) AS amount
          FROM customer_profile.event e JOIN customer_profile.identity i USING (identity_id)
         GROUP BY 1, 2),
    stored AS (
        SELECT u.profile_id, b.event_type, b.event_count AS n, b.first_at, b.last_at, (b.totals->>'amount')::float8 AS amount
          FROM customer_profile.unified_profile u, customer_profile.profile_behavior(u.profile_id) b)
    SELECT coalesce(s.profile_id, x.profile_id), coalesce(s.event_type, x.event_type), s.n, x.n, s.amount, x.amount
      FROM stored s FULL JOIN expected x ON x.profile_id = s.profile_id AND x.event_type = s.event_type
     WHERE s.n IS DISTINCT FROM x.n OR s.first_at IS DISTINCT FROM x.first_at OR s.last_at IS DISTINCT FROM x.last_at
        OR s.amount IS DISTINCT FROM x.amount
     ORDER BY 1, 2
$$;

-- Several merges in one statement.
SELECT track('{"email": "a@x.com"}', 'visit', now(), '{}', 'e1') AS a \gset
SELECT track('{"cookie": "c2"}', 'visit', now(), '{}', 'e2') <> :a AS own_profile;
SELECT track('{"cookie": "c3"}', 'order', now(), '{"amount": 5}', 'e3') <> :a AS own_profile;
SELECT resolve_identity(j::jsonb) = :a AS merged
  FROM (VALUES (1, '{"email": "a@x.com", "cookie": "c2"}'), (2, '{"email": "a@x.com", "cookie": "c3"}')) v(n, j)
 ORDER BY n;
SELECT event_type, event_count, totals FROM profile_behavior(:a) ORDER BY 1;
SELECT * FROM regress.behavior_drift();

-- Two events of one inbox batch that each merge profiles with events.
SELECT track('{"email": "b@x.com"}', 'visit', now(), '{}', 'f1') AS b \gset
SELECT track('{"cookie": "d2"}', 'visit', now(), '{}', 'f2') <> :b AS own_profile;
SELECT track('{"cookie": "d3"}', 'order', now(), '{"amount": 7}', 'f3') <> :b AS own_profile;
INSERT INTO event_inbox (identities, event_type, occurred_at, properties, event_id) VALUES
    ('{"email": "b@x.com", "cookie": "d2"}', 'visit', now()::text, '{}', 'f4'),
    ('{"email": "b@x.com", "cookie": "d3"}', 'order', now()::text, '{"amount": 1}', 'f5');
SELECT applied, duplicates, dead_lettered FROM event_inbox_drain();
SELECT event_type, event_count, totals FROM profile_behavior(:b) ORDER BY 1;
SELECT * FROM regress.behavior_drift();

-- A split and a merge of the halves again, in one transaction.
BEGIN;
SELECT identity_unlink('email', 'b@x.com', 'cookie', 'd3') AS carved_out;
SELECT event_count FROM profile_behavior(:b) WHERE event_type = 'order';
SELECT resolve_identity('{"email": "b@x.com", "cookie": "d3"}') = :b AS merged_again;
SELECT * FROM regress.behavior_drift();
COMMIT;
SELECT event_type, event_count, totals FROM profile_behavior(:b) ORDER BY 1;

-- A rebuild after links were withdrawn, and a merge in the same statement as a track().
SELECT identity_unlink('email', 'a@x.com', 'cookie', 'c2') AS carved_out;
SELECT (identity_rebuild()).components > 0 AS rebuilt;
SELECT track('{"cookie": "c2"}', 'visit', now(), '{}', 'e4') IS NOT NULL AS tracked,
       resolve_identity('{"email": "a@x.com", "cookie": "c2"}') = :a AS merged;
SELECT * FROM regress.behavior_drift();
SELECT count(*) AS events, (SELECT sum(event_count) FROM unified_profile u, profile_behavior(u.profile_id)) AS summarized
  FROM event;
