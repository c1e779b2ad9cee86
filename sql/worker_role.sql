-- The worker's role (issue 14, defect 1): the inbox workers run every
-- transaction as customer_profile_worker, not as the bootstrap superuser.
-- Here each statement the worker runs (src/pg/worker/worker.cpp) runs as that role,
-- over inbox rows that take every path: new people, a merge, a duplicate
-- event id, a malformed row, a blocked identifier, segments streaming (with
-- a window and consent), feature vectors, retention. test/tap/008_worker_role.pl
-- shows the worker process itself working as the role.
\set VERBOSITY terse
SELECT rolname, rolcanlogin, rolsuper, rolinherit FROM pg_roles WHERE rolname = 'customer_profile_worker';
SELECT count(*) AS memberships FROM pg_auth_members a JOIN pg_roles r ON r.oid = a.member
 WHERE r.rolname = 'customer_profile_worker';

SELECT customer_profile.event_measure_define('wr_buy', 'amount');
SELECT customer_profile.segment_create('wr_buyers', 'count(wr_buy) >= 1') > 0 AS created,
       customer_profile.segment_create('wr_recent', 'count(wr_buy within 7 days) >= 1') > 0 AS created,
       customer_profile.segment_create('wr_news', 'consent(wr_news) and count(wr_buy) >= 1') > 0 AS created;
