-- Right to erasure: profile_forget() leaves no trace of the person (no raw
-- value, no hash, no profile id outside the erasure record) in any of the
-- extension's tables, and the same identifiers later start a new profile.
SET search_path = customer_profile, public;
SELECT event_measure_define('purchase', 'amount');
-- The person: two profiles merged by a later link, traits, events, consent, segments, queued and failed events.
SELECT resolve_identity('{"crm_id": "forget-1", "email": "Forget.Me@Example.com"}') AS p \gset
SELECT resolve_identity('{"phone": "+33 6 12 34 56 78", "cookie": "ck-forget-me"}') AS q \gset
SELECT resolve_identity('{"email": "forget.me@example.com", "cookie": "ck-forget-me"}') = :p AS merged;
SELECT trait_observe('{"crm_id": "forget-1"}', '{"city": "Lyon", "nickname": "forget.me@example.com"}', 'crm') = :p AS traits;
SELECT track('{"phone": "+33612345678"}', 'purchase', now() - interval '1 day', '{"amount": 30}', 'forget-evt-1') = :p AS tracked;
SELECT consent_set('{"email": "forget.me@example.com"}', 'email_marketing', true, 'web') = :p AS consented;
SELECT segment_create('forget_buyers', 'count(purchase) >= 1') > 0 AS segment;
SELECT segment_size('forget_buyers') >= 1 AS entered_at_creation;
INSERT INTO event_inbox (identities, event_type, occurred_at, properties, event_id) VALUES
    ('{"email": " FORGET.ME@example.com "}', 'purchase', now()::text, '{"amount": 5}', 'forget-evt-2'),
    ('{"cookie": "ck-somebody-else"}', 'purchase', now()::text, '{"amount": 5}', 'keep-evt-1');
INSERT INTO event_dead_letter (identities, event_type, occurred_at, event_id, sqlstate, reason) VALUES
    ('["forget.me@example.com"]', 'purchase', 'never', 'forget-evt-3', '22P02', 'malformed');
-- Someone else, who must keep everything.
SELECT resolve_identity('{"email": "stays@example.com", "crm_id": "stay-1"}') AS other \gset
SELECT track('{"crm_id": "stay-1"}', 'purchase', now(), '{"amount": 1}', 'stay-evt-1') = :other AS other_tracked;

-- What would betray the person: every raw and normalized value, every stored hash, every profile id.
CREATE TEMP TABLE trace AS
    SELECT DISTINCT lower(t) AS pattern FROM (
        SELECT unnest(ARRAY['Forget.Me@Example.com', 'forget.me@example.com', 'forget-1', '+33612345678',
                            'ck-forget-me', 'forget-evt-1', 'forget-evt-2', 'forget-evt-3'])
        UNION ALL
        SELECT encode(i.value_hash, 'hex') FROM identity i WHERE i.profile_id = :p) x(t);
SELECT count(*) AS patterns FROM trace;
CREATE TEMP TABLE old_profile AS SELECT unnest(ARRAY[:p, :q]::bigint[]) AS id;
CREATE FUNCTION pg_temp.traces_left() RETURNS TABLE (table_name text, rows_with_trace bigint)
    LANGUAGE plpgsql AS $$
DECLARE
    t record;
    c record;
    n bigint;
BEGIN
    FOR t IN SELECT r.oid::regclass AS rel, r.relname FROM pg_class r
              WHERE r.relnamespace = 'customer_profile'::regnamespace AND r.relkind IN ('r', 'm') ORDER BY r.relname LOOP
        EXECUTE format('SELECT count(*) FROM %s x WHERE EXISTS (SELECT 1 FROM trace WHERE strpos(lower(x::text), trace.pattern) > 0)', t.rel)
           INTO n;
        IF n > 0 THEN table_name := t.relname; rows_with_trace := n; RETURN NEXT; END IF;
        FOR c IN SELECT a.attname FROM pg_attribute a
                  WHERE a.attrelid = t.rel AND a.attnum > 0 AND NOT a.attisdropped AND a.atttypid = 'int8'::regtype
                    AND a.attname LIKE '%profile_id' LOOP
            EXECUTE format('SELECT count(*) FROM %s x WHERE x.%I IN (SELECT id FROM old_profile)', t.rel, c.attname) INTO n;
            IF n > 0 THEN table_name := t.relname || '.' || c.attname; rows_with_trace := n; RETURN NEXT; END IF;
        END LOOP;
    END LOOP;
