-- customer_profile 1.2 -> 1.3: segments (issue 5), first slice: the
-- segment_predicate type.
\echo Use "ALTER EXTENSION customer_profile UPDATE TO '1.3'" to load this file. \quit

CREATE TYPE customer_profile.segment_predicate;

CREATE FUNCTION customer_profile.segment_predicate_in(cstring) RETURNS customer_profile.segment_predicate
    AS 'MODULE_PATHNAME', 'cp_segment_predicate_in' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION customer_profile.segment_predicate_out(customer_profile.segment_predicate) RETURNS cstring
    AS 'MODULE_PATHNAME', 'cp_segment_predicate_out' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION customer_profile.segment_predicate_recv(internal) RETURNS customer_profile.segment_predicate
    AS 'MODULE_PATHNAME', 'cp_segment_predicate_recv' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION customer_profile.segment_predicate_send(customer_profile.segment_predicate) RETURNS bytea
    AS 'MODULE_PATHNAME', 'cp_segment_predicate_send' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE TYPE customer_profile.segment_predicate (
    INPUT = customer_profile.segment_predicate_in,
    OUTPUT = customer_profile.segment_predicate_out,
    RECEIVE = customer_profile.segment_predicate_recv,
    SEND = customer_profile.segment_predicate_send,
    INTERNALLENGTH = VARIABLE,
    STORAGE = extended
);
COMMENT ON TYPE customer_profile.segment_predicate IS
    'A segment predicate parsed and compiled once: text in, normalized text out, compact binary form stored.';

CREATE FUNCTION customer_profile.segment_predicate_check(predicate customer_profile.segment_predicate)
    RETURNS boolean
    AS 'MODULE_PATHNAME', 'cp_segment_predicate_check' LANGUAGE C STABLE STRICT;
COMMENT ON FUNCTION customer_profile.segment_predicate_check(customer_profile.segment_predicate) IS
    'True when the predicate fits the declared trait types and event measures; otherwise a 22023 type error.';

CREATE FUNCTION customer_profile._segment_predicate_references(predicate customer_profile.segment_predicate)
    RETURNS text[]
    AS 'MODULE_PATHNAME', 'cp_segment_predicate_references' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION customer_profile._segment_predicate_references(customer_profile.segment_predicate) IS
    'Internal: the segments a predicate names with in_segment(), sorted.';

