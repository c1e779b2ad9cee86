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

-- Membership, with history: one row per stay of a profile in a segment.
CREATE TABLE customer_profile.segment_membership (
    profile_id bigint NOT NULL,
    segment_id integer NOT NULL,
    entered_at timestamptz NOT NULL DEFAULT clock_timestamp(),
    exited_at timestamptz,
    PRIMARY KEY (profile_id, segment_id, entered_at)
);
CREATE UNIQUE INDEX segment_membership_current_idx
    ON customer_profile.segment_membership (segment_id, profile_id) WHERE exited_at IS NULL;
COMMENT ON TABLE customer_profile.segment_membership IS
    'Each stay of a profile in a segment: entered_at, and exited_at once it left (NULL while a member).';

-- Entries and exits for systems of action, in order (position).
CREATE TABLE customer_profile.segment_outbox (
    position bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    segment text NOT NULL,
    profile_id bigint NOT NULL,
    change text NOT NULL CHECK (change IN ('enter', 'exit')),
    changed_at timestamptz NOT NULL DEFAULT clock_timestamp()
);
COMMENT ON TABLE customer_profile.segment_outbox IS
    'Every segment entry and exit, in order: what systems of action consume (see NOTIFY customer_profile_segment).';
SELECT pg_catalog.pg_extension_config_dump('customer_profile.segment_membership', '');
SELECT pg_catalog.pg_extension_config_dump('customer_profile.segment_outbox', '');
SELECT pg_catalog.pg_extension_config_dump('customer_profile.segment_outbox_position_seq', '');

CREATE FUNCTION customer_profile._segment_evaluate_all(predicate customer_profile.segment_predicate) RETURNS bigint[]
    AS 'MODULE_PATHNAME', 'cp_segment_evaluate_all' LANGUAGE C STABLE STRICT;
COMMENT ON FUNCTION customer_profile._segment_evaluate_all(customer_profile.segment_predicate) IS
    'Internal: every live profile matching a predicate now, sorted.';

CREATE FUNCTION customer_profile.segment_refresh(name text, OUT entered bigint, OUT exited bigint)
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    seg record;
    members bigint[];
BEGIN
    SELECT s.segment_id, s.name, s.predicate INTO seg FROM customer_profile.segment s
     WHERE s.name = segment_refresh.name FOR UPDATE;  -- one refresh of a segment at a time
    IF NOT FOUND THEN
        RAISE EXCEPTION 'unknown segment "%"', name USING ERRCODE = 'undefined_object';
    END IF;
    members := customer_profile._segment_evaluate_all(seg.predicate);
    WITH now_in AS (SELECT unnest(members) AS profile_id),
    exits AS (
        UPDATE customer_profile.segment_membership m SET exited_at = clock_timestamp()
         WHERE m.segment_id = seg.segment_id AND m.exited_at IS NULL
           AND NOT EXISTS (SELECT 1 FROM now_in n WHERE n.profile_id = m.profile_id)
        RETURNING m.profile_id),
    enters AS (
        INSERT INTO customer_profile.segment_membership (profile_id, segment_id)
        SELECT n.profile_id, seg.segment_id FROM now_in n
         WHERE NOT EXISTS (SELECT 1 FROM customer_profile.segment_membership m
                            WHERE m.segment_id = seg.segment_id AND m.profile_id = n.profile_id AND m.exited_at IS NULL)
        RETURNING profile_id),
    changes AS (
        INSERT INTO customer_profile.segment_outbox (segment, profile_id, change)
        SELECT seg.name, profile_id, 'exit' FROM exits
        UNION ALL
        SELECT seg.name, profile_id, 'enter' FROM enters
        RETURNING change)
    SELECT count(*) FILTER (WHERE change = 'enter'), count(*) FILTER (WHERE change = 'exit')
      INTO entered, exited FROM changes;
    IF entered + exited > 0 THEN
        PERFORM pg_notify('customer_profile_segment',
                          json_build_object('segment', seg.name, 'entered', entered, 'exited', exited,
                                            'source', 'refresh')::text);
    END IF;
END
$$;
COMMENT ON FUNCTION customer_profile.segment_refresh(text) IS
    'Recomputes a segment over every live profile in one pass: records entries and exits (history and outbox) and sends one NOTIFY customer_profile_segment; returns the counts.';

CREATE FUNCTION customer_profile.segment_members(segment text) RETURNS SETOF bigint
    LANGUAGE plpgsql STABLE
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    id integer;
BEGIN
    SELECT s.segment_id INTO id FROM customer_profile.segment s WHERE s.name = segment_members.segment;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'unknown segment "%"', segment USING ERRCODE = 'undefined_object';
    END IF;
    RETURN QUERY SELECT m.profile_id FROM customer_profile.segment_membership m
                  WHERE m.segment_id = id AND m.exited_at IS NULL ORDER BY m.profile_id;
END
$$;
COMMENT ON FUNCTION customer_profile.segment_members(text) IS 'The current members of a segment (as of its last refresh or change).';

CREATE FUNCTION customer_profile.segment_size(segment text) RETURNS bigint
    LANGUAGE sql STABLE
    SET search_path = pg_catalog, pg_temp
    BEGIN ATOMIC
        SELECT count(*) FROM customer_profile.segment_members(segment_size.segment);
    END;
COMMENT ON FUNCTION customer_profile.segment_size(text) IS 'How many profiles are in a segment now (stored membership).';