END $$;
-- Before: the person is everywhere (the check can fail).
SELECT DISTINCT regexp_replace(table_name, '^event_[0-9]{6}$', 'event_<month>') AS table_name, rows_with_trace > 0 AS traced
  FROM pg_temp.traces_left() ORDER BY 1;

SELECT count(*) AS other_identities_before FROM identity WHERE profile_id = :other \gset
SELECT profile_forget('email', ' FORGET.me@EXAMPLE.com') AS erasure \gset
-- After: nothing, in any table.
SELECT table_name, rows_with_trace FROM pg_temp.traces_left() ORDER BY 1;
SELECT identity_lookup('crm_id', 'forget-1') IS NULL AS crm_id_gone, identity_lookup('phone', '+33612345678') IS NULL AS phone_gone;
SELECT profile_export('email', 'forget.me@example.com') IS NULL AS nothing_to_export;
-- The erasure record: the profile ids (for downstream systems) and what went, nothing else.
SELECT profile_ids = ARRAY[:p, :q]::bigint[] AS profile_ids, erased_by = session_user AS by_me,
       (SELECT array_agg(k ORDER BY k) FROM jsonb_object_keys(removed) k) AS kinds FROM erasure WHERE erasure_id = :erasure;
SELECT removed ->> 'identities' AS identities, removed ->> 'events' AS events, removed ->> 'queued_events' AS queued,
       removed ->> 'dead_letters' AS dead_letters, removed ->> 'consents' AS consents, removed ->> 'profile_merges' AS merges
  FROM erasure WHERE erasure_id = :erasure;
-- Everyone else keeps everything.
SELECT count(*) = :other_identities_before AS other_identities_kept FROM identity WHERE profile_id = :other;
SELECT event_count(:other, 'purchase') AS other_purchases, (SELECT count(*) FROM event_inbox) AS inbox_left;
-- The same identifiers later start a new, empty profile.
SELECT resolve_identity('{"email": "forget.me@example.com", "crm_id": "forget-1"}') AS again \gset
SELECT :again NOT IN (:p, :q) AS new_profile, profile_get(:again)::text AS traits, event_count(:again, 'purchase') AS purchases,
       profile_consent(:again, 'email_marketing') IS NULL AS no_consent, profile_segment(:again, 'forget_buyers') AS in_segment;
-- The event id may be applied again for the new person.
SELECT track('{"crm_id": "forget-1"}', 'purchase', now(), '{"amount": 2}', 'forget-evt-1') = :again AS applied_again;
SELECT event_count(:again, 'purchase') AS purchases_now;

-- Unknown people still get a record (queued events naming them are removed); bad input changes nothing.
SELECT profile_forget('email', 'nobody-here@example.com') IS NOT NULL AS recorded;
SELECT profile_ids, removed ->> 'identities' AS identities FROM erasure ORDER BY erasure_id DESC LIMIT 1;
SELECT count(*) AS erasures_before FROM erasure \gset
SELECT regress.err($$SELECT customer_profile.profile_forget(NULL, 'x')$$);
SELECT regress.err($$SELECT customer_profile.profile_forget('email', NULL)$$);
SELECT regress.err($$SELECT customer_profile.profile_forget('shoe_size', '42')$$);
SELECT regress.err($$SELECT customer_profile.profile_forget('email', 'not an email')$$);
SELECT count(*) = :erasures_before AS nothing_written FROM erasure;

