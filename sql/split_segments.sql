-- Every change of a person re-evaluates its segments (issue 13, defect 3):
-- identity_unlink, identity_remove and identity_rebuild move events and
-- traits between profiles, and the stored memberships follow at once, as
-- after a merge or an event. Streaming also reads the events the same
-- transaction has just stored (a filtered count). The reference is the
-- live evaluation of every segment for every profile.
-- A fresh extension: the suites share one database, and the checks below
-- cover every profile.
DROP EXTENSION customer_profile CASCADE;
CREATE EXTENSION customer_profile;
SET search_path = customer_profile, public;
SELECT trait_define('tier', 'text', 'latest');
SELECT segment_create('visitors', 'count(visit) >= 1') > 0 AS created;
SELECT segment_create('gold', 'tier = ''gold''') > 0 AS created;
SELECT segment_create('big_spenders', 'count(order where amount > 50) >= 1') > 0 AS created;
-- Stored memberships that differ from live evaluation.
CREATE FUNCTION regress.membership_drift() RETURNS TABLE (profile_id bigint, segment text, stored boolean, live boolean)
LANGUAGE sql AS $$
    SELECT u.profile_id, s.name, m.profile_id IS NOT NULL, customer_profile.profile_segment(u.profile_id, s.name)
      FROM customer_profile.unified_profile u CROSS JOIN customer_profile.segment s
      LEFT JOIN customer_profile.segment_membership m
        ON m.profile_id = u.profile_id AND m.segment_id = s.segment_id AND m.exited_at IS NULL
     WHERE (m.profile_id IS NOT NULL) IS DISTINCT FROM customer_profile.profile_segment(u.profile_id, s.name)
    UNION ALL  -- memberships of profiles that no longer exist
    SELECT m.profile_id, s.name, true, NULL FROM customer_profile.segment_membership m
      JOIN customer_profile.segment s USING (segment_id)
     WHERE m.exited_at IS NULL AND NOT EXISTS (SELECT 1 FROM customer_profile.unified_profile u WHERE u.profile_id = m.profile_id)
     ORDER BY 1, 2
$$;

-- Streaming sees the event its own transaction stored.
SELECT track('{"email": "big@x.com"}', 'order', now(), '{"amount": 80}', 'o-big') AS big \gset
SELECT profile_segment(:big, 'big_spenders') AS live, EXISTS (SELECT 1 FROM segment_membership m JOIN segment s USING (segment_id)
        WHERE m.profile_id = :big AND s.name = 'big_spenders' AND m.exited_at IS NULL) AS stored;
SELECT * FROM regress.membership_drift();

-- Unlink: the cookie's visit and the CRM tier go with their own halves.
SELECT resolve_identity('{"email": "ann@x.com", "cookie": "ck-1"}') AS ann \gset
SELECT track('{"cookie": "ck-1"}', 'visit', now(), '{}', 'v-1') = :ann AS same;
SELECT trait_observe('{"cookie": "ck-1"}', '{"tier": "gold"}', 'web') = :ann AS observed;
SELECT profile_segment(:ann) AS ann_segments ORDER BY 1;
SELECT identity_unlink('email', 'ann@x.com', 'cookie', 'ck-1') AS carved_out;
SELECT identity_lookup('cookie', 'ck-1') AS cookie_profile \gset
SELECT :cookie_profile <> :ann AS split;
SELECT * FROM regress.membership_drift();
SELECT s.name, m.profile_id = :ann AS old_profile FROM segment_membership m JOIN segment s USING (segment_id)
 WHERE m.exited_at IS NULL AND m.profile_id IN (:ann, :cookie_profile) ORDER BY 1, 2;
SELECT change, count(*) FROM segment_outbox WHERE profile_id IN (:ann, :cookie_profile) GROUP BY 1 ORDER BY 1;

-- Remove: the profile that keeps the rest leaves the segments it no longer satisfies.
SELECT resolve_identity('{"email": "bob@x.com", "cookie": "ck-2", "device_id": "d-2"}') AS bob \gset
SELECT track('{"cookie": "ck-2"}', 'visit', now(), '{}', 'v-2') = :bob AS same;
SELECT identity_remove('cookie', 'ck-2') AS carved_out;
SELECT * FROM regress.membership_drift();

-- Rebuild: links withdrawn behind the extension's back are applied by identity_rebuild().
SELECT resolve_identity('{"email": "cy@x.com", "cookie": "ck-3"}') AS cy \gset
SELECT track('{"cookie": "ck-3"}', 'visit', now(), '{}', 'v-3') = :cy AS same;
DELETE FROM identity_link l USING identity a, identity b
 WHERE a.identity_id = l.identity_a AND b.identity_id = l.identity_b AND a.profile_id = :cy AND b.profile_id = :cy;
SELECT (identity_rebuild()).profiles_created AS created;
SELECT * FROM regress.membership_drift();
-- The time-window run finds nothing left to correct.
SELECT segment_windows_run() >= 0 AS ran;
SELECT * FROM regress.membership_drift();

-- A known identifier joining an anonymous profile changes `known`.
SELECT segment_create('known_visitors', 'known AND count(visit) >= 1') > 0 AS created;
SELECT track('{"cookie": "ck-9"}', 'visit', now(), '{}', 'v-9') AS anon \gset
SELECT profile_segment(:anon, 'known_visitors') AS before_login;
SELECT resolve_identity('{"cookie": "ck-9", "email": "dee@x.com"}') = :anon AS same_profile;
SELECT profile_segment(:anon, 'known_visitors') AS after_login;
SELECT * FROM regress.membership_drift();

-- A new profile enters the segments an empty profile matches.
SELECT segment_create('no_orders', 'NOT (count(order) >= 1)') > 0 AS created;
SELECT * FROM segment_refresh('no_orders');
SELECT resolve_identity('{"cookie": "ck-new"}') AS newcomer \gset
SELECT profile_segment(:newcomer, 'no_orders') AS live, EXISTS (SELECT 1 FROM segment_membership m JOIN segment s USING (segment_id)
        WHERE m.profile_id = :newcomer AND s.name = 'no_orders' AND m.exited_at IS NULL) AS stored;
SELECT * FROM regress.membership_drift();
-- Consent given with an array of values for a namespace.
SELECT consent_set('{"cookie": ["ck-new", "ck-other"]}', 'email_marketing', true, 'web') = :newcomer AS consent_recorded;
SELECT profile_consent(:newcomer, 'email_marketing') AS granted;
