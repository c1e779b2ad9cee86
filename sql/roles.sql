-- Least privilege: the three roles the extension creates, each logged in
-- as, showing what it may do and what it is refused (42501). PUBLIC gets
-- nothing.
SELECT current_user AS superuser \gset
SELECT rolname, rolcanlogin FROM pg_roles WHERE rolname LIKE 'customer\_profile\_%' ORDER BY 1;
SELECT count(*) AS public_executable FROM pg_proc p
 WHERE p.pronamespace = 'customer_profile'::regnamespace AND has_function_privilege('public', p.oid, 'EXECUTE');
DROP ROLE IF EXISTS cp_nobody, cp_reader, cp_writer, cp_admin;
CREATE ROLE cp_nobody LOGIN;
CREATE ROLE cp_reader LOGIN IN ROLE customer_profile_reader;
CREATE ROLE cp_writer LOGIN IN ROLE customer_profile_writer;
CREATE ROLE cp_admin LOGIN IN ROLE customer_profile_admin;
GRANT USAGE ON SCHEMA regress TO PUBLIC;
SELECT customer_profile.resolve_identity('{"email": "roles@example.com", "crm_id": "role-1"}') AS p \gset
SELECT customer_profile.segment_create('role_known', 'known') > 0 AS segment;

\c - cp_nobody
SELECT regress.err($$SELECT customer_profile.identity_lookup('email', 'roles@example.com')$$) AS nobody_lookup;

\c - cp_reader
SELECT customer_profile.identity_lookup('email', 'roles@example.com') = :p AS lookup,
       customer_profile.profile_get('email', 'roles@example.com') IS NOT NULL AS profile_by_identifier,
       customer_profile.profile_segment(:p, 'role_known') AS in_segment,
       customer_profile.event_count(:p, 'purchase') AS purchases,
       (SELECT count(*) > 0 FROM customer_profile.profiles) AS profiles_view,
       (SELECT count(*) > 0 FROM customer_profile.identity WHERE profile_id = :p) AS identity_columns,
       (SELECT count(*) > 0 FROM customer_profile.customer_value) AS value_view;
SELECT regress.err($$SELECT raw_value FROM customer_profile.identity LIMIT 1$$) AS raw_values;
SELECT regress.err($$SELECT value_hash FROM customer_profile.identity LIMIT 1$$) AS hashes;
SELECT regress.err($$SELECT * FROM customer_profile.identities LIMIT 1$$) AS identities_view;
SELECT regress.err($$SELECT salt FROM customer_profile.settings$$) AS salt;
SELECT regress.err($$SELECT * FROM customer_profile.event_inbox$$) AS queued_events;
SELECT regress.err($$SELECT customer_profile.identity_hash('email', 'roles@example.com')$$) AS hash_oracle;
SELECT regress.err($$SELECT customer_profile.profile_identities(1)$$) AS identities_function;
SELECT regress.err($$SELECT customer_profile.profile_export('email', 'roles@example.com')$$) AS export;
SELECT regress.err($$SELECT customer_profile.resolve_identity('{"email": "new@example.com"}')$$) AS resolve;
SELECT regress.err($$INSERT INTO customer_profile.event_inbox (identities, event_type) VALUES ('{}', 'x')$$) AS enqueue;
SELECT regress.err($$SELECT customer_profile.segment_create('r', 'known')$$) AS define_segment;
SELECT regress.err($$SELECT customer_profile.profile_forget('email', 'roles@example.com')$$) AS forget;
-- Issue 14, defect 3: no internal function is a way around a refusal; the
-- hash oracle is refused under its internal name too.
SELECT regress.err($$SELECT customer_profile._identity_hash_or_null('email', 'roles@example.com')$$) AS internal_hash;
SELECT regress.err($$SELECT customer_profile._identity_find('email', 'roles@example.com')$$) AS internal_find;
SELECT regress.err($$SELECT customer_profile._profile_recompute(1, NULL)$$) AS internal_recompute;
-- Defect 5: identity_explain shows raw identifiers (and needs the hash),
-- identity_components the links: both are the writer's.
SELECT regress.err($$SELECT customer_profile.identity_explain('email', 'roles@example.com', 'crm_id', 'role-1')$$)
       AS explain;
SELECT regress.err($$SELECT count(*) FROM customer_profile.identity_components()$$) AS components;