-- Erasure matches identifiers by namespace and normalized value (their
-- hash), key by key, also inside the arrays and nested objects of a
-- malformed row; never as text. Forgetting crm_id 12 leaves crm_id 1234,
-- cookie ck-9912 and a phone ending in 0112 alone; guard-rail records go by
-- the profile and identity ids they name, not by their wording.
SELECT resolve_identity('{"crm_id": "12", "email": "twelve@example.com"}') AS twelve \gset
SELECT resolve_identity('{"crm_id": "1234", "email": "n1234@example.com"}') AS n1234 \gset
SELECT resolve_identity('{"cookie": "ck-9912"}') AS ck9912 \gset
SELECT resolve_identity('{"phone": "+33 6 12 34 01 12"}') AS ph0112 \gset
-- A second crm_id is refused for each (one per profile): "... holds the namespace's maximum".
SELECT resolve_identity('{"crm_id": "13", "email": "twelve@example.com"}') <> :twelve AS refused_13,
       resolve_identity('{"crm_id": "1235", "email": "n1234@example.com"}') <> :n1234 AS refused_1235;
SELECT track('{"crm_id": "12"}', 'purchase', now(), '{"amount": 1}', 'twelve-evt-1') = :twelve AS t12,
       track('{"crm_id": "1234"}', 'purchase', now(), '{"amount": 1}', 'n1234-evt-1') = :n1234 AS t1234,
       track('{"cookie": "ck-9912"}', 'purchase', now(), '{"amount": 1}', 'ck9912-evt-1') = :ck9912 AS t9912,
       track('{"phone": "+33612340112"}', 'purchase', now(), '{"amount": 1}', 'ph0112-evt-1') = :ph0112 AS t0112;
INSERT INTO event_inbox (identities, event_type, occurred_at, properties, event_id) VALUES
    ('{"crm_id": "12"}', 'purchase', now()::text, '{}', 'twelve-q-1'),
    ('{"crm_id": " 12 "}', 'purchase', now()::text, '{}', 'twelve-q-2'),             -- same normalized value
    ('{"email": "TWELVE@example.com"}', 'purchase', now()::text, '{}', 'twelve-q-3'), -- another identifier of theirs
    ('{"crm_id": ["99", "12"]}', 'purchase', now()::text, '{}', 'twelve-q-4'),        -- malformed: an array
    ('{"crm_id": 12}', 'purchase', now()::text, '{}', 'twelve-q-5'),                  -- malformed: a number
    ('{"crm_id": "1234"}', 'purchase', now()::text, '{}', 'keep-q-1'),
    ('{"cookie": "ck-9912"}', 'purchase', now()::text, '{}', 'keep-q-2'),
    ('{"phone": "+33 6 12 34 01 12"}', 'purchase', now()::text, '{}', 'keep-q-3'),
    ('{"crm_id": ["1234", "5612"], "cookie": "12"}', 'purchase', now()::text, '{}', 'keep-q-4'),  -- cookie 12: not crm_id 12
    ('{"phone": "12"}', 'purchase', now()::text, '{}', 'keep-q-5'),
    ('{"email": "max@example.com"}', 'purchase', now()::text, '{}', 'keep-q-6'),
    ('{"crm_id": "max-1"}', 'purchase', now()::text, '{}', 'keep-q-7');
INSERT INTO event_dead_letter (identities, event_type, occurred_at, event_id, sqlstate, reason) VALUES
    ('["12"]', 'purchase', 'never', 'twelve-d-1', '22P02', 'no namespace: compared in the person''s namespaces'),
    ('{"user": {"crm_id": "12"}}', 'purchase', 'never', 'twelve-d-2', '22P02', 'nested'),
    ('{"crm_id": "1234", "phone": "not a phone"}', 'purchase', 'never', 'keep-d-1', '22P02', 'malformed phone'),
    ('"ck-9912 12"', 'purchase', 'never', 'keep-d-2', '22P02', 'a string'),
    ('[" 1234", "0112", 1212]', 'purchase', 'never', 'keep-d-3', '22P02', 'an array'),
    ('{"note": "maximum"}', 'purchase', 'never', 'keep-d-4', '22P02', 'no identifier');
