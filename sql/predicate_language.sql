-- The constructs added in 1.6 (issue 16) on a real server: IS [NOT]
-- DISTINCT FROM, regular expressions (RE2), count/sum between two instants,
-- today in a segment's time zone, typed event properties, lists of objects
-- with any(), point traits with distance(). Each is checked on every path:
-- segment_matches, unified_profile @@, profile @@ (traits only), the stored
-- membership that segment_create backfilled, streaming after a change, and
-- segment_explain's SQL. Expected members come from what the test wrote.
SET search_path = customer_profile, public;
SELECT trait_define('pl_city', 'text', 'latest'),
       trait_define('pl_email', 'text', 'latest'),
       trait_define('pl_ltv', 'number', 'latest'),
       trait_define('pl_home', 'point', 'latest'),
       trait_define('pl_interests', 'object[]', 'latest'),
       trait_define('pl_tags', 'text[]', 'latest');
SELECT event_measure_define('pl_order', 'total');
SELECT event_property_define('pl_order', 'placed', 'timestamp'),
       event_property_define('pl_order', 'gift', 'boolean'),
       event_property_define('pl_order', 'total', 'number'),
       event_property_define('pl_order', 'channel', 'text');

CREATE TEMP TABLE pl_people (who text PRIMARY KEY, profile_id bigint);
INSERT INTO pl_people
SELECT who, trait_observe(jsonb_build_object('crm_id', 'pl-' || who), traits, 'crm')
  FROM (VALUES
    ('ann', '{"pl_city": "Paris", "pl_email": "Ann@Gmail.com", "pl_ltv": 120, "pl_home": {"lat": 48.8566, "lon": 2.3522},
              "pl_interests": [{"key": "cars", "value": 50}, {"key": "bikes", "value": 20}, {"key": "boats", "value": "50"}], "pl_tags": ["vip"], "pl_mixed": "120"}'::jsonb),
    ('bob', '{"pl_city": "Lyon", "pl_email": "bob@yahoo.fr", "pl_ltv": 30, "pl_home": {"lat": 45.764, "lon": 4.8357},
              "pl_interests": [{"key": "cars", "value": 40}, {"key": "bikes", "value": 90}], "pl_tags": null, "pl_mixed": 120}'::jsonb),
    ('cyd', '{"pl_email": "cyd@example.org"}'::jsonb)) v(who, traits);
-- Orders: ann twice in November 2026 (one a gift), bob once in October, at 23:30 UTC on the 31st.
SELECT count(track(jsonb_build_object('crm_id', 'pl-' || who), 'pl_order', at, props, 'pl-' || who || at::text))
  FROM (VALUES
    ('ann', timestamptz '2026-11-03T10:00:00Z', '{"total": 30, "gift": true, "placed": "2026-11-02", "channel": "web"}'::jsonb),
    ('ann', timestamptz '2026-11-20T00:00:00Z', '{"total": 12, "gift": "false", "placed": "2026-11-19T08:00:00Z", "channel": "shop"}'::jsonb),
    ('bob', timestamptz '2026-10-31T23:30:00Z', '{"total": 7, "placed": "2026-10-30", "channel": "web"}'::jsonb)) v(who, at, props);

-- One segment per construct; created after the data, so each is backfilled.
CREATE TEMP TABLE pl_cases (name text, predicate text, expected text[]);
INSERT INTO pl_cases VALUES
    ('pl_not_paris', 'pl_city IS DISTINCT FROM ''Paris'' AND has(pl_email)', '{bob,cyd}'),
    ('pl_paris_or_none', 'pl_city IS NOT DISTINCT FROM ''Paris'' OR (pl_city IS NOT DISTINCT FROM NULL AND has(pl_email))', '{ann,cyd}'),
    ('pl_unknown_excluded', 'NOT pl_city = ''Paris''', '{bob}'),
    ('pl_webmail', 'pl_email ~* ''@(gmail|yahoo)\.''', '{ann,bob}'),
    ('pl_lowercase', 'pl_email ~ ''^[a-z]+@''', '{bob,cyd}'),
    ('pl_not_org', 'pl_email !~ ''\.org$''', '{ann,bob}'),
    ('pl_november', 'count(pl_order between timestamp ''2026-11-01T00:00:00Z'' and timestamp ''2026-12-01T00:00:00Z'') >= 1', '{ann}'),
    ('pl_november_spend', 'sum(pl_order.total between timestamp ''2026-11-01T00:00:00Z'' and timestamp ''2026-12-01T00:00:00Z'') = 42', '{ann}'),
    ('pl_late_october', 'count(pl_order between timestamp ''2026-10-31T23:00:00Z'' and timestamp ''2026-11-01T00:00:00Z'') = 1', '{bob}'),
    ('pl_gift_in_nov', 'count(pl_order where gift = true between timestamp ''2026-11-01T00:00:00Z'' and timestamp ''2026-12-01T00:00:00Z'') = 1', '{ann}'),
    ('pl_placed_early', 'count(pl_order where placed < timestamp ''2026-11-01T00:00:00Z'') >= 1', '{bob}'),
    ('pl_big_shop', 'count(pl_order where total >= 12 and channel = ''shop'') = 1', '{ann}'),
    ('pl_cars_fan', 'any(pl_interests where key = ''cars'' and value > 45)', '{ann}'),
    ('pl_bikes_fan', 'any(pl_interests where key = ''bikes'' and value > 45)', '{bob}'),
    ('pl_no_boats', 'NOT any(pl_interests where key = ''boats'') AND has(pl_email)', '{bob,cyd}'),
    ('pl_near_paris', 'distance(pl_home, 48.8566, 2.3522) < 50', '{ann}'),
    ('pl_near_lyon', 'distance(pl_home, 45.75, 4.85) BETWEEN 0 AND 10', '{bob}'),
    ('pl_seen_recently', 'last_seen(pl_order) >= today - 36500 days', '{ann,bob}'),
    -- A text[] holding JSON null is unknown, not "contains nothing" (the SQL said bob).
    ('pl_not_vip', 'NOT pl_tags = ''vip''', '{}'),
    ('pl_not_vip_distinct', 'pl_tags IS DISTINCT FROM ''vip''', '{bob,cyd}'),
    -- Undeclared names and object fields compare by their JSON type (review:
    -- the SQL cast "50" to 50 and read 120 as the text '120').
    ('pl_boats_50', 'any(pl_interests where key = ''boats'' and value = 50)', '{}'),
    ('pl_boats_text', 'any(pl_interests where value = ''50'')', '{ann}'),
    ('pl_mixed_number', 'pl_mixed > 100', '{bob}'),
    ('pl_mixed_regex', 'pl_mixed ~ ''1''', '{ann}'),
    ('pl_mixed_distinct', 'pl_mixed IS NOT DISTINCT FROM ''120''', '{ann}');
