-- The inbox: batches applied by event_inbox_drain() (what the worker runs),
-- deduplication across and inside batches, dead letters with reasons.
-- (pg_regress runs with DateStyle 'Postgres': now()::text is not ISO 8601.)
SET search_path = customer_profile, public;
SELECT event_measure_define('order', 'amount');
INSERT INTO event_inbox (identities, event_type, occurred_at, properties, event_id) VALUES
    ('{"email": "inbox@x.com"}', 'order', (now() - interval '1 day')::text, '{"amount": 3}', 'in-1'),
    ('{"email": "inbox@x.com"}', 'order', to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'), '{"amount": 4}', 'in-2'),
    ('{"email": "inbox@x.com"}', 'order', now()::text, '{"amount": 3}', 'in-1'),                 -- same id again
    ('{"email": "inbox@x.com"}', 'visit', now()::text, '{}', NULL),
    ('{"email": "inbox@x.com"}', 'visit', now()::text, '{}', NULL),                               -- no id, same content
    ('{"email": "inbox@x.com"}', 'order', 'last tuesday', '{}', 'bad-1'),
    ('{"email": "inbox@x.com"}', 'order', '2026-02-30T10:00:00Z', '{}', 'bad-2'),                 -- no such day
    ('{"email": "inbox@x.com"}', 'order', now()::text, '[1, 2]', 'bad-3'),
    ('{"email": "inbox@x.com"}', 'order', now()::text, '"x"', 'bad-4'),
    (NULL, 'order', now()::text, '{}', 'bad-5'),
    ('{}', 'order', now()::text, '{}', 'bad-6'),
    ('{"nosuch": "1"}', 'order', now()::text, '{}', 'bad-7'),
    ('{"email": "inbox@x.com"}', NULL, now()::text, '{}', 'bad-8'),
    ('{"email": "inbox@x.com"}', 'order', NULL, '{}', 'bad-9'),
    ('{"email": "inbox@x.com"}', 'order', now()::text, '{"amount": "many"}', 'bad-10'),
    ('{"email": ""}', 'order', now()::text, '{}', 'bad-11'),
    ('{"email": "inbox@x.com"}', 'order', now()::text, NULL, 'no-properties');
SELECT * FROM event_inbox_drain(100);
SELECT count(*) AS left_in_inbox FROM event_inbox;
SELECT event_id, sqlstate, reason FROM event_dead_letter ORDER BY inbox_id;
SELECT event_type, event_count, totals FROM profile_behavior(resolve_identity('{"email": "inbox@x.com"}'))
 ORDER BY event_type;

-- Batches take the oldest rows first and stop at batch_size.
INSERT INTO event_inbox (identities, event_type, occurred_at)
    SELECT jsonb_build_object('email', 'p' || (g % 7) || '@x.com'), 'tick', (now() - g * interval '1 second')::text
      FROM generate_series(1, 25) g;
SELECT * FROM event_inbox_drain(10);
SELECT * FROM event_inbox_drain(10);
SELECT * FROM event_inbox_drain(10);
SELECT * FROM event_inbox_drain(10);
SELECT sum(event_count(resolve_identity(jsonb_build_object('email', 'p' || g || '@x.com')), 'tick')) AS ticks
  FROM generate_series(0, 6) g;
-- A row committed late with an id below what a drain already passed is not forgotten.
INSERT INTO event_inbox (identities, event_type, occurred_at)
    SELECT jsonb_build_object('email', 'late' || g || '@x.com'), 'tick', now()::text FROM generate_series(1, 10) g;
SELECT taken FROM event_inbox_drain(10);
INSERT INTO event_inbox (inbox_id, identities, event_type, occurred_at) VALUES (1, '{"email": "straggler@x.com"}', 'tick', now()::text);
SELECT taken, applied FROM event_inbox_drain(10);
SELECT event_count(identity_lookup('email', 'straggler@x.com'), 'tick') AS straggler_applied;
SELECT regress.err($$SELECT customer_profile.event_inbox_drain(0)$$);

-- Applied in the caller's transaction: a rollback puts the events back.
INSERT INTO event_inbox (identities, event_type, occurred_at) VALUES ('{"email": "rb@x.com"}', 'tick', now()::text);
BEGIN;
SELECT taken, applied FROM event_inbox_drain(10);
ROLLBACK;
SELECT count(*) AS back_in_inbox FROM event_inbox;
SELECT taken, applied FROM event_inbox_drain(10);

-- A retried dead letter is applied once fixed.
INSERT INTO event_inbox (identities, event_type, occurred_at, properties, event_id)
    SELECT identities, event_type, now()::text, properties, event_id FROM event_dead_letter WHERE event_id = 'bad-1';
SELECT taken, applied, dead_lettered FROM event_inbox_drain(10);
SELECT count(*) AS worker_rows FROM worker_status;

-- A burst into an inbox that was analyzed empty drains in linear time. The
-- drain's plan is kept for the backend's life: a generic plan made while the
-- table was empty (a nested loop rescanning the locking subquery per row) took
-- minutes per batch on a burst of 100,000 events.
DELETE FROM event_inbox;
VACUUM ANALYZE customer_profile.event_inbox;
SELECT sum(taken) AS taken_from_empty FROM generate_series(1, 8) g, LATERAL event_inbox_drain(100) d;
INSERT INTO event_inbox (identities, event_type, occurred_at, event_id)
    SELECT jsonb_build_object('email', 'burst' || (g % 50) || '@x.com'), 'tick', now()::text, 'burst-' || g
      FROM generate_series(1, 20000) g;
SET statement_timeout = '20s';
SELECT taken, applied FROM event_inbox_drain(1000);
RESET statement_timeout;
DELETE FROM event_inbox;
