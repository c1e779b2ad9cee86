-- Subject access: profile_export() returns everything held about a person.
SET search_path = customer_profile, public;
SELECT event_measure_define('order', 'total');
SELECT resolve_identity('{"crm_id": "x-1", "email": "Export.Me@Example.com"}') AS p \gset
SELECT trait_observe('{"crm_id": "x-1"}', '{"city": "Lyon", "score": 7}', 'crm', '2026-01-02T03:04:05Z') = :p AS crm;
SELECT trait_observe('{"email": "export.me@example.com"}', '{"city": "Nice"}', 'web', '2026-02-03T04:05:06Z') = :p AS web;
SELECT track('{"crm_id": "x-1"}', 'order', '2026-03-01T10:00:00Z', '{"total": 42}', 'ord-1') = :p AS ordered;
SELECT segment_create('exporters', 'count(order) >= 1') > 0 AS created;
SELECT entered FROM segment_refresh('exporters');
SELECT resolve_identity('{"crm_id": "someone-else"}') AS other \gset

SELECT profile_export('email', ' EXPORT.me@example.COM ') AS doc \gset
SELECT (:'doc'::jsonb ->> 'profile_id')::bigint = :p AS right_person,
       (SELECT array_agg(k ORDER BY k) FROM jsonb_object_keys(:'doc'::jsonb) k) AS sections;
SELECT i ->> 'namespace' AS namespace, i ->> 'value' AS kept_value, length(i ->> 'value_sha256') AS hash_hex_chars
  FROM jsonb_array_elements(:'doc'::jsonb -> 'identities') i;
SELECT t.key AS trait, t.value ->> 'value' AS value, t.value ->> 'source' AS source
  FROM jsonb_each(:'doc'::jsonb -> 'traits') t ORDER BY 1;
SELECT o ->> 'trait' AS trait, o ->> 'source' AS source, o -> 'value' AS value, o ->> 'via' AS via
  FROM jsonb_array_elements(:'doc'::jsonb -> 'observations') o;
SELECT b ->> 'event_type' AS event_type, b ->> 'event_count' AS count, b -> 'totals' AS totals
  FROM jsonb_array_elements(:'doc'::jsonb -> 'behavior') b;
SELECT e ->> 'event_id' AS event_id, e -> 'properties' AS properties FROM jsonb_array_elements(:'doc'::jsonb -> 'events') e;
SELECT s ->> 'segment' AS segment, s ->> 'exited_at' IS NULL AS still_member
  FROM jsonb_array_elements(:'doc'::jsonb -> 'segments') s;
-- Nothing about anyone else.
SELECT position('someone-else' IN :'doc') = 0 AS no_other_person;
-- Unknown people and bad input.
SELECT profile_export('email', 'nobody@example.com') IS NULL AS unknown_is_null;
SELECT profile_export(NULL, 'x') IS NULL AS null_namespace;
SELECT regress.err($$SELECT customer_profile.profile_export('shoe_size', '42')$$);
SELECT regress.err($$SELECT customer_profile.profile_export('email', 'not an email')$$);

-- Consent per purpose: the latest statement through any of the person's identifiers.
SELECT profile_consent(:p, 'email_marketing') IS NULL AS never_asked;
SELECT consent_set('{"email": "export.me@example.com"}', 'email_marketing', true, 'web', '2026-04-01T00:00:00Z') = :p AS granted;
SELECT consent_set('{"crm_id": "x-1"}', 'analytics', false, 'crm', '2026-04-02T00:00:00Z') = :p AS refused;
SELECT profile_consent(:p, 'email_marketing') AS email_marketing, profile_consent(:p, 'analytics') AS analytics;
-- A later withdrawal through another identifier wins; an older statement arriving late does not.
SELECT consent_set('{"crm_id": "x-1"}', 'email_marketing', false, 'crm', '2026-05-01T00:00:00Z') = :p AS withdrawn;
SELECT consent_set('{"crm_id": "x-1"}', 'email_marketing', true, 'crm', '2026-03-01T00:00:00Z') = :p AS late_old_grant;
SELECT profile_consent(:p, 'email_marketing') AS email_marketing_now;
SELECT c ->> 'purpose' AS purpose, c ->> 'granted' AS granted, c ->> 'source' AS source, c ->> 'via' AS via
  FROM jsonb_array_elements(profile_export('crm_id', 'x-1') -> 'consents') c;
