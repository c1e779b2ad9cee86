-- resolve_identity(): creation, lookup, merges, guard rails, atomicity, bad input.
\set VERBOSITY terse
DROP EXTENSION customer_profile;
CREATE EXTENSION customer_profile;
CREATE FUNCTION pg_temp.r(j text) RETURNS bigint LANGUAGE sql AS $$ SELECT customer_profile.resolve_identity(j::jsonb, 'test') $$;
CREATE FUNCTION pg_temp.counts() RETURNS text LANGUAGE sql AS $$
    SELECT format('profiles=%s identities=%s links=%s merges=%s conflicts=%s',
                  (SELECT count(*) FROM customer_profile.unified_profile), (SELECT count(*) FROM customer_profile.identity),
                  (SELECT count(*) FROM customer_profile.identity_link), (SELECT count(*) FROM customer_profile.profile_merge),
                  (SELECT count(*) FROM customer_profile.identity_conflict)) $$;

-- A new person; the same person again in another spelling; lookups by any identifier.
SELECT pg_temp.r('{"email": "Ann@X.com", "cookie": "c-19"}') AS ann;
SELECT pg_temp.r('{"email": " ann@x.COM "}') AS ann_again;
SELECT customer_profile.identity_lookup('cookie', 'c-19') AS by_cookie,
       customer_profile.identity_lookup('email', 'ANN@x.com') AS by_email,
       customer_profile.identity_lookup('email', 'nobody@x.com') AS unknown;
SELECT pg_temp.counts();

-- Two anonymous visitors, later tied together by a login: one profile.
SELECT pg_temp.r('{"cookie": "c-20"}') AS visitor_a, pg_temp.r('{"device_id": "D-1"}') AS visitor_b;
SELECT pg_temp.r('{"cookie": "c-20", "device_id": "d-1", "crm_id": "42"}') AS logged_in;
SELECT merged_profile_id, into_profile_id, current_profile_id, cause, source FROM customer_profile.merges ORDER BY 1;
-- Merged ids keep resolving to the survivor.
SELECT customer_profile.profile_resolve(2) AS two_now, customer_profile.profile_resolve(3) AS three_now,
       customer_profile.profile_resolve(999) AS unknown;
-- Ann logs in with crm_id 42's email: the two profiles merge into the stronger one.
SELECT pg_temp.r('{"crm_id": "42", "email": "ann@x.com"}') AS merged;
SELECT namespace, value, profile_id FROM customer_profile.identities ORDER BY namespace, value;
SELECT namespace, value FROM customer_profile.profile_identities(1);
SELECT * FROM customer_profile.identity_check();