SELECT customer_profile.consent_set('{"email": "wr-b@x.com"}', 'wr_news', true, 'test') IS NOT NULL AS consent;
SELECT (customer_profile.segment_refresh(s)).entered >= 0 AS refreshed FROM unnest(ARRAY['wr_buyers', 'wr_recent', 'wr_news']) s;
SELECT customer_profile.feature_define('wr_spend', 'sum(wr_buy.amount)') AS feature;
SELECT customer_profile.feature_build() >= 0 AS built;
CREATE FUNCTION pg_temp.utc(t timestamptz) RETURNS text LANGUAGE sql AS
    $$ SELECT to_char(t AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"') $$;
INSERT INTO customer_profile.event_inbox (identities, event_type, occurred_at, properties, event_id) VALUES
    ('{"email": "wr-a@x.com", "cookie": "ck-wr-a"}', 'wr_buy', pg_temp.utc(now() - interval '1 hour'), '{"amount": 5}', 'wr-1'),
    ('{"email": "wr-b@x.com"}', 'wr_buy', pg_temp.utc(now() - interval '2 hours'), '{"amount": 7}', 'wr-2'),
    -- ties wr-a and wr-b together: a merge
    ('{"cookie": "ck-wr-a", "email": "wr-b@x.com"}', 'wr_visit', pg_temp.utc(now()), '{}', 'wr-3'),
    ('{"email": "wr-a@x.com"}', 'wr_buy', pg_temp.utc(now() - interval '1 hour'), '{"amount": 5}', 'wr-1'),
    ('{"email": "wr-a@x.com"}', 'wr_buy', 'not a time', '{}', 'wr-4'),
    ('{"email": "test", "cookie": "ck-wr-c"}', 'wr_visit', pg_temp.utc(now() - interval '40 days'), '{}', 'wr-5');

SET ROLE customer_profile_worker;
SELECT current_user;
-- Registering (the pid of this session stands for the worker's).
WITH gone AS (DELETE FROM customer_profile.worker_state w WHERE NOT EXISTS (
    SELECT 1 FROM pg_catalog.pg_stat_activity a WHERE a.pid = w.pid AND a.backend_type = 'customer_profile worker'))
INSERT INTO customer_profile.worker_state (pid, state, batch_size) VALUES (pg_backend_pid(), 'idle', 100)
ON CONFLICT (pid) DO UPDATE SET state = 'idle', started_at = now(), heartbeat_at = now(), batches = 0,
    events_applied = 0, dead_lettered = 0, last_error = NULL;
SELECT 1::int8 WHERE pg_catalog.to_regprocedure('customer_profile.segment_windows_run(integer)') IS NOT NULL;
-- Draining.
WITH d AS (SELECT * FROM customer_profile.event_inbox_drain(100)),
s AS (UPDATE customer_profile.worker_state w SET state = 'draining', heartbeat_at = now(), batch_size = 100,
             batches = w.batches + 1, events_applied = w.events_applied + d.applied,
             dead_lettered = w.dead_lettered + d.dead_lettered FROM d WHERE w.pid = pg_backend_pid())
SELECT taken, applied, duplicates, dead_lettered FROM d;
-- Sliding windows: make every scheduled profile due.
RESET ROLE;
UPDATE customer_profile.segment_schedule SET due_at = now() - interval '1 second';
SET ROLE customer_profile_worker;
SELECT customer_profile.segment_windows_run(100) > 0 AS windows_ran;
-- Retention, partitions of this month and the next.
WITH r AS (SELECT * FROM customer_profile.retention_run()),
p AS (SELECT customer_profile.event_partitions_ensure(now(), now() + interval '1 month'))
UPDATE customer_profile.worker_state SET last_retention_at = now() FROM r, p WHERE pid = pg_backend_pid();
-- Feature vectors.
SELECT 1::int8 WHERE pg_catalog.to_regprocedure('customer_profile.feature_refresh(integer)') IS NOT NULL;
SELECT customer_profile.feature_refresh(1000)::int8 >= 0 AS features_refreshed;
-- Heartbeat, and an error recorded.
UPDATE customer_profile.worker_state SET state = 'idle', heartbeat_at = now() WHERE pid = pg_backend_pid();
UPDATE customer_profile.worker_state SET last_error = 'recorded', last_error_at = now(), heartbeat_at = now()
 WHERE pid = pg_backend_pid();
RESET ROLE;

-- What the worker did.
SELECT customer_profile.identity_lookup('email', 'wr-a@x.com') = customer_profile.identity_lookup('email', 'wr-b@x.com')
       AS merged,
       customer_profile.event_count(customer_profile.identity_lookup('email', 'wr-a@x.com'), 'wr_buy') AS buys,
       customer_profile.event_sum(customer_profile.identity_lookup('email', 'wr-a@x.com'), 'wr_buy', 'amount') AS amount;
SELECT s AS segments FROM customer_profile.profile_segment(customer_profile.identity_lookup('email', 'wr-a@x.com')) s
 WHERE s LIKE 'wr\_%' ORDER BY 1;
SELECT count(*) AS consented_member FROM customer_profile.segment_members('wr_news') m
 WHERE m = customer_profile.identity_lookup('email', 'wr-a@x.com');
SELECT reason FROM customer_profile.event_dead_letter WHERE event_id = 'wr-4';
SELECT rule, detail FROM customer_profile.identity_conflict WHERE source IS NULL AND rule = 'blocked_value' AND detail LIKE '%test%'
 ORDER BY conflict_id DESC LIMIT 1;
SELECT count(*) AS inbox_left FROM customer_profile.event_inbox;
SELECT state, batches, events_applied, dead_lettered, last_error, last_retention_at IS NOT NULL AS retention_ran
  FROM customer_profile.worker_state WHERE pid = pg_backend_pid();
SELECT count(*) > 0 AS vectors FROM customer_profile.profile_feature
 WHERE profile_id = customer_profile.identity_lookup('email', 'wr-a@x.com');

-- Nothing else: as the worker's role, the escalation paths are refused.
GRANT USAGE ON SCHEMA regress TO customer_profile_worker;
SET ROLE customer_profile_worker;
SELECT regress.err($$CREATE TRIGGER wr AFTER INSERT ON customer_profile.event_key FOR EACH STATEMENT
                     EXECUTE FUNCTION customer_profile._catalog_changed()$$) AS create_trigger;
SELECT regress.err($$SELECT salt FROM customer_profile.settings$$) AS salt;
SELECT regress.err($$INSERT INTO customer_profile.namespace (name) VALUES ('wr')$$) AS write_catalog;
SELECT regress.err($$SELECT value FROM customer_profile.identities$$) AS raw_identifiers;
SELECT regress.err($$SELECT customer_profile.identity_hash('email', 'wr-a@x.com')$$) AS hash_oracle;
SELECT regress.err($$SELECT customer_profile.profile_forget('email', 'wr-a@x.com')$$) AS forget;
RESET ROLE;
REVOKE USAGE ON SCHEMA regress FROM customer_profile_worker;

DELETE FROM customer_profile.worker_state WHERE pid = pg_backend_pid();
SELECT customer_profile.feature_drop('wr_spend');
SELECT customer_profile.segment_drop(s) FROM unnest(ARRAY['wr_buyers', 'wr_recent', 'wr_news']) s;
