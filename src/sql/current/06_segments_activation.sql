-- Segments and activation: the segment_predicate type and its @@ operators,
-- segment definitions, memberships kept current by streaming evaluation and
-- sliding windows, and the outbox that delivers entries and exits to systems
-- of action.

CREATE TYPE customer_profile.segment_predicate;

CREATE FUNCTION customer_profile.segment_predicate_in(cstring) RETURNS customer_profile.segment_predicate
    LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'cp_segment_predicate_in';
COMMENT ON FUNCTION customer_profile.segment_predicate_in(cstring) IS
    'Text input of segment_predicate: parses the predicate language (22P02 for a syntax error; segment_predicate_check checks the types).';
REVOKE ALL ON FUNCTION customer_profile.segment_predicate_in(cstring) FROM PUBLIC;
GRANT ALL ON FUNCTION customer_profile.segment_predicate_in(cstring) TO customer_profile_reader;

CREATE FUNCTION customer_profile.segment_predicate_out(customer_profile.segment_predicate) RETURNS cstring
    LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'cp_segment_predicate_out';
COMMENT ON FUNCTION customer_profile.segment_predicate_out(customer_profile.segment_predicate) IS
    'Text output of segment_predicate: the normalized predicate.';
REVOKE ALL ON FUNCTION customer_profile.segment_predicate_out(customer_profile.segment_predicate) FROM PUBLIC;
GRANT ALL ON FUNCTION customer_profile.segment_predicate_out(customer_profile.segment_predicate) TO customer_profile_reader;

CREATE FUNCTION customer_profile.segment_predicate_recv(internal) RETURNS customer_profile.segment_predicate
    LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'cp_segment_predicate_recv';
COMMENT ON FUNCTION customer_profile.segment_predicate_recv(internal) IS
    'Binary input of segment_predicate, validated like text input.';
REVOKE ALL ON FUNCTION customer_profile.segment_predicate_recv(internal) FROM PUBLIC;
GRANT ALL ON FUNCTION customer_profile.segment_predicate_recv(internal) TO customer_profile_reader;

CREATE FUNCTION customer_profile.segment_predicate_send(customer_profile.segment_predicate) RETURNS bytea
    LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'cp_segment_predicate_send';
COMMENT ON FUNCTION customer_profile.segment_predicate_send(customer_profile.segment_predicate) IS
    'Binary output of segment_predicate (format version byte first).';
REVOKE ALL ON FUNCTION customer_profile.segment_predicate_send(customer_profile.segment_predicate) FROM PUBLIC;
GRANT ALL ON FUNCTION customer_profile.segment_predicate_send(customer_profile.segment_predicate) TO customer_profile_reader;
GRANT ALL ON FUNCTION customer_profile.segment_predicate_send(customer_profile.segment_predicate) TO customer_profile_worker;

CREATE TYPE customer_profile.segment_predicate (
    INTERNALLENGTH = variable,
    INPUT = customer_profile.segment_predicate_in,
    OUTPUT = customer_profile.segment_predicate_out,
    RECEIVE = customer_profile.segment_predicate_recv,
    SEND = customer_profile.segment_predicate_send,
    ALIGNMENT = int4,
    STORAGE = extended
);
COMMENT ON TYPE customer_profile.segment_predicate IS 'A segment predicate parsed and compiled once: text in, normalized text out, compact binary form stored.';


SET default_tablespace = '';

SET default_table_access_method = heap;
REVOKE ALL ON TYPE customer_profile.segment_predicate FROM PUBLIC;
GRANT ALL ON TYPE customer_profile.segment_predicate TO customer_profile_reader;

CREATE TABLE customer_profile.segment (
    segment_id integer NOT NULL,
    name text NOT NULL,
    predicate customer_profile.segment_predicate NOT NULL,
    refers_to text[] DEFAULT '{}'::text[] NOT NULL,
    description text,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    updated_at timestamp with time zone DEFAULT now() NOT NULL,
    windows_scheduled_for timestamp with time zone,
    state text DEFAULT 'active'::text NOT NULL,
    build_next bigint,
    build_done bigint,
    build_total bigint,
    time_zone text DEFAULT 'UTC'::text NOT NULL,
    build_retry bigint[],
    CONSTRAINT segment_name_check CHECK ((name ~ '^[a-z][a-z0-9_]{0,62}$'::text)),
    CONSTRAINT segment_state_check CHECK ((state = ANY (ARRAY['building'::text, 'active'::text, 'disabled'::text]))),
    CONSTRAINT segment_build_check CHECK (((state = 'building'::text) = (build_next IS NOT NULL)))
);
SELECT pg_catalog.pg_extension_config_dump('customer_profile.segment', '');
ALTER TABLE customer_profile.segment ALTER COLUMN segment_id ADD GENERATED ALWAYS AS IDENTITY (
    SEQUENCE NAME customer_profile.segment_segment_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1
);
SELECT pg_catalog.pg_extension_config_dump('customer_profile.segment_segment_id_seq', '');
ALTER TABLE ONLY customer_profile.segment
    ADD CONSTRAINT segment_name_key UNIQUE (name);
ALTER TABLE ONLY customer_profile.segment
    ADD CONSTRAINT segment_pkey PRIMARY KEY (segment_id);
CREATE TRIGGER segment_changed AFTER INSERT OR DELETE OR UPDATE OR TRUNCATE ON customer_profile.segment FOR EACH STATEMENT EXECUTE FUNCTION customer_profile._catalog_changed();
COMMENT ON TABLE customer_profile.segment IS 'Audiences: a name, a compiled predicate, the segments it refers to with in_segment().';
COMMENT ON COLUMN customer_profile.segment.state IS 'active (evaluated, membership complete), building (evaluated, membership being backfilled by the worker) or disabled (kept, not evaluated).';
COMMENT ON COLUMN customer_profile.segment.build_next IS 'While building: the first profile_id the build has not evaluated yet.';
COMMENT ON COLUMN customer_profile.segment.build_retry IS 'While building: profiles before build_next that another transaction held, tried again by the next batch.';
COMMENT ON COLUMN customer_profile.segment.time_zone IS 'The time zone whose calendar days today (without a zone) counts in this segment''s predicate.';
GRANT SELECT ON TABLE customer_profile.segment TO customer_profile_reader;
GRANT SELECT ON TABLE customer_profile.segment TO customer_profile_worker;
REVOKE USAGE ON TYPE customer_profile.segment FROM PUBLIC;

-- Consumers of the outbox keep their position here, so nothing is missed
-- while they are down: read after the position, act, acknowledge.
CREATE TABLE customer_profile.segment_consumer (
    consumer text NOT NULL,
    "position" bigint DEFAULT 0 NOT NULL,
    acknowledged_at timestamp with time zone,
    horizon pg_snapshot,
    batch pg_snapshot,
    cluster_id bigint,
    CONSTRAINT segment_consumer_consumer_check CHECK (((length(consumer) >= 1) AND (length(consumer) <= 200)))
);
SELECT pg_catalog.pg_extension_config_dump('customer_profile.segment_consumer', '');
ALTER TABLE ONLY customer_profile.segment_consumer
    ADD CONSTRAINT segment_consumer_pkey PRIMARY KEY (consumer);
COMMENT ON TABLE customer_profile.segment_consumer IS 'Each outbox consumer''s bookmark: the snapshot it has read up to (horizon), the batch it is reading and how far it acknowledged it.';
COMMENT ON COLUMN customer_profile.segment_consumer."position" IS 'Acknowledged position inside the current batch: its rows up to here are handled (before the first batch: skip rows up to here).';
COMMENT ON COLUMN customer_profile.segment_consumer.horizon IS 'Every change of a transaction visible in this snapshot has been delivered (NULL: no batch finished yet).';
COMMENT ON COLUMN customer_profile.segment_consumer.batch IS 'The batch being read: changes of the transactions visible in this snapshot and not in horizon.';
COMMENT ON COLUMN customer_profile.segment_consumer.cluster_id IS 'The cluster whose transactions horizon and batch describe; another value (after a restore) makes the next read start again from a safe position.';
GRANT SELECT,INSERT,DELETE,UPDATE ON TABLE customer_profile.segment_consumer TO customer_profile_writer;
REVOKE USAGE ON TYPE customer_profile.segment_consumer FROM PUBLIC;

-- Membership, with history: one row per stay of a profile in a segment.
CREATE TABLE customer_profile.segment_membership (
    profile_id bigint NOT NULL,
    segment_id integer NOT NULL,
    entered_at timestamp with time zone DEFAULT clock_timestamp() NOT NULL,
    exited_at timestamp with time zone
);
SELECT pg_catalog.pg_extension_config_dump('customer_profile.segment_membership', '');
ALTER TABLE ONLY customer_profile.segment_membership
    ADD CONSTRAINT segment_membership_pkey PRIMARY KEY (profile_id, segment_id, entered_at);
CREATE UNIQUE INDEX segment_membership_current_idx ON customer_profile.segment_membership USING btree (segment_id, profile_id) WHERE (exited_at IS NULL);
-- A profile's current segments (what a stream reads for every profile it
-- re-evaluates). Without it the planner read them through the index above,
-- whose second column is profile_id: the whole index once per profile, 2 s
-- for a batch of 700 profiles at 260,000 memberships.
CREATE INDEX segment_membership_profile_current_idx ON customer_profile.segment_membership USING btree (profile_id, segment_id) WHERE (exited_at IS NULL);
COMMENT ON TABLE customer_profile.segment_membership IS 'Each stay of a profile in a segment: entered_at, and exited_at once it left (NULL while a member).';
GRANT SELECT ON TABLE customer_profile.segment_membership TO customer_profile_reader;
GRANT SELECT,INSERT,DELETE,UPDATE ON TABLE customer_profile.segment_membership TO customer_profile_writer;
GRANT SELECT,INSERT,UPDATE ON TABLE customer_profile.segment_membership TO customer_profile_worker;
REVOKE USAGE ON TYPE customer_profile.segment_membership FROM PUBLIC;

-- Entries and exits for systems of action, in order (position).
CREATE TABLE customer_profile.segment_outbox (
    "position" bigint NOT NULL,
    segment text NOT NULL,
    profile_id bigint NOT NULL,
    change text NOT NULL,
    changed_at timestamp with time zone DEFAULT clock_timestamp() NOT NULL,
    xact_id xid8 DEFAULT pg_current_xact_id(),
    cluster_id bigint DEFAULT customer_profile._cluster_id(),
    CONSTRAINT segment_outbox_change_check CHECK ((change = ANY (ARRAY['enter'::text, 'exit'::text]))),
    CONSTRAINT segment_outbox_xact_check CHECK (((xact_id IS NULL) = (cluster_id IS NULL)))
);
SELECT pg_catalog.pg_extension_config_dump('customer_profile.segment_outbox', '');
ALTER TABLE customer_profile.segment_outbox ALTER COLUMN "position" ADD GENERATED ALWAYS AS IDENTITY (
    SEQUENCE NAME customer_profile.segment_outbox_position_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1
);
SELECT pg_catalog.pg_extension_config_dump('customer_profile.segment_outbox_position_seq', '');
ALTER TABLE ONLY customer_profile.segment_outbox
    ADD CONSTRAINT segment_outbox_pkey PRIMARY KEY ("position");
