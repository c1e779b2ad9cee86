-- customer_profile 1.3 -> 1.4: segments, second part (issue 5): predicates
-- evaluated on profile values and stored rows (@@), a refresh that scans
-- with parallel workers, sliding time windows without events, and deleted
-- profiles leaving their segments.
\echo Use "ALTER EXTENSION customer_profile UPDATE TO '1.4'" to load this file. \quit

-- profile @@ segment_predicate: on the binary traits value alone.
CREATE FUNCTION customer_profile.profile_matches(profile customer_profile.profile,
                                                 predicate customer_profile.segment_predicate)
    RETURNS boolean
    AS 'MODULE_PATHNAME', 'cp_profile_matches' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE COST 10;
COMMENT ON FUNCTION customer_profile.profile_matches(customer_profile.profile, customer_profile.segment_predicate) IS
    'Whether a profile value''s traits satisfy a predicate (0A000 when the predicate also reads behavior, known/anonymous or segments).';
CREATE OPERATOR customer_profile.@@ (
    LEFTARG = customer_profile.profile,
    RIGHTARG = customer_profile.segment_predicate,
    FUNCTION = customer_profile.profile_matches
);
COMMENT ON OPERATOR customer_profile.@@ (customer_profile.profile, customer_profile.segment_predicate) IS
    'Whether a profile value''s traits satisfy a predicate.';

-- unified_profile @@ segment_predicate: the stored row (traits, behavior,
-- known/anonymous, other segments). STABLE: it reads identities, segments
-- and events; PARALLEL SAFE: everything it reads is read-only.
CREATE FUNCTION customer_profile.unified_profile_matches(profile customer_profile.unified_profile,
                                                         predicate customer_profile.segment_predicate)
    RETURNS boolean
    AS 'MODULE_PATHNAME', 'cp_unified_profile_matches' LANGUAGE C STABLE STRICT PARALLEL SAFE COST 50;
COMMENT ON FUNCTION customer_profile.unified_profile_matches(customer_profile.unified_profile, customer_profile.segment_predicate) IS
    'Whether a stored profile satisfies a predicate now (what segment_refresh() scans with).';
CREATE OPERATOR customer_profile.@@ (
    LEFTARG = customer_profile.unified_profile,
    RIGHTARG = customer_profile.segment_predicate,
    FUNCTION = customer_profile.unified_profile_matches
);
COMMENT ON OPERATOR customer_profile.@@ (customer_profile.unified_profile, customer_profile.segment_predicate) IS
    'Whether a stored profile satisfies a predicate now.';

CREATE FUNCTION customer_profile._segment_predicate_reads_time(predicate customer_profile.segment_predicate)
    RETURNS boolean
    AS 'MODULE_PATHNAME', 'cp_segment_predicate_reads_time' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION customer_profile._segment_predicate_reads_time(customer_profile.segment_predicate) IS
    'Internal: whether the predicate uses now() or a window, so its result can change as time passes.';

-- The same on the columns: what segment_refresh() scans with (no whole-row
-- value to build per profile).
CREATE FUNCTION customer_profile._segment_matches_columns(profile_id bigint, data customer_profile.profile,
                                                          behavior bytea, predicate customer_profile.segment_predicate)
    RETURNS boolean
    AS 'MODULE_PATHNAME', 'cp_segment_matches_columns' LANGUAGE C STABLE PARALLEL SAFE COST 50;
COMMENT ON FUNCTION customer_profile._segment_matches_columns(bigint, customer_profile.profile, bytea, customer_profile.segment_predicate) IS
    'Internal: unified_profile @@ predicate on the columns of the row.';

CREATE FUNCTION customer_profile._segment_next_change(profile_id bigint, data customer_profile.profile,
                                                      behavior bytea, predicate customer_profile.segment_predicate)
    RETURNS timestamptz
    AS 'MODULE_PATHNAME', 'cp_segment_next_change' LANGUAGE C STABLE PARALLEL SAFE COST 20;
COMMENT ON FUNCTION customer_profile._segment_next_change(bigint, customer_profile.profile, bytea, customer_profile.segment_predicate) IS
    'Internal: the earliest time the predicate''s result for this profile can change without new data (NULL: never).';

-- When each profile must next be re-evaluated because time passed: the
-- earliest time a window or a now() comparison of any segment can change.
CREATE TABLE customer_profile.segment_schedule (
    profile_id bigint PRIMARY KEY,
    due_at timestamptz NOT NULL
);
CREATE INDEX segment_schedule_due_idx ON customer_profile.segment_schedule (due_at);
COMMENT ON TABLE customer_profile.segment_schedule IS
    'Per profile, the next time a segment window or now() comparison can change its memberships (the worker acts then).';