DO $$
DECLARE c record;
BEGIN
    FOR c IN SELECT * FROM pl_cases ORDER BY name LOOP
        PERFORM customer_profile.segment_create(c.name, c.predicate);
    END LOOP;
END $$;

-- Every path gives the expected people.
CREATE TEMP VIEW pl_expected AS
SELECT c.name, (SELECT coalesce(array_agg(p.profile_id ORDER BY p.profile_id), '{}') FROM pl_people p WHERE p.who = ANY (c.expected)) AS ids
  FROM pl_cases c;
CREATE TEMP TABLE pl_paths AS
SELECT c.name,
       e.ids AS expected,
       (SELECT coalesce(array_agg(m ORDER BY m), '{}') FROM segment_members(c.name) m
         WHERE m IN (SELECT profile_id FROM pl_people)) AS stored,
       (SELECT coalesce(array_agg(p.profile_id ORDER BY p.profile_id), '{}') FROM pl_people p
         WHERE segment_matches(p.profile_id, c.predicate::segment_predicate)) AS live,
       (SELECT coalesce(array_agg(u.profile_id ORDER BY u.profile_id), '{}') FROM unified_profile u
         WHERE u.profile_id IN (SELECT profile_id FROM pl_people) AND u @@ c.predicate::segment_predicate) AS row_operator
  FROM pl_cases c JOIN pl_expected e USING (name);
ALTER TABLE pl_paths ADD COLUMN via_sql bigint[];
DO $$
DECLARE c record; found bigint[];
BEGIN
    FOR c IN SELECT name FROM pl_cases LOOP
        EXECUTE format('SELECT coalesce(array_agg(profile_id ORDER BY profile_id), ''{}'') FROM (%s) q WHERE profile_id IN (SELECT profile_id FROM pl_people)',
                       (SELECT equivalent_sql FROM customer_profile.segment_explain(c.name))) INTO found;
        UPDATE pl_paths SET via_sql = found WHERE pl_paths.name = c.name;
    END LOOP;
END $$;
SELECT name, stored = expected AS stored, live = expected AS live, row_operator = expected AS row_operator,
       via_sql = expected AS via_sql
  FROM pl_paths ORDER BY name;
-- Traits-only predicates on a profile value too.
SELECT c.name, (SELECT coalesce(array_agg(p.profile_id ORDER BY p.profile_id), '{}') FROM pl_people p
                 WHERE profile_get(p.profile_id) @@ c.predicate::segment_predicate) = e.ids AS profile_value
  FROM pl_cases c JOIN pl_expected e USING (name)
 WHERE c.name IN ('pl_not_paris', 'pl_webmail', 'pl_cars_fan', 'pl_near_paris', 'pl_no_boats') ORDER BY 1;

-- Streaming: a change moves people in and out of the new constructs' segments.
SELECT trait_observe('{"crm_id": "pl-cyd"}', '{"pl_city": "Paris", "pl_home": {"lat": 48.86, "lon": 2.35},
                     "pl_interests": [{"key": "cars", "value": 99}]}', 'crm') = (SELECT profile_id FROM pl_people WHERE who = 'cyd') AS cyd_moved;