\c - cp_writer
SELECT customer_profile.resolve_identity('{"email": "roles@example.com", "phone": "+33 6 00 00 00 01"}') = :p AS resolve,
       customer_profile.track('{"crm_id": "role-1"}', 'purchase', now(), '{}', 'role-evt-1') = :p AS track,
       customer_profile.trait_observe('{"crm_id": "role-1"}', '{"tier": "gold"}', 'crm') = :p AS observe,
       customer_profile.consent_set('{"crm_id": "role-1"}', 'analytics', true, 'crm') = :p AS consent;
INSERT INTO customer_profile.event_inbox (identities, event_type, occurred_at, event_id)
VALUES ('{"crm_id": "role-1"}', 'purchase', '2026-01-01T00:00:00Z', 'role-evt-2');
SELECT applied FROM customer_profile.event_inbox_drain(10);
SELECT count(*) AS outbox_rows_readable FROM customer_profile.segment_outbox_read('role_consumer') WHERE false;
SELECT count(*) AS identifiers FROM customer_profile.profile_identities(:p);
SELECT regress.err($$SELECT salt FROM customer_profile.settings$$) AS salt;
SELECT regress.err($$SELECT customer_profile.segment_create('w', 'known')$$) AS define_segment;
SELECT regress.err($$SELECT customer_profile.trait_define('w', 'text')$$) AS define_trait;
SELECT regress.err($$SELECT customer_profile.identity_namespace_create('w')$$) AS define_namespace;
SELECT regress.err($$SELECT customer_profile.profile_export('email', 'roles@example.com')$$) AS export;
SELECT regress.err($$SELECT customer_profile.profile_forget('email', 'roles@example.com')$$) AS forget;
SELECT regress.err($$DELETE FROM customer_profile.erasure$$) AS erasure_log;
SELECT customer_profile.identity_explain('email', 'roles@example.com', 'crm_id', 'role-1') ->> 'reason' AS explain;
SELECT count(*) > 0 AS components FROM customer_profile.identity_components();

\c - cp_admin
SELECT customer_profile.trait_define('role_tier', 'text');
SELECT count(*) > 0 AS wide_view_after_redefinition FROM customer_profile.profiles_wide;
SELECT customer_profile.segment_create('role_gold', 'tier = ''gold''') > 0 AS define_segment;
SELECT (customer_profile.profile_export('crm_id', 'role-1') ->> 'profile_id')::bigint = :p AS export;
SELECT customer_profile.profile_forget('crm_id', 'role-1') IS NOT NULL AS forget;
SELECT customer_profile.identity_lookup('email', 'roles@example.com') IS NULL AS forgotten;
-- Defect 5: workers are the superuser's.
SELECT regress.err($$SELECT customer_profile.worker_start()$$) AS worker_start;
SELECT regress.err($$SELECT customer_profile.worker_stop()$$) AS worker_stop;

\c - :superuser
-- Granted EXECUTE by mistake, identity_components() still reads no link its
-- caller may not SELECT (the reader may read identity ids, not links), and
-- worker_start() still starts no worker.
GRANT EXECUTE ON FUNCTION customer_profile.identity_components() TO cp_reader;
GRANT EXECUTE ON FUNCTION customer_profile.worker_start() TO cp_admin;
\c - cp_reader
SELECT regress.err($$SELECT count(*) FROM customer_profile.identity_components()$$) AS components_granted;
\c - cp_admin
SELECT regress.err($$SELECT customer_profile.worker_start()$$) AS worker_start_granted;
\c - :superuser
REVOKE EXECUTE ON FUNCTION customer_profile.identity_components() FROM cp_reader;
REVOKE EXECUTE ON FUNCTION customer_profile.worker_start() FROM cp_admin;
SELECT customer_profile.segment_drop('role_known'), customer_profile.segment_drop('role_gold');
DELETE FROM customer_profile.trait_definition WHERE name = 'role_tier';
SELECT customer_profile.profiles_wide_refresh();
DELETE FROM customer_profile.segment_outbox;
DELETE FROM customer_profile.segment_membership;
DELETE FROM customer_profile.segment_consumer;
REVOKE USAGE ON SCHEMA regress FROM PUBLIC;
DROP ROLE cp_nobody, cp_reader, cp_writer, cp_admin;