-- Guard rail: one crm_id per profile. A second crm_id is never merged in;
-- the strongest profile keeps the shared email, the refusal is recorded, and
-- the call answers with the profile of its own strongest identifier (Bob's).
SELECT pg_temp.r('{"crm_id": "77", "email": "bob@y.com"}') AS bob;
SELECT pg_temp.r('{"crm_id": "77", "email": "ann@x.com"}') = customer_profile.identity_lookup('crm_id', '77') AS answers_bob;
SELECT customer_profile.identity_lookup('crm_id', '77') AS bob_still,
       customer_profile.identity_lookup('crm_id', '42') AS ann_still,
       customer_profile.identity_lookup('email', 'ann@x.com') AS email_kept_by;
-- A new crm_id offered with an existing person: kept apart in its own profile,
-- which is the answer.
SELECT pg_temp.r('{"crm_id": "78", "cookie": "c-19"}') AS new_crm_profile;
SELECT customer_profile.identity_lookup('crm_id', '78') <> customer_profile.identity_lookup('cookie', 'c-19') AS kept_apart;
SELECT rule, namespace_id, refused_identity_id IS NOT NULL AS new_identity_refused, detail
  FROM customer_profile.identity_conflict ORDER BY conflict_id;

-- Guard rail: blocked placeholder values and patterns are refused and logged.
SELECT pg_temp.r('{"email": "null"}') AS only_blocked;
SELECT pg_temp.r('{"email": "noreply@shop.com", "cookie": "c-19"}') AS blocked_pattern_ignored;
SELECT pg_temp.r('{"device_id": "00000000-0000-0000-0000-000000000000", "cookie": ""}') AS zero_idfa;
SELECT rule, namespace, refusals FROM customer_profile.identity_guard_stats ORDER BY 1, 2;
-- A custom blocklist entry (a shared store iPad) stops a merge across customers.
SELECT customer_profile.identity_namespace_alter('device_id',
         blocked_values => customer_profile._default_blocked_values() || ARRAY['store-ipad-7']);
SELECT pg_temp.r('{"device_id": "STORE-IPAD-7", "crm_id": "42"}') AS ann, pg_temp.r('{"device_id": "store-ipad-7", "crm_id": "77"}') AS bob;
SELECT customer_profile.identity_lookup('device_id', 'store-ipad-7') AS ipad_never_stored;

-- Guard rail: the hard cap on identities per profile.
UPDATE customer_profile.settings SET max_identities_per_profile = 3;
SELECT pg_temp.r('{"cookie": "k1", "device_id": "k2"}') AS small;
SELECT pg_temp.r('{"cookie": "k1", "email": "k3@x.com", "phone": "+12024561111"}') AS capped;
SELECT count(*) AS in_small FROM customer_profile.identity WHERE profile_id = customer_profile.identity_lookup('cookie', 'k1');
SELECT rule, count(*) FROM customer_profile.identity_conflict WHERE rule = 'profile_identity_cap' GROUP BY rule;
UPDATE customer_profile.settings SET max_identities_per_profile = 500;

-- Atomicity: a rolled-back transaction leaves no trace.
SELECT pg_temp.counts() AS before;
BEGIN;
SELECT pg_temp.r('{"email": "temp@x.com", "crm_id": "42"}') IS NOT NULL AS resolved_inside;
ROLLBACK;
SELECT pg_temp.counts() AS after_rollback, customer_profile.identity_lookup('email', 'temp@x.com') AS temp;

-- Bad input: a clear error with a SQLSTATE, naming the key; nothing written.
SELECT pg_temp.counts() AS before;
SELECT q, regress.err(q) FROM (VALUES
    ($$SELECT customer_profile.resolve_identity(NULL)$$),
    ($$SELECT customer_profile.resolve_identity('[1,2]')$$),
    ($$SELECT customer_profile.resolve_identity('"ann@x.com"')$$),
    ($$SELECT customer_profile.resolve_identity('{}')$$),
    ($$SELECT customer_profile.resolve_identity('{"email": null}')$$),
    ($$SELECT customer_profile.resolve_identity('{"email": "ok@x.com", "loyalty": "L1"}')$$),
    ($$SELECT customer_profile.resolve_identity('{"cookie": "c-99", "crm_id": 42}')$$),
    ($$SELECT customer_profile.resolve_identity('{"cookie": "c-99", "crm_id": true}')$$),
    ($$SELECT customer_profile.resolve_identity('{"cookie": "c-99", "crm_id": {"id": "42"}}')$$),
    ($$SELECT customer_profile.resolve_identity('{"cookie": "c-99", "email": [["a@x.com"]]}')$$),
    ($$SELECT customer_profile.resolve_identity('{"cookie": "c-99", "email": "not-an-email"}')$$),
    ($$SELECT customer_profile.resolve_identity('{"cookie": "c-99", "phone": "12"}')$$),
    ($$SELECT customer_profile.resolve_identity(jsonb_build_object('cookie', repeat('x', 10000000)))$$),
    ($$SELECT customer_profile.resolve_identity((SELECT jsonb_object_agg('cookie' || g, 'v' || g) FROM generate_series(1, 101) g))$$),
    ($$SELECT customer_profile.resolve_identity('{not json')$$),
    ($$SELECT customer_profile.resolve_identity('{"cookie": "c-99"}', repeat('s', 201))$$),
    ($$UPDATE customer_profile.settings SET salt = '\x00112233445566778899aabbccddeeff'$$)
) AS t(q);
SELECT pg_temp.counts() AS after_bad_input;

-- Arrays: several identifiers of one namespace in one call.
SELECT pg_temp.r('{"email": ["c1@x.com", "c2@x.com"], "cookie": "c-50"}') AS arrays;
SELECT count(DISTINCT customer_profile.identity_lookup(ns, v)) AS profiles, count(*) AS identifiers
  FROM (VALUES ('email', 'c1@x.com'), ('email', 'c2@x.com'), ('cookie', 'c-50')) AS t(ns, v);
SELECT * FROM customer_profile.identity_check();
