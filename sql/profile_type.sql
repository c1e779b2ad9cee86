-- The profile type: text and binary forms, operators, errors.
\set VERBOSITY terse
SET search_path = public, customer_profile;

-- Text input: types inferred or given, offsets normalized to UTC; output is canonical.
SELECT '{"traits": {
          "tier":      {"value": "gold", "source": "crm", "observed_at": "2026-01-02T03:04:05Z"},
          "ltv":       {"value": 1234.50, "source": "web", "observed_at": "2026-01-02 03:04:05.25+01:00"},
          "orders":    {"value": 42, "source": "web", "observed_at": "2026-01-02T03:04:05Z"},
          "vip":       {"value": true, "source": "support", "observed_at": "2026-01-02T03:04:05Z"},
          "tags":      {"value": ["a", "b"], "source": "web", "observed_at": "2026-01-02T03:04:05Z"},
          "signed_up": {"value": "2025-12-24T18:00:00-05:00", "type": "timestamp", "source": "crm", "observed_at": "2026-01-02T03:04:05Z"},
          "nickname":  {"value": null, "source": "crm", "observed_at": "2026-01-02T03:04:05Z"}}}'::profile AS p
\gset
SELECT :'p'::profile AS canonical;
-- Round trip: output -> input -> output is identical.
SELECT (:'p'::profile)::text::profile::text = (:'p'::profile)::text AS text_round_trip;
SELECT '{}'::profile AS empty, '{"traits": {}}'::profile AS also_empty;

-- Operators and profile_traits().
SELECT :'p'::profile -> 'tier' AS tier_json, :'p'::profile ->> 'tier' AS tier_text,
       :'p'::profile -> 'ltv' AS ltv, :'p'::profile ->> 'signed_up' AS signed_up,
       :'p'::profile -> 'tags' AS tags, :'p'::profile ->> 'nickname' AS nickname,
       :'p'::profile -> 'missing' AS missing;
SELECT :'p'::profile ? 'vip' AS has_vip, :'p'::profile ? 'VIP' AS case_sensitive, :'p'::profile ? '' AS empty_name;
SELECT jsonb_pretty(profile_traits(:'p'::profile));
SELECT (:'p'::profile ->> 'orders')::int + 1 AS arithmetic_on_text;

-- Binary form: version byte first; COPY BINARY round trip through recv.
SELECT substr(profile_send(:'p'::profile), 1, 1) AS version_byte;
CREATE TEMP TABLE profiles_in (id int, p profile);
INSERT INTO profiles_in VALUES (1, :'p'), (2, '{}'),
    (3, format('{"traits": {"big": {"value": "%s", "source": "crm", "observed_at": "2026-01-02T03:04:05Z"}}}', repeat('x', 60000))::profile);
CREATE TEMP TABLE profiles_out (id int, p profile);
DO $$
DECLARE path text := current_setting('data_directory') || '/customer_profile_regress.bin';
BEGIN
    EXECUTE format('COPY profiles_in TO %L (FORMAT binary)', path);
    EXECUTE format('COPY profiles_out FROM %L (FORMAT binary)', path);
END $$;
SELECT i.id, i.p::text = o.p::text AS same_text, profile_send(i.p) = profile_send(o.p) AS same_bytes,
       length(o.p ->> 'big') AS big_length
  FROM profiles_in i JOIN profiles_out o USING (id) ORDER BY id;
-- A 60 kB value is stored compressed (TOAST): far smaller on disk than in memory.
SELECT pg_column_size(p) < 10000 AS compressed FROM profiles_in WHERE id = 3;