CREATE TABLE customer_profile.segment (
    segment_id integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name text NOT NULL UNIQUE CHECK (name ~ '^[a-z][a-z0-9_]{0,62}$'),
    predicate customer_profile.segment_predicate NOT NULL,
    refers_to text[] NOT NULL DEFAULT '{}',
    description text,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE customer_profile.segment IS
    'Audiences: a name, a compiled predicate, the segments it refers to with in_segment().';
SELECT pg_catalog.pg_extension_config_dump('customer_profile.segment', '');
SELECT pg_catalog.pg_extension_config_dump('customer_profile.segment_segment_id_seq', '');

-- Checks a predicate for a segment: types against the declarations,
-- referenced segments exist, and no chain of in_segment() leads back to it.
CREATE FUNCTION customer_profile._segment_validate(name text, predicate customer_profile.segment_predicate)
    RETURNS text[]
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    refs text[] := customer_profile._segment_predicate_references(predicate);
    missing text;
    cycle text;
BEGIN
    PERFORM customer_profile.segment_predicate_check(predicate);
    SELECT r INTO missing FROM unnest(refs) r
     WHERE r <> _segment_validate.name AND NOT EXISTS (SELECT 1 FROM customer_profile.segment s WHERE s.name = r) LIMIT 1;
    IF missing IS NOT NULL THEN
        RAISE EXCEPTION 'segment "%" refers to unknown segment "%"', _segment_validate.name, missing USING ERRCODE = 'undefined_object';
    END IF;
    WITH RECURSIVE reach(seg, path) AS (
        SELECT r, ARRAY[_segment_validate.name, r] FROM unnest(refs) r
        UNION ALL
        SELECT x, reach.path || x
          FROM reach JOIN customer_profile.segment s ON s.name = reach.seg, unnest(s.refers_to) x
         WHERE reach.seg <> _segment_validate.name AND NOT x = ANY (reach.path[2:])
    )
    SELECT array_to_string(path, ' -> ') INTO cycle FROM reach WHERE seg = _segment_validate.name LIMIT 1;
    IF cycle IS NOT NULL THEN
        RAISE EXCEPTION 'segment "%" would depend on itself: %', _segment_validate.name, cycle
            USING ERRCODE = 'invalid_object_definition';
    END IF;
    RETURN refs;
END
$$;
COMMENT ON FUNCTION customer_profile._segment_validate(text, customer_profile.segment_predicate) IS
    'Internal: type check, referenced segments exist, no in_segment() cycle; returns the references.';

CREATE FUNCTION customer_profile.segment_create(name text, predicate text, description text DEFAULT NULL)
    RETURNS integer
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    compiled customer_profile.segment_predicate;
    id integer;
BEGIN
    IF name IS NULL OR name !~ '^[a-z][a-z0-9_]{0,62}$' THEN
        RAISE EXCEPTION 'invalid segment name %', coalesce(quote_literal(name), 'NULL')
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Use 1-63 lower-case letters, digits and underscores, starting with a letter.';
    END IF;
    IF predicate IS NULL THEN
        RAISE EXCEPTION 'the predicate of segment "%" is NULL', name USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF EXISTS (SELECT 1 FROM customer_profile.segment s WHERE s.name = segment_create.name) THEN
        RAISE EXCEPTION 'segment "%" already exists', name USING ERRCODE = 'duplicate_object';
    END IF;
    compiled := predicate::customer_profile.segment_predicate;
    INSERT INTO customer_profile.segment (name, predicate, refers_to, description)
    VALUES (name, compiled, customer_profile._segment_validate(name, compiled), description)
    RETURNING segment_id INTO id;
    RETURN id;
END
$$;
COMMENT ON FUNCTION customer_profile.segment_create(text, text, text) IS
    'Creates a segment from predicate text (parsed, type-checked, references checked for cycles); returns its id.';

CREATE FUNCTION customer_profile.segment_alter(name text, predicate text DEFAULT NULL, description text DEFAULT NULL)
    RETURNS void
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    compiled customer_profile.segment_predicate;
BEGIN
    PERFORM 1 FROM customer_profile.segment s WHERE s.name = segment_alter.name FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'unknown segment "%"', name USING ERRCODE = 'undefined_object';
    END IF;
    IF predicate IS NOT NULL THEN
        compiled := predicate::customer_profile.segment_predicate;
        UPDATE customer_profile.segment s
           SET predicate = compiled, refers_to = customer_profile._segment_validate(segment_alter.name, compiled),
               updated_at = now()
         WHERE s.name = segment_alter.name;
    END IF;
    IF description IS NOT NULL THEN
        UPDATE customer_profile.segment s SET description = segment_alter.description, updated_at = now()
         WHERE s.name = segment_alter.name;
    END IF;
END
$$;
COMMENT ON FUNCTION customer_profile.segment_alter(text, text, text) IS
    'Changes a segment''s predicate and/or description (NULL keeps the current one).';

CREATE FUNCTION customer_profile.segment_drop(name text) RETURNS void
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    user_segment text;
BEGIN
    SELECT s.name INTO user_segment FROM customer_profile.segment s
     WHERE segment_drop.name = ANY (s.refers_to) AND s.name <> segment_drop.name LIMIT 1;
    IF user_segment IS NOT NULL THEN
        RAISE EXCEPTION 'segment "%" is used by segment "%"', name, user_segment
            USING ERRCODE = 'dependent_objects_still_exist';
    END IF;
    DELETE FROM customer_profile.segment s WHERE s.name = segment_drop.name;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'unknown segment "%"', name USING ERRCODE = 'undefined_object';
    END IF;
END
$$;
COMMENT ON FUNCTION customer_profile.segment_drop(text) IS 'Drops a segment that no other segment refers to.';

CREATE VIEW customer_profile.segments AS
    SELECT s.segment_id, s.name, s.predicate::text AS predicate, s.refers_to, s.description, s.created_at, s.updated_at
      FROM customer_profile.segment s;
COMMENT ON VIEW customer_profile.segments IS 'One row per segment: its normalized predicate and the segments it refers to.';

CREATE FUNCTION customer_profile.segment_matches(profile_id bigint, predicate customer_profile.segment_predicate)
    RETURNS boolean
    AS 'MODULE_PATHNAME', 'cp_segment_matches' LANGUAGE C STABLE;
COMMENT ON FUNCTION customer_profile.segment_matches(bigint, customer_profile.segment_predicate) IS
    'Evaluates a predicate on one profile now (traits, behavior summary, known/anonymous, other segments); NULL for an unknown profile.';

CREATE FUNCTION customer_profile.profile_segment(profile_id bigint) RETURNS SETOF text
    AS 'MODULE_PATHNAME', 'cp_profile_segments' LANGUAGE C STABLE;
COMMENT ON FUNCTION customer_profile.profile_segment(bigint) IS
    'The segments the person is in now (evaluated live), by name.';

CREATE FUNCTION customer_profile.profile_segment(profile_id bigint, segment text) RETURNS boolean
    AS 'MODULE_PATHNAME', 'cp_profile_in_segment' LANGUAGE C STABLE;
COMMENT ON FUNCTION customer_profile.profile_segment(bigint, text) IS
    'Whether the person is in the segment now (evaluated live); NULL for an unknown profile, 42704 for an unknown segment.';
