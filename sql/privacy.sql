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
SELECT segment_drop('exporters');
DELETE FROM segment_outbox;
DELETE FROM segment_membership;