SELECT pg_catalog.pg_extension_config_dump('customer_profile.segment_schedule', '');

CREATE FUNCTION customer_profile._segment_stream(profiles bigint[], reason text) RETURNS void
    AS 'MODULE_PATHNAME', 'cp_segment_stream' LANGUAGE C VOLATILE;
COMMENT ON FUNCTION customer_profile._segment_stream(bigint[], text) IS
    'Internal: re-evaluates profiles after time passed (''time'') or after they were deleted (''gone'').';

CREATE FUNCTION customer_profile.segment_windows_run(max_profiles integer DEFAULT 10000) RETURNS integer
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    due bigint[];
BEGIN
    IF max_profiles IS NULL OR max_profiles < 1 THEN
        RAISE EXCEPTION 'max_profiles must be at least 1' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    WITH taken AS (
        DELETE FROM customer_profile.segment_schedule s
         WHERE s.profile_id IN (SELECT d.profile_id FROM customer_profile.segment_schedule d
                                 WHERE d.due_at <= now() ORDER BY d.due_at LIMIT max_profiles
                                   FOR UPDATE SKIP LOCKED)
        RETURNING s.profile_id)
    SELECT array_agg(t.profile_id ORDER BY t.profile_id) INTO due FROM taken t;
    IF due IS NULL THEN
        RETURN 0;
    END IF;
    -- The same order as event ingestion locks profiles: no deadlock with it.
    PERFORM 1 FROM customer_profile.unified_profile u WHERE u.profile_id = ANY (due)
      ORDER BY u.profile_id FOR UPDATE;
    PERFORM customer_profile._segment_stream(due, 'time');
    RETURN cardinality(due);
END
$$;
COMMENT ON FUNCTION customer_profile.segment_windows_run(integer) IS
    'Re-evaluates the profiles whose segment windows or now() comparisons are due (what the worker runs every second); returns how many.';

-- Any deleted profile (purged anonymous, merged away, erased) leaves its segments.
CREATE FUNCTION customer_profile._profiles_deleted() RETURNS trigger
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    gone bigint[];
BEGIN
    IF EXISTS (SELECT 1 FROM customer_profile.segment) THEN
        SELECT array_agg(g.profile_id) INTO gone FROM deleted_profiles g;
        PERFORM customer_profile._segment_stream(gone, 'gone');
    END IF;
    RETURN NULL;
END
$$;
CREATE TRIGGER profiles_deleted AFTER DELETE ON customer_profile.unified_profile
    REFERENCING OLD TABLE AS deleted_profiles
    FOR EACH STATEMENT EXECUTE FUNCTION customer_profile._profiles_deleted();

-- Which definition of the segment has had its windows scheduled (by the
-- first refresh after segment_create/segment_alter); from then on streaming
-- and the worker keep segment_schedule current.
ALTER TABLE customer_profile.segment ADD COLUMN windows_scheduled_for timestamptz;

-- The refresh scans unified_profile with @@ (on the columns), which
-- PostgreSQL can split over parallel workers; the first refresh of a
-- definition that reads time also schedules each profile's next change.
CREATE OR REPLACE FUNCTION customer_profile.segment_refresh(name text, OUT entered bigint, OUT exited bigint)
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    seg record;
    members bigint[];
    due_ids bigint[];
    due_times timestamptz[];
