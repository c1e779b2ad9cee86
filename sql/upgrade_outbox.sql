-- The outbox across the update to 1.6 and across a restore into another
-- cluster: consumers read in snapshot batches now (xact_id per row), and
-- nothing written or acknowledged before is lost or delivered again.
-- Runs after upgrade.sql: it replaces the extension too.
\set VERBOSITY terse
SET search_path = customer_profile, public;
DROP EXTENSION customer_profile;
CREATE EXTENSION customer_profile VERSION '1.5';
SELECT segment_create('visitors', 'count(visit) >= 1') > 0 AS segment;
SELECT track(jsonb_build_object('email', 'u' || g || '@x.com'), 'visit', now()) > 0 AS tracked
  FROM generate_series(1, 3) g;
-- A 1.5 consumer that handled the first two changes, and one that never read.
SELECT count(*) AS first_read FROM segment_outbox_read('old_reader', 2);
SELECT segment_outbox_ack('old_reader', 2);
ALTER EXTENSION customer_profile UPDATE;
SELECT extversion FROM pg_extension WHERE extname = 'customer_profile';
-- Old rows stay, without a transaction id: they committed before the update.
SELECT position, change, xact_id IS NULL AS no_xact, cluster_id IS NULL AS no_cluster FROM segment_outbox ORDER BY 1;
SELECT track('{"email": "u4@x.com"}', 'visit', now()) > 0 AS tracked_after_update;
SELECT position, xact_id IS NOT NULL AS has_xact, cluster_id = _cluster_id() AS this_cluster
  FROM segment_outbox WHERE position = 4;
-- The old consumer goes on after its position; a new one reads everything.
SELECT outbox_position, change FROM segment_outbox_read('old_reader') ORDER BY 1;
SELECT segment_outbox_ack('old_reader', 4);
SELECT count(*) AS nothing_more FROM segment_outbox_read('old_reader');
SELECT string_agg(outbox_position::text, ',' ORDER BY outbox_position) AS new_reader FROM segment_outbox_read('new_reader');
SELECT segment_outbox_ack('new_reader', 4);
-- After its first batch, a consumer's bookmark is a snapshot of this cluster.
SELECT count(*) AS nothing_more FROM segment_outbox_read('new_reader');
SELECT consumer, horizon IS NOT NULL AS has_horizon, batch IS NOT NULL AS has_batch, cluster_id = _cluster_id() AS this_cluster
  FROM segment_consumer ORDER BY consumer;
-- A batch returns in pieces of max_changes; what is not acknowledged comes again.
SELECT track('{"email": "v1@x.com"}', 'visit', now()) > 0 AS tracked;
SELECT track('{"email": "v2@x.com"}', 'visit', now()) > 0 AS tracked;
SELECT track('{"email": "v3@x.com"}', 'visit', now()) > 0 AS tracked;
SELECT string_agg(outbox_position::text, ',' ORDER BY outbox_position) AS piece FROM segment_outbox_read('new_reader', 2);
SELECT string_agg(outbox_position::text, ',' ORDER BY outbox_position) AS again FROM segment_outbox_read('new_reader', 2);
SELECT segment_outbox_ack('new_reader', 6);
SELECT string_agg(outbox_position::text, ',' ORDER BY outbox_position) AS rest FROM segment_outbox_read('new_reader', 2);
SELECT segment_outbox_ack('new_reader', 7);
SELECT count(*) AS nothing_more FROM segment_outbox_read('new_reader');

-- A restore into another cluster: the restored rows and the consumer's
-- snapshots carry the old cluster's id (simulated here by rewriting it).
-- The consumer had delivered the transactions before the one of position 6
-- (its horizon says so); it must start again with that change, not skip
-- it, and then get what this cluster writes.
SELECT xact_id AS pending_xact FROM segment_outbox WHERE position = 6 \gset
UPDATE segment_outbox SET cluster_id = 4242 WHERE cluster_id IS NOT NULL;
UPDATE segment_consumer SET cluster_id = 4242, batch = NULL, position = 0,
       horizon = (:'pending_xact' || ':' || :'pending_xact' || ':')::pg_snapshot
 WHERE consumer = 'new_reader';
SELECT track('{"email": "w1@x.com"}', 'visit', now()) > 0 AS tracked_after_restore;
SELECT string_agg(outbox_position::text, ',' ORDER BY outbox_position) AS after_restore FROM segment_outbox_read('new_reader');
SELECT segment_outbox_ack('new_reader', 8);
SELECT count(*) AS nothing_more FROM segment_outbox_read('new_reader');
SELECT cluster_id = _cluster_id() AS consumer_rebased FROM segment_consumer WHERE consumer = 'new_reader';
-- A consumer whose old snapshot had delivered everything restored gets only the new changes.
UPDATE segment_consumer SET cluster_id = 4242, batch = NULL, position = 0,
       horizon = (pg_snapshot_xmax(pg_current_snapshot()) || ':' || pg_snapshot_xmax(pg_current_snapshot()) || ':')::pg_snapshot
 WHERE consumer = 'old_reader';
UPDATE segment_outbox SET cluster_id = 4242 WHERE cluster_id IS NOT NULL;
SELECT track('{"email": "w2@x.com"}', 'visit', now()) > 0 AS tracked_after_restore;
SELECT string_agg(outbox_position::text, ',' ORDER BY outbox_position) AS only_new FROM segment_outbox_read('old_reader');

-- Errors keep their codes.
SELECT regress.err($$SELECT customer_profile.segment_outbox_ack('nobody', 1)$$) AS unknown_consumer;
SELECT regress.err($$SELECT * FROM customer_profile.segment_outbox_read(NULL)$$) AS no_name;
SELECT regress.err($$SELECT * FROM customer_profile.segment_outbox_read('x', 0)$$) AS zero_changes;
-- Leave a fresh install behind.
RESET search_path;
DROP EXTENSION customer_profile;
CREATE EXTENSION customer_profile;