-- Randomized round trip through both forms.
SELECT setseed(0.7);
CREATE TEMP TABLE random_profiles AS
SELECT g, (SELECT format('{"traits": {%s}}', string_agg(format('%s: {"value": %s, "source": %s, "observed_at": %s}',
                        to_json('t' || k), v, to_json('s' || (random() * 3)::int),
                        to_json(to_char(timestamptz '2000-01-01' + random() * interval '30 years', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'))), ', '))
             FROM (SELECT k, CASE (random() * 4)::int
                               WHEN 0 THEN to_json(round((random() * 1e6)::numeric, 3))::text
                               WHEN 1 THEN to_json(md5(random()::text) || ' "quoted" é')::text
                               WHEN 2 THEN (random() > 0.5)::text
                               WHEN 3 THEN to_json(ARRAY[md5(random()::text), 'x'])::text
                               ELSE 'null' END AS v
                     FROM generate_series(1, 1 + (random() * 8)::int) k WHERE g > 0) t)::profile AS p
  FROM generate_series(1, 300) g;
SELECT count(*) AS profiles,
       count(*) FILTER (WHERE p::text::profile::text = p::text) AS text_round_trips
  FROM random_profiles;
DO $$
DECLARE path text := current_setting('data_directory') || '/customer_profile_regress.bin';
BEGIN
    EXECUTE format('COPY (SELECT g, p FROM random_profiles) TO %L (FORMAT binary)', path);
    CREATE TEMP TABLE random_back (g int, p customer_profile.profile);
    EXECUTE format('COPY random_back FROM %L (FORMAT binary)', path);
END $$;
SELECT count(*) FILTER (WHERE profile_send(r.p) = profile_send(b.p)) AS binary_round_trips
  FROM random_profiles r JOIN random_back b USING (g);

-- Errors: SQLSTATE and the trait named; nothing stored.
SELECT q, regress.err(q) FROM (VALUES
    ($$SELECT '{not json'::profile$$),
    ($$SELECT '[]'::profile$$),
    ($$SELECT '{"trait": {}}'::profile$$),
    ($$SELECT '{"traits": {"age": {"value": "old", "type": "number", "source": "crm", "observed_at": "2026-01-02T03:04:05Z"}}}'::profile$$),
    ($$SELECT '{"traits": {"age": {"value": 1, "type": "decimal", "source": "crm", "observed_at": "2026-01-02T03:04:05Z"}}}'::profile$$),
    ($$SELECT '{"traits": {"age": {"value": 1, "source": "crm", "observed_at": "yesterday"}}}'::profile$$),
    ($$SELECT '{"traits": {"age": {"value": 1, "source": "crm", "observed_at": "2026-02-30T00:00:00Z"}}}'::profile$$),
    ($$SELECT '{"traits": {"age": {"value": 1, "source": "crm"}}}'::profile$$),
    ($$SELECT '{"traits": {"age": {"value": {"years": 1}, "source": "crm", "observed_at": "2026-01-02T03:04:05Z"}}}'::profile$$),
    ($$SELECT '{"traits": {"tags": {"value": [1, 2], "source": "crm", "observed_at": "2026-01-02T03:04:05Z"}}}'::profile$$),
    ($$SELECT '{"traits": {"": {"value": 1, "source": "crm", "observed_at": "2026-01-02T03:04:05Z"}}}'::profile$$),
    ($$SELECT format('{"traits": {"%s": {"value": 1, "source": "crm", "observed_at": "2026-01-02T03:04:05Z"}}}', repeat('n', 64))::profile$$),
    ($$SELECT format('{"traits": {"t": {"value": "%s", "source": "crm", "observed_at": "2026-01-02T03:04:05Z"}}}', repeat('x', 70000))::profile$$),
    ($$SELECT format('{"traits": {"t": {"value": 1, "source": "%s", "observed_at": "2026-01-02T03:04:05Z"}}}', repeat('s', 201))::profile$$),
    ($$SELECT '{"traits": {"t": {"value": 1, "color": "red", "source": "crm", "observed_at": "2026-01-02T03:04:05Z"}}}'::profile$$),
    ($$SELECT customer_profile.profile_from_binary('\x')$$),
    ($$SELECT customer_profile.profile_from_binary('\x02')$$),
    ($$SELECT customer_profile.profile_from_binary('\x0101')$$),
    ($$SELECT customer_profile.profile_from_binary(customer_profile.profile_send('{}') || '\x00'::bytea)$$)
) AS t(q);
SELECT customer_profile.profile_from_binary(customer_profile.profile_send(:'p'::profile))::text = (:'p'::profile)::text
       AS from_binary_round_trip;