CREATE INDEX segment_outbox_xact_idx ON customer_profile.segment_outbox USING btree (xact_id);
COMMENT ON TABLE customer_profile.segment_outbox IS 'Every segment entry and exit (position: the row, also in NOTIFY customer_profile_segment); consumers read it with segment_outbox_read() in commit order.';
COMMENT ON COLUMN customer_profile.segment_outbox.xact_id IS 'The transaction that wrote the change (NULL before 1.6): consumers read by snapshot, not by position.';
COMMENT ON COLUMN customer_profile.segment_outbox.cluster_id IS 'The cluster whose transaction xact_id is (_cluster_id()); rows from another cluster (a restored dump) count as committed long ago.';
GRANT SELECT,INSERT,DELETE,UPDATE ON TABLE customer_profile.segment_outbox TO customer_profile_writer;
GRANT SELECT,INSERT ON TABLE customer_profile.segment_outbox TO customer_profile_worker;
REVOKE USAGE ON TYPE customer_profile.segment_outbox FROM PUBLIC;

-- When each profile must next be re-evaluated because time passed: the
-- earliest time a window or a now() comparison of any segment can change.
CREATE TABLE customer_profile.segment_schedule (
    profile_id bigint NOT NULL,
    due_at timestamp with time zone NOT NULL
);
SELECT pg_catalog.pg_extension_config_dump('customer_profile.segment_schedule', '');
ALTER TABLE ONLY customer_profile.segment_schedule
    ADD CONSTRAINT segment_schedule_pkey PRIMARY KEY (profile_id);
CREATE INDEX segment_schedule_due_idx ON customer_profile.segment_schedule USING btree (due_at);
COMMENT ON TABLE customer_profile.segment_schedule IS 'Per profile, the next time a segment window or now() comparison can change its memberships (the worker acts then).';
GRANT SELECT ON TABLE customer_profile.segment_schedule TO customer_profile_reader;
GRANT SELECT,INSERT,DELETE,UPDATE ON TABLE customer_profile.segment_schedule TO customer_profile_writer;
GRANT SELECT,INSERT,DELETE,UPDATE ON TABLE customer_profile.segment_schedule TO customer_profile_worker;
REVOKE USAGE ON TYPE customer_profile.segment_schedule FROM PUBLIC;

-- Value expressions are operands of the predicate language, evaluated on the
-- stored profile: sum(purchase.amount), count(purchase within 90 days),
-- last_seen(purchase), a number trait.
CREATE FUNCTION customer_profile._operand_describe(expression text, OUT normalized text, OUT event_type text) RETURNS record
    LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'cp_operand_describe';
COMMENT ON FUNCTION customer_profile._operand_describe(expression text, OUT normalized text, OUT event_type text) IS 'Internal: a value expression in normalized form and the event type it reads (22P02 when malformed).';
REVOKE ALL ON FUNCTION customer_profile._operand_describe(expression text, OUT normalized text, OUT event_type text) FROM PUBLIC;

CREATE FUNCTION customer_profile._operand_values(profile_id bigint, data customer_profile.profile, behavior bytea, expressions text[]) RETURNS double precision[]
    LANGUAGE c STABLE PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'cp_operand_values';
COMMENT ON FUNCTION customer_profile._operand_values(profile_id bigint, data customer_profile.profile, behavior bytea, expressions text[]) IS 'Internal: value expressions on a stored profile (numbers; booleans 1/0; times as days before now; NULL otherwise).';
REVOKE ALL ON FUNCTION customer_profile._operand_values(profile_id bigint, data customer_profile.profile, behavior bytea, expressions text[]) FROM PUBLIC;
GRANT ALL ON FUNCTION customer_profile._operand_values(profile_id bigint, data customer_profile.profile, behavior bytea, expressions text[]) TO customer_profile_reader;

CREATE FUNCTION customer_profile._outbox_snapshot() RETURNS pg_snapshot
    LANGUAGE sql
    SET search_path TO 'pg_catalog', 'pg_temp'
    BEGIN ATOMIC
 WITH s AS (
          SELECT pg_current_snapshot() AS snap,
             pg_current_xact_id_if_assigned() AS own
         )
  SELECT
         CASE
             WHEN ((s.own IS NULL) OR (pg_visible_in_snapshot(s.own, s.snap) IS FALSE)) THEN s.snap
             ELSE ((((((LEAST(pg_snapshot_xmin(s.snap), s.own))::text || ':'::text) || (pg_snapshot_xmax(s.snap))::text) || ':'::text) || ( SELECT string_agg((u.x)::text, ','::text ORDER BY u.x) AS string_agg
                FROM ( SELECT pg_snapshot_xip(s.snap) AS pg_snapshot_xip
                     UNION
                      SELECT s.own) u(x))))::pg_snapshot
         END AS "case"
    FROM s;
END;
COMMENT ON FUNCTION customer_profile._outbox_snapshot() IS 'Internal: pg_current_snapshot() with the calling transaction counted as running (a batch never includes the reader''s own uncommitted changes).';
REVOKE ALL ON FUNCTION customer_profile._outbox_snapshot() FROM PUBLIC;
GRANT ALL ON FUNCTION customer_profile._outbox_snapshot() TO customer_profile_writer;

-- The keys a profile is indexed under (core/predicate_index.hpp): a GIN
-- index on them lets segment_refresh read only the profiles that can match
-- a predicate's equality and presence conditions, and (through
-- behavior_keys) its counts, sums and last_seen.
CREATE FUNCTION customer_profile._profile_index_keys(data customer_profile.profile, behavior_keys bigint[]) RETURNS text[]
    LANGUAGE c IMMUTABLE PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'cp_profile_index_keys';
COMMENT ON FUNCTION customer_profile._profile_index_keys(data customer_profile.profile, behavior_keys bigint[]) IS 'Internal: the keys of a profile''s traits (name, and name with its text, number or boolean value) and of its behavior (per event type, the blocks of 8 to 32768 days holding its last event and the day from which it counts two events, from behavior_keys) that unified_profile_index_keys_idx indexes.';
-- The roles that write profiles evaluate it as the index expression.
REVOKE ALL ON FUNCTION customer_profile._profile_index_keys(data customer_profile.profile, behavior_keys bigint[]) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION customer_profile._profile_index_keys(data customer_profile.profile, behavior_keys bigint[]) TO customer_profile_writer;
GRANT EXECUTE ON FUNCTION customer_profile._profile_index_keys(data customer_profile.profile, behavior_keys bigint[]) TO customer_profile_worker;
CREATE INDEX unified_profile_index_keys_idx ON customer_profile.unified_profile USING gin (customer_profile._profile_index_keys(data, behavior_keys));

-- Membership for a segment whose predicate is new (created, altered,
-- enabled), with the definitions lock held in EXCLUSIVE mode: a small
-- population at once (the refresh in this transaction), a large one queued
-- to the worker (segment_build_run), whose streams never wait for a profile.
CREATE FUNCTION customer_profile._segment_backfill(segment_id integer) RETURNS text
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
DECLARE
    inline_limit bigint;
    population bigint;
    seg_name text;
    referrer record;
