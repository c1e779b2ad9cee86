-- Predicates mean what they say, or are refused when they are created
-- (issue 13, defect 10): an event property compared with a timestamp is
-- declared and converted, ILIKE folds all of Unicode, the equivalent SQL of
-- segment_explain reads text[] traits as arrays, and an unquoted camelCase
-- name is refused with a hint to quote it. Every segment here is finally
-- checked three ways: stored members, live evaluation and the equivalent SQL.
SET search_path = customer_profile, public;
-- The regression database is shared by the files that follow: leave nothing.
BEGIN;
-- Shows SQLSTATE, message and HINT of a failing statement.
CREATE FUNCTION pg_temp.err_hint(q text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    hint text;
BEGIN
    EXECUTE q;
    RETURN 'no error';
EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS hint = PG_EXCEPTION_HINT;
    RETURN SQLSTATE || ': ' || SQLERRM || coalesce(E'\nHINT: ' || nullif(hint, ''), '');
END $$;

SELECT resolve_identity('{"email": "ann@x.com"}') AS ann \gset
SELECT resolve_identity('{"email": "bob@x.com"}') AS bob \gset
SELECT resolve_identity('{"email": "cyd@x.com"}') AS cyd \gset
SELECT trait_define('interests', 'text[]');
SELECT trait_observe('{"email": "ann@x.com"}', '{"tags": ["blue", "red"], "interests": ["yoga"], "city": "ÉVRY",
                       "nickname": "ΣΟΦΊΑ", "lastVisit": "2026-01-01T00:00:00Z"}', 'crm') = :ann AS ann;
SELECT trait_observe('{"email": "bob@x.com"}', '{"tags": ["green"], "interests": ["chess", "yoga"], "city": "Évian",
                       "nickname": "straße"}', 'crm') = :bob AS bob;
SELECT trait_observe('{"email": "cyd@x.com"}', '{"tags": "blue", "city": "Lyon"}', 'crm') = :cyd AS cyd;

-- Typed event properties. JSON has no timestamps: an undeclared property
-- compared with one could never match, so the segment is refused with a hint.
SELECT track('{"email": "ann@x.com"}', 'booking', now() - interval '1 day', '{"stay": "2027-03-01", "nights": "3"}', 'b1') = :ann AS b1;
SELECT track('{"email": "ann@x.com"}', 'booking', now() - interval '2 days', '{"stay": "2027-02-01T10:00:00+02:00", "nights": 5}', 'b2') = :ann AS b2;
SELECT track('{"email": "bob@x.com"}', 'booking', now() - interval '1 day', '{"stay": "2026-05-01T00:00:00Z", "nights": 1}', 'b3') = :bob AS b3;
SELECT track('{"email": "cyd@x.com"}', 'booking', now() - interval '1 day', '{"stay": "next summer", "nights": "many"}', 'b4') = :cyd AS b4;
SELECT pg_temp.err_hint($$SELECT customer_profile.segment_create('late_stays',
    'count(booking where stay > timestamp ''2027-01-01T00:00:00Z'' within 30 days) > 0')$$);
SELECT pg_temp.err_hint($$SELECT customer_profile.segment_create('late_stays',
    'count(booking where stay BETWEEN timestamp ''2027-01-01T00:00:00Z'' AND timestamp ''2028-01-01T00:00:00Z'') > 0')$$);
SELECT count(*) AS nothing_stored FROM segment WHERE name = 'late_stays';
SELECT event_property_define('booking', 'stay', 'timestamp');
SELECT event_property_define('booking', 'nights', 'number');
SELECT event_property_define('booking', 'stay', 'timestamp');  -- the same again: nothing changes
SELECT event_type, property, type FROM event_property ORDER BY 1, 2;
SELECT segment_create('late_stays', 'count(booking where stay > timestamp ''2027-01-01T00:00:00Z'' within 30 days) > 0') > 0 AS created;
SELECT segment_create('long_stays', 'count(booking where nights >= 3) >= 2') > 0 AS created;
SELECT segment_create('one_long_stay', 'count(booking where nights >= 3 AND stay >= timestamp ''2027-03-01T00:00:00Z'') = 1') > 0 AS created;
SELECT segment_matches(:ann, 'count(booking where stay > timestamp ''2027-01-01T00:00:00Z'') = 2') AS ann_two_late,
       segment_matches(:bob, 'count(booking where stay > timestamp ''2027-01-01T00:00:00Z'') = 0') AS bob_none_late,
       segment_matches(:cyd, 'count(booking where stay IS NULL) = 1') AS cyd_unreadable_is_null;
-- A declared property is compared with values of its type only.
SELECT regress.err($$SELECT customer_profile.segment_create('bad', 'count(booking where stay > 5) > 0')$$);
SELECT regress.err($$SELECT customer_profile.segment_create('bad', 'count(booking where nights = ''3'') > 0')$$);
-- Declarations are checked: types, names, measures, and the segments that read them.
SELECT event_measure_define('booking', 'price');
SELECT pg_temp.err_hint($$SELECT customer_profile.event_property_define('booking', 'price', 'text')$$);
SELECT pg_temp.err_hint($$SELECT customer_profile.event_property_define('booking', 'guests', 'integer')$$);
SELECT regress.err($$SELECT customer_profile.event_property_define('booking', NULL, 'text')$$);
SELECT regress.err($$SELECT customer_profile.event_property_define('', 'x', 'text')$$);
SELECT regress.err($$SELECT customer_profile.event_property_define('booking', repeat('p', 64), 'text')$$);
SELECT pg_temp.err_hint($$SELECT customer_profile.event_property_define('booking', 'stay', 'text')$$);
SELECT type FROM event_property WHERE event_type = 'booking' AND property = 'stay';
SELECT event_property_define('booking', 'channel', 'text');
SELECT pg_temp.err_hint($$SELECT customer_profile.event_measure_define('booking', 'channel')$$);
SELECT event_property_define('booking', 'price', 'number');  -- a measure is a number

-- ILIKE folds case for all of Unicode, live and in the equivalent SQL alike.
SELECT segment_matches(:ann, 'city ILIKE ''évry''') AS ann_evry, segment_matches(:bob, 'city ILIKE ''ÉVIAN''') AS bob_evian,
       segment_matches(:ann, 'nickname ILIKE ''σοφία''') AS ann_sofia, segment_matches(:cyd, 'city ILIKE ''LYON''') AS cyd_lyon,
       segment_matches(:ann, 'city LIKE ''évry''') AS like_keeps_case;
-- The evaluator agrees with PostgreSQL's ILIKE under COLLATE "und-x-icu"
-- (what the equivalent SQL runs), with the case rules of many scripts.
SELECT resolve_identity('{"email": "dan@x.com"}') AS dan \gset
CREATE TEMP TABLE ilike_cases (word text, pattern text);
INSERT INTO ilike_cases VALUES ('ÉVRY', 'évry'), ('évry', 'ÉVRY'), ('ÉCOLE', '_cole'), ('Zürich', 'ZÜR%'),
    ('ΣΑΣ', 'σας'), ('ΣΑΣ', 'σασ'), ('ΌΣΟΣ ΚΑΙ', 'όσος και'), ('İstanbul', 'i̇stanbul'), ('İstanbul', 'istanbul'),
    ('straße', 'STRASSE'), ('STRASSE', 'straße'), ('ǅemal', 'ǆEMAL'), ('ДОБРО', 'добро'), ('ԱՐԱՄ', 'արամ'),
    ('ᏣᎳᎩ', 'ꮳꮃꭹ'), ('ᲛᲐᲠᲘ', 'მარი'), ('ǅ', 'ǆ'), ('Ⅻ', 'ⅻ'), ('ＡＢＣ', 'ａｂｃ'), ('𐐀', '𐐨'), ('K', 'k'),
    ('50% OFF', '50\% off'), ('plain', 'PLAIN'), ('plain', 'PL_IN%');
CREATE TEMP TABLE ilike_results (word text, pattern text, evaluator boolean, postgres boolean);
DO $$
DECLARE
    c record;
    dan bigint := customer_profile.identity_lookup('email', 'dan@x.com');
BEGIN
    FOR c IN SELECT * FROM ilike_cases LOOP
        PERFORM customer_profile.trait_observe('{"email": "dan@x.com"}', jsonb_build_object('word', c.word), 'crm');
        INSERT INTO ilike_results
        VALUES (c.word, c.pattern, customer_profile.segment_matches(dan, format('word ILIKE ''%s''', replace(c.pattern, '''', ''''''))::customer_profile.segment_predicate),
                c.word COLLATE "und-x-icu" ILIKE c.pattern);
    END LOOP;
END $$;
SELECT word, pattern, evaluator, postgres FROM ilike_results ORDER BY word COLLATE "C", pattern COLLATE "C";
SELECT count(*) AS cases, count(*) FILTER (WHERE evaluator IS DISTINCT FROM postgres) AS disagree FROM ilike_results;
SELECT segment_create('evry', 'city ILIKE ''évry''') > 0 AS created;
SELECT segment_create('e_cities', 'city ILIKE ''é%''') > 0 AS created;
SELECT segment_create('sofia', 'nickname ILIKE ''%φία''') > 0 AS created;

-- text[] traits: = / <> / IN mean "contains", in the equivalent SQL too
-- (tags is undeclared and holds an array for ann and bob, text for cyd).
SELECT segment_matches(:ann, 'tags IN (''blue'')') AS ann_blue, segment_matches(:bob, 'tags IN (''blue'')') AS bob_blue,
       segment_matches(:cyd, 'tags IN (''blue'')') AS cyd_blue;
SELECT segment_create('blue', 'tags IN (''blue'')') > 0 AS created;
SELECT segment_create('not_green', 'tags <> ''green''') > 0 AS created;
SELECT segment_create('blue_or_green', 'tags IN (''blue'', ''green'')') > 0 AS created;
SELECT segment_create('no_red', 'tags NOT IN (''red'')') > 0 AS created;
SELECT segment_create('yoga', 'interests = ''yoga''') > 0 AS created;
SELECT segment_create('no_chess', 'NOT interests IN (''chess'')') > 0 AS created;
SELECT equivalent_sql FROM segment_explain('blue');
SELECT equivalent_sql FROM segment_explain('yoga');
SELECT equivalent_sql FROM segment_explain('evry');
SELECT equivalent_sql FROM segment_explain('late_stays');

-- An unquoted name is folded to lower case: lastVisit would read a trait
-- lastvisit that nobody has. Refused, with a hint to quote it.
SELECT pg_temp.err_hint($$SELECT customer_profile.segment_create('camel', 'has(lastVisit)')$$);
SELECT pg_temp.err_hint($$SELECT customer_profile.segment_create('camel', 'lastVisit IS NOT NULL')$$);
SELECT pg_temp.err_hint($$SELECT customer_profile.segment_create('camel', 'count(Booking) > 0')$$);
SELECT pg_temp.err_hint($$SELECT 'count(booking where Nights > 1) > 0'::customer_profile.segment_predicate$$);
-- Keywords and function names are not names: any case reads the same.
SELECT 'COUNT(booking WITHIN 7 DAYS) > 0 AND NOT Known OR city IS NULL'::segment_predicate;
SELECT segment_create('camel', 'has("lastVisit")') > 0 AS created;
SELECT * FROM segment_refresh('camel');
SELECT segment_members('camel') = :ann AS ann_is_camel;

-- Every segment of this file: stored members = live evaluation = equivalent SQL.
CREATE TEMP TABLE sql_check (segment text, stored bigint[], live bigint[], via_sql bigint[]);
DO $$
DECLARE
    s record;
    via_sql bigint[];
BEGIN
    FOR s IN SELECT name FROM customer_profile.segment ORDER BY name LOOP
        PERFORM customer_profile.segment_refresh(s.name);
        EXECUTE format('SELECT coalesce(array_agg(profile_id ORDER BY profile_id), ''{}'') FROM (%s) q',
                       (SELECT equivalent_sql FROM customer_profile.segment_explain(s.name))) INTO via_sql;
        INSERT INTO sql_check
        SELECT s.name,
               (SELECT coalesce(array_agg(m ORDER BY m), '{}') FROM customer_profile.segment_members(s.name) m),
               (SELECT coalesce(array_agg(u.profile_id ORDER BY u.profile_id), '{}') FROM customer_profile.unified_profile u
                 WHERE customer_profile.profile_segment(u.profile_id, s.name)),
               via_sql;
    END LOOP;
END $$;
SELECT segment, stored = live AND live = via_sql AS same,
       array(SELECT CASE p WHEN :ann THEN 'ann' WHEN :bob THEN 'bob' WHEN :cyd THEN 'cyd' WHEN :dan THEN 'dan' END
               FROM unnest(stored) p) AS members
  FROM sql_check ORDER BY segment;
SELECT segment, stored, live, via_sql FROM sql_check WHERE NOT (stored = live AND live = via_sql);
ROLLBACK;

-- Segments stored by 1.5 that 1.6 would refuse are kept and named in a
-- warning by the update; declaring the property makes one match at once.
-- (The library is already the new one when 1.5's SQL runs, so the rows 1.5
-- stored are inserted as they were: lastVisit was folded to lastvisit.)
\set regress_db :DBNAME
SET client_min_messages = warning;
DROP DATABASE IF EXISTS cp_predicate_upgrade;
CREATE DATABASE cp_predicate_upgrade;
\c cp_predicate_upgrade
SET client_min_messages = warning;
CREATE EXTENSION customer_profile VERSION '1.5';
SET search_path = customer_profile, public;
SELECT trait_observe('{"email": "ann@x.com"}', '{"lastVisit": "2026-01-01T00:00:00Z"}', 'crm') AS ann \gset
SELECT track('{"email": "ann@x.com"}', 'booking', now(), '{"stay": "2027-03-01"}', 'b1') = :ann AS tracked;
INSERT INTO segment (name, predicate)
VALUES ('late_stays', 'count(booking where stay > timestamp ''2027-01-01T00:00:00Z'') > 0'),
       ('recent', 'has(lastvisit)'), ('fine', 'count(booking) > 0');
ALTER EXTENSION customer_profile UPDATE TO '1.6';
SELECT name, predicate FROM segments ORDER BY name;
SELECT profile_segment(:ann, 'late_stays') AS late_before_declaring;
SELECT event_property_define('booking', 'stay', 'timestamp');
SELECT profile_segment(:ann, 'late_stays') AS late_after_declaring;
SELECT segment_alter('recent', 'has("lastVisit")');
SELECT profile_segment(:ann, 'recent') AS recent_once_quoted;
\c :regress_db
SET client_min_messages = warning;
DROP DATABASE cp_predicate_upgrade;