SELECT name, (SELECT profile_id FROM pl_people WHERE who = 'cyd') = ANY (ARRAY(SELECT segment_members(name))) AS cyd_member
  FROM (VALUES ('pl_not_paris'), ('pl_paris_or_none'), ('pl_cars_fan'), ('pl_near_paris')) v(name) ORDER BY 1;

-- The segment's time zone defines today; today without a zone is bound to it.
SELECT segment_create('pl_tz', 'last_seen(pl_order) >= today - 36500 days', time_zone => 'Europe/Paris') > 0 AS created;
SELECT predicate, time_zone FROM segments WHERE name = 'pl_tz';
SELECT segment_alter('pl_tz', time_zone => 'Asia/Tokyo');
SELECT predicate, time_zone FROM segments WHERE name = 'pl_tz';
SELECT (SELECT tree FROM segment_explain('pl_tz')) -> 'compare' -> 'right' AS today_tree;
-- today in a zone is its local midnight, as PostgreSQL computes it.
SELECT segment_matches((SELECT profile_id FROM pl_people WHERE who = 'ann'),
                       format('today(''America/New_York'') = timestamp %L',
                              to_char(date_trunc('day', now() AT TIME ZONE 'America/New_York') AT TIME ZONE 'America/New_York' AT TIME ZONE 'UTC',
                                      'YYYY-MM-DD"T"HH24:MI:SS"Z"'))::segment_predicate) AS new_york_midnight;
SELECT regress.err($$SELECT customer_profile.segment_create('pl_bad_tz', 'last_seen() > today', time_zone => 'Mars/Olympus')$$);
SELECT regress.err($$SELECT 'last_seen() > today(''Mars/Olympus'')'::customer_profile.segment_predicate$$);
SELECT regress.err($$SELECT customer_profile.segment_create('pl_null_tz', 'last_seen() > today', time_zone => NULL)$$);

-- Errors, each with its SQLSTATE.
SELECT regress.err($$SELECT 'pl_email ~ ''(a)\1'''::customer_profile.segment_predicate$$);
SELECT regress.err($$SELECT 'pl_email ~* ''(?i)x'''::customer_profile.segment_predicate$$);
SELECT regress.err($$SELECT 'pl_email ~ ''a{1000}'''::customer_profile.segment_predicate$$);
SELECT regress.err($$SELECT 'pl_city IS DISTINCT ''x'''::customer_profile.segment_predicate$$);
SELECT regress.err($$SELECT 'count(pl_order between 1 and 2) > 0'::customer_profile.segment_predicate$$);
SELECT regress.err($$SELECT 'last_seen() > today - 2 hours'::customer_profile.segment_predicate$$);
SELECT regress.err($$SELECT 'distance(pl_home, 100, 0) < 1'::customer_profile.segment_predicate$$);
SELECT regress.err($$SELECT 'any(pl_interests where known)'::customer_profile.segment_predicate$$);
SELECT regress.err($$SELECT customer_profile.segment_create('pl_e1', 'pl_ltv ~ ''1''')$$);
SELECT regress.err($$SELECT customer_profile.segment_create('pl_e2', 'distance(pl_city, 1, 2) < 3')$$);
SELECT regress.err($$SELECT customer_profile.segment_create('pl_e3', 'any(pl_email where key = ''x'')')$$);
SELECT regress.err($$SELECT customer_profile.segment_create('pl_e4', 'pl_ltv IS DISTINCT FROM ''x''')$$);
SELECT regress.err($$SELECT customer_profile.segment_create('pl_e5', 'count(pl_order where coupon > timestamp ''2026-01-01T00:00:00Z'') > 0')$$);
SELECT regress.err($$SELECT customer_profile.trait_observe('{"crm_id": "pl-ann"}', '{"pl_home": {"lat": 91, "lon": 0}}', 'crm')$$);
SELECT regress.err($$SELECT customer_profile.trait_observe('{"crm_id": "pl-ann"}', '{"pl_home": "Paris"}', 'crm')$$);
SELECT regress.err($$SELECT customer_profile.trait_observe('{"crm_id": "pl-ann"}', '{"pl_interests": [{"key": {"deep": 1}}]}', 'crm')$$);

-- Point and list traits read as jsonb in the wide view and the JSON form.
SELECT profiles_wide_refresh();
SELECT w.pl_home, w.pl_interests FROM profiles_wide w WHERE w.profile_id = (SELECT profile_id FROM pl_people WHERE who = 'ann');
SELECT pg_typeof(w.pl_home) AS home_type, pg_typeof(w.pl_interests) AS interests_type FROM profiles_wide w LIMIT 1;

DO $$
DECLARE c record;
BEGIN
    FOR c IN SELECT name FROM customer_profile.segment WHERE name LIKE 'pl\_%' ORDER BY name LOOP
        PERFORM customer_profile.segment_drop(c.name);
    END LOOP;
END $$;
-- The suites share one database: leave no outbox rows or declarations behind.
DELETE FROM segment_outbox WHERE segment LIKE 'pl\_%';
DELETE FROM event_property WHERE event_type = 'pl_order';