BEGIN
    SELECT s.segment_id, s.name, s.predicate, s.updated_at, s.windows_scheduled_for INTO seg
      FROM customer_profile.segment s
     WHERE s.name = segment_refresh.name FOR UPDATE;  -- one refresh of a segment at a time
    IF NOT FOUND THEN
        RAISE EXCEPTION 'unknown segment "%"', name USING ERRCODE = 'undefined_object';
    END IF;
    -- In C, so that the scan may use parallel workers (see segment_eval.cpp).
    members := customer_profile._segment_evaluate_all(seg.predicate);
    -- Set differences (hashed or sorted, linear whatever the statistics say;
    -- an anti join planned on stale estimates was quadratic).
    WITH current_members AS (
        SELECT m.profile_id FROM customer_profile.segment_membership m
         WHERE m.segment_id = seg.segment_id AND m.exited_at IS NULL),
    gone AS (SELECT c.profile_id FROM current_members c EXCEPT SELECT unnest(members)),
    arrived AS (SELECT unnest(members) AS profile_id EXCEPT SELECT c.profile_id FROM current_members c),
    exits AS (
        UPDATE customer_profile.segment_membership m SET exited_at = clock_timestamp()
          FROM gone g
         WHERE m.segment_id = seg.segment_id AND m.profile_id = g.profile_id AND m.exited_at IS NULL
        RETURNING m.profile_id),
    enters AS (
        INSERT INTO customer_profile.segment_membership (profile_id, segment_id)
        SELECT a.profile_id, seg.segment_id FROM arrived a
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
    IF entered + exited > 0 THEN
        PERFORM pg_notify('customer_profile_segment',
                          json_build_object('segment', seg.name, 'entered', entered, 'exited', exited,
                                            'source', 'refresh')::text);
    END IF;
END
$$;

-- Events queued in the inbox wake the workers when their transaction
-- commits (instead of waiting for the end of a nap).
-- SECURITY DEFINER: a role allowed only to INSERT into the inbox need not
-- read worker_state.
CREATE FUNCTION customer_profile._event_inbox_queued() RETURNS trigger
    AS 'MODULE_PATHNAME', 'cp_event_inbox_queued' LANGUAGE C
    SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
CREATE TRIGGER event_inbox_queued AFTER INSERT ON customer_profile.event_inbox
    FOR EACH STATEMENT EXECUTE FUNCTION customer_profile._event_inbox_queued();

-- Subject access (issue 6): everything held about the person behind one
-- identifier, as one JSON document.
CREATE FUNCTION customer_profile.profile_export(namespace text, value text) RETURNS jsonb
    LANGUAGE plpgsql STABLE
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    pid bigint := customer_profile.identity_lookup(profile_export.namespace, profile_export.value);
BEGIN
    IF pid IS NULL THEN
        RETURN NULL;
    END IF;
    RETURN jsonb_build_object(
        'profile_id', pid,
        'exported_at', now(),
        'identities', (
            SELECT coalesce(jsonb_agg(jsonb_build_object(
                       'namespace', n.name, 'value', i.raw_value, 'value_sha256', encode(i.value_hash, 'hex'),
                       'first_seen', i.first_seen, 'last_seen', i.last_seen) ORDER BY n.name, i.identity_id), '[]')
              FROM customer_profile.identity i JOIN customer_profile.namespace n USING (namespace_id)
             WHERE i.profile_id = pid),
        'traits', (SELECT (u.data::text)::jsonb -> 'traits' FROM customer_profile.unified_profile u
                    WHERE u.profile_id = pid),
        'observations', (
            SELECT coalesce(jsonb_agg(jsonb_build_object(
                       'trait', o.trait, 'source', o.source, 'value', o.value, 'observed_at', o.observed_at,
                       'recorded_at', o.recorded_at, 'via', n.name) ORDER BY o.trait, o.source, o.identity_id), '[]')
              FROM customer_profile.trait_observation o
              JOIN customer_profile.identity i USING (identity_id)
              JOIN customer_profile.namespace n USING (namespace_id)
             WHERE i.profile_id = pid),
        'behavior', (
            SELECT coalesce(jsonb_agg(to_jsonb(b) ORDER BY b.event_type), '[]')
              FROM customer_profile.profile_behavior(pid) b),
        'events', (
            SELECT coalesce(jsonb_agg(jsonb_build_object(
                       'event_id', e.event_id, 'event_type', e.event_type, 'occurred_at', e.occurred_at,
                       'properties', e.properties, 'source', e.source, 'received_at', e.received_at)
                       ORDER BY e.occurred_at, e.event_id), '[]')
              FROM customer_profile.event e JOIN customer_profile.identity i USING (identity_id)
             WHERE i.profile_id = pid),
        'segments', (
            SELECT coalesce(jsonb_agg(jsonb_build_object(
                       'segment', s.name, 'entered_at', m.entered_at, 'exited_at', m.exited_at)
                       ORDER BY m.entered_at, s.name), '[]')
              FROM customer_profile.segment_membership m JOIN customer_profile.segment s USING (segment_id)
             WHERE m.profile_id = pid),
        'consents', (
            SELECT coalesce(jsonb_agg(jsonb_build_object(
                       'purpose', c.purpose, 'granted', c.granted, 'source', c.source, 'observed_at', c.observed_at,
                       'via', n.name) ORDER BY c.observed_at, c.consent_id), '[]')
              FROM customer_profile.consent c JOIN customer_profile.identity i USING (identity_id)
              JOIN customer_profile.namespace n USING (namespace_id)
             WHERE i.profile_id = pid));
END
$$;
COMMENT ON FUNCTION customer_profile.profile_export(text, text) IS
    'Subject access: everything held about the person behind an identifier (identities, merged traits with provenance, every observation, behavior summary, events, segment history, consents) as one jsonb; NULL when unknown.';

-- Consent per purpose (issue 6): every grant and withdrawal, kept per
-- identifier (so a merge joins and a split separates a person's consents as
-- it does their traits); a person's consent to a purpose is their latest
-- statement through any of their identifiers.
CREATE TABLE customer_profile.consent (
    consent_id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    identity_id bigint NOT NULL,
    purpose text NOT NULL CHECK (purpose ~ '^[a-z][a-z0-9_]{0,62}$'),
    granted boolean NOT NULL,
    source text NOT NULL CHECK (length(source) BETWEEN 1 AND 200),
    observed_at timestamptz NOT NULL,
    recorded_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX consent_identity_idx ON customer_profile.consent (identity_id, purpose, observed_at);
COMMENT ON TABLE customer_profile.consent IS
    'Every consent statement (granted or withdrawn) per identifier and purpose, with source and time.';
SELECT pg_catalog.pg_extension_config_dump('customer_profile.consent', '');
SELECT pg_catalog.pg_extension_config_dump('customer_profile.consent_consent_id_seq', '');

CREATE FUNCTION customer_profile.consent_set(identities jsonb, purpose text, granted boolean, source text,
                                             observed_at timestamptz DEFAULT now())
    RETURNS bigint
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    pid bigint;
    carrier bigint;
BEGIN
    IF purpose IS NULL OR purpose !~ '^[a-z][a-z0-9_]{0,62}$' THEN
        RAISE EXCEPTION 'invalid consent purpose %', coalesce(quote_literal(purpose), 'NULL')
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Use 1-63 lower-case letters, digits and underscores, starting with a letter (e.g. email_marketing).';
    END IF;
    IF granted IS NULL OR source IS NULL OR observed_at IS NULL THEN
        RAISE EXCEPTION 'granted, source and observed_at are required' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF length(source) NOT BETWEEN 1 AND 200 THEN
        RAISE EXCEPTION 'a source of 1 to 200 characters is required' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    pid := customer_profile.resolve_identity(identities, consent_set.source);
    IF pid IS NULL THEN
        RAISE EXCEPTION 'no usable identifier in %', identities USING ERRCODE = 'invalid_parameter_value';
    END IF;
    -- The statement is kept on the first of the given identifiers (by namespace) that is stored.
    SELECT i.identity_id INTO carrier
      FROM jsonb_each_text(identities) e
      JOIN customer_profile.identity i ON i.value_hash = customer_profile.identity_hash(e.key, e.value)
     WHERE i.profile_id = pid
     ORDER BY e.key LIMIT 1;
    INSERT INTO customer_profile.consent (identity_id, purpose, granted, source, observed_at)
    VALUES (carrier, consent_set.purpose, consent_set.granted, consent_set.source, consent_set.observed_at);
    RETURN pid;
END
$$;
COMMENT ON FUNCTION customer_profile.consent_set(jsonb, text, boolean, text, timestamptz) IS
    'Records that the person behind the identifiers granted (or withdrew) consent to a purpose; returns the profile id.';

CREATE FUNCTION customer_profile.profile_consent(profile_id bigint, purpose text) RETURNS boolean
    LANGUAGE sql STABLE STRICT
    SET search_path = pg_catalog, pg_temp
    BEGIN ATOMIC
        SELECT c.granted FROM customer_profile.consent c JOIN customer_profile.identity i USING (identity_id)
         WHERE i.profile_id = customer_profile.profile_resolve(profile_consent.profile_id)
           AND c.purpose = profile_consent.purpose
         ORDER BY c.observed_at DESC, c.consent_id DESC LIMIT 1;
    END;
COMMENT ON FUNCTION customer_profile.profile_consent(bigint, text) IS
    'The person''s latest statement on a purpose: true (granted), false (withdrawn), NULL (never asked).';

-- Activation respects consent: a consumer can read only the changes of
-- people who granted a purpose (the others are skipped, and acknowledged
-- with the rest).
DROP FUNCTION customer_profile.segment_outbox_read(text, integer);
CREATE FUNCTION customer_profile.segment_outbox_read(consumer text, max_changes integer DEFAULT 1000,
                                                     purpose text DEFAULT NULL)
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
                  WHERE o.position > after
                    AND (segment_outbox_read.purpose IS NULL
                         OR customer_profile.profile_consent(o.profile_id, segment_outbox_read.purpose) IS TRUE)
                  ORDER BY o.position LIMIT max_changes;
END
$$;
COMMENT ON FUNCTION customer_profile.segment_outbox_read(text, integer, text) IS
    'The next changes after the consumer''s acknowledged position (registers a new consumer at position 0); with a purpose, only the changes of people who granted it.';