SELECT count(*) AS conflicts_before FROM identity_conflict \gset
SELECT count(*) AS twelve_conflicts FROM identity_conflict WHERE kept_profile_id = :twelve;
SELECT profile_forget('crm_id', '12') AS e12 \gset
SELECT removed ->> 'queued_events' AS queued, removed ->> 'dead_letters' AS dead_letters, removed ->> 'events' AS events,
       removed ->> 'identities' AS identities, removed ->> 'identity_conflicts' AS conflicts
  FROM erasure WHERE erasure_id = :e12;
SELECT string_agg(event_id, ' ' ORDER BY event_id) AS queued_left FROM event_inbox WHERE event_id ~ '^(twelve|keep)-[qd]-';
SELECT string_agg(event_id, ' ' ORDER BY event_id) AS dead_letters_left FROM event_dead_letter WHERE event_id ~ '^(twelve|keep)-[qd]-';
SELECT identity_lookup('crm_id', '1234') = :n1234 AS crm_1234_kept, identity_lookup('cookie', 'ck-9912') = :ck9912 AS cookie_kept,
       identity_lookup('phone', '+33612340112') = :ph0112 AS phone_kept, identity_lookup('crm_id', '13') IS NOT NULL AS crm_13_kept,
       identity_lookup('crm_id', '12') IS NULL AS crm_12_gone, identity_lookup('email', 'twelve@example.com') IS NULL AS email_gone;
SELECT event_count(:n1234, 'purchase') AS n1234_purchases, event_count(:ck9912, 'purchase') AS ck9912_purchases,
       event_count(:ph0112, 'purchase') AS ph0112_purchases,
       (SELECT count(*) FROM identity_conflict WHERE kept_profile_id = :n1234) AS n1234_conflicts,
       (SELECT count(*) FROM identity_conflict) = :conflicts_before - 1 AS one_conflict_erased;
-- Forgetting someone nobody knows ('max') removes nothing: not the queued
-- events of max@example.com or max-1, not the refusals that say "maximum".
SELECT count(*) AS conflicts_before FROM identity_conflict \gset
SELECT profile_forget('crm_id', 'max') AS emax \gset
SELECT removed FROM erasure WHERE erasure_id = :emax;
SELECT (SELECT count(*) FROM identity_conflict) = :conflicts_before AS conflicts_kept,
       (SELECT count(*) FROM event_inbox WHERE event_id ~ '^keep-[qd]-') AS queued_kept,
       (SELECT count(*) FROM event_dead_letter WHERE event_id ~ '^keep-[qd]-') AS dead_letters_kept;
SELECT count(*) AS forgotten FROM (SELECT profile_forget(n, v) FROM (VALUES ('crm_id', '1234'), ('crm_id', '1235'),
       ('crm_id', '13'), ('cookie', 'ck-9912'), ('phone', '+33612340112')) x(n, v)) f;
DELETE FROM event_dead_letter WHERE event_id ~ '^keep-';

SELECT segment_drop('forget_buyers');
DELETE FROM segment_outbox;
DELETE FROM segment_membership;
DELETE FROM segment_consumer;
DELETE FROM segment_schedule;
DELETE FROM event_inbox;

-- A queued row that names someone by a proper identifier belongs to that
-- person: loose values in it (other keys, nested) are not compared with the
-- forgotten person's identifiers (review of 1.6: both rows were deleted).
SELECT resolve_identity('{"email": "loose-a@x.com", "cookie": "1"}') IS NOT NULL AS a,
       resolve_identity('{"email": "loose-b@x.com"}') IS NOT NULL AS b;
INSERT INTO event_inbox (identities, event_type, occurred_at, event_id) VALUES
    ('{"email": "loose-b@x.com", "user_id": "1"}', 'visit', now()::text, 'loose-1'),
    ('{"email": "loose-b@x.com", "utm": {"campaign": "1"}}', 'visit', now()::text, 'loose-2'),
    ('{"user_id": "1"}', 'visit', now()::text, 'loose-3');  -- names nobody properly: compared loosely
SELECT profile_forget('email', 'loose-a@x.com') IS NOT NULL AS forgotten;
SELECT event_id FROM event_inbox WHERE event_id LIKE 'loose-%' ORDER BY 1;
DELETE FROM event_inbox WHERE event_id LIKE 'loose-%';