-- A dropped segment leaves no current members behind.
CREATE OR REPLACE FUNCTION customer_profile.segment_drop(name text) RETURNS void
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    user_segment text;
    id integer;
BEGIN
    SELECT s.name INTO user_segment FROM customer_profile.segment s
     WHERE segment_drop.name = ANY (s.refers_to) AND s.name <> segment_drop.name LIMIT 1;
    IF user_segment IS NOT NULL THEN
        RAISE EXCEPTION 'segment "%" is used by segment "%"', name, user_segment
            USING ERRCODE = 'dependent_objects_still_exist';
    END IF;
    DELETE FROM customer_profile.segment s WHERE s.name = segment_drop.name RETURNING segment_id INTO id;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'unknown segment "%"', name USING ERRCODE = 'undefined_object';
    END IF;
    DELETE FROM customer_profile.segment_membership m WHERE m.segment_id = id;
END
$$;

-- Consumers of the outbox keep their position here, so nothing is missed
-- while they are down: read after the position, act, acknowledge.
CREATE TABLE customer_profile.segment_consumer (
    consumer text PRIMARY KEY CHECK (length(consumer) BETWEEN 1 AND 200),
    position bigint NOT NULL DEFAULT 0,
    acknowledged_at timestamptz
);
COMMENT ON TABLE customer_profile.segment_consumer IS
    'Each outbox consumer''s acknowledged position.';
SELECT pg_catalog.pg_extension_config_dump('customer_profile.segment_consumer', '');

CREATE FUNCTION customer_profile.segment_outbox_read(consumer text, max_changes integer DEFAULT 1000)
    RETURNS TABLE (outbox_position bigint, segment text, profile_id bigint, change text, changed_at timestamptz)
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    after bigint;
BEGIN
    IF consumer IS NULL OR length(consumer) NOT BETWEEN 1 AND 200 THEN
        RAISE EXCEPTION 'a consumer name of 1 to 200 characters is required' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF max_changes IS NULL OR max_changes < 1 THEN
        RAISE EXCEPTION 'max_changes must be at least 1' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    INSERT INTO customer_profile.segment_consumer AS c (consumer) VALUES (segment_outbox_read.consumer)
    ON CONFLICT ON CONSTRAINT segment_consumer_pkey DO NOTHING;
    SELECT c.position INTO after FROM customer_profile.segment_consumer c WHERE c.consumer = segment_outbox_read.consumer;
    RETURN QUERY SELECT o.position, o.segment, o.profile_id, o.change, o.changed_at
                   FROM customer_profile.segment_outbox o
                  WHERE o.position > after ORDER BY o.position LIMIT max_changes;
END
$$;
COMMENT ON FUNCTION customer_profile.segment_outbox_read(text, integer) IS
    'The next changes after the consumer''s acknowledged position (registers a new consumer at position 0).';

CREATE FUNCTION customer_profile.segment_outbox_ack(consumer text, upto bigint) RETURNS void
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    UPDATE customer_profile.segment_consumer c
       SET position = greatest(c.position, upto), acknowledged_at = now()
     WHERE c.consumer = segment_outbox_ack.consumer;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'unknown consumer "%"', consumer USING ERRCODE = 'undefined_object',
            HINT = 'A consumer exists once it has read with segment_outbox_read().';
    END IF;
END
$$;
COMMENT ON FUNCTION customer_profile.segment_outbox_ack(text, bigint) IS
    'Marks every change up to a position as handled by the consumer (positions never move back).';

CREATE FUNCTION customer_profile._segment_predicate_sql(predicate customer_profile.segment_predicate) RETURNS text
    AS 'MODULE_PATHNAME', 'cp_segment_predicate_sql' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION customer_profile._segment_predicate_sql(customer_profile.segment_predicate) IS
    'Internal: the equivalent SQL condition over customer_profile.profiles p.';
CREATE FUNCTION customer_profile._segment_predicate_tree(predicate customer_profile.segment_predicate) RETURNS jsonb
    AS 'MODULE_PATHNAME', 'cp_segment_predicate_tree' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION customer_profile._segment_predicate_tree(customer_profile.segment_predicate) IS
    'Internal: the parsed tree as JSON.';

CREATE FUNCTION customer_profile.segment_explain(name text,
                                                 OUT predicate text, OUT tree jsonb, OUT equivalent_sql text)
    LANGUAGE plpgsql STABLE
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    compiled customer_profile.segment_predicate;
BEGIN
    SELECT s.predicate INTO compiled FROM customer_profile.segment s WHERE s.name = segment_explain.name;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'unknown segment "%"', name USING ERRCODE = 'undefined_object';
    END IF;
    predicate := compiled::text;
    tree := customer_profile._segment_predicate_tree(compiled);
    equivalent_sql := 'SELECT p.profile_id FROM customer_profile.profiles p WHERE '
                      || customer_profile._segment_predicate_sql(compiled);
END
$$;
COMMENT ON FUNCTION customer_profile.segment_explain(text) IS
    'A segment''s normalized predicate, its parsed tree, and the equivalent SQL over the views (to check it by hand).';

-- Streaming evaluation caches the definitions per backend: reload on change.
CREATE TRIGGER segment_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE
    ON customer_profile.segment FOR EACH STATEMENT EXECUTE FUNCTION customer_profile._catalog_changed();