BEGIN
    PERFORM customer_profile._segment_definitions_lock();  -- loads the library, which defines the setting
    inline_limit := current_setting('customer_profile.segment_build_inline_limit')::bigint;
    SELECT count(*) INTO population
      FROM (SELECT 1 FROM customer_profile.unified_profile u LIMIT inline_limit + 1) x;
    IF population <= inline_limit THEN
        UPDATE customer_profile.segment s
           SET state = 'active', build_next = NULL, build_done = NULL, build_total = NULL, build_retry = NULL
         WHERE s.segment_id = _segment_backfill.segment_id
        RETURNING s.name INTO seg_name;
        PERFORM customer_profile.segment_refresh(seg_name);
        -- The segments that read it with in_segment() (and theirs, deepest
        -- last) follow (a queued build's streams reach them by themselves).
        FOR referrer IN
            WITH RECURSIVE up(name, depth) AS (
                SELECT s.name, 1 FROM customer_profile.segment s
                 WHERE seg_name = ANY (s.refers_to) AND s.state <> 'disabled'
                UNION
                SELECT s.name, up.depth + 1 FROM up JOIN customer_profile.segment s ON up.name = ANY (s.refers_to)
                 WHERE s.state <> 'disabled' AND up.depth < 32)
            SELECT up.name FROM up GROUP BY up.name ORDER BY max(up.depth), up.name
        LOOP
            PERFORM customer_profile.segment_refresh(referrer.name);
        END LOOP;
        RETURN 'active';
    END IF;
    SELECT count(*) INTO population FROM customer_profile.unified_profile u;
    UPDATE customer_profile.segment s
       SET state = 'building', build_next = 0, build_done = 0, build_total = population, build_retry = '{}'
     WHERE s.segment_id = _segment_backfill.segment_id
    RETURNING s.name INTO seg_name;
    RAISE NOTICE 'segment "%" is building: the worker evaluates its % profiles', seg_name, population
        USING HINT = 'The segments view shows the progress; segment_refresh() builds it at once.';
    RETURN 'building';
END
$$;
COMMENT ON FUNCTION customer_profile._segment_backfill(segment_id integer) IS 'Internal: backfills a segment whose predicate is new: refreshed at once up to customer_profile.segment_build_inline_limit profiles, otherwise marked building for the worker; returns the state.';
REVOKE ALL ON FUNCTION customer_profile._segment_backfill(segment_id integer) FROM PUBLIC;

CREATE FUNCTION customer_profile._segment_definitions_lock() RETURNS boolean
    LANGUAGE c STRICT
    AS 'MODULE_PATHNAME', 'cp_segment_definitions_lock';
COMMENT ON FUNCTION customer_profile._segment_definitions_lock() IS 'Internal: takes the segment definitions lock in ROW SHARE mode, as streaming does, until commit; true when this transaction holds it in EXCLUSIVE mode (it created, altered or dropped a segment).';
REVOKE ALL ON FUNCTION customer_profile._segment_definitions_lock() FROM PUBLIC;
GRANT ALL ON FUNCTION customer_profile._segment_definitions_lock() TO customer_profile_admin;
GRANT ALL ON FUNCTION customer_profile._segment_definitions_lock() TO customer_profile_worker;

CREATE FUNCTION customer_profile._segment_evaluate_all(predicate customer_profile.segment_predicate) RETURNS bigint[]
    LANGUAGE c STABLE STRICT
    AS 'MODULE_PATHNAME', 'cp_segment_evaluate_all';
COMMENT ON FUNCTION customer_profile._segment_evaluate_all(predicate customer_profile.segment_predicate) IS 'Internal: every live profile matching a predicate now, sorted.';
REVOKE ALL ON FUNCTION customer_profile._segment_evaluate_all(predicate customer_profile.segment_predicate) FROM PUBLIC;

CREATE FUNCTION customer_profile._segment_evaluate_many(predicates customer_profile.segment_predicate[]) RETURNS TABLE(n integer, members bigint[])
    LANGUAGE c STABLE STRICT
    AS 'MODULE_PATHNAME', 'cp_segment_evaluate_many';
COMMENT ON FUNCTION customer_profile._segment_evaluate_many(predicates customer_profile.segment_predicate[]) IS 'Internal: for each predicate (by its place n), every live profile matching it now, sorted: one scan of the profiles.';
REVOKE ALL ON FUNCTION customer_profile._segment_evaluate_many(predicates customer_profile.segment_predicate[]) FROM PUBLIC;

-- The same on the columns: what segment_refresh() scans with (no whole-row
-- value to build per profile).
CREATE FUNCTION customer_profile._segment_matches_columns(profile_id bigint, data customer_profile.profile, behavior bytea, predicate customer_profile.segment_predicate) RETURNS boolean
    LANGUAGE c STABLE COST 50 PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'cp_segment_matches_columns';
COMMENT ON FUNCTION customer_profile._segment_matches_columns(profile_id bigint, data customer_profile.profile, behavior bytea, predicate customer_profile.segment_predicate) IS 'Internal: unified_profile @@ predicate on the columns of the row.';
REVOKE ALL ON FUNCTION customer_profile._segment_matches_columns(profile_id bigint, data customer_profile.profile, behavior bytea, predicate customer_profile.segment_predicate) FROM PUBLIC;

CREATE FUNCTION customer_profile._segment_next_change(profile_id bigint, data customer_profile.profile, behavior bytea, predicate customer_profile.segment_predicate) RETURNS timestamp with time zone
    LANGUAGE c STABLE COST 20 PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'cp_segment_next_change';
COMMENT ON FUNCTION customer_profile._segment_next_change(profile_id bigint, data customer_profile.profile, behavior bytea, predicate customer_profile.segment_predicate) IS 'Internal: the earliest time the predicate''s result for this profile can change without new data (NULL: never).';
REVOKE ALL ON FUNCTION customer_profile._segment_next_change(profile_id bigint, data customer_profile.profile, behavior bytea, predicate customer_profile.segment_predicate) FROM PUBLIC;

CREATE FUNCTION customer_profile._segment_predicate_reads_time(predicate customer_profile.segment_predicate) RETURNS boolean
    LANGUAGE c STABLE STRICT PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'cp_segment_predicate_reads_time';
COMMENT ON FUNCTION customer_profile._segment_predicate_reads_time(predicate customer_profile.segment_predicate) IS 'Internal: whether the predicate uses now() or a window, so its result can change as time passes.';
REVOKE ALL ON FUNCTION customer_profile._segment_predicate_reads_time(predicate customer_profile.segment_predicate) FROM PUBLIC;

CREATE FUNCTION customer_profile._segment_predicate_in_zone(predicate customer_profile.segment_predicate, time_zone text, old_time_zone text) RETURNS customer_profile.segment_predicate
    LANGUAGE c STABLE PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'cp_segment_predicate_in_zone';
COMMENT ON FUNCTION customer_profile._segment_predicate_in_zone(predicate customer_profile.segment_predicate, time_zone text, old_time_zone text) IS 'Internal: the predicate with today (without a zone, or in old_time_zone) counting days in time_zone; 22023 for an unknown zone.';
REVOKE ALL ON FUNCTION customer_profile._segment_predicate_in_zone(predicate customer_profile.segment_predicate, time_zone text, old_time_zone text) FROM PUBLIC;

CREATE FUNCTION customer_profile._segment_predicate_references(predicate customer_profile.segment_predicate) RETURNS text[]
    LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'cp_segment_predicate_references';
COMMENT ON FUNCTION customer_profile._segment_predicate_references(predicate customer_profile.segment_predicate) IS 'Internal: the segments a predicate names with in_segment(), sorted.';
REVOKE ALL ON FUNCTION customer_profile._segment_predicate_references(predicate customer_profile.segment_predicate) FROM PUBLIC;

-- The equivalent SQL reads names by their declared types (a text[] trait
-- compared with = / <> / IN tests containment; a declared event property
-- goes through _event_property) and runs ILIKE under COLLATE "und-x-icu",
-- as the evaluator folds case: it reads the catalog, so STABLE.
CREATE FUNCTION customer_profile._segment_predicate_sql(predicate customer_profile.segment_predicate) RETURNS text
    LANGUAGE c STABLE STRICT PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'cp_segment_predicate_sql';
COMMENT ON FUNCTION customer_profile._segment_predicate_sql(predicate customer_profile.segment_predicate) IS 'Internal: the equivalent SQL condition over customer_profile.profiles p.';
REVOKE ALL ON FUNCTION customer_profile._segment_predicate_sql(predicate customer_profile.segment_predicate) FROM PUBLIC;
GRANT ALL ON FUNCTION customer_profile._segment_predicate_sql(predicate customer_profile.segment_predicate) TO customer_profile_reader;

CREATE FUNCTION customer_profile._segment_predicate_tree(predicate customer_profile.segment_predicate) RETURNS jsonb
    LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'cp_segment_predicate_tree';
COMMENT ON FUNCTION customer_profile._segment_predicate_tree(predicate customer_profile.segment_predicate) IS 'Internal: the parsed tree as JSON.';
REVOKE ALL ON FUNCTION customer_profile._segment_predicate_tree(predicate customer_profile.segment_predicate) FROM PUBLIC;
GRANT ALL ON FUNCTION customer_profile._segment_predicate_tree(predicate customer_profile.segment_predicate) TO customer_profile_reader;

-- Scores (score_define): a named sum of points, one per rule (a predicate)
-- that holds for a person. It reads as a number trait in predicates and in
-- profiles_wide, computed when read: as current as the data of its rules.
CREATE TABLE customer_profile.score (
    score_id integer NOT NULL,
    name text NOT NULL,
    rules jsonb NOT NULL,
    predicates customer_profile.segment_predicate[] NOT NULL,
    points double precision[] NOT NULL,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    updated_at timestamp with time zone DEFAULT now() NOT NULL,
    CONSTRAINT score_name_check CHECK ((name ~ '^[a-z][a-z0-9_]{0,62}$'::text)),
    CONSTRAINT score_rules_check CHECK (((cardinality(predicates) = cardinality(points)) AND ((cardinality(points) >= 1) AND (cardinality(points) <= 100))))
);
SELECT pg_catalog.pg_extension_config_dump('customer_profile.score', '');
ALTER TABLE customer_profile.score ALTER COLUMN score_id ADD GENERATED ALWAYS AS IDENTITY (
    SEQUENCE NAME customer_profile.score_score_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1
);
SELECT pg_catalog.pg_extension_config_dump('customer_profile.score_score_id_seq', '');
ALTER TABLE ONLY customer_profile.score
    ADD CONSTRAINT score_name_key UNIQUE (name);
ALTER TABLE ONLY customer_profile.score
    ADD CONSTRAINT score_pkey PRIMARY KEY (score_id);
CREATE TRIGGER score_changed AFTER INSERT OR DELETE OR UPDATE OR TRUNCATE ON customer_profile.score FOR EACH STATEMENT EXECUTE FUNCTION customer_profile._catalog_changed();
COMMENT ON TABLE customer_profile.score IS 'Scores: a name and rules, each a predicate and the points it gives (score_define).';
GRANT SELECT ON TABLE customer_profile.score TO customer_profile_reader;
GRANT SELECT ON TABLE customer_profile.score TO customer_profile_worker;
REVOKE USAGE ON TYPE customer_profile.score FROM PUBLIC;

CREATE VIEW customer_profile.scores AS
 SELECT s.score_id,
    s.name,
    s.rules,
    s.created_at,
    s.updated_at
   FROM customer_profile.score s;
COMMENT ON VIEW customer_profile.scores IS 'One row per score: its rules as given to score_define.';
COMMENT ON COLUMN customer_profile.scores.score_id IS 'The score.';
COMMENT ON COLUMN customer_profile.scores.name IS 'Its name: a number trait in predicates and a column of profiles_wide.';
COMMENT ON COLUMN customer_profile.scores.rules IS 'Its rules: [{"when": predicate, "points": number}, ...], predicates normalized.';
COMMENT ON COLUMN customer_profile.scores.created_at IS 'When the score was defined.';
COMMENT ON COLUMN customer_profile.scores.updated_at IS 'When its rules last changed.';
GRANT SELECT ON TABLE customer_profile.scores TO customer_profile_reader;
REVOKE USAGE ON TYPE customer_profile.scores FROM PUBLIC;

CREATE FUNCTION customer_profile._segment_predicate_traits(predicate customer_profile.segment_predicate) RETURNS text[]
    LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'cp_segment_predicate_traits';
COMMENT ON FUNCTION customer_profile._segment_predicate_traits(predicate customer_profile.segment_predicate) IS 'Internal: the names a predicate reads as traits (not where-filter properties, not the fields of any()), sorted.';
REVOKE ALL ON FUNCTION customer_profile._segment_predicate_traits(predicate customer_profile.segment_predicate) FROM PUBLIC;

-- Whether a predicate reads a name as a trait (a score read by a segment or another score).
CREATE FUNCTION customer_profile._segment_predicate_reads_trait(predicate customer_profile.segment_predicate, trait text) RETURNS boolean
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
    SET search_path TO 'pg_catalog', 'pg_temp'
    BEGIN ATOMIC
 SELECT (_segment_predicate_reads_trait.trait = ANY (customer_profile._segment_predicate_traits(_segment_predicate_reads_trait.predicate))) AS reads;
END;
COMMENT ON FUNCTION customer_profile._segment_predicate_reads_trait(predicate customer_profile.segment_predicate, trait text) IS 'Internal: whether the predicate reads the name as a trait (a score read by a segment or another score).';
REVOKE ALL ON FUNCTION customer_profile._segment_predicate_reads_trait(predicate customer_profile.segment_predicate, trait text) FROM PUBLIC;

CREATE FUNCTION customer_profile.profile_score(profile_id bigint, score text) RETURNS double precision
    LANGUAGE c STABLE
    AS 'MODULE_PATHNAME', 'cp_profile_score';
COMMENT ON FUNCTION customer_profile.profile_score(profile_id bigint, score text) IS 'A score of one profile now: the points of the rules that hold; NULL for an unknown profile, 42704 for an unknown score.';
REVOKE ALL ON FUNCTION customer_profile.profile_score(profile_id bigint, score text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION customer_profile.profile_score(profile_id bigint, score text) TO customer_profile_reader;

-- Defines or redefines a score, then brings up to date the segments that
-- read it (under the definitions lock, as a new predicate) and profiles_wide.
CREATE FUNCTION customer_profile.score_define(name text, rules jsonb) RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
DECLARE
    rule jsonb;
    n integer := 0;
    compiled customer_profile.segment_predicate;
    predicates customer_profile.segment_predicate[] := '{}';
    points double precision[] := '{}';
    normalized jsonb := '[]';
    other text;
    seg record;
BEGIN
    IF name IS NULL OR name !~ '^[a-z][a-z0-9_]{0,62}$' THEN
        RAISE EXCEPTION 'invalid score name %', coalesce(quote_literal(left(name, 64)), 'NULL')
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Use 1-63 lower-case letters, digits and underscores, starting with a letter.';
    END IF;
    IF rules IS NULL THEN
        RAISE EXCEPTION 'the rules of score "%" are NULL', name USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF jsonb_typeof(rules) <> 'array' OR jsonb_array_length(rules) NOT BETWEEN 1 AND 100 THEN
        RAISE EXCEPTION 'the rules of score "%" must be a JSON array of 1 to 100 rules', name
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Each rule is {"when": "a predicate", "points": a number}.';
    END IF;
    IF EXISTS (SELECT 1 FROM customer_profile.trait_definition t WHERE t.name = score_define.name) THEN
        RAISE EXCEPTION 'a trait named "%" is declared: a score cannot take its name', name
            USING ERRCODE = 'duplicate_object';
    END IF;
    -- Before anything is read: waits for the transactions that have
    -- streamed with the old rules; streams wait for our commit.
    LOCK TABLE customer_profile.segment IN EXCLUSIVE MODE;
    FOR rule IN SELECT e.value FROM jsonb_array_elements(rules) e LOOP
        n := n + 1;
        IF jsonb_typeof(rule) <> 'object' OR jsonb_typeof(rule -> 'when') IS DISTINCT FROM 'string'
           OR jsonb_typeof(rule -> 'points') IS DISTINCT FROM 'number'
           OR EXISTS (SELECT 1 FROM jsonb_object_keys(rule) k WHERE k NOT IN ('when', 'points')) THEN
            RAISE EXCEPTION 'rule % of score "%" is not {"when": "a predicate", "points": a number}', n, name
                USING ERRCODE = 'invalid_parameter_value';
        END IF;
        IF abs((rule ->> 'points')::numeric) > 1e9 THEN
            RAISE EXCEPTION 'rule % of score "%" gives more than 1e9 points', n, name
                USING ERRCODE = 'numeric_value_out_of_range';
        END IF;
        compiled := (rule ->> 'when')::customer_profile.segment_predicate;
        PERFORM customer_profile.segment_predicate_check(compiled);
        -- A score is a sum of predicates on the data: none reads a score.
        SELECT s.name INTO other FROM customer_profile.score s
         WHERE customer_profile._segment_predicate_reads_trait(compiled, s.name) LIMIT 1;
        IF other IS NOT NULL OR customer_profile._segment_predicate_reads_trait(compiled, name) THEN
            RAISE EXCEPTION 'rule % of score "%" reads the score "%"', n, name, coalesce(other, name)
                USING ERRCODE = 'invalid_recursion', HINT = 'Scores are sums of predicates on traits and behavior.';
        END IF;
        -- Nor a segment: a segment may read the score (no cycle through
        -- in_segment), and a score stays a function of the person's data.
        IF cardinality(customer_profile._segment_predicate_references(compiled)) > 0 THEN
            RAISE EXCEPTION 'rule % of score "%" reads a segment with in_segment()', n, name
                USING ERRCODE = 'invalid_recursion', HINT = 'Scores are sums of predicates on traits and behavior.';
        END IF;
        predicates := predicates || compiled;
        points := points || (rule ->> 'points')::double precision;
        normalized := normalized || jsonb_build_object('when', compiled::text, 'points', rule -> 'points');
    END LOOP;
    INSERT INTO customer_profile.score AS s (name, rules, predicates, points)
    VALUES (name, normalized, predicates, points)
    ON CONFLICT ON CONSTRAINT score_name_key
    DO UPDATE SET rules = excluded.rules, predicates = excluded.predicates, points = excluded.points, updated_at = now();
    -- The segments that read it follow the new rules (and their windows).
    FOR seg IN SELECT s.segment_id FROM customer_profile.segment s
                WHERE s.state <> 'disabled' AND customer_profile._segment_predicate_reads_trait(s.predicate, score_define.name)
                ORDER BY s.segment_id LOOP
        UPDATE customer_profile.segment s SET updated_at = now() WHERE s.segment_id = seg.segment_id;
        PERFORM customer_profile._segment_backfill(seg.segment_id);
    END LOOP;
    PERFORM customer_profile._profiles_wide_rebuild();
END
$$;
COMMENT ON FUNCTION customer_profile.score_define(name text, rules jsonb) IS 'Defines or redefines a score: rules [{"when": predicate, "points": number}, ...]; the score reads as a number trait (predicates, profiles_wide), and the segments that read it follow the new rules.';
REVOKE ALL ON FUNCTION customer_profile.score_define(name text, rules jsonb) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION customer_profile.score_define(name text, rules jsonb) TO customer_profile_admin;

CREATE FUNCTION customer_profile.score_drop(name text) RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
DECLARE
    user_segment text;
BEGIN
    LOCK TABLE customer_profile.segment IN EXCLUSIVE MODE;
    SELECT s.name INTO user_segment FROM customer_profile.segment s
     WHERE customer_profile._segment_predicate_reads_trait(s.predicate, score_drop.name) LIMIT 1;
    IF user_segment IS NOT NULL THEN
        RAISE EXCEPTION 'score "%" is used by segment "%"', name, user_segment
            USING ERRCODE = 'dependent_objects_still_exist';
    END IF;
    DELETE FROM customer_profile.score s WHERE s.name = score_drop.name;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'unknown score "%"', name USING ERRCODE = 'undefined_object';
    END IF;
    PERFORM customer_profile._profiles_wide_rebuild();
END
$$;
COMMENT ON FUNCTION customer_profile.score_drop(name text) IS 'Drops a score that no segment reads (its profiles_wide column goes unless a view reads it).';
REVOKE ALL ON FUNCTION customer_profile.score_drop(name text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION customer_profile.score_drop(name text) TO customer_profile_admin;

CREATE FUNCTION customer_profile._segment_stream(profiles bigint[], reason text) RETURNS void
    LANGUAGE c
    AS 'MODULE_PATHNAME', 'cp_segment_stream';
COMMENT ON FUNCTION customer_profile._segment_stream(profiles bigint[], reason text) IS 'Internal: re-evaluates profiles after time passed (''time'') or after they were deleted (''gone'').';
REVOKE ALL ON FUNCTION customer_profile._segment_stream(profiles bigint[], reason text) FROM PUBLIC;
GRANT ALL ON FUNCTION customer_profile._segment_stream(profiles bigint[], reason text) TO customer_profile_writer;
GRANT ALL ON FUNCTION customer_profile._segment_stream(profiles bigint[], reason text) TO customer_profile_worker;

-- Checks a predicate for a segment: types against the declarations,
-- referenced segments exist, and no chain of in_segment() leads back to it.
CREATE FUNCTION customer_profile._segment_validate(name text, predicate customer_profile.segment_predicate) RETURNS text[]
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'pg_temp'
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
COMMENT ON FUNCTION customer_profile._segment_validate(name text, predicate customer_profile.segment_predicate) IS 'Internal: type check, referenced segments exist, no in_segment() cycle; returns the references.';
REVOKE ALL ON FUNCTION customer_profile._segment_validate(name text, predicate customer_profile.segment_predicate) FROM PUBLIC;

-- The names of the segments whose predicate passes the type check now.
CREATE FUNCTION customer_profile._segments_well_typed() RETURNS text[]
    LANGUAGE plpgsql STABLE
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
DECLARE
    s record;
    names text[] := '{}';
BEGIN
    FOR s IN SELECT g.name, g.predicate FROM customer_profile.segment g ORDER BY g.name LOOP
        BEGIN
            PERFORM customer_profile.segment_predicate_check(s.predicate);
            names := names || s.name;
        EXCEPTION WHEN invalid_parameter_value THEN
            NULL;  -- already ill-typed: not the caller's doing
        END;
    END LOOP;
    RETURN names;
END
$$;
COMMENT ON FUNCTION customer_profile._segments_well_typed() IS 'Internal: the segments whose predicate passes segment_predicate_check() against the current declarations.';
REVOKE ALL ON FUNCTION customer_profile._segments_well_typed() FROM PUBLIC;

-- profile @@ segment_predicate: on the binary traits value alone.
CREATE FUNCTION customer_profile.profile_matches(profile customer_profile.profile, predicate customer_profile.segment_predicate) RETURNS boolean
    LANGUAGE c STABLE STRICT COST 10 PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'cp_profile_matches';
COMMENT ON FUNCTION customer_profile.profile_matches(profile customer_profile.profile, predicate customer_profile.segment_predicate) IS 'Whether a profile value''s traits satisfy a predicate (0A000 when the predicate also reads behavior, known/anonymous or segments).';
REVOKE ALL ON FUNCTION customer_profile.profile_matches(profile customer_profile.profile, predicate customer_profile.segment_predicate) FROM PUBLIC;
GRANT ALL ON FUNCTION customer_profile.profile_matches(profile customer_profile.profile, predicate customer_profile.segment_predicate) TO customer_profile_reader;

CREATE FUNCTION customer_profile.profile_segment(profile_id bigint) RETURNS SETOF text
    LANGUAGE c STABLE
    AS 'MODULE_PATHNAME', 'cp_profile_segments';
COMMENT ON FUNCTION customer_profile.profile_segment(profile_id bigint) IS 'The segments the person is in now (evaluated live), by name.';
REVOKE ALL ON FUNCTION customer_profile.profile_segment(profile_id bigint) FROM PUBLIC;
GRANT ALL ON FUNCTION customer_profile.profile_segment(profile_id bigint) TO customer_profile_reader;

CREATE FUNCTION customer_profile.profile_segment(profile_id bigint, segment text) RETURNS boolean
    LANGUAGE c STABLE
    AS 'MODULE_PATHNAME', 'cp_profile_in_segment';
COMMENT ON FUNCTION customer_profile.profile_segment(profile_id bigint, segment text) IS 'Whether the person is in the segment now (evaluated live); NULL for an unknown profile, 42704 for an unknown segment.';
REVOKE ALL ON FUNCTION customer_profile.profile_segment(profile_id bigint, segment text) FROM PUBLIC;
GRANT ALL ON FUNCTION customer_profile.profile_segment(profile_id bigint, segment text) TO customer_profile_reader;

CREATE FUNCTION customer_profile.segment_alter(name text, predicate text DEFAULT NULL::text, description text DEFAULT NULL::text, time_zone text DEFAULT NULL::text) RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
DECLARE
    compiled customer_profile.segment_predicate;
    id integer;
    current_state text;
    current_predicate customer_profile.segment_predicate;
    current_zone text;
BEGIN
    IF predicate IS NOT NULL OR time_zone IS NOT NULL THEN
        -- Before the segment's row: waits for every transaction that has
        -- streamed (with the old predicate); streams wait for our commit.
        LOCK TABLE customer_profile.segment IN EXCLUSIVE MODE;
    END IF;
    SELECT s.segment_id, s.state, s.predicate, s.time_zone INTO id, current_state, current_predicate, current_zone
      FROM customer_profile.segment s WHERE s.name = segment_alter.name FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'unknown segment "%"', name USING ERRCODE = 'undefined_object';
    END IF;
    IF predicate IS NOT NULL THEN
        compiled := customer_profile._segment_predicate_in_zone(predicate::customer_profile.segment_predicate,
                                                                coalesce(time_zone, current_zone), NULL);
    ELSIF time_zone IS NOT NULL THEN
        -- today in the old zone (written or implied) moves to the new one
        compiled := customer_profile._segment_predicate_in_zone(current_predicate, time_zone, current_zone);
    END IF;
    IF compiled IS NOT NULL THEN
        UPDATE customer_profile.segment s
           SET predicate = compiled, refers_to = customer_profile._segment_validate(segment_alter.name, compiled),
               time_zone = coalesce(segment_alter.time_zone, s.time_zone), updated_at = now()
         WHERE s.name = segment_alter.name;
        IF current_state <> 'disabled' THEN  -- a disabled segment is backfilled when it is enabled
            PERFORM customer_profile._segment_backfill(id);
        END IF;
    END IF;
    IF description IS NOT NULL THEN
        UPDATE customer_profile.segment s SET description = segment_alter.description, updated_at = now()
         WHERE s.name = segment_alter.name;
    END IF;
END
$$;
COMMENT ON FUNCTION customer_profile.segment_alter(name text, predicate text, description text, time_zone text) IS 'Changes a segment''s predicate, description and/or time zone (NULL keeps the current one). A new predicate waits for transactions that are changing people, holds back their segment updates until it commits, and backfills the members as segment_create does (a disabled segment: when it is enabled).';
REVOKE ALL ON FUNCTION customer_profile.segment_alter(name text, predicate text, description text, time_zone text) FROM PUBLIC;
GRANT ALL ON FUNCTION customer_profile.segment_alter(name text, predicate text, description text, time_zone text) TO customer_profile_admin;

-- One batch of a queued build: the next profiles of a segment that is
-- building, evaluated by the stream (which writes memberships, outbox and
-- schedule as for any change). It never waits: segment rows and profiles are
-- taken with SKIP LOCKED. A profile another transaction holds is kept in
-- build_retry and tried again by the next batch, and a segment whose batch
-- took nothing lets the next building segment have its turn, so one held
-- profile stalls no build.
CREATE FUNCTION customer_profile.segment_build_run(max_profiles integer DEFAULT 10000) RETURNS integer
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
DECLARE
    seg record;
    range_ids bigint[];
    candidates bigint[];
    locked bigint[];
    held bigint[];
    built bigint := 0;
BEGIN
    IF max_profiles IS NULL OR max_profiles < 1 THEN
        RAISE EXCEPTION 'max_profiles must be at least 1' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    PERFORM customer_profile._segment_definitions_lock();
    FOR seg IN SELECT s.segment_id, s.name, s.build_next, coalesce(s.build_retry, '{}') AS retry
                 FROM customer_profile.segment s
                WHERE s.state = 'building' ORDER BY s.segment_id FOR UPDATE SKIP LOCKED LOOP
        -- The held profiles first; new ones while the batch has room.
        SELECT coalesce(array_agg(x.profile_id ORDER BY x.profile_id), '{}') INTO range_ids
          FROM (SELECT u.profile_id FROM customer_profile.unified_profile u
                 WHERE u.profile_id >= seg.build_next ORDER BY u.profile_id
                 LIMIT greatest(max_profiles - cardinality(seg.retry), 0)) x;
        candidates := seg.retry || range_ids;
        WITH locking AS (
            SELECT u.profile_id FROM customer_profile.unified_profile u
             WHERE u.profile_id = ANY (candidates) ORDER BY u.profile_id FOR UPDATE OF u SKIP LOCKED)
        SELECT coalesce(array_agg(l.profile_id ORDER BY l.profile_id), '{}') INTO locked FROM locking l;
        -- Not locked and still there: held by another transaction (a profile
        -- deleted meanwhile needs nothing).
        SELECT coalesce(array_agg(c ORDER BY c), '{}') INTO held
          FROM unnest(candidates) c
         WHERE NOT (c = ANY (locked))
           AND EXISTS (SELECT 1 FROM customer_profile.unified_profile u WHERE u.profile_id = c);
        IF cardinality(locked) > 0 THEN
            PERFORM customer_profile._segment_stream(locked, 'segment:' || seg.segment_id);
        END IF;
        IF cardinality(range_ids) = 0 AND cardinality(held) = 0 AND cardinality(seg.retry) < max_profiles THEN
            -- Every profile was evaluated (those created since by their
            -- writers' streams), and each one's windows scheduled.
            UPDATE customer_profile.segment s
               SET state = 'active', build_next = NULL, build_done = NULL, build_total = NULL, build_retry = NULL,
                   windows_scheduled_for = s.updated_at
             WHERE s.segment_id = seg.segment_id;
        ELSE
            UPDATE customer_profile.segment s
               SET build_next = coalesce(range_ids[cardinality(range_ids)] + 1, s.build_next),
                   build_done = s.build_done + cardinality(locked), build_retry = held
             WHERE s.segment_id = seg.segment_id;
        END IF;
        built := built + cardinality(locked);
        EXIT WHEN built > 0;
    END LOOP;
    RETURN built;
END
$$;
COMMENT ON FUNCTION customer_profile.segment_build_run(max_profiles integer) IS 'Evaluates the next profiles of a segment that is building (what the worker runs while one is queued); returns how many. The segment becomes active after the last batch.';
REVOKE ALL ON FUNCTION customer_profile.segment_build_run(max_profiles integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION customer_profile.segment_build_run(max_profiles integer) TO customer_profile_admin;
GRANT EXECUTE ON FUNCTION customer_profile.segment_build_run(max_profiles integer) TO customer_profile_worker;

CREATE FUNCTION customer_profile.segment_create(name text, predicate text, description text DEFAULT NULL::text, time_zone text DEFAULT 'UTC'::text) RETURNS integer
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $_$
DECLARE
    compiled customer_profile.segment_predicate;
    id integer;
BEGIN
    IF name IS NULL OR name !~ '^[a-z][a-z0-9_]{0,62}$' THEN
        RAISE EXCEPTION 'invalid segment name %', coalesce(quote_literal(left(name, 64)), 'NULL')
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Use 1-63 lower-case letters, digits and underscores, starting with a letter.';
    END IF;
    IF predicate IS NULL THEN
        RAISE EXCEPTION 'the predicate of segment "%" is NULL', name USING ERRCODE = 'null_value_not_allowed';
    END IF;
    -- Waits for every transaction that has streamed; streams wait for us.
    LOCK TABLE customer_profile.segment IN EXCLUSIVE MODE;
    IF EXISTS (SELECT 1 FROM customer_profile.segment s WHERE s.name = segment_create.name) THEN
        RAISE EXCEPTION 'segment "%" already exists', name USING ERRCODE = 'duplicate_object';
    END IF;
    IF time_zone IS NULL THEN
        RAISE EXCEPTION 'the time zone of segment "%" is NULL', name USING ERRCODE = 'null_value_not_allowed';
    END IF;
    compiled := customer_profile._segment_predicate_in_zone(predicate::customer_profile.segment_predicate,
                                                            time_zone, NULL);
    INSERT INTO customer_profile.segment (name, predicate, refers_to, description, time_zone)
    VALUES (name, compiled, customer_profile._segment_validate(name, compiled), description, time_zone)
    RETURNING segment_id INTO id;
    PERFORM customer_profile._segment_backfill(id);
    RETURN id;
END
$_$;
COMMENT ON FUNCTION customer_profile.segment_create(name text, predicate text, description text, time_zone text) IS 'Creates a segment from predicate text (parsed, type-checked, references checked for cycles; today counts days in time_zone) and backfills its members: at once up to customer_profile.segment_build_inline_limit profiles, otherwise queued to the worker (state building); returns its id.';
REVOKE ALL ON FUNCTION customer_profile.segment_create(name text, predicate text, description text, time_zone text) FROM PUBLIC;
GRANT ALL ON FUNCTION customer_profile.segment_create(name text, predicate text, description text, time_zone text) TO customer_profile_admin;

-- Disabled: kept with its members as they are, not evaluated by streams,
-- windows or refreshes (a segment that reads it with in_segment() reads the
-- frozen members). Under the definitions lock, as a new predicate is.
CREATE FUNCTION customer_profile.segment_disable(name text) RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
BEGIN
    LOCK TABLE customer_profile.segment IN EXCLUSIVE MODE;
    UPDATE customer_profile.segment s
       SET state = 'disabled', build_next = NULL, build_done = NULL, build_total = NULL, build_retry = NULL
     WHERE s.name = segment_disable.name;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'unknown segment "%"', name USING ERRCODE = 'undefined_object';
    END IF;
END
$$;
COMMENT ON FUNCTION customer_profile.segment_disable(name text) IS 'Stops evaluating a segment: its members stay as they are (no entries, exits or outbox rows) until segment_enable().';
REVOKE ALL ON FUNCTION customer_profile.segment_disable(name text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION customer_profile.segment_disable(name text) TO customer_profile_admin;

CREATE FUNCTION customer_profile.segment_drop(name text) RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
DECLARE
    user_segment text;
    id integer;
    exited bigint;
BEGIN
    -- No stream may enter anyone into the segment once its memberships are gone.
    LOCK TABLE customer_profile.segment IN EXCLUSIVE MODE;
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
    -- Systems of action hear that the members left: an audience that
    -- disappears silently would keep receiving mail elsewhere.
    WITH gone AS (
        DELETE FROM customer_profile.segment_membership m WHERE m.segment_id = id
        RETURNING m.profile_id, m.exited_at),
    announced AS (
        INSERT INTO customer_profile.segment_outbox (segment, profile_id, change)
        SELECT segment_drop.name, g.profile_id, 'exit' FROM gone g WHERE g.exited_at IS NULL ORDER BY g.profile_id
        RETURNING 1)
    SELECT count(*) INTO exited FROM announced;
    IF exited > 0 THEN
        PERFORM pg_notify('customer_profile_segment',
                          json_build_object('segment', name, 'entered', 0, 'exited', exited,
                                            'source', 'drop')::text);
    END IF;
END
$$;
COMMENT ON FUNCTION customer_profile.segment_drop(name text) IS 'Drops a segment that no other segment refers to; its current members exit (outbox and one NOTIFY customer_profile_segment).';
REVOKE ALL ON FUNCTION customer_profile.segment_drop(name text) FROM PUBLIC;
GRANT ALL ON FUNCTION customer_profile.segment_drop(name text) TO customer_profile_admin;

CREATE FUNCTION customer_profile.segment_enable(name text) RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
DECLARE
    id integer;
    current_state text;
BEGIN
    LOCK TABLE customer_profile.segment IN EXCLUSIVE MODE;
    SELECT s.segment_id, s.state INTO id, current_state
      FROM customer_profile.segment s WHERE s.name = segment_enable.name FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'unknown segment "%"', name USING ERRCODE = 'undefined_object';
    END IF;
    IF current_state <> 'disabled' THEN
        RETURN;  -- already evaluated
    END IF;
    -- People changed while it was disabled: its windows are scheduled again
    -- (updated_at) and its members brought up to date.
    UPDATE customer_profile.segment s SET state = 'active', updated_at = now() WHERE s.segment_id = id;
    PERFORM customer_profile._segment_backfill(id);
END
$$;
COMMENT ON FUNCTION customer_profile.segment_enable(name text) IS 'Evaluates a disabled segment again: its members are brought up to date as segment_create backfills them (entries and exits of what changed meanwhile reach the outbox).';
REVOKE ALL ON FUNCTION customer_profile.segment_enable(name text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION customer_profile.segment_enable(name text) TO customer_profile_admin;

CREATE FUNCTION customer_profile.segment_explain(name text, OUT predicate text, OUT tree jsonb, OUT equivalent_sql text) RETURNS record
    LANGUAGE plpgsql STABLE
    SET search_path TO 'pg_catalog', 'pg_temp'
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
COMMENT ON FUNCTION customer_profile.segment_explain(name text, OUT predicate text, OUT tree jsonb, OUT equivalent_sql text) IS 'A segment''s normalized predicate, its parsed tree, and the equivalent SQL over the views (to check it by hand).';
REVOKE ALL ON FUNCTION customer_profile.segment_explain(name text, OUT predicate text, OUT tree jsonb, OUT equivalent_sql text) FROM PUBLIC;
GRANT ALL ON FUNCTION customer_profile.segment_explain(name text, OUT predicate text, OUT tree jsonb, OUT equivalent_sql text) TO customer_profile_reader;

CREATE FUNCTION customer_profile.segment_matches(profile_id bigint, predicate customer_profile.segment_predicate) RETURNS boolean
    LANGUAGE c STABLE
    AS 'MODULE_PATHNAME', 'cp_segment_matches';
COMMENT ON FUNCTION customer_profile.segment_matches(profile_id bigint, predicate customer_profile.segment_predicate) IS 'Evaluates a predicate on one profile now (traits, behavior summary, known/anonymous, other segments); NULL for an unknown profile.';
REVOKE ALL ON FUNCTION customer_profile.segment_matches(profile_id bigint, predicate customer_profile.segment_predicate) FROM PUBLIC;
GRANT ALL ON FUNCTION customer_profile.segment_matches(profile_id bigint, predicate customer_profile.segment_predicate) TO customer_profile_reader;

CREATE FUNCTION customer_profile.segment_members(segment text) RETURNS SETOF bigint
    LANGUAGE plpgsql STABLE
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
DECLARE
    seg record;
    id integer;
BEGIN
    SELECT s.segment_id, s.state, s.build_done, s.build_total INTO seg
      FROM customer_profile.segment s WHERE s.name = segment_members.segment;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'unknown segment "%"', segment USING ERRCODE = 'undefined_object';
    END IF;
    id := seg.segment_id;
    IF seg.state = 'building' THEN
        RAISE NOTICE 'segment "%" is building (% of about % profiles evaluated): its members so far', segment,
                     seg.build_done, seg.build_total
            USING HINT = 'The worker completes it; segment_refresh() completes it at once.';
    ELSIF seg.state = 'disabled' THEN
        RAISE NOTICE 'segment "%" is disabled: its members as they were when it was disabled', segment
            USING HINT = 'segment_enable() evaluates it again.';
    END IF;
    RETURN QUERY SELECT m.profile_id FROM customer_profile.segment_membership m
                  WHERE m.segment_id = id AND m.exited_at IS NULL ORDER BY m.profile_id;
END
$$;
COMMENT ON FUNCTION customer_profile.segment_members(segment text) IS 'The current members of a segment; a NOTICE says when they are partial (building) or frozen (disabled).';
REVOKE ALL ON FUNCTION customer_profile.segment_members(segment text) FROM PUBLIC;
GRANT ALL ON FUNCTION customer_profile.segment_members(segment text) TO customer_profile_reader;

CREATE FUNCTION customer_profile.segment_outbox_ack(consumer text, upto bigint) RETURNS void
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'pg_temp'
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
COMMENT ON FUNCTION customer_profile.segment_outbox_ack(consumer text, upto bigint) IS 'Marks the changes of the consumer''s current batch up to a position (the last outbox_position read) as handled; the next read moves on to what committed since. Positions never move back inside a batch.';
REVOKE ALL ON FUNCTION customer_profile.segment_outbox_ack(consumer text, upto bigint) FROM PUBLIC;
GRANT ALL ON FUNCTION customer_profile.segment_outbox_ack(consumer text, upto bigint) TO customer_profile_writer;

-- The next changes for a consumer. Opens a batch when it has none, and when
-- the current one has nothing left after the acknowledged position, makes
-- it the horizon and opens the next (what committed since).
CREATE FUNCTION customer_profile.segment_outbox_read(consumer text, max_changes integer DEFAULT 1000, purpose text DEFAULT NULL::text) RETURNS TABLE(outbox_position bigint, segment text, profile_id bigint, change text, changed_at timestamp with time zone)
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
DECLARE
    here bigint := customer_profile._cluster_id();
    c record;
    restored_top bigint;
    safe bigint;
    found_rows bigint;
    opened boolean := false;
BEGIN
    IF consumer IS NULL OR length(consumer) NOT BETWEEN 1 AND 200 THEN
        RAISE EXCEPTION 'a consumer name of 1 to 200 characters is required' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF max_changes IS NULL OR max_changes < 1 THEN
        RAISE EXCEPTION 'max_changes must be at least 1' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    INSERT INTO customer_profile.segment_consumer AS k (consumer) VALUES (segment_outbox_read.consumer)
    ON CONFLICT ON CONSTRAINT segment_consumer_pkey DO NOTHING;
    -- One reader of a consumer at a time: the batch and the position move together.
    SELECT k.position, k.horizon, k.batch, k.cluster_id INTO c FROM customer_profile.segment_consumer k
     WHERE k.consumer = segment_outbox_read.consumer FOR UPDATE;

    IF c.cluster_id IS DISTINCT FROM here THEN
        IF c.horizon IS NOT NULL OR c.batch IS NOT NULL THEN
            -- The snapshots speak of another cluster's transactions (this
            -- database was restored from a dump, or pg_upgraded). Judge the
            -- restored rows by the old snapshots, in their own id space, and
            -- start again just below the first one not delivered: changes may
            -- come twice, none is lost. Rows written here since the restore
            -- have higher positions (the sequence was restored).
            SELECT max(o.position) INTO restored_top FROM customer_profile.segment_outbox o
             WHERE o.cluster_id IS DISTINCT FROM here;
            SELECT min(o.position) - 1 INTO safe FROM customer_profile.segment_outbox o
             WHERE o.position <= restored_top
               AND NOT ((c.horizon IS NOT NULL
                         AND (o.cluster_id IS DISTINCT FROM c.cluster_id
                              OR pg_visible_in_snapshot(o.xact_id, c.horizon)))
                        OR ((c.batch IS NULL OR o.cluster_id IS DISTINCT FROM c.cluster_id
                             OR pg_visible_in_snapshot(o.xact_id, c.batch))
                            AND o.position <= c.position));
            c.position := coalesce(least(safe, restored_top), restored_top, 0);
            c.horizon := NULL;
            c.batch := NULL;
        END IF;
        c.cluster_id := here;
    END IF;

    LOOP
        IF c.batch IS NULL OR found_rows = 0 THEN
            -- A new batch: what committed up to now. The finished one (if
            -- any) becomes the horizon; the position restarts below the
            -- batch's first row.
            IF c.batch IS NOT NULL THEN
                c.horizon := c.batch;
            END IF;
            c.batch := customer_profile._outbox_snapshot();
            IF c.horizon IS NOT NULL THEN
                SELECT coalesce(min(o.position) - 1, 0) INTO c.position FROM customer_profile.segment_outbox o
                 WHERE o.cluster_id = here
                   AND o.xact_id >= pg_snapshot_xmin(c.horizon) AND o.xact_id < pg_snapshot_xmax(c.batch)
                   AND NOT pg_visible_in_snapshot(o.xact_id, c.horizon)
                   AND pg_visible_in_snapshot(o.xact_id, c.batch);
            END IF;
            UPDATE customer_profile.segment_consumer k
               SET position = c.position, horizon = c.horizon, batch = c.batch, cluster_id = c.cluster_id
             WHERE k.consumer = segment_outbox_read.consumer;
            opened := true;
        END IF;
        IF c.horizon IS NULL THEN
            -- The first batch: everything visible in it after the position.
            RETURN QUERY SELECT o.position, o.segment, o.profile_id, o.change, o.changed_at
                           FROM customer_profile.segment_outbox o
                          WHERE o.position > c.position
                            AND (o.cluster_id IS DISTINCT FROM here OR pg_visible_in_snapshot(o.xact_id, c.batch))
                            AND (segment_outbox_read.purpose IS NULL
                                 OR customer_profile.profile_consent(o.profile_id, segment_outbox_read.purpose) IS TRUE)
                          ORDER BY o.position LIMIT max_changes;
        ELSE
            RETURN QUERY SELECT o.position, o.segment, o.profile_id, o.change, o.changed_at
                           FROM customer_profile.segment_outbox o
                          WHERE o.position > c.position AND o.cluster_id = here
                            AND o.xact_id >= pg_snapshot_xmin(c.horizon) AND o.xact_id < pg_snapshot_xmax(c.batch)
                            AND NOT pg_visible_in_snapshot(o.xact_id, c.horizon)
                            AND pg_visible_in_snapshot(o.xact_id, c.batch)
                            AND (segment_outbox_read.purpose IS NULL
                                 OR customer_profile.profile_consent(o.profile_id, segment_outbox_read.purpose) IS TRUE)
                          ORDER BY o.position LIMIT max_changes;
        END IF;
        GET DIAGNOSTICS found_rows = ROW_COUNT;
        -- Rows left in this batch, or a batch opened just now: stop here.
        EXIT WHEN found_rows > 0 OR opened;
    END LOOP;
END
$$;
COMMENT ON FUNCTION customer_profile.segment_outbox_read(consumer text, max_changes integer, purpose text) IS 'The next changes for a consumer (registered on first read): every committed change once it is visible, in batches that follow commit order (by position inside a batch); a change comes again until acknowledged. With a purpose, only the changes of people who granted it.';
REVOKE ALL ON FUNCTION customer_profile.segment_outbox_read(consumer text, max_changes integer, purpose text) FROM PUBLIC;
GRANT ALL ON FUNCTION customer_profile.segment_outbox_read(consumer text, max_changes integer, purpose text) TO customer_profile_writer;

CREATE FUNCTION customer_profile.segment_predicate_check(predicate customer_profile.segment_predicate) RETURNS boolean
    LANGUAGE c STABLE STRICT
    AS 'MODULE_PATHNAME', 'cp_segment_predicate_check';
COMMENT ON FUNCTION customer_profile.segment_predicate_check(predicate customer_profile.segment_predicate) IS 'True when the predicate fits the declared trait types and event measures; otherwise a 22023 type error.';
REVOKE ALL ON FUNCTION customer_profile.segment_predicate_check(predicate customer_profile.segment_predicate) FROM PUBLIC;
GRANT ALL ON FUNCTION customer_profile.segment_predicate_check(predicate customer_profile.segment_predicate) TO customer_profile_reader;

-- A refresh locks the profiles whose membership would change in one
-- statement and evaluates them in the next: a statement's snapshot predates
-- the locks it waited for, so evaluating in the locking statement read the
-- person's identifiers, consents and events as they were before a merge or
-- an event it had waited behind (only the locked row itself is re-read).
-- Under the definitions lock in EXCLUSIVE mode (after segment_create or
-- segment_alter in the same transaction, and for the first refresh of a
-- definition that reads time, which schedules every profile) it locks no
-- profile: a writer holding one waits for that lock to stream, and would
-- deadlock with us; it streams after we commit instead, with the new
-- definition and new reads. The first scheduling runs under that lock so that
-- a profile whose deletion is pending (an erasure or merge that streamed,
-- which the lock waits for) is not scheduled again once it is gone.
CREATE FUNCTION customer_profile._segment_refresh(name text, precomputed bigint[], OUT entered bigint, OUT exited bigint) RETURNS record
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
DECLARE
    seg record;
    members bigint[];
    due_ids bigint[];
    due_times timestamptz[];
    changing bigint[];
    locked bigint[];
    exclusive boolean;
    schedule boolean;
BEGIN
    -- The definitions lock comes before the segment's row (segment_alter's
    -- order): the first read tells whether this refresh schedules the
    -- segment's windows, which it does under the lock in EXCLUSIVE mode.
    SELECT s.predicate, s.updated_at, s.windows_scheduled_for INTO seg
      FROM customer_profile.segment s WHERE s.name = _segment_refresh.name;
    schedule := FOUND AND customer_profile._segment_predicate_reads_time(seg.predicate)
                AND seg.windows_scheduled_for IS DISTINCT FROM seg.updated_at;
    LOOP
        IF schedule THEN
            LOCK TABLE customer_profile.segment IN EXCLUSIVE MODE;
        END IF;
        BEGIN
            SELECT s.segment_id, s.name, s.predicate, s.updated_at, s.windows_scheduled_for, s.state INTO seg
              FROM customer_profile.segment s
             WHERE s.name = _segment_refresh.name FOR UPDATE;  -- one refresh of a segment at a time
            IF NOT FOUND THEN
                RAISE EXCEPTION 'unknown segment "%"', name USING ERRCODE = 'undefined_object';
            END IF;
            IF seg.state = 'disabled' THEN
                RAISE EXCEPTION 'segment "%" is disabled', name USING ERRCODE = 'object_not_in_prerequisite_state',
                      HINT = 'segment_enable() evaluates it again.';
            END IF;
            IF NOT schedule AND customer_profile._segment_predicate_reads_time(seg.predicate)
               AND seg.windows_scheduled_for IS DISTINCT FROM seg.updated_at THEN
                -- Altered since the first read (segment_alter, even of the
                -- description, moves updated_at). Asking for the lock in
                -- EXCLUSIVE mode now, holding the row and the ROW SHARE that
                -- its FOR UPDATE took, waited for a second such refresh doing
                -- the same: let both go (this block's subtransaction is
                -- rolled back) and take them again in order.
                RAISE EXCEPTION 'segment "%" changed before its row was locked', name USING ERRCODE = 'CP015';
            END IF;
            EXIT;
        EXCEPTION WHEN SQLSTATE 'CP015' THEN
            schedule := true;
        END;
    END LOOP;
    exclusive := customer_profile._segment_definitions_lock();
    -- In C, so that the scan may use parallel workers (see segment_eval.cpp).
    -- segment_refresh_all() evaluated every segment in one scan beforehand:
    -- the locks and second look below cover what changed since, as they do
    -- for this scan.
    members := coalesce(precomputed, customer_profile._segment_evaluate_all(seg.predicate));
    -- The scan above read a snapshot; profiles keep changing (streaming
    -- applies events and traits meanwhile, merges and erasures delete
    -- profiles). So each profile whose membership would change is locked (in
    -- profile order, as ingestion locks them) and, in the next statement
    -- (a new snapshot, taken after the locks were granted), evaluated again on
    -- its newest state: a refresh never undoes a newer streamed change, and a
    -- profile deleted meanwhile never comes back as a member.
    WITH current_members AS (
        SELECT m.profile_id FROM customer_profile.segment_membership m
         WHERE m.segment_id = seg.segment_id AND m.exited_at IS NULL),
    -- Set differences (hashed or sorted, linear whatever the statistics say;
    -- an anti join planned on stale estimates was quadratic).
    candidates AS (
        (SELECT unnest(members) AS profile_id EXCEPT SELECT c.profile_id FROM current_members c)
        UNION ALL
        (SELECT c.profile_id FROM current_members c EXCEPT SELECT unnest(members)))
    SELECT array_agg(c.profile_id) INTO changing FROM candidates c;
    IF exclusive THEN
        locked := changing;  -- no profile lock: see above
    ELSE
        WITH locking AS (
            SELECT u.profile_id FROM customer_profile.unified_profile u JOIN unnest(changing) AS c(profile_id) USING (profile_id)
             ORDER BY u.profile_id FOR SHARE OF u)
        SELECT array_agg(l.profile_id) INTO locked FROM locking l;
    END IF;
    -- Memberships of profiles deleted meanwhile are closed by their deletion.
    WITH current_members AS (
        SELECT m.profile_id FROM customer_profile.segment_membership m JOIN unnest(locked) AS l(profile_id) USING (profile_id)
         WHERE m.segment_id = seg.segment_id AND m.exited_at IS NULL),
    checked AS (
        SELECT u.profile_id,
               customer_profile._segment_matches_columns(u.profile_id, u.data, u.behavior, seg.predicate) AS matches
          FROM customer_profile.unified_profile u JOIN unnest(locked) AS l(profile_id) USING (profile_id)),
    gone AS (SELECT k.profile_id FROM checked k WHERE NOT k.matches
             INTERSECT SELECT c.profile_id FROM current_members c),
    arrived AS (SELECT k.profile_id FROM checked k WHERE k.matches
                EXCEPT SELECT c.profile_id FROM current_members c),
    exits AS (
        UPDATE customer_profile.segment_membership m SET exited_at = clock_timestamp()
          FROM gone g
         WHERE m.segment_id = seg.segment_id AND m.profile_id = g.profile_id AND m.exited_at IS NULL
        RETURNING m.profile_id),
    enters AS (  -- a member streamed in meanwhile is already there
        INSERT INTO customer_profile.segment_membership (profile_id, segment_id)
        SELECT a.profile_id, seg.segment_id FROM arrived a
        ON CONFLICT DO NOTHING
        RETURNING profile_id),
    changes AS (
        INSERT INTO customer_profile.segment_outbox (segment, profile_id, change)
        SELECT seg.name, profile_id, 'exit' FROM exits
        UNION ALL
        SELECT seg.name, profile_id, 'enter' FROM enters
        RETURNING change)
    SELECT count(*) FILTER (WHERE change = 'enter'), count(*) FILTER (WHERE change = 'exit')
      INTO entered, exited FROM changes;
    IF customer_profile._segment_predicate_reads_time(seg.predicate)
       AND seg.windows_scheduled_for IS DISTINCT FROM seg.updated_at THEN
        SELECT array_agg(x.profile_id), array_agg(x.due) INTO due_ids, due_times
          FROM (SELECT u.profile_id,
                       customer_profile._segment_next_change(u.profile_id, u.data, u.behavior, seg.predicate) AS due
                  FROM customer_profile.unified_profile u) x
         WHERE x.due IS NOT NULL;
        INSERT INTO customer_profile.segment_schedule AS s (profile_id, due_at)
        SELECT * FROM unnest(due_ids, due_times)
        ON CONFLICT ON CONSTRAINT segment_schedule_pkey DO UPDATE SET due_at = least(s.due_at, excluded.due_at);
        UPDATE customer_profile.segment s SET windows_scheduled_for = s.updated_at WHERE s.segment_id = seg.segment_id;
    END IF;
    IF seg.state = 'building' THEN  -- every profile was evaluated: the build is complete
        UPDATE customer_profile.segment s
           SET state = 'active', build_next = NULL, build_done = NULL, build_total = NULL, build_retry = NULL
         WHERE s.segment_id = seg.segment_id;
    END IF;
    IF entered + exited > 0 THEN
        PERFORM pg_notify('customer_profile_segment',
                          json_build_object('segment', seg.name, 'entered', entered, 'exited', exited,
                                            'source', 'refresh')::text);
    END IF;
END
$$;
COMMENT ON FUNCTION customer_profile._segment_refresh(name text, precomputed bigint[], OUT entered bigint, OUT exited bigint) IS 'Internal: segment_refresh, with the matching profiles given when segment_refresh_all computed them.';
REVOKE ALL ON FUNCTION customer_profile._segment_refresh(name text, precomputed bigint[], OUT entered bigint, OUT exited bigint) FROM PUBLIC;

CREATE FUNCTION customer_profile.segment_refresh(name text, OUT entered bigint, OUT exited bigint) RETURNS record
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
BEGIN
    SELECT r.entered, r.exited INTO entered, exited FROM customer_profile._segment_refresh(name, NULL) r;
END
$$;
COMMENT ON FUNCTION customer_profile.segment_refresh(name text, OUT entered bigint, OUT exited bigint) IS 'Recomputes a segment over every live profile in one pass (completing a build): records entries and exits (history and outbox) and sends one NOTIFY customer_profile_segment; returns the counts. 55000 for a disabled segment.';
REVOKE ALL ON FUNCTION customer_profile.segment_refresh(name text, OUT entered bigint, OUT exited bigint) FROM PUBLIC;
GRANT ALL ON FUNCTION customer_profile.segment_refresh(name text, OUT entered bigint, OUT exited bigint) TO customer_profile_admin;

-- Every segment that is evaluated, over every profile in one scan (each
-- profile decoded once, every predicate evaluated on it), then each
-- segment's changes applied as segment_refresh applies them, the segments a
-- segment reads first.
CREATE FUNCTION customer_profile.segment_refresh_all() RETURNS TABLE(segment text, entered bigint, exited bigint)
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
DECLARE
    names text[];
    predicates customer_profile.segment_predicate[];
    r record;
BEGIN
    WITH RECURSIVE depth(name, d) AS (
        SELECT s.name, 0 FROM customer_profile.segment s WHERE cardinality(s.refers_to) = 0
        UNION ALL
        SELECT s.name, depth.d + 1 FROM customer_profile.segment s JOIN depth ON depth.name = ANY (s.refers_to)
         WHERE depth.d < 32)
    SELECT array_agg(s.name ORDER BY x.d, s.segment_id), array_agg(s.predicate ORDER BY x.d, s.segment_id)
      INTO names, predicates
      FROM customer_profile.segment s
      JOIN (SELECT depth.name, max(depth.d) AS d FROM depth GROUP BY depth.name) x ON x.name = s.name
     WHERE s.state <> 'disabled';
    IF names IS NULL THEN
        RETURN;
    END IF;
    FOR r IN SELECT m.n, m.members FROM customer_profile._segment_evaluate_many(predicates) m(n, members) ORDER BY m.n LOOP
        segment := names[r.n];
        SELECT x.entered, x.exited INTO entered, exited FROM customer_profile._segment_refresh(segment, r.members) x;
        RETURN NEXT;
    END LOOP;
END
$$;
COMMENT ON FUNCTION customer_profile.segment_refresh_all() IS 'Recomputes every segment that is not disabled over every live profile in one scan (each profile read once), then records each one''s entries and exits as segment_refresh does; one row per segment.';
REVOKE ALL ON FUNCTION customer_profile.segment_refresh_all() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION customer_profile.segment_refresh_all() TO customer_profile_admin;

CREATE FUNCTION customer_profile.segment_size(segment text) RETURNS bigint
    LANGUAGE sql STABLE
    SET search_path TO 'pg_catalog', 'pg_temp'
    BEGIN ATOMIC
 SELECT count(*) AS count
    FROM customer_profile.segment_members(segment_size.segment) segment_members(segment_members);
END;
COMMENT ON FUNCTION customer_profile.segment_size(segment text) IS 'How many profiles are in a segment now (stored membership; a NOTICE says when it is building or disabled).';
REVOKE ALL ON FUNCTION customer_profile.segment_size(segment text) FROM PUBLIC;
GRANT ALL ON FUNCTION customer_profile.segment_size(segment text) TO customer_profile_reader;

-- The worker's windows run takes the definitions lock before it reads the
-- schedule (a refresh under the lock in EXCLUSIVE mode writes it). A writer
-- holding a profile writes the profile's schedule row when it streams, so
-- the run holds no schedule row while it waits, nor waits while it holds a
-- profile: it reads the due rows without locking them, locks their profiles
-- in id order with SKIP LOCKED (a profile a writer holds stays due for a
-- later run; the writer's stream reschedules it meanwhile), then deletes the
-- rows of the profiles it locked (or that are gone) that are still due,
-- SKIP LOCKED too.
CREATE FUNCTION customer_profile.segment_windows_run(max_profiles integer DEFAULT 10000) RETURNS integer
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
DECLARE
    candidates bigint[];
    locked bigint[];
    due bigint[];
BEGIN
    IF max_profiles IS NULL OR max_profiles < 1 THEN
        RAISE EXCEPTION 'max_profiles must be at least 1' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    PERFORM customer_profile._segment_definitions_lock();
    -- The earliest due profiles nobody holds, locked as they are chosen:
    -- SKIP LOCKED never waits (so the order of the locks does not matter),
    -- and a held profile does not take the place of one that is free.
    WITH locking AS (
        SELECT u.profile_id FROM customer_profile.segment_schedule s
          JOIN customer_profile.unified_profile u ON u.profile_id = s.profile_id
         WHERE s.due_at <= now()
         ORDER BY s.due_at LIMIT max_profiles
           FOR UPDATE OF u SKIP LOCKED)
    SELECT array_agg(l.profile_id) INTO locked FROM locking l;
    -- Due rows of profiles deleted meanwhile are taken too (their stream
    -- drops the row).
    SELECT coalesce(locked, '{}') || coalesce(array_agg(d.profile_id), '{}') INTO candidates
      FROM (SELECT s.profile_id FROM customer_profile.segment_schedule s
             WHERE s.due_at <= now()
               AND NOT EXISTS (SELECT 1 FROM customer_profile.unified_profile u WHERE u.profile_id = s.profile_id)
             ORDER BY s.due_at LIMIT max_profiles) d;
    IF cardinality(candidates) = 0 THEN
        RETURN 0;
    END IF;
    -- A new snapshot: a profile deleted meanwhile is due too (its stream
    -- drops the row), and a row rescheduled meanwhile is no longer due.
    WITH taken AS (
        DELETE FROM customer_profile.segment_schedule s
         WHERE s.profile_id IN (SELECT d.profile_id FROM customer_profile.segment_schedule d
                                 WHERE d.profile_id = ANY (candidates) AND d.due_at <= now()
                                   AND (d.profile_id = ANY (locked)
                                        OR NOT EXISTS (SELECT 1 FROM customer_profile.unified_profile u
                                                        WHERE u.profile_id = d.profile_id))
                                   FOR UPDATE OF d SKIP LOCKED)
        RETURNING s.profile_id)
    SELECT array_agg(t.profile_id ORDER BY t.profile_id) INTO due FROM taken t;
    IF due IS NULL THEN
        RETURN 0;
    END IF;
    PERFORM customer_profile._segment_stream(due, 'time');
    RETURN cardinality(due);
END
$$;
COMMENT ON FUNCTION customer_profile.segment_windows_run(max_profiles integer) IS 'Re-evaluates the profiles whose segment windows or now() comparisons are due (what the worker runs every second); returns how many.';
REVOKE ALL ON FUNCTION customer_profile.segment_windows_run(max_profiles integer) FROM PUBLIC;
GRANT ALL ON FUNCTION customer_profile.segment_windows_run(max_profiles integer) TO customer_profile_admin;
GRANT ALL ON FUNCTION customer_profile.segment_windows_run(max_profiles integer) TO customer_profile_worker;

-- unified_profile @@ segment_predicate: the stored row (traits, behavior,
-- known/anonymous, other segments). STABLE: it reads identities, segments
-- and events; PARALLEL SAFE: everything it reads is read-only.
CREATE FUNCTION customer_profile.unified_profile_matches(profile customer_profile.unified_profile, predicate customer_profile.segment_predicate) RETURNS boolean
    LANGUAGE c STABLE STRICT COST 50 PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'cp_unified_profile_matches';
COMMENT ON FUNCTION customer_profile.unified_profile_matches(profile customer_profile.unified_profile, predicate customer_profile.segment_predicate) IS 'Whether a stored profile satisfies a predicate now (what segment_refresh() scans with).';
REVOKE ALL ON FUNCTION customer_profile.unified_profile_matches(profile customer_profile.unified_profile, predicate customer_profile.segment_predicate) FROM PUBLIC;
GRANT ALL ON FUNCTION customer_profile.unified_profile_matches(profile customer_profile.unified_profile, predicate customer_profile.segment_predicate) TO customer_profile_reader;

CREATE OPERATOR customer_profile.@@ (
    FUNCTION = customer_profile.profile_matches,
    LEFTARG = customer_profile.profile,
    RIGHTARG = customer_profile.segment_predicate
);
COMMENT ON OPERATOR customer_profile.@@ (customer_profile.profile, customer_profile.segment_predicate) IS 'Whether a profile value''s traits satisfy a predicate.';

CREATE OPERATOR customer_profile.@@ (
    FUNCTION = customer_profile.unified_profile_matches,
    LEFTARG = customer_profile.unified_profile,
    RIGHTARG = customer_profile.segment_predicate
);
COMMENT ON OPERATOR customer_profile.@@ (customer_profile.unified_profile, customer_profile.segment_predicate) IS 'Whether a stored profile satisfies a predicate now.';

CREATE VIEW customer_profile.segments AS
 SELECT s.segment_id,
    s.name,
    (s.predicate)::text AS predicate,
    s.refers_to,
    s.description,
    s.created_at,
    s.updated_at,
    s.state,
        CASE
            WHEN (s.state = 'building'::text) THEN LEAST(round(((s.build_done)::numeric / (GREATEST(s.build_total, (1)::bigint))::numeric), 3), 0.999)
            ELSE NULL::numeric
        END AS build_progress,
    s.time_zone
   FROM customer_profile.segment s;
COMMENT ON VIEW customer_profile.segments IS 'One row per segment: its normalized predicate and the segments it refers to.';
COMMENT ON COLUMN customer_profile.segments.segment_id IS 'The segment.';
COMMENT ON COLUMN customer_profile.segments.name IS 'Its name (segment_create).';
COMMENT ON COLUMN customer_profile.segments.predicate IS 'Its predicate, normalized.';
COMMENT ON COLUMN customer_profile.segments.refers_to IS 'The segments its predicate reads with in_segment().';
COMMENT ON COLUMN customer_profile.segments.description IS 'Free text given at segment_create or segment_alter.';
COMMENT ON COLUMN customer_profile.segments.created_at IS 'When the segment was created.';
COMMENT ON COLUMN customer_profile.segments.updated_at IS 'When its predicate or description last changed, or it was enabled again.';
COMMENT ON COLUMN customer_profile.segments.state IS 'active (members complete and kept current), building (kept current, backfill in progress: members so far) or disabled (not evaluated, members frozen).';
COMMENT ON COLUMN customer_profile.segments.time_zone IS 'The time zone whose days today counts in (segment_create, segment_alter).';
COMMENT ON COLUMN customer_profile.segments.build_progress IS 'While building: the share of the profiles evaluated so far (0 to 0.999); NULL otherwise.';
GRANT SELECT ON TABLE customer_profile.segments TO customer_profile_reader;
REVOKE USAGE ON TYPE customer_profile.segments FROM PUBLIC;