-- A new person's consent creates the profile; bad input is refused and writes nothing.
SELECT consent_set('{"email": "new.person@example.com"}', 'personalization', true, 'web') IS NOT NULL AS new_person;
SELECT count(*) AS statements_before FROM consent \gset
SELECT regress.err($$SELECT customer_profile.consent_set('{"crm_id": "x-1"}', 'Email Marketing', true, 'web')$$);
SELECT regress.err($$SELECT customer_profile.consent_set('{"crm_id": "x-1"}', NULL, true, 'web')$$);
SELECT regress.err($$SELECT customer_profile.consent_set('{"crm_id": "x-1"}', 'analytics', NULL, 'web')$$);
SELECT regress.err($$SELECT customer_profile.consent_set('{"crm_id": "x-1"}', 'analytics', true, '')$$);
SELECT regress.err($$SELECT customer_profile.consent_set('{"email": "not an email"}', 'analytics', true, 'web')$$);
SELECT count(*) = :statements_before AS nothing_written FROM consent;

-- Activation respects consent: a consumer asking for a purpose sees only people who granted it.
SELECT consent_set('{"crm_id": "someone-else"}', 'email_marketing', true, 'crm') = :other AS other_granted;
SELECT track('{"crm_id": "someone-else"}', 'order', now(), '{"total": 1}') = :other AS other_ordered;
SELECT segment, profile_id = :p AS p, profile_id = :other AS other FROM segment_outbox_read('mailer_all') ORDER BY outbox_position;
SELECT segment, profile_id = :p AS p, profile_id = :other AS other FROM segment_outbox_read('mailer_consented', 100, 'email_marketing') ORDER BY outbox_position;

-- Segments can require consent: consent(purpose) is true when the latest statement granted it.
SELECT segment_create('mailable', 'count(order) >= 1 AND consent(email_marketing)') > 0 AS created;
SELECT entered FROM segment_refresh('mailable');
SELECT profile_segment(:other, 'mailable') AS other_mailable, profile_segment(:p, 'mailable') AS p_mailable;
SELECT segment_matches(:p, 'NOT consent(email_marketing) AND NOT consent(personalization)') AS p_silent_or_withdrawn;
SELECT count(*) AS email_consenters FROM unified_profile u WHERE u @@ 'consent(email_marketing)'::segment_predicate;
SELECT regress.err($$SELECT '{"traits": {}}'::customer_profile.profile @@ 'consent(analytics)'::customer_profile.segment_predicate$$);
SELECT regress.err($$SELECT 'consent("Email")'::customer_profile.segment_predicate$$);
-- Streaming: granting enters at once, withdrawing exits, each announced in the outbox.
DELETE FROM segment_outbox;
SELECT consent_set('{"crm_id": "x-1"}', 'email_marketing', true, 'crm', '2026-06-01T00:00:00Z') = :p AS p_grants;
SELECT profile_segment(:p, 'mailable') AS p_mailable_now;
SELECT consent_set('{"crm_id": "someone-else"}', 'email_marketing', false, 'crm') = :other AS other_withdraws;
SELECT consent_set('{"crm_id": "someone-else"}', 'analytics', true, 'crm') = :other AS other_analytics;
SELECT segment, change, profile_id = :p AS p FROM segment_outbox ORDER BY position;
SELECT m = :p AS p FROM segment_members('mailable') m;
-- A scan over many profiles reads each purpose's consenters once (after 64 single lookups): same answer.
BEGIN;
SELECT count(consent_set(jsonb_build_object('crm_id', 'bulk-' || g), 'analytics', g % 3 = 0, 'import')) AS stated
  FROM generate_series(1, 100) g;
SELECT count(*) AS analytics_consenters FROM unified_profile u WHERE u @@ 'consent(analytics)'::segment_predicate;
SELECT count(*) AS by_function FROM unified_profile u WHERE profile_consent(u.profile_id, 'analytics');
ROLLBACK;
SELECT segment_drop('mailable');

-- Statements go with the identifier they came through (no unreachable rows left).
SELECT consent_set('{"cookie": "ck-consent-gone"}', 'analytics', true, 'web') IS NOT NULL AS stated;
SELECT identity_remove('cookie', 'ck-consent-gone') AS carved;
SELECT count(*) AS orphan_consents FROM consent c
 WHERE NOT EXISTS (SELECT 1 FROM identity i WHERE i.identity_id = c.identity_id);

SELECT segment_drop('exporters');
DELETE FROM segment_outbox;
DELETE FROM segment_membership;
DELETE FROM segment_consumer;
