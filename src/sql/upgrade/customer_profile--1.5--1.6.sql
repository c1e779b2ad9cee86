-- customer_profile 1.5 -> 1.6: trustworthy data (issue 13). Merges, splits,
-- erasure, restore and activation lose nothing. Each section below fixes one
-- group of defects found by the review of 1.5; the sections are independent.
\echo Use "ALTER EXTENSION customer_profile UPDATE TO '1.6'" to load this file. \quit

-- ===========================================================================
-- Behavior, merges and splits: summaries read what they locked; every change
-- of a person re-evaluates its segments (defects 1, 3, 5, 11).
-- ===========================================================================

-- The segment definitions lock (segment_stream.hpp states the lock order):
-- the table lock on customer_profile.segment. Every stream holds it in ROW
-- SHARE mode from its first read of the definitions until it commits;
-- segment_create, segment_alter (of a predicate) and segment_drop take it in
-- EXCLUSIVE mode first. Before 1.6 a transaction streamed with the
-- definitions its backend had cached, or read with a snapshot older than an
-- alter it had waited for: after an alter and its refresh committed, it
-- stored memberships of the old predicate (and a profile it merged away
-- stayed in a segment created meanwhile).
CREATE FUNCTION customer_profile._segment_definitions_lock() RETURNS boolean
    AS 'MODULE_PATHNAME', 'cp_segment_definitions_lock' LANGUAGE C VOLATILE STRICT;
COMMENT ON FUNCTION customer_profile._segment_definitions_lock() IS
    'Internal: takes the segment definitions lock in ROW SHARE mode, as streaming does, until commit; true when this transaction holds it in EXCLUSIVE mode (it created, altered or dropped a segment).';
REVOKE ALL ON FUNCTION customer_profile._segment_definitions_lock() FROM PUBLIC;
-- Not the reader: holding the lock holds back segment_alter.
GRANT EXECUTE ON FUNCTION customer_profile._segment_definitions_lock()
    TO customer_profile_writer, customer_profile_admin;

CREATE OR REPLACE FUNCTION customer_profile.segment_create(name text, predicate text, description text DEFAULT NULL)
    RETURNS integer
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
AS $$
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
    compiled := predicate::customer_profile.segment_predicate;
    INSERT INTO customer_profile.segment (name, predicate, refers_to, description)
    VALUES (name, compiled, customer_profile._segment_validate(name, compiled), description)
    RETURNING segment_id INTO id;
    RETURN id;
END
$$;

CREATE OR REPLACE FUNCTION customer_profile.segment_alter(name text, predicate text DEFAULT NULL,
                                                          description text DEFAULT NULL)
    RETURNS void
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    compiled customer_profile.segment_predicate;
BEGIN
    IF predicate IS NOT NULL THEN
        -- Before the segment's row: waits for every transaction that has
        -- streamed (with the old predicate); streams wait for our commit.
        LOCK TABLE customer_profile.segment IN EXCLUSIVE MODE;
    END IF;
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
    'Changes a segment''s predicate and/or description (NULL keeps the current one). A new predicate waits for transactions that are changing people and holds back their segment updates until it commits: refresh the segment in the same transaction or the next.';

CREATE OR REPLACE FUNCTION customer_profile.segment_drop(name text) RETURNS void
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    user_segment text;
    id integer;
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
    DELETE FROM customer_profile.segment_membership m WHERE m.segment_id = id;
END
$$;

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
CREATE OR REPLACE FUNCTION customer_profile.segment_refresh(name text, OUT entered bigint, OUT exited bigint)
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    seg record;
    members bigint[];
    due_ids bigint[];
    due_times timestamptz[];
    changing bigint[];
    locked bigint[];
    exclusive boolean;
BEGIN
    -- The definitions lock comes before the segment's row (segment_alter's order).
    SELECT s.predicate, s.updated_at, s.windows_scheduled_for INTO seg
      FROM customer_profile.segment s WHERE s.name = segment_refresh.name;
    IF FOUND AND customer_profile._segment_predicate_reads_time(seg.predicate)
       AND seg.windows_scheduled_for IS DISTINCT FROM seg.updated_at THEN
        LOCK TABLE customer_profile.segment IN EXCLUSIVE MODE;
    END IF;
    SELECT s.segment_id, s.name, s.predicate, s.updated_at, s.windows_scheduled_for INTO seg
      FROM customer_profile.segment s
     WHERE s.name = segment_refresh.name FOR UPDATE;  -- one refresh of a segment at a time
    IF NOT FOUND THEN
        RAISE EXCEPTION 'unknown segment "%"', name USING ERRCODE = 'undefined_object';
    END IF;
    exclusive := customer_profile._segment_definitions_lock();
    IF NOT exclusive AND customer_profile._segment_predicate_reads_time(seg.predicate)
       AND seg.windows_scheduled_for IS DISTINCT FROM seg.updated_at THEN
        LOCK TABLE customer_profile.segment IN EXCLUSIVE MODE;  -- altered since the first read
        exclusive := true;
    END IF;
    -- In C, so that the scan may use parallel workers (see segment_eval.cpp).
    members := customer_profile._segment_evaluate_all(seg.predicate);
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
    IF entered + exited > 0 THEN
        PERFORM pg_notify('customer_profile_segment',
                          json_build_object('segment', seg.name, 'entered', entered, 'exited', exited,
                                            'source', 'refresh')::text);
    END IF;
END
$$;

-- The worker's windows run takes the definitions lock before it takes
-- schedule rows (a refresh under the lock in EXCLUSIVE mode writes them).
CREATE OR REPLACE FUNCTION customer_profile.segment_windows_run(max_profiles integer DEFAULT 10000) RETURNS integer
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    due bigint[];
BEGIN
    IF max_profiles IS NULL OR max_profiles < 1 THEN
        RAISE EXCEPTION 'max_profiles must be at least 1' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    PERFORM customer_profile._segment_definitions_lock();
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

-- Every deletion of profiles streams their exits, even when no segment was
-- visible to the deleting statement: the stream takes the definitions lock
-- (a segment created meanwhile waits for it, or it for the segment) and
-- removes the profiles' schedule rows.
CREATE OR REPLACE FUNCTION customer_profile._profiles_deleted() RETURNS trigger
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    gone bigint[];
BEGIN
    SELECT array_agg(g.profile_id) INTO gone FROM deleted_profiles g;
    PERFORM customer_profile._segment_stream(gone, 'gone');
    RETURN NULL;
END
$$;

-- Revenue and cost add up in numeric: a sum of float8 values near the
-- float8 maximum (number traits hold any finite float8) overflowed with 22003
-- and made the whole view unreadable.
CREATE OR REPLACE VIEW customer_profile.customer_value AS
    WITH m AS (
        SELECT coalesce(array_agg(v.expression ORDER BY v.expression) FILTER (WHERE v.kind = 'revenue'), '{}') AS r,
               coalesce(array_agg(v.expression ORDER BY v.expression) FILTER (WHERE v.kind = 'cost'), '{}') AS c
          FROM customer_profile.value_measure v)
    SELECT u.profile_id, x.revenue, x.cost, x.revenue - x.cost AS margin
      FROM customer_profile.unified_profile u
     CROSS JOIN m
     -- One evaluation per profile: revenue expressions first, then cost.
     CROSS JOIN LATERAL (
        SELECT coalesce(sum(t.v::numeric) FILTER (WHERE t.i <= cardinality(m.r)), 0) AS revenue,
               coalesce(sum(t.v::numeric) FILTER (WHERE t.i > cardinality(m.r)), 0) AS cost
          FROM unnest(customer_profile._operand_values(u.profile_id, u.data, u.behavior, m.r || m.c))
               WITH ORDINALITY AS t(v, i)) x;

-- consent_set finds the identifier to keep the statement on among arrays of
-- values too (it raised 23502 for {"cookie": ["a", "b"]}), and records it
-- under the profile's lock on an identifier that still exists.
CREATE OR REPLACE FUNCTION customer_profile.consent_set(identities jsonb, purpose text, granted boolean, source text,
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
        RAISE EXCEPTION 'invalid consent purpose %', coalesce(quote_literal(left(purpose, 64)), 'NULL')
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Use 1-63 lower-case letters, digits and underscores, starting with a letter (e.g. email_marketing).';
    END IF;
    IF granted IS NULL OR source IS NULL OR observed_at IS NULL THEN
        RAISE EXCEPTION 'granted, source and observed_at are required' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF length(source) NOT BETWEEN 1 AND 200 THEN
        RAISE EXCEPTION 'a source of 1 to 200 characters is required' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF NOT (observed_at BETWEEN '0001-01-01 00:00:00+00' AND '9999-12-31 23:59:59+00') THEN
        RAISE EXCEPTION 'observed_at must be within years 0001-9999' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    -- The statement is kept on the first of the given identifiers (by
    -- namespace) that is stored, under the profile's lock: an erasure or
    -- removal we waited for may have deleted it, and then the person is
    -- resolved again (a consent must never be left attached to no one).
    FOR attempt IN 1..50 LOOP
        pid := customer_profile.resolve_identity(identities, consent_set.source);
        IF pid IS NULL THEN
            RAISE EXCEPTION 'no usable identifier in %', identities USING ERRCODE = 'invalid_parameter_value';
        END IF;
        -- Held until commit, as a trait or event change holds it: a concurrent
        -- refresh, merge or erasure of the profile waits and then sees the
        -- membership this may change.
        PERFORM 1 FROM customer_profile.unified_profile u WHERE u.profile_id = pid FOR NO KEY UPDATE;
        -- A namespace may hold an array of values (as resolve_identity takes
        -- them); blocked or malformed values are skipped, as resolution skipped them.
        SELECT i.identity_id INTO carrier
          FROM jsonb_each(identities) e
         CROSS JOIN LATERAL jsonb_array_elements_text(
                   CASE jsonb_typeof(e.value) WHEN 'array' THEN e.value ELSE jsonb_build_array(e.value) END) AS v(value)
          JOIN customer_profile.identity i ON i.value_hash = customer_profile._identity_hash_or_null(e.key, v.value)
         WHERE i.profile_id = pid
         ORDER BY e.key, v.value LIMIT 1;
        EXIT WHEN carrier IS NOT NULL;
    END LOOP;
    IF carrier IS NULL THEN
        RAISE EXCEPTION 'could not record the consent: its profile kept changing concurrently'
            USING ERRCODE = 'serialization_failure', HINT = 'Retry the transaction.';
    END IF;
    INSERT INTO customer_profile.consent (identity_id, purpose, granted, source, observed_at)
    VALUES (carrier, consent_set.purpose, consent_set.granted, consent_set.source, consent_set.observed_at);
    PERFORM customer_profile._segment_stream(ARRAY[pid], 'consent:' || consent_set.purpose);
    RETURN pid;
END
$$;

-- Repairs what 1.5 could leave wrong: events whose identifier is gone (its
-- identity_remove kept them, and their ids blocked a redelivery), and, on
-- request, summaries, traits and memberships (profile_recompute).
WITH gone AS (
    DELETE FROM customer_profile.event e
     WHERE NOT EXISTS (SELECT 1 FROM customer_profile.identity i WHERE i.identity_id = e.identity_id)
    RETURNING e.event_id)
DELETE FROM customer_profile.event_key k USING gone WHERE k.event_id = gone.event_id;

CREATE FUNCTION customer_profile.profile_recompute(profile_id bigint) RETURNS void
    LANGUAGE sql VOLATILE STRICT
    SET search_path = pg_catalog, pg_temp
    BEGIN ATOMIC
        SELECT customer_profile._profile_recompute(customer_profile.profile_resolve(profile_recompute.profile_id), NULL);
    END;
COMMENT ON FUNCTION customer_profile.profile_recompute(bigint) IS
    'Recomputes a profile''s behavior summary from its stored events and its traits from their observations, then re-evaluates its segments. After an update from 1.5: SELECT count(*) FROM customer_profile.unified_profile u, LATERAL customer_profile.profile_recompute(u.profile_id);';
REVOKE ALL ON FUNCTION customer_profile.profile_recompute(bigint) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION customer_profile.profile_recompute(bigint) TO customer_profile_admin;

-- ===========================================================================
-- Erasure and identifier removal: match by namespace and normalized value,
-- never by substring; removed identifiers take their events along
-- (defects 2, 4).
-- ===========================================================================

-- Whether a queued or failed event names one of the identifiers, key by key:
-- every string or number in the JSON (inside arrays and nested objects too,
-- for a malformed row) is compared under the nearest enclosing key. A key
-- that is a namespace compares in that namespace only; a value under no key
-- or under a key that is no namespace compares in each of the person's
-- namespaces. Always by hash (namespace and normalized value), never as a
-- substring of the text: crm_id 12 does not match crm_id 1234.
DROP FUNCTION customer_profile._mentions_identifier(jsonb, bytea[], text[]);

CREATE FUNCTION customer_profile._identifier_values(identities jsonb, OUT key text, OUT value text)
    RETURNS SETOF record
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp
    BEGIN ATOMIC
        WITH RECURSIVE walk(key, node) AS (
            SELECT NULL::text, identities
            UNION ALL
            SELECT c.key, c.node
              FROM walk w
             CROSS JOIN LATERAL (
                   SELECT e.key, e.value
                     FROM pg_catalog.jsonb_each(CASE WHEN pg_catalog.jsonb_typeof(w.node) = 'object' THEN w.node END) e
                   UNION ALL
                   SELECT w.key, a.value
                     FROM pg_catalog.jsonb_array_elements(
                              CASE WHEN pg_catalog.jsonb_typeof(w.node) = 'array' THEN w.node END) a) c(key, node))
        SELECT w.key, w.node #>> '{}' FROM walk w WHERE pg_catalog.jsonb_typeof(w.node) IN ('string', 'number');
    END;
COMMENT ON FUNCTION customer_profile._identifier_values(jsonb) IS
    'Internal: every string or number in an identities JSON value, with the nearest enclosing object key (NULL at the top level).';

CREATE FUNCTION customer_profile._identities_match(identities jsonb, hashes bytea[], namespaces text[])
    RETURNS boolean
    LANGUAGE sql STABLE
    SET search_path = pg_catalog, pg_temp
    BEGIN ATOMIC
        WITH v AS (
            SELECT v.value, n.namespace_id IS NOT NULL AS keyed,
                   CASE WHEN n.namespace_id IS NOT NULL THEN customer_profile._identity_hash_or_null(v.key, v.value) END AS h
              FROM customer_profile._identifier_values(identities) v
              LEFT JOIN customer_profile.namespace n ON n.name = v.key)
        -- An identifier under its namespace's key names its holder.
        SELECT EXISTS (SELECT 1 FROM v WHERE v.h = ANY (hashes))
            -- Values under no key or another key are compared in every
            -- namespace of the person only when the row names nobody by a
            -- proper identifier (a row that does belongs to that person).
            OR (NOT EXISTS (SELECT 1 FROM v WHERE v.h IS NOT NULL)
                AND EXISTS (SELECT 1 FROM v, pg_catalog.unnest(namespaces) s(ns)
                             WHERE NOT v.keyed AND customer_profile._identity_hash_or_null(s.ns, v.value) = ANY (hashes)));
    END;
COMMENT ON FUNCTION customer_profile._identities_match(jsonb, bytea[], text[]) IS
    'Internal: whether an inbox or dead-letter row names one of the identifier hashes, key by key (a value under no namespace key is tried in each of the given namespaces).';
REVOKE ALL ON FUNCTION customer_profile._identifier_values(jsonb),
    customer_profile._identities_match(jsonb, bytea[], text[]) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION customer_profile._identifier_values(jsonb),
    customer_profile._identities_match(jsonb, bytea[], text[]) TO customer_profile_reader, customer_profile_admin;

-- Erasure matches the person's identifiers by hash, key by key, in queued
-- and failed events, and guard-rail records by the ids they name; no
-- substring of any text.
CREATE OR REPLACE FUNCTION customer_profile.profile_forget(namespace text, value text) RETURNS bigint
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    target bytea;
    found_identity bigint;
    pid bigint;
    profiles bigint[] := '{}';
    idents bigint[] := '{}';
    hashes bytea[];
    namespaces text[];
    removed jsonb := '{}';
    n bigint;
    erasure bigint;
BEGIN
    IF namespace IS NULL OR value IS NULL THEN
        RAISE EXCEPTION 'namespace and value must not be NULL' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    target := customer_profile.identity_hash(namespace, value);  -- 42704 / 22P02 for bad input
    hashes := ARRAY[target];
    namespaces := ARRAY[namespace];
    -- Events not yet applied, and events that failed, that name the person
    -- (by any of their identifiers: namespace and normalized value, through
    -- the hash). Before the profile is locked: the worker holds an inbox row
    -- while it waits for the profile.
    SELECT hashes || array_agg(i.value_hash), namespaces || array_agg(DISTINCT ns.name)
      INTO hashes, namespaces
      FROM customer_profile.identity i JOIN customer_profile.namespace ns USING (namespace_id)
     WHERE i.profile_id = (SELECT t.profile_id FROM customer_profile.identity t WHERE t.value_hash = target);
    DELETE FROM customer_profile.event_inbox x
     WHERE customer_profile._identities_match(x.identities, hashes, namespaces);
    GET DIAGNOSTICS n = ROW_COUNT;
    removed := removed || jsonb_build_object('queued_events', n);
    DELETE FROM customer_profile.event_dead_letter d
     WHERE customer_profile._identities_match(d.identities, hashes, namespaces);
    GET DIAGNOSTICS n = ROW_COUNT;
    removed := removed || jsonb_build_object('dead_letters', n);

    LOCK TABLE customer_profile.identity IN ROW EXCLUSIVE MODE;  -- waits for identity_rebuild()
    SELECT i.identity_id INTO found_identity FROM customer_profile.identity i WHERE i.value_hash = target;
    IF found_identity IS NOT NULL THEN
        pid := customer_profile._identity_lock(found_identity);
    END IF;
    IF pid IS NOT NULL THEN
        -- The person: every identifier of the profile, and every profile id merged into it.
        SELECT array_agg(i.identity_id) INTO idents FROM customer_profile.identity i WHERE i.profile_id = pid;
        WITH RECURSIVE merged(id) AS (
            SELECT pid
            UNION
            SELECT m.merged_profile_id FROM customer_profile.profile_merge m JOIN merged ON m.into_profile_id = merged.id
        )
        SELECT array_agg(id ORDER BY id) INTO profiles FROM merged;
        -- Again with every identifier the profile holds now that it is
        -- locked: one merged in while we waited has queued events too. Rows a
        -- worker holds are skipped (it waits for our lock; applied after the
        -- erasure they arrive as a new person, as any later event does).
        SELECT array_agg(i.value_hash), array_agg(DISTINCT ns.name) INTO hashes, namespaces
          FROM customer_profile.identity i JOIN customer_profile.namespace ns USING (namespace_id)
         WHERE i.profile_id = pid;
        DELETE FROM customer_profile.event_inbox x
         WHERE x.inbox_id IN (SELECT q.inbox_id FROM customer_profile.event_inbox q
                               WHERE customer_profile._identities_match(q.identities, hashes, namespaces)
                               FOR UPDATE SKIP LOCKED);
        GET DIAGNOSTICS n = ROW_COUNT;
        removed := jsonb_set(removed, '{queued_events}', to_jsonb((removed->>'queued_events')::bigint + n));
        DELETE FROM customer_profile.event_dead_letter d
         WHERE customer_profile._identities_match(d.identities, hashes, namespaces);
        GET DIAGNOSTICS n = ROW_COUNT;
        removed := jsonb_set(removed, '{dead_letters}', to_jsonb((removed->>'dead_letters')::bigint + n));
    END IF;

    WITH gone AS (
        DELETE FROM customer_profile.event e WHERE e.identity_id = ANY (idents) RETURNING e.event_id
    ), keys AS (
        DELETE FROM customer_profile.event_key k USING gone WHERE k.event_id = gone.event_id RETURNING 1
    )
    SELECT count(*) INTO n FROM gone;
    removed := removed || jsonb_build_object('events', n);
    DELETE FROM customer_profile.trait_observation o WHERE o.identity_id = ANY (idents);
    GET DIAGNOSTICS n = ROW_COUNT;
    removed := removed || jsonb_build_object('trait_observations', n);
    DELETE FROM customer_profile.consent c WHERE c.identity_id = ANY (idents);
    GET DIAGNOSTICS n = ROW_COUNT;
    removed := removed || jsonb_build_object('consents', n);
    DELETE FROM customer_profile.identity_link l WHERE l.identity_a = ANY (idents) OR l.identity_b = ANY (idents);
    GET DIAGNOSTICS n = ROW_COUNT;
    removed := removed || jsonb_build_object('identity_links', n);
    -- Guard-rail records name the person by profile and identity ids; their
    -- detail is the rule's wording (or a configured blocked value), never
    -- the person's identifier.
    DELETE FROM customer_profile.identity_conflict c
     WHERE c.kept_profile_id = ANY (profiles) OR c.refused_profile_id = ANY (profiles)
        OR c.refused_identity_id = ANY (idents);
    GET DIAGNOSTICS n = ROW_COUNT;
    removed := removed || jsonb_build_object('identity_conflicts', n);
    DELETE FROM customer_profile.identity i WHERE i.identity_id = ANY (idents);
    GET DIAGNOSTICS n = ROW_COUNT;
    removed := removed || jsonb_build_object('identities', n);
    -- The profiles_deleted trigger makes the person exit their segments (the
    -- exits are announced with NOTIFY); the rows it writes go with the rest.
    DELETE FROM customer_profile.unified_profile p WHERE p.profile_id = pid;
    GET DIAGNOSTICS n = ROW_COUNT;
    removed := removed || jsonb_build_object('profiles', n);
    DELETE FROM customer_profile.segment_membership m WHERE m.profile_id = ANY (profiles);
    GET DIAGNOSTICS n = ROW_COUNT;
    removed := removed || jsonb_build_object('segment_memberships', n);
    DELETE FROM customer_profile.segment_outbox o WHERE o.profile_id = ANY (profiles);
    GET DIAGNOSTICS n = ROW_COUNT;
    removed := removed || jsonb_build_object('segment_outbox', n);
    DELETE FROM customer_profile.segment_schedule s WHERE s.profile_id = ANY (profiles);
    DELETE FROM customer_profile.profile_merge m
     WHERE m.merged_profile_id = ANY (profiles) OR m.into_profile_id = ANY (profiles);
    GET DIAGNOSTICS n = ROW_COUNT;
    removed := removed || jsonb_build_object('profile_merges', n);
    DELETE FROM customer_profile.profile_split s WHERE s.profile_id = ANY (profiles) OR s.new_profile_id = ANY (profiles);
    GET DIAGNOSTICS n = ROW_COUNT;
    removed := removed || jsonb_build_object('profile_splits', n);

    INSERT INTO customer_profile.erasure (profile_ids, removed) VALUES (profiles, removed)
    RETURNING erasure_id INTO erasure;
    RETURN erasure;
END
$$;
COMMENT ON FUNCTION customer_profile.profile_forget(text, text) IS
    'Right to erasure: removes the person behind an identifier everywhere (identifiers, links, observations, events, consents, memberships, outbox rows, guard-rail records naming their ids, queued and failed events naming one of their identifiers by namespace and normalized value) in one transaction; returns the erasure record id.';

-- An identifier's events stay with the identifier that carried them (a split
-- divides them that way): identity_remove now deletes them with their event
-- ids, instead of leaving them attached to no one (out of reach of
-- profile_forget, and dropping a redelivered event as a duplicate forever).
CREATE OR REPLACE FUNCTION customer_profile.identity_remove(namespace text, value text) RETURNS integer
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    a record;
    p bigint;
    carved integer;
    lent_to bigint[];
BEGIN
    LOCK TABLE customer_profile.identity IN ROW EXCLUSIVE MODE;  -- waits for identity_rebuild()
    a := customer_profile._identity_find(namespace, value);
    IF a.identity_id IS NULL THEN
        RAISE EXCEPTION 'identifier is not known' USING ERRCODE = 'undefined_object';
    END IF;
    p := customer_profile._identity_lock(a.identity_id);
    IF p IS NULL THEN  -- removed or erased concurrently
        RAISE EXCEPTION 'identifier is not known' USING ERRCODE = 'undefined_object';
    END IF;
    -- The identifiers seen with it: their match records hold values it observed, and their blocking keys are
    -- stored again without them once it is gone.
    SELECT array_agg(l.identity_a + l.identity_b - a.identity_id) INTO lent_to FROM customer_profile.identity_link l
     WHERE (l.identity_a = a.identity_id OR l.identity_b = a.identity_id) AND l.rule IS NULL;
    DELETE FROM customer_profile.identity_link l
     USING customer_profile.identity i
     WHERE i.profile_id = p AND l.identity_a = i.identity_id AND a.identity_id IN (l.identity_a, l.identity_b);
    DELETE FROM customer_profile.trait_observation o WHERE o.identity_id = a.identity_id;
    -- The events it carried, and their ids: a redelivered event is applied again.
    WITH gone AS (
        DELETE FROM customer_profile.event e WHERE e.identity_id = a.identity_id RETURNING e.event_id
    )
    DELETE FROM customer_profile.event_key k USING gone WHERE k.event_id = gone.event_id;
    DELETE FROM customer_profile.identity i WHERE i.identity_id = a.identity_id;
    PERFORM customer_profile._match_rekey(lent_to);
    IF NOT EXISTS (SELECT 1 FROM customer_profile.identity i WHERE i.profile_id = p) THEN
        DELETE FROM customer_profile.unified_profile pr WHERE pr.profile_id = p;
        RETURN 0;
    END IF;
    carved := customer_profile._identity_split(p, 'identity_remove');
    PERFORM customer_profile._profile_recompute(p, NULL);
    RETURN carved;
END
$$;
COMMENT ON FUNCTION customer_profile.identity_remove(text, text) IS
    'Deletes an identifier with its links, trait observations and stored events (and their event ids, so a redelivered event is applied again); the rest of its profile is recomputed and splits if it falls apart. Returns the number of profiles carved out.';

-- identity_unlink of a link between two identifiers seen together stores their blocking keys again: each lent the
-- other values (issue 17).
CREATE OR REPLACE FUNCTION customer_profile.identity_unlink(namespace_a text, value_a text, namespace_b text, value_b text) RETURNS integer
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
DECLARE
    a record;
    b record;
    p bigint;
    carved integer;
    lent boolean;
BEGIN
    -- Waits for a running identity_rebuild() before reading anything.
    LOCK TABLE customer_profile.identity IN ROW EXCLUSIVE MODE;
    a := customer_profile._identity_find(namespace_a, value_a);
    b := customer_profile._identity_find(namespace_b, value_b);
    IF a.identity_id IS NULL OR b.identity_id IS NULL THEN
        RAISE EXCEPTION 'the % identifier is not known', CASE WHEN a.identity_id IS NULL THEN 'first' ELSE 'second' END
            USING ERRCODE = 'undefined_object';
    END IF;
    p := customer_profile._identity_lock(a.identity_id);
    DELETE FROM customer_profile.identity_link l
     WHERE l.identity_a = least(a.identity_id, b.identity_id) AND l.identity_b = greatest(a.identity_id, b.identity_id)
    RETURNING l.rule IS NULL INTO lent;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'no direct link between these identifiers'
            USING ERRCODE = 'undefined_object',
                  HINT = 'identity_explain() shows the chain of links that ties them; unlink one of those.';
    END IF;
    carved := customer_profile._identity_split(p, 'identity_unlink');
    -- Two identifiers seen together lend each other values: their blocking keys are stored again without them.
    IF lent THEN
        PERFORM customer_profile._match_rekey(ARRAY[a.identity_id, b.identity_id]);
    END IF;
    RETURN carved;
END
$$;

-- ===========================================================================
-- Attached CRM tables: dumped and restored, partitioned tables, dirty rows
-- recorded instead of failing the host's write (defects 6, 7, 15).
-- ===========================================================================

-- Defect 6: the configuration of attached tables was not dumped, while the
-- trigger on each table (a user object) was: after pg_restore new rows were
-- ignored, and the table could neither be detached ("not attached") nor
-- attached again (the trigger existed). The rows are dumped now, except those
-- of tables dropped since: a stale oid would be restored as a bare number.
SELECT pg_catalog.pg_extension_config_dump('customer_profile.attached_table',
    'WHERE EXISTS (SELECT 1 FROM pg_catalog.pg_class c WHERE c.oid = table_oid)');

-- Defect 7: the trigger of a partitioned table fires on the partition that
-- holds the row, with the partition's oid, which the trigger did not find in
-- attached_table: rows inserted after the backfill never flowed in. The
-- configuration of a relation is its own or its nearest attached ancestor's.
CREATE FUNCTION customer_profile._attached_config(rel regclass) RETURNS customer_profile.attached_table
    LANGUAGE sql STABLE
    BEGIN ATOMIC
        SELECT a.*
          FROM (SELECT rel, 0::bigint   -- pg_partition_ancestors() is empty for a table that is no partition
                UNION ALL
                SELECT p.relid, p.depth FROM pg_catalog.pg_partition_ancestors(rel) WITH ORDINALITY AS p(relid, depth))
               AS t(relid, depth)
          JOIN customer_profile.attached_table a ON a.table_oid = t.relid
         ORDER BY t.depth
         LIMIT 1;
    END;
COMMENT ON FUNCTION customer_profile._attached_config(regclass) IS
    'Internal: the attachment that governs a table: its own, or that of the attached partitioned table it is a partition of (NULL when none).';

-- Defect 15: a malformed identifier in a CRM row raised 22P02 from the
-- trigger, so the company's own write failed, and one such row failed a whole
-- backfill. These two helpers say, without raising, why resolve_identity() or
-- trait_observe() would refuse one identifier or one trait value.
CREATE FUNCTION customer_profile._identity_refusal(namespace text, value text) RETURNS text
    AS 'MODULE_PATHNAME', 'cp_identity_refusal' LANGUAGE C STABLE STRICT;
COMMENT ON FUNCTION customer_profile._identity_refusal(text, text) IS
    'Internal: why resolve_identity() would raise for this identifier (message and SQLSTATE), or NULL when it accepts it (blocked values included: resolve_identity records those).';
CREATE FUNCTION customer_profile._trait_refusal(trait text, value jsonb) RETURNS text
    AS 'MODULE_PATHNAME', 'cp_trait_refusal' LANGUAGE C STABLE STRICT;
COMMENT ON FUNCTION customer_profile._trait_refusal(text, jsonb) IS
    'Internal: why trait_observe() would refuse this value of the trait (message and SQLSTATE), or NULL when it accepts it.';

-- Refusals of an attached row are recorded with the guard rails' refusals,
-- tied to the profile the row's other identifiers resolved to (so erasure
-- finds them); the detail names the table and the reason, never the value.
ALTER TABLE customer_profile.identity_conflict
    DROP CONSTRAINT identity_conflict_rule_check,
    ADD CONSTRAINT identity_conflict_rule_check CHECK (rule IN ('blocked_value', 'blocked_pattern', 'namespace_cap',
                                                                'profile_identity_cap', 'invalid_identifier',
                                                                'invalid_trait'));
COMMENT ON TABLE customer_profile.identity_conflict IS
    'Every link a guard rail refused, and every malformed identifier or trait value of an attached table''s row that was left out (invalid_identifier, invalid_trait), with its rule and reason: nothing is refused silently.';
COMMENT ON VIEW customer_profile.identity_guard_stats IS
    'How often each guard rail refused a link, or an attached row''s identifier or trait value, per namespace.';
-- A refused probabilistic link is queued for review with the record of its
-- refusal, looked up by identifier or profile (a sequential scan of every
-- refusal kept was 30 ms per refused record at 219,000 rows).
CREATE INDEX identity_conflict_refused_identity_idx ON customer_profile.identity_conflict USING btree (refused_identity_id) WHERE (source = 'match'::text);
CREATE INDEX identity_conflict_refused_profile_idx ON customer_profile.identity_conflict USING btree (refused_profile_id) WHERE (source = 'match'::text);

-- Applies one row: its valid identifiers are resolved and its valid trait
-- values observed; a malformed identifier or trait value is left out and
-- recorded instead of raising, so the host's write (or the backfill) goes on.
CREATE OR REPLACE FUNCTION customer_profile._attached_apply(config customer_profile.attached_table, row_json jsonb)
    RETURNS bigint
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    parts record;
    identities jsonb;
    traits jsonb;
    identity_refusals jsonb;
    trait_refusals text[];
    who bigint;
BEGIN
    parts := customer_profile._attached_row(config, row_json);
    SELECT coalesce(jsonb_object_agg(s.key, s.value) FILTER (WHERE s.reason IS NULL), '{}'),
           jsonb_object_agg(s.key, s.reason) FILTER (WHERE s.reason IS NOT NULL)
      INTO identities, identity_refusals
      FROM (SELECT e.key, e.value, customer_profile._identity_refusal(e.key, e.value) AS reason
              FROM jsonb_each_text(parts.identities) e) s;
    SELECT coalesce(jsonb_object_agg(s.key, s.value) FILTER (WHERE s.reason IS NULL), '{}'),
           array_agg(s.reason ORDER BY s.key) FILTER (WHERE s.reason IS NOT NULL)
      INTO traits, trait_refusals
      FROM (SELECT e.key, e.value, customer_profile._trait_refusal(e.key, e.value) AS reason
              FROM jsonb_each(parts.traits) e) s;
    IF identities <> '{}' THEN   -- a row without any identifier cannot be tied to a person
        IF traits = '{}' THEN
            who := customer_profile.resolve_identity(identities, config.source);
        ELSE
            who := customer_profile.trait_observe(identities, traits, config.source, now());
        END IF;
    END IF;
    IF identity_refusals IS NOT NULL OR trait_refusals IS NOT NULL THEN
        INSERT INTO customer_profile.identity_conflict (rule, namespace_id, kept_profile_id, detail, source)
        SELECT 'invalid_identifier', n.namespace_id, who, format('%s: %s', config.table_oid, r.value), config.source
          FROM jsonb_each_text(identity_refusals) r
          LEFT JOIN customer_profile.namespace n ON n.name = r.key
        UNION ALL
        SELECT 'invalid_trait', NULL, who, format('%s: %s', config.table_oid, r.reason), config.source
          FROM unnest(trait_refusals) r(reason);
    END IF;
    RETURN who;
END
$$;

-- Withdraws what one row contributed; an identifier that cannot be hashed
-- (malformed, so never stored) matches nothing instead of raising.
CREATE OR REPLACE FUNCTION customer_profile._attached_withdraw(config customer_profile.attached_table, row_json jsonb)
    RETURNS void
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    parts record;
    affected bigint[];
    trait_names text[];
BEGIN
    parts := customer_profile._attached_row(config, row_json);
    SELECT array_agg(k) INTO trait_names FROM jsonb_object_keys(config.trait_columns) k;
    WITH gone AS (
        DELETE FROM customer_profile.trait_observation o
         USING customer_profile.identity i
         WHERE o.identity_id = i.identity_id
           AND o.source = config.source
           AND o.trait = ANY(trait_names)
           AND i.value_hash IN (SELECT customer_profile._identity_hash_or_null(e.key, e.value)
                                  FROM jsonb_each_text(parts.identities) e)
        RETURNING i.profile_id)
    SELECT array_agg(DISTINCT g.profile_id) INTO affected FROM gone g;
    PERFORM customer_profile._profile_recompute(p, trait_names) FROM unnest(affected) p;
END
$$;

-- The trigger finds the configuration of a partition through its ancestors.
-- The JSON of an attached row's mapped columns, built without running code
-- the table's owner controls: to_jsonb(NEW) calls any cast to json defined
-- for a column's type (an owner can create one for an enum or composite of
-- theirs), and the trigger runs as the extension owner. Columns of built-in
-- types go through to_jsonb (no user cast can exist from them); others
-- through their type's output function (format %s), as text.
CREATE FUNCTION customer_profile._attached_row_expr(config customer_profile.attached_table, rel regclass, alias text)
    RETURNS text
    LANGUAGE sql STABLE
    SET search_path = pg_catalog, pg_temp
    BEGIN ATOMIC
        WITH RECURSIVE cols AS (
            SELECT c.col, a.atttypid AS typ
              FROM (SELECT m.value #>> '{}' AS col FROM pg_catalog.jsonb_each(config.identity_columns) m
                    UNION
                    SELECT m.value #>> '{}' FROM pg_catalog.jsonb_each(config.trait_columns) m) c
              JOIN pg_catalog.pg_attribute a
                ON a.attrelid = rel AND a.attname = c.col AND a.attnum > 0 AND NOT a.attisdropped),
        -- A domain is read as its base type (a cast from a domain is never a
        -- user's function: PostgreSQL ignores casts from domains).
        base(col, typ, depth) AS (
            SELECT cols.col, cols.typ, 0 FROM cols
            UNION ALL
            SELECT b.col, t.typbasetype, b.depth + 1
              FROM base b JOIN pg_catalog.pg_type t ON t.oid = b.typ WHERE t.typtype = 'd'),
        resolved AS (SELECT DISTINCT ON (base.col) base.col, base.typ FROM base ORDER BY base.col, base.depth DESC)
        SELECT coalesce('(SELECT jsonb_object_agg(k, v) FROM (VALUES '
                        || string_agg(format('(%L, %s)', r.col,
                                             CASE WHEN r.typ < 16384
                                                  THEN format('to_jsonb(%s.%I::%s)', alias, r.col, r.typ::regtype)
                                                  -- NULL stays NULL (format() would make it '')
                                                  ELSE format('CASE WHEN num_nulls(%1$s.%2$I) = 1 THEN NULL '
                                                              'ELSE to_jsonb(format(%3$L, %1$s.%2$I)) END',
                                                              alias, r.col, '%s') END),
                                      ', ' ORDER BY r.col)
                        || ') AS x(k, v))', '''{}''::jsonb')
          FROM resolved r;
    END;
COMMENT ON FUNCTION customer_profile._attached_row_expr(customer_profile.attached_table, regclass, text) IS
    'Internal: an SQL expression building the JSON of the mapped columns of a row of rel named alias, running no code of the table owner.';

CREATE OR REPLACE FUNCTION customer_profile._attached_row_changed() RETURNS trigger
    LANGUAGE plpgsql
    SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    config customer_profile.attached_table;
    row_sql text;
    old_json jsonb;
    new_json jsonb;
BEGIN
    config := customer_profile._attached_config(TG_RELID);
    IF config.table_oid IS NULL THEN
        RETURN NULL;
    END IF;
    row_sql := 'SELECT ' || customer_profile._attached_row_expr(config, TG_RELID, '($1)');
    IF TG_OP IN ('DELETE', 'UPDATE') THEN
        EXECUTE row_sql INTO old_json USING OLD;
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        EXECUTE row_sql INTO new_json USING NEW;
    END IF;
    IF TG_OP IN ('DELETE', 'UPDATE') THEN
        IF TG_OP = 'DELETE' OR customer_profile._attached_row(config, old_json) IS DISTINCT FROM
                               customer_profile._attached_row(config, new_json) THEN
            PERFORM customer_profile._attached_withdraw(config, old_json);
        END IF;
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        PERFORM customer_profile._attached_apply(config, new_json);
    END IF;
    RETURN NULL;
END
$$;

-- Applies every row of tbl (an attached table or one of its partitions),
-- reporting progress every batch_size rows; returns the rows applied.
CREATE FUNCTION customer_profile._attached_backfill(config customer_profile.attached_table, tbl regclass,
                                                    batch_size integer, caller text)
    RETURNS bigint
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    r record;
    done bigint := 0;
    total bigint;
BEGIN
    EXECUTE format('SELECT count(*) FROM %s', tbl) INTO total;
    FOR r IN EXECUTE format('SELECT %s AS j FROM %s t', customer_profile._attached_row_expr(config, tbl, 't'), tbl) LOOP
        PERFORM customer_profile._attached_apply(config, r.j);
        done := done + 1;
        IF done % greatest(batch_size, 1) = 0 THEN
            RAISE NOTICE '%: % of % rows of % applied', caller, done, total, tbl;
        END IF;
    END LOOP;
    RETURN done;
END
$$;
COMMENT ON FUNCTION customer_profile._attached_backfill(customer_profile.attached_table, regclass, integer, text) IS
    'Internal: applies every row of an attached table (or of one of its partitions), with a progress notice every batch.';

-- Attaching: as in 1.1, and a partition of an attached table, or a
-- partitioned table with an attached partition, is refused (a row would flow
-- twice); a trigger left without configuration (a dump made before 1.6) is
-- replaced instead of failing; rows of tables dropped since are forgotten.
CREATE OR REPLACE FUNCTION customer_profile.profile_attach_table(tbl regclass, source text, identity_columns jsonb,
                                                                 trait_columns jsonb DEFAULT '{}',
                                                                 batch_size integer DEFAULT 1000)
    RETURNS bigint
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    config customer_profile.attached_table;
    mapping record;
    other regclass;
BEGIN
    IF tbl IS NULL OR source IS NULL OR identity_columns IS NULL OR trait_columns IS NULL THEN
        RAISE EXCEPTION 'table, source, identity_columns and trait_columns must not be NULL'
            USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF jsonb_typeof(identity_columns) <> 'object' OR identity_columns = '{}' THEN
        RAISE EXCEPTION 'identity_columns must be a non-empty object of namespace -> column'
            USING ERRCODE = 'invalid_parameter_value', HINT = 'Example: {"crm_id": "id", "email": "email"}';
    END IF;
    IF jsonb_typeof(trait_columns) <> 'object' THEN
        RAISE EXCEPTION 'trait_columns must be an object of trait -> column' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF source = '' OR length(source) > 200 THEN
        RAISE EXCEPTION 'source must be 1 to 200 characters' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    DELETE FROM customer_profile.attached_table a
     WHERE NOT EXISTS (SELECT 1 FROM pg_catalog.pg_class c WHERE c.oid = a.table_oid);
    IF EXISTS (SELECT 1 FROM customer_profile.attached_table a WHERE a.table_oid = tbl) THEN
        RAISE EXCEPTION 'table % is already attached', tbl USING ERRCODE = 'duplicate_object';
    END IF;
    other := (customer_profile._attached_config(tbl)).table_oid;
    IF other IS NOT NULL THEN
        RAISE EXCEPTION 'table % is a partition of %, which is attached', tbl, other
            USING ERRCODE = 'duplicate_object', HINT = 'Its rows already flow in; a row must flow in once.';
    END IF;
    SELECT a.table_oid INTO other
      FROM pg_catalog.pg_partition_tree(tbl) t
      JOIN customer_profile.attached_table a ON a.table_oid = t.relid
     ORDER BY t.level, t.relid::oid
     LIMIT 1;
    IF other IS NOT NULL THEN
        RAISE EXCEPTION 'partition % of % is attached', other, tbl
            USING ERRCODE = 'duplicate_object', HINT = 'Detach the partition first; a row must flow in once.';
    END IF;
    FOR mapping IN SELECT 'identity' AS kind, key, value FROM jsonb_each(identity_columns)
                   UNION ALL SELECT 'trait', key, value FROM jsonb_each(trait_columns) LOOP
        IF jsonb_typeof(mapping.value) <> 'string' THEN
            RAISE EXCEPTION '% "%" must map to a column name (a JSON string)', mapping.kind, mapping.key
                USING ERRCODE = 'invalid_parameter_value';
        END IF;
        IF NOT EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = tbl AND a.attnum > 0 AND NOT a.attisdropped
                                                     AND a.attname = mapping.value #>> '{}') THEN
            RAISE EXCEPTION 'column "%" of % does not exist', mapping.value #>> '{}', tbl
                USING ERRCODE = 'undefined_column';
        END IF;
        IF mapping.kind = 'identity' AND NOT EXISTS (
                SELECT 1 FROM customer_profile.namespace n WHERE n.name = mapping.key) THEN
            RAISE EXCEPTION 'unknown identity namespace "%"', mapping.key USING ERRCODE = 'undefined_object';
        END IF;
    END LOOP;
    INSERT INTO customer_profile.attached_table (table_oid, source, identity_columns, trait_columns)
    VALUES (tbl, source, identity_columns, trait_columns)
    RETURNING * INTO config;
    -- On a partitioned table, PostgreSQL clones the trigger to every
    -- partition, present and future (CREATE, ATTACH PARTITION).
    EXECUTE format('CREATE OR REPLACE TRIGGER customer_profile_attached AFTER INSERT OR UPDATE OR DELETE ON %s '
                   'FOR EACH ROW EXECUTE FUNCTION customer_profile._attached_row_changed()', tbl);
    RETURN customer_profile._attached_backfill(config, tbl, batch_size, 'profile_attach_table');
END
$$;

-- Backfills an attached table again, or one of its partitions: rows that were
-- there when a partition was attached with ALTER TABLE ... ATTACH PARTITION
-- fired no trigger. Applying a row twice changes nothing.
CREATE FUNCTION customer_profile.profile_attach_backfill(tbl regclass, batch_size integer DEFAULT 1000)
    RETURNS bigint
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    config customer_profile.attached_table;
BEGIN
    IF tbl IS NULL THEN
        RAISE EXCEPTION 'table must not be NULL' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    config := customer_profile._attached_config(tbl);
    IF config.table_oid IS NULL THEN
        RAISE EXCEPTION 'table % is not attached', tbl USING ERRCODE = 'undefined_object',
            HINT = 'Attach it, or its partitioned table, with customer_profile.profile_attach_table().';
    END IF;
    RETURN customer_profile._attached_backfill(config, tbl, batch_size, 'profile_attach_backfill');
END
$$;
COMMENT ON FUNCTION customer_profile.profile_attach_backfill(regclass, integer) IS
    'Applies every row of an attached table, or of one of its partitions, again (rows already in a partition attached later with ALTER TABLE ... ATTACH PARTITION fired no trigger); returns the rows applied.';

-- Detaching: a partition of an attached table is refused with a hint; a
-- trigger left without configuration (a dump made before 1.6) is dropped.
CREATE OR REPLACE FUNCTION customer_profile.profile_detach_table(tbl regclass, withdraw_observations boolean DEFAULT false)
    RETURNS void
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    config customer_profile.attached_table;
    parent regclass;
    r record;
BEGIN
    SELECT * INTO config FROM customer_profile.attached_table a WHERE a.table_oid = tbl;
    IF NOT FOUND THEN
        parent := (customer_profile._attached_config(tbl)).table_oid;
        IF parent IS NOT NULL THEN
            RAISE EXCEPTION 'table % is not attached', tbl USING ERRCODE = 'undefined_object',
                HINT = format('It is a partition of %s, which is attached: detach that table, or take this partition '
                              'out of it with ALTER TABLE ... DETACH PARTITION.', parent);
        END IF;
        IF EXISTS (SELECT 1 FROM pg_catalog.pg_trigger t
                    WHERE t.tgrelid = tbl AND t.tgname = 'customer_profile_attached' AND t.tgparentid = 0
                      AND t.tgfoid = 'customer_profile._attached_row_changed()'::regprocedure) THEN
            EXECUTE format('DROP TRIGGER customer_profile_attached ON %s', tbl);
            RAISE NOTICE 'table % had a trigger of customer_profile but no configuration (restored from a dump made before 1.6?): trigger dropped', tbl;
            RETURN;
        END IF;
        RAISE EXCEPTION 'table % is not attached', tbl USING ERRCODE = 'undefined_object';
    END IF;
    EXECUTE format('DROP TRIGGER IF EXISTS customer_profile_attached ON %s', tbl);
    IF withdraw_observations THEN
        FOR r IN EXECUTE format('SELECT %s AS j FROM %s t', customer_profile._attached_row_expr(config, tbl, 't'), tbl) LOOP
            PERFORM customer_profile._attached_withdraw(config, r.j);
        END LOOP;
    END IF;
    DELETE FROM customer_profile.attached_table a WHERE a.table_oid = tbl;
END
$$;

REVOKE ALL ON FUNCTION customer_profile._attached_config(regclass), customer_profile._identity_refusal(text, text),
    customer_profile._trait_refusal(text, jsonb),
    customer_profile._attached_backfill(customer_profile.attached_table, regclass, integer, text),
    customer_profile.profile_attach_backfill(regclass, integer) FROM PUBLIC;
-- Internal helpers run as their caller, like every _ function (1.5).
GRANT EXECUTE ON FUNCTION customer_profile._attached_config(regclass), customer_profile._identity_refusal(text, text),
    customer_profile._trait_refusal(text, jsonb),
    customer_profile._attached_backfill(customer_profile.attached_table, regclass, integer, text)
    TO customer_profile_reader, customer_profile_admin;
GRANT EXECUTE ON FUNCTION customer_profile.profile_attach_backfill(regclass, integer) TO customer_profile_admin;
-- Runs as the trigger's owner, or as the admin attaching, detaching or backfilling.
REVOKE ALL ON FUNCTION customer_profile._attached_row_expr(customer_profile.attached_table, regclass, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION customer_profile._attached_row_expr(customer_profile.attached_table, regclass, text)
    TO customer_profile_admin;

-- ===========================================================================
-- Activation: the outbox is read below a snapshot horizon, so no committed
-- change is skipped (defect 8).
-- ===========================================================================

-- Outbox positions are handed out in one order and committed in another, so
-- "above my acknowledged position" skipped a transaction that took a lower
-- position and committed later. Each row now records the transaction that
-- wrote it (xid8), and a consumer reads in batches bounded by snapshots, as
-- PgQ's ticks do: a batch holds the rows of the transactions that are
-- visible in its snapshot but were not in the previous one (the horizon).
-- Every committed transaction becomes visible in exactly one next snapshot,
-- so each change is delivered, and batches follow commit order. Inside a
-- batch rows come by position, which for one profile in one segment is the
-- commit order (the second writer waits for the first one's membership row
-- before it takes its position).
--
-- Transaction ids mean something only inside the cluster that gave them
-- out, so rows and consumers also record the cluster (_cluster_id()). Rows
-- written before 1.6, and rows restored from another cluster, count as
-- committed before every snapshot taken here.
CREATE FUNCTION customer_profile._cluster_id() RETURNS bigint
    AS 'MODULE_PATHNAME', 'cp_cluster_id' LANGUAGE C STABLE PARALLEL SAFE;
COMMENT ON FUNCTION customer_profile._cluster_id() IS
    'Internal: the system identifier of this cluster, the space that outbox transaction ids and consumer snapshots belong to.';
REVOKE ALL ON FUNCTION customer_profile._cluster_id() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION customer_profile._cluster_id() TO customer_profile_reader;

-- Existing rows keep NULL in both columns (no rewrite): they committed
-- before the update, which waited for every writer of the table.
ALTER TABLE customer_profile.segment_outbox
    ADD COLUMN xact_id xid8,
    ADD COLUMN cluster_id bigint;
ALTER TABLE customer_profile.segment_outbox
    ALTER COLUMN xact_id SET DEFAULT pg_catalog.pg_current_xact_id(),
    ALTER COLUMN cluster_id SET DEFAULT customer_profile._cluster_id(),
    ADD CONSTRAINT segment_outbox_xact_check CHECK ((xact_id IS NULL) = (cluster_id IS NULL));
CREATE INDEX segment_outbox_xact_idx ON customer_profile.segment_outbox (xact_id);
COMMENT ON TABLE customer_profile.segment_outbox IS
    'Every segment entry and exit (position: the row, also in NOTIFY customer_profile_segment); consumers read it with segment_outbox_read() in commit order.';
COMMENT ON COLUMN customer_profile.segment_outbox.xact_id IS
    'The transaction that wrote the change (NULL before 1.6): consumers read by snapshot, not by position.';
COMMENT ON COLUMN customer_profile.segment_outbox.cluster_id IS
    'The cluster whose transaction xact_id is (_cluster_id()); rows from another cluster (a restored dump) count as committed long ago.';

ALTER TABLE customer_profile.segment_consumer
    ADD COLUMN horizon pg_snapshot,
    ADD COLUMN batch pg_snapshot,
    ADD COLUMN cluster_id bigint;
COMMENT ON TABLE customer_profile.segment_consumer IS
    'Each outbox consumer''s bookmark: the snapshot it has read up to (horizon), the batch it is reading and how far it acknowledged it.';
COMMENT ON COLUMN customer_profile.segment_consumer.position IS
    'Acknowledged position inside the current batch: its rows up to here are handled (before the first batch: skip rows up to here).';
COMMENT ON COLUMN customer_profile.segment_consumer.horizon IS
    'Every change of a transaction visible in this snapshot has been delivered (NULL: no batch finished yet).';
COMMENT ON COLUMN customer_profile.segment_consumer.batch IS
    'The batch being read: changes of the transactions visible in this snapshot and not in horizon.';
COMMENT ON COLUMN customer_profile.segment_consumer.cluster_id IS
    'The cluster whose transactions horizon and batch describe; another value (after a restore) makes the next read start again from a safe position.';

-- The snapshot a consumer's batch is cut with: the current one, with the
-- reading transaction itself counted as still running. A snapshot never
-- lists its own transaction, so once a later one committed, the reader's
-- own xid looked committed to the batch, and changes the reader's
-- transaction made after closing a batch were taken as delivered (review of
-- 1.6: a consumer that drained the outbox, then tracked an event in the same
-- transaction, never received that change).
CREATE FUNCTION customer_profile._outbox_snapshot() RETURNS pg_snapshot
    LANGUAGE sql VOLATILE
    SET search_path = pg_catalog, pg_temp
    BEGIN ATOMIC
        WITH s AS (SELECT pg_current_snapshot() AS snap, pg_current_xact_id_if_assigned() AS own)
        SELECT CASE WHEN s.own IS NULL OR pg_visible_in_snapshot(s.own, s.snap) IS FALSE THEN s.snap
                    ELSE (least(pg_snapshot_xmin(s.snap), s.own)::text || ':' || pg_snapshot_xmax(s.snap)::text || ':'
                          || (SELECT string_agg(x::text, ',' ORDER BY x)
                                FROM (SELECT pg_snapshot_xip(s.snap) UNION SELECT s.own) AS u(x)))::pg_snapshot
               END
          FROM s;
    END;
COMMENT ON FUNCTION customer_profile._outbox_snapshot() IS
    'Internal: pg_current_snapshot() with the calling transaction counted as running (a batch never includes the reader''s own uncommitted changes).';
REVOKE ALL ON FUNCTION customer_profile._outbox_snapshot() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION customer_profile._outbox_snapshot() TO customer_profile_writer, customer_profile_admin;

-- The next changes for a consumer. Opens a batch when it has none, and when
-- the current one has nothing left after the acknowledged position, makes
-- it the horizon and opens the next (what committed since).
CREATE OR REPLACE FUNCTION customer_profile.segment_outbox_read(consumer text, max_changes integer DEFAULT 1000,
                                                                purpose text DEFAULT NULL)
    RETURNS TABLE (outbox_position bigint, segment text, profile_id bigint, change text, changed_at timestamptz)
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
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
COMMENT ON FUNCTION customer_profile.segment_outbox_read(text, integer, text) IS
    'The next changes for a consumer (registered on first read): every committed change once it is visible, in batches that follow commit order (by position inside a batch); a change comes again until acknowledged. With a purpose, only the changes of people who granted it.';

COMMENT ON FUNCTION customer_profile.segment_outbox_ack(text, bigint) IS
    'Marks the changes of the consumer''s current batch up to a position (the last outbox_position read) as handled; the next read moves on to what committed since. Positions never move back inside a batch.';

-- ===========================================================================
-- BI views survive trait redefinition and dump/restore (defect 9).
-- ===========================================================================

-- profiles_wide used to be an extension member, dropped and created again by
-- every trait_define: a user's view on it made every trait_define fail, and
-- since pg_dump does not dump members, a dumped view on it met a
-- profiles_wide with the columns of a fresh install at restore (42703). It
-- is an ordinary view now, which pg_dump dumps with its columns before the
-- views built on it, and which DROP EXTENSION drops (_depend_on_extension).
-- A fresh install has none until a trait is defined: at restore, the dumped
-- view must not meet one created by CREATE EXTENSION.
CREATE FUNCTION customer_profile._depend_on_extension(rel regclass) RETURNS void
    AS 'MODULE_PATHNAME', 'cp_depend_on_extension' LANGUAGE C STRICT;
COMMENT ON FUNCTION customer_profile._depend_on_extension(regclass) IS
    'Internal: rel is dropped with the extension without being a member of it (pg_dump dumps it).';
REVOKE ALL ON FUNCTION customer_profile._depend_on_extension(regclass) FROM PUBLIC;

-- The column type of a trait type, and the expression of a column.
CREATE FUNCTION customer_profile._trait_column_type(type text) RETURNS text
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp
    BEGIN ATOMIC
        SELECT CASE _trait_column_type.type
                   WHEN 'number' THEN 'double precision'
                   WHEN 'boolean' THEN 'boolean'
                   WHEN 'timestamp' THEN 'timestamp with time zone'
                   WHEN 'text[]' THEN 'text[]'
                   ELSE 'text'
               END;
    END;
COMMENT ON FUNCTION customer_profile._trait_column_type(text) IS
    'Internal: the SQL type of a trait''s column in profiles_wide.';
CREATE FUNCTION customer_profile._profiles_wide_column(trait text, column_type text) RETURNS text
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp
    BEGIN ATOMIC
        SELECT pg_catalog.format(
            CASE _profiles_wide_column.column_type
                WHEN 'double precision' THEN 'customer_profile.profile_trait_text(u.data, %1$L)::double precision AS %1$I'
                WHEN 'boolean' THEN 'customer_profile.profile_trait_text(u.data, %1$L)::boolean AS %1$I'
                WHEN 'timestamp with time zone' THEN 'customer_profile.profile_trait_text(u.data, %1$L)::timestamptz AS %1$I'
                WHEN 'text[]' THEN 'ARRAY(SELECT pg_catalog.jsonb_array_elements_text('
                                   'customer_profile.profile_trait_value(u.data, %1$L))) AS %1$I'
                ELSE 'customer_profile.profile_trait_text(u.data, %1$L) AS %1$I'
            END, _profiles_wide_column.trait);
    END;
COMMENT ON FUNCTION customer_profile._profiles_wide_column(text, text) IS
    'Internal: the select-list entry of one profiles_wide column.';
REVOKE ALL ON FUNCTION customer_profile._trait_column_type(text), customer_profile._profiles_wide_column(text, text)
    FROM PUBLIC;

-- Gives a relation the privileges of an ACL (NULL: the owner's defaults),
-- revoking what it has beyond them. Grants are made as the owner.
CREATE FUNCTION customer_profile._relation_acl_restore(rel regclass, acl aclitem[]) RETURNS void
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    owner oid;
    current_acl aclitem[];
    e record;
BEGIN
    SELECT c.relowner, c.relacl INTO owner, current_acl FROM pg_class c WHERE c.oid = rel;
    acl := coalesce(acl, acldefault('r', owner));
    current_acl := coalesce(current_acl, acldefault('r', owner));
    FOR e IN SELECT x.grantee, x.privilege_type, x.is_grantable FROM aclexplode(current_acl) x
             EXCEPT SELECT y.grantee, y.privilege_type, y.is_grantable FROM aclexplode(acl) y LOOP
        EXECUTE format('REVOKE %s ON %s FROM %s', e.privilege_type, rel,
                       CASE WHEN e.grantee = 0 THEN 'PUBLIC' ELSE quote_ident(e.grantee::regrole::text) END);
    END LOOP;
    FOR e IN SELECT y.grantee, y.privilege_type, y.is_grantable FROM aclexplode(acl) y
             EXCEPT SELECT x.grantee, x.privilege_type, x.is_grantable FROM aclexplode(current_acl) x LOOP
        EXECUTE format('GRANT %s ON %s TO %s%s', e.privilege_type, rel,
                       CASE WHEN e.grantee = 0 THEN 'PUBLIC' ELSE quote_ident(e.grantee::regrole::text) END,
                       CASE WHEN e.is_grantable THEN ' WITH GRANT OPTION' ELSE '' END);
    END LOOP;
END
$$;
COMMENT ON FUNCTION customer_profile._relation_acl_restore(regclass, aclitem[]) IS
    'Internal: gives a re-created view the privileges it had.';
REVOKE ALL ON FUNCTION customer_profile._relation_acl_restore(regclass, aclitem[]) FROM PUBLIC;

-- Regenerates profiles_wide without touching what users built on it: the
-- existing columns keep their places, new traits come last, so in the
-- common case (a new trait, a new policy) CREATE OR REPLACE VIEW suffices.
-- A column whose trait is gone stays while a view reads it. When a column
-- must change type or go, the views on profiles_wide (and on them) are
-- saved, dropped and created again as they were: definition, options,
-- owner, privileges, comments; one that cannot follow the change stops it
-- (2BP01, naming the view) and nothing changes.
CREATE OR REPLACE FUNCTION customer_profile._profiles_wide_rebuild() RETURNS void
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    wide oid;
    names text[] := '{}';
    types text[] := '{}';
    in_place boolean := true;
    body text := 'SELECT u.profile_id';
    a record;
    d record;
    v record;
    dependents jsonb;
    wide_acl aclitem[];
    blocker text;
BEGIN
    -- One rebuild at a time: each reads the view it replaces.
    PERFORM pg_advisory_xact_lock(hashtext('customer_profile.profiles_wide'));
    wide := to_regclass('customer_profile.profiles_wide');
    IF wide IS NOT NULL THEN
        FOR a IN SELECT c.attname::text AS name, format_type(c.atttypid, c.atttypmod) AS type, t.type AS trait_type,
                        EXISTS (SELECT 1 FROM pg_depend p JOIN pg_rewrite r ON r.oid = p.objid
                                 WHERE p.classid = 'pg_rewrite'::regclass AND p.refclassid = 'pg_class'::regclass
                                   AND p.refobjid = wide AND p.refobjsubid = c.attnum AND r.ev_class <> wide) AS read
                   FROM pg_attribute c
                   LEFT JOIN customer_profile.trait_definition t ON t.name = c.attname::text
                  WHERE c.attrelid = wide AND c.attnum > 1 AND NOT c.attisdropped
                  ORDER BY c.attnum LOOP
            IF a.trait_type IS NOT NULL THEN
                names := names || a.name;
                types := types || customer_profile._trait_column_type(a.trait_type);
                in_place := in_place AND a.type = customer_profile._trait_column_type(a.trait_type);
            ELSIF a.read THEN
                names := names || a.name;  -- no longer declared, still read by a view
                types := types || a.type;
            ELSE
                in_place := false;
            END IF;
        END LOOP;
    END IF;
    FOR d IN SELECT t.name, t.type FROM customer_profile.trait_definition t
              WHERE t.name <> 'profile_id' AND t.name <> ALL (names) ORDER BY t.created_at, t.name LOOP
        names := names || d.name;
        types := types || customer_profile._trait_column_type(d.type);
    END LOOP;
    FOR i IN 1 .. coalesce(array_length(names, 1), 0) LOOP
        body := body || ', ' || customer_profile._profiles_wide_column(names[i], types[i]);
    END LOOP;
    body := body || ' FROM customer_profile.unified_profile u';

    IF wide IS NULL THEN
        EXECUTE 'CREATE VIEW customer_profile.profiles_wide AS ' || body;
    ELSIF in_place THEN
        EXECUTE 'CREATE OR REPLACE VIEW customer_profile.profiles_wide AS ' || body;
    ELSE
        -- Every view on profiles_wide, directly or through other views, deepest last.
        WITH RECURSIVE dep(oid, depth) AS (
            SELECT r.ev_class, 1 FROM pg_depend p JOIN pg_rewrite r ON r.oid = p.objid
             WHERE p.classid = 'pg_rewrite'::regclass AND p.refclassid = 'pg_class'::regclass
               AND p.refobjid = wide AND r.ev_class <> wide
            UNION
            SELECT r.ev_class, dep.depth + 1 FROM dep
              JOIN pg_depend p ON p.refobjid = dep.oid AND p.classid = 'pg_rewrite'::regclass
                              AND p.refclassid = 'pg_class'::regclass
              JOIN pg_rewrite r ON r.oid = p.objid AND r.ev_class <> dep.oid)
        SELECT jsonb_agg(jsonb_build_object(
                   'view', x.oid::regclass::text, 'kind', c.relkind, 'owner', c.relowner::regrole::text,
                   'definition', rtrim(pg_get_viewdef(x.oid), '; ' || chr(10)),
                   'options', coalesce(array_to_string(c.reloptions, ', '), ''), 'acl', c.relacl::text[],
                   'comment', obj_description(x.oid, 'pg_class'),
                   'columns', (SELECT coalesce(jsonb_object_agg(t.attname, col_description(x.oid, t.attnum)), '{}')
                                 FROM pg_attribute t WHERE t.attrelid = x.oid AND t.attnum > 0
                                  AND col_description(x.oid, t.attnum) IS NOT NULL),
                   'extra', EXISTS (SELECT 1 FROM pg_trigger g WHERE g.tgrelid = x.oid)
                            OR EXISTS (SELECT 1 FROM pg_rewrite w WHERE w.ev_class = x.oid AND w.rulename <> '_RETURN')
                            OR EXISTS (SELECT 1 FROM pg_attrdef f WHERE f.adrelid = x.oid))
                 ORDER BY x.depth, x.oid)
          INTO dependents
          FROM (SELECT dep.oid, max(dep.depth) AS depth FROM dep GROUP BY dep.oid) x JOIN pg_class c ON c.oid = x.oid;
        SELECT string_agg(e ->> 'view', ', ') INTO blocker FROM jsonb_array_elements(dependents) e
         WHERE e ->> 'kind' <> 'v' OR (e ->> 'extra')::boolean;
        IF blocker IS NOT NULL THEN
            RAISE EXCEPTION 'profiles_wide must be created again for this trait change, and % cannot be re-created automatically', blocker
                USING ERRCODE = 'dependent_objects_still_exist',
                      HINT = 'Materialized views, and views with triggers, rules or column defaults, must be dropped before the change and created again after it.';
        END IF;
        FOR v IN SELECT j.e FROM jsonb_array_elements(coalesce(dependents, '[]')) WITH ORDINALITY AS j(e, n) ORDER BY j.n DESC LOOP
            EXECUTE format('DROP VIEW %s', v.e ->> 'view');
        END LOOP;
        SELECT c.relacl INTO wide_acl FROM pg_class c WHERE c.oid = wide;
        DROP VIEW customer_profile.profiles_wide;  -- RESTRICT: another kind of dependent names itself here
        EXECUTE 'CREATE VIEW customer_profile.profiles_wide AS ' || body;
        PERFORM customer_profile._relation_acl_restore('customer_profile.profiles_wide', wide_acl);
        FOR v IN SELECT j.e FROM jsonb_array_elements(coalesce(dependents, '[]')) WITH ORDINALITY AS j(e, n) ORDER BY j.n LOOP
            BEGIN
                EXECUTE format('CREATE VIEW %s%s AS %s', v.e ->> 'view',
                               CASE WHEN v.e ->> 'options' <> '' THEN ' WITH (' || (v.e ->> 'options') || ')' ELSE '' END,
                               v.e ->> 'definition');
            EXCEPTION WHEN OTHERS THEN
                RAISE EXCEPTION 'view % reads profiles_wide and cannot follow this trait change: %', v.e ->> 'view', SQLERRM
                    USING ERRCODE = 'dependent_objects_still_exist',
                          HINT = 'Drop the view, change the trait, then create the view again.';
            END;
            IF EXISTS (SELECT 1 FROM pg_depend p WHERE p.classid = 'pg_class'::regclass
                          AND p.objid = (v.e ->> 'view')::regclass AND p.deptype = 'e') THEN
                EXECUTE format('ALTER EXTENSION customer_profile DROP VIEW %s', v.e ->> 'view');  -- a user's view
            END IF;
            EXECUTE format('ALTER VIEW %s OWNER TO %s', v.e ->> 'view', v.e ->> 'owner');
            PERFORM customer_profile._relation_acl_restore(
                (v.e ->> 'view')::regclass,
                CASE WHEN jsonb_typeof(v.e -> 'acl') = 'array'
                     THEN ARRAY(SELECT x::aclitem FROM jsonb_array_elements_text(v.e -> 'acl') x) END);
            EXECUTE format('COMMENT ON VIEW %s IS %L', v.e ->> 'view', v.e ->> 'comment');
            FOR d IN SELECT x.k, x.c FROM jsonb_each_text(v.e -> 'columns') AS x(k, c) LOOP
                EXECUTE format('COMMENT ON COLUMN %s.%I IS %L', v.e ->> 'view', d.k, d.c);
            END LOOP;
        END LOOP;
    END IF;
    -- Never a member, even when an extension script runs this.
    IF EXISTS (SELECT 1 FROM pg_depend p WHERE p.classid = 'pg_class'::regclass
                  AND p.objid = 'customer_profile.profiles_wide'::regclass AND p.deptype = 'e') THEN
        ALTER EXTENSION customer_profile DROP VIEW customer_profile.profiles_wide;
    END IF;
    PERFORM customer_profile._depend_on_extension('customer_profile.profiles_wide');
    COMMENT ON VIEW customer_profile.profiles_wide IS
        'One row per profile, one typed column per declared trait, in declaration order (a new trait is a new last column); views built on it survive trait definitions, pg_dump and pg_restore.';
    COMMENT ON COLUMN customer_profile.profiles_wide.profile_id IS 'The profile.';
    FOR d IN SELECT c.attname::text AS name, t.type, t.policy FROM pg_attribute c
               LEFT JOIN customer_profile.trait_definition t ON t.name = c.attname::text
              WHERE c.attrelid = 'customer_profile.profiles_wide'::regclass AND c.attnum > 1 AND NOT c.attisdropped LOOP
        EXECUTE format('COMMENT ON COLUMN customer_profile.profiles_wide.%I IS %L', d.name,
                       CASE WHEN d.type IS NULL THEN 'No longer a declared trait: kept while a view reads this column.'
                            ELSE format('Trait %s (%s, policy %s).', d.name, d.type, d.policy) END);
    END LOOP;
END
$$;
COMMENT ON FUNCTION customer_profile._profiles_wide_rebuild() IS
    'Internal: brings profiles_wide in line with the trait definitions, keeping the views built on it (profiles_wide_refresh grants it).';

-- The update: an install without traits and without views on profiles_wide
-- (a fresh one) has none from now on; otherwise it is brought to this
-- version's form (column comments) while it is still a member, which an
-- extension script may replace, and leaves the extension.
DO $wide$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM customer_profile.trait_definition)
       AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend d JOIN pg_catalog.pg_rewrite r ON r.oid = d.objid
                        WHERE d.classid = 'pg_catalog.pg_rewrite'::pg_catalog.regclass
                          AND d.refobjid = 'customer_profile.profiles_wide'::pg_catalog.regclass
                          AND r.ev_class <> d.refobjid) THEN
        ALTER EXTENSION customer_profile DROP VIEW customer_profile.profiles_wide;
        DROP VIEW customer_profile.profiles_wide;
    ELSE
        PERFORM customer_profile._profiles_wide_rebuild();
    END IF;
END
$wide$;

-- At restore, the dumped profiles_wide is created before the trait
-- definitions arrive; pg_dump does not dump its dependency on the
-- extension, so the definitions' arrival records it again.
CREATE FUNCTION customer_profile._profiles_wide_restored() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF to_regclass('customer_profile.profiles_wide') IS NOT NULL THEN
        PERFORM customer_profile._depend_on_extension('customer_profile.profiles_wide');
    END IF;
    RETURN NULL;
END
$$;
COMMENT ON FUNCTION customer_profile._profiles_wide_restored() IS
    'Internal trigger: a restored profiles_wide is dropped with the extension again.';
REVOKE ALL ON FUNCTION customer_profile._profiles_wide_restored() FROM PUBLIC;
CREATE TRIGGER trait_definition_wide_view AFTER INSERT ON customer_profile.trait_definition
    FOR EACH STATEMENT EXECUTE FUNCTION customer_profile._profiles_wide_restored();
COMMENT ON FUNCTION customer_profile.profiles_wide_refresh() IS
    'Brings profiles_wide in line with the trait definitions (trait_define calls it), keeping the views built on it.';

-- ===========================================================================
-- Predicates that could never match are refused or compared correctly
-- (defect 10).
-- ===========================================================================

-- Typed event properties. A where filter reads an event's properties from
-- JSON, which has no timestamps: `stay > timestamp '...'` on an undeclared
-- property could never be true. A declared property is read as its type (an
-- ISO 8601 text as a timestamp, a decimal string as a number); comparing an
-- undeclared one with a timestamp is refused at creation
-- (segment_predicate_check).
CREATE TABLE customer_profile.event_property (
    event_type text NOT NULL,
    property text NOT NULL CHECK (octet_length(property) BETWEEN 1 AND 63),
    type text NOT NULL CHECK (type IN ('number', 'text', 'timestamp', 'boolean')),
    defined_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (event_type, property)
);
COMMENT ON TABLE customer_profile.event_property IS
    'Declared types of event properties (event_property_define): where filters of count/sum read them as that type.';
COMMENT ON COLUMN customer_profile.event_property.event_type IS 'The event type whose property this is.';
COMMENT ON COLUMN customer_profile.event_property.property IS 'The property name, a key of the event''s properties.';
COMMENT ON COLUMN customer_profile.event_property.type IS 'number, text, timestamp or boolean.';
COMMENT ON COLUMN customer_profile.event_property.defined_at IS 'When the type was declared or last changed.';
CREATE TRIGGER event_property_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE
    ON customer_profile.event_property FOR EACH STATEMENT EXECUTE FUNCTION customer_profile._catalog_changed();
SELECT pg_catalog.pg_extension_config_dump('customer_profile.event_property', '');
GRANT SELECT ON customer_profile.event_property TO customer_profile_reader;
GRANT SELECT, INSERT, UPDATE, DELETE ON customer_profile.event_property TO customer_profile_admin;

-- The names of the segments whose predicate passes the type check now.
CREATE FUNCTION customer_profile._segments_well_typed() RETURNS text[]
    LANGUAGE plpgsql STABLE
    SET search_path = pg_catalog, pg_temp
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
COMMENT ON FUNCTION customer_profile._segments_well_typed() IS
    'Internal: the segments whose predicate passes segment_predicate_check() against the current declarations.';

CREATE FUNCTION customer_profile.event_property_define(event_type text, property text, type text) RETURNS void
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    before text[];
    s record;
    msg text;
BEGIN
    IF event_type IS NULL OR property IS NULL OR type IS NULL THEN
        RAISE EXCEPTION 'event_property_define: event type, property and type are required'
            USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF event_type = '' OR octet_length(event_type) > 200 OR event_type ~ '[[:cntrl:]]' THEN
        RAISE EXCEPTION 'invalid event type %', quote_literal(left(event_type, 40))
            USING ERRCODE = 'invalid_parameter_value', HINT = '1 to 200 bytes, no control characters.';
    END IF;
    IF property = '' OR octet_length(property) > 63 OR property ~ '[[:cntrl:]]' THEN
        RAISE EXCEPTION 'invalid property name %', quote_literal(left(property, 40))
            USING ERRCODE = 'invalid_parameter_value', HINT = '1 to 63 bytes, no control characters.';
    END IF;
    IF type NOT IN ('number', 'text', 'timestamp', 'boolean') THEN
        RAISE EXCEPTION 'unknown event property type %', quote_literal(left(type, 40))
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Event property types are number, text, timestamp and boolean.';
    END IF;
    IF type <> 'number' AND EXISTS (SELECT 1 FROM customer_profile.event_measure m
                                     WHERE m.event_type = event_property_define.event_type
                                       AND m.property = event_property_define.property) THEN
        RAISE EXCEPTION 'property "%" of event type "%" is a measure, so it is a number', property, event_type
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Measures are summed as numbers: declare it as number, or use another property.';
    END IF;
    IF EXISTS (SELECT 1 FROM customer_profile.event_property p
                WHERE p.event_type = event_property_define.event_type
                  AND p.property = event_property_define.property AND p.type = event_property_define.type) THEN
        RETURN;  -- declared so already
    END IF;
    -- A new or changed type must not break a segment that reads the
    -- property: check them all before and after (segments are few).
    before := customer_profile._segments_well_typed();
    INSERT INTO customer_profile.event_property AS p (event_type, property, type)
    VALUES (event_property_define.event_type, event_property_define.property, event_property_define.type)
    ON CONFLICT ON CONSTRAINT event_property_pkey DO UPDATE SET type = EXCLUDED.type, defined_at = now();
    FOR s IN SELECT g.name, g.predicate FROM customer_profile.segment g WHERE g.name = ANY (before) ORDER BY g.name LOOP
        BEGIN
            PERFORM customer_profile.segment_predicate_check(s.predicate);
        EXCEPTION WHEN invalid_parameter_value THEN
            GET STACKED DIAGNOSTICS msg = MESSAGE_TEXT;
            RAISE EXCEPTION 'declaring property "%" of event type "%" as % would break segment "%": %',
                            property, event_type, type, s.name, msg
                USING ERRCODE = 'invalid_parameter_value',
                      HINT = 'Change or drop that segment first (segment_alter, segment_drop).';
        END;
    END LOOP;
END
$$;
COMMENT ON FUNCTION customer_profile.event_property_define(text, text, text) IS
    'Declares the type of an event property (number, text, timestamp or boolean): where filters of count/sum then read it as that type, e.g. an ISO 8601 date as a timestamp.';
REVOKE ALL ON FUNCTION customer_profile.event_property_define(text, text, text),
              customer_profile._segments_well_typed() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION customer_profile._segments_well_typed() TO customer_profile_reader;
GRANT EXECUTE ON FUNCTION customer_profile.event_property_define(text, text, text),
                          customer_profile._segments_well_typed() TO customer_profile_admin;

-- A measure is summed as a number: a property declared with another type
-- cannot become one.
CREATE OR REPLACE FUNCTION customer_profile.event_measure_define(event_type text, property text) RETURNS void
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    declared text;
BEGIN
    IF event_type IS NULL OR property IS NULL THEN
        RAISE EXCEPTION 'event_measure_define: event type and property are required'
            USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF event_type = '' OR octet_length(event_type) > 200 OR event_type ~ '[[:cntrl:]]' THEN
        RAISE EXCEPTION 'invalid event type %', quote_literal(left(event_type, 40))
            USING ERRCODE = 'invalid_parameter_value', HINT = '1 to 200 bytes, no control characters.';
    END IF;
    IF property = '' OR octet_length(property) > 63 OR property ~ '[[:cntrl:]]' THEN
        RAISE EXCEPTION 'invalid property name %', quote_literal(left(property, 40))
            USING ERRCODE = 'invalid_parameter_value', HINT = '1 to 63 bytes, no control characters.';
    END IF;
    SELECT p.type INTO declared FROM customer_profile.event_property p
     WHERE p.event_type = event_measure_define.event_type AND p.property = event_measure_define.property;
    IF declared IS NOT NULL AND declared <> 'number' THEN
        RAISE EXCEPTION 'property "%" of event type "%" is declared as %, not as a number', property, event_type, declared
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'A measure is summed as a number: declare the property as number first (event_property_define).';
    END IF;
    INSERT INTO customer_profile.event_measure AS m (event_type, property)
    VALUES (event_measure_define.event_type, event_measure_define.property)
    ON CONFLICT ON CONSTRAINT event_measure_pkey DO NOTHING;
END
$$;

-- One declared event property read as its type, for the equivalent SQL of
-- segment_explain: _event_property(e.properties -> 'stay', NULL::timestamptz).
CREATE FUNCTION customer_profile._event_property(value jsonb, as_type anyelement) RETURNS anyelement
    AS 'MODULE_PATHNAME', 'cp_event_property' LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION customer_profile._event_property(jsonb, anyelement) IS
    'Internal: an event property value read as the type of as_type (float8, text, boolean, timestamptz) as where filters read declared properties; NULL when it does not convert.';
REVOKE ALL ON FUNCTION customer_profile._event_property(jsonb, anyelement) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION customer_profile._event_property(jsonb, anyelement)
    TO customer_profile_reader, customer_profile_admin;

-- The equivalent SQL reads names by their declared types (a text[] trait
-- compared with = / <> / IN tests containment; a declared event property
-- goes through _event_property) and runs ILIKE under COLLATE "und-x-icu",
-- as the evaluator folds case: it reads the catalog, so STABLE.
CREATE OR REPLACE FUNCTION customer_profile._segment_predicate_sql(predicate customer_profile.segment_predicate)
    RETURNS text
    AS 'MODULE_PATHNAME', 'cp_segment_predicate_sql' LANGUAGE C STABLE STRICT PARALLEL SAFE;

-- Segments stored by 1.5 that the checks of 1.6 would have refused are kept
-- (they may be fixed with event_property_define or segment_alter), and named
-- in a warning: a predicate comparing an undeclared event property with a
-- timestamp, or one reading a lower-case name where only a mixed-case trait
-- exists (an unquoted lastVisit was folded to lastvisit).
DO $upgrade$
DECLARE
    s record;
    msg text;
    folded text;
BEGIN
    FOR s IN SELECT g.name, g.predicate FROM customer_profile.segment g ORDER BY g.name LOOP
        BEGIN
            PERFORM customer_profile.segment_predicate_check(s.predicate);
        EXCEPTION WHEN invalid_parameter_value THEN
            GET STACKED DIAGNOSTICS msg = MESSAGE_TEXT;
            RAISE WARNING 'segment "%" does not pass the type check of version 1.6: %', s.name, msg
                USING HINT = 'Fix it with segment_alter(), or declare the event property with event_property_define().';
        END;
    END LOOP;
    FOR s IN
        WITH mixed AS (
            SELECT d.name FROM customer_profile.trait_definition d WHERE d.name <> lower(d.name)
            UNION SELECT DISTINCT o.trait FROM customer_profile.trait_observation o WHERE o.trait <> lower(o.trait)),
        reads AS (
            SELECT g.name AS segment, r.value #>> '{}' AS trait
              FROM customer_profile.segment g,
                   jsonb_path_query(customer_profile._segment_predicate_tree(g.predicate),
                                    'strict $.**.trait') AS r(value)
            UNION
            SELECT g.name, r.value #>> '{}'
              FROM customer_profile.segment g,
                   jsonb_path_query(customer_profile._segment_predicate_tree(g.predicate),
                                    'strict $.**.has') AS r(value))
        SELECT r.segment, r.trait, string_agg(DISTINCT m.name, ', ') AS spelled
          FROM reads r JOIN mixed m ON lower(m.name) = r.trait
         WHERE NOT EXISTS (SELECT 1 FROM mixed x WHERE x.name = r.trait)
           AND NOT EXISTS (SELECT 1 FROM customer_profile.trait_definition d WHERE d.name = r.trait)
         GROUP BY r.segment, r.trait ORDER BY 1, 2
    LOOP
        RAISE WARNING 'segment "%" reads trait %, but only % exists: an unquoted name was folded to lower case',
                      s.segment, s.trait, s.spelled
            USING HINT = pg_catalog.format('Write the name in double quotes in the predicate, e.g. "%s", and segment_alter() it.',
                                           split_part(s.spelled, ', ', 1));
    END LOOP;
END
$upgrade$;

-- ===========================================================================
-- Workers: a database that does not exist yet is logged once, then retried
-- with back-off (defect 14).
-- ===========================================================================

-- ===========================================================================
-- Upgrades end where a fresh install starts: drift found by comparing their
-- definitions (defect 12, sql/upgrade.sql).
-- ===========================================================================

-- 1.5 granted ALL ON ALL TABLES to customer_profile_admin, which reached the
-- event partitions that existed then (created since 1.2) but none created
-- later, nor any of a fresh install: the admin reads events through
-- customer_profile.event, whose grants apply to every partition. ALL
-- included TRIGGER, a row trigger on a partition fires for rows inserted
-- through the parent.
DO $partitions$
DECLARE
    part regclass;
BEGIN
    IF EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = 'customer_profile_admin') THEN
        FOR part IN SELECT i.inhrelid::regclass FROM pg_catalog.pg_inherits i
                     WHERE i.inhparent = 'customer_profile.event'::regclass LOOP
            EXECUTE pg_catalog.format('REVOKE ALL ON TABLE %s FROM customer_profile_admin', part);
        END LOOP;
    END IF;
END
$partitions$;

-- ===========================================================================
-- Least privilege (issue 14): no role gets ALL; the catalogs are written only
-- through the extension's functions; internal functions are no oracle; the
-- worker runs as a role of its own. sql/privileges.sql lists every privilege
-- granted here, docs/security.md gives the reason for each. This section
-- comes last: functions replaced above get their attributes and grants here.
-- ===========================================================================

-- Defect 1: GRANT ALL ON ALL TABLES (1.5) gave the admin TRIGGER on every
-- table of the extension: its own trigger function on event_key ran inside
-- the worker (the bootstrap superuser) and inside any superuser's call of an
-- extension function. ALL also held TRUNCATE (which fires no DELETE trigger:
-- the admin could empty identity and leave profiles, memberships and the
-- outbox inconsistent) and REFERENCES. Every privilege is granted by name now.
REVOKE ALL ON ALL TABLES IN SCHEMA customer_profile FROM customer_profile_admin;
REVOKE ALL ON ALL SEQUENCES IN SCHEMA customer_profile FROM customer_profile_admin;
-- The admin reads the definitions and writes the data tables as a writer
-- (it is one); it writes the definitions only through the functions below.
-- Two reads of its own: the erasure log, and the settings but the salt.
GRANT SELECT ON customer_profile.erasure TO customer_profile_admin;
GRANT SELECT (max_identities_per_profile, default_phone_region) ON customer_profile.settings
    TO customer_profile_admin;

-- The writer used every sequence (1.5); it needs those of the serial columns
-- it fills (identity columns take their values without a privilege check).
REVOKE ALL ON ALL SEQUENCES IN SCHEMA customer_profile FROM customer_profile_writer;
GRANT USAGE ON SEQUENCE customer_profile.unified_profile_profile_id_seq, customer_profile.identity_identity_id_seq,
    customer_profile.profile_split_split_id_seq, customer_profile.identity_conflict_conflict_id_seq
    TO customer_profile_writer;

-- profiles_wide is replaced with every trait definition: its grants are
-- given again each time, SELECT to the reader (the admin reads it as one).
CREATE OR REPLACE FUNCTION customer_profile.profiles_wide_refresh() RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    PERFORM customer_profile._profiles_wide_rebuild();
    GRANT SELECT ON customer_profile.profiles_wide TO customer_profile_reader;
    -- Its row type, too, is nobody's to pin in a column (review of issue 14).
    REVOKE USAGE ON TYPE customer_profile.profiles_wide FROM PUBLIC;
END
$$;

-- Types are usable by PUBLIC by default: not these. USAGE lets a role create
-- objects of the type (a reader's materialized view of profiles); using
-- values of it (casts, columns of views) needs none.
REVOKE USAGE ON TYPE customer_profile.profile, customer_profile.segment_predicate FROM PUBLIC;
GRANT USAGE ON TYPE customer_profile.profile, customer_profile.segment_predicate TO customer_profile_reader;

-- The catalogs (settings, namespace, trait_definition, event_measure,
-- event_property, segment, attached_table, value_measure, feature and what
-- feature_build and profile_cluster derive, the erasure log) are written
-- only through these functions, which run as the extension's owner. Each is
-- executable by the admin alone and checks its arguments itself (an admin
-- writing namespace or attached_table directly skipped those checks); each
-- pins search_path and quotes every name it puts into SQL.
ALTER FUNCTION customer_profile.identity_namespace_create(text, text, boolean, integer, integer, boolean, text[], text[])
    SECURITY DEFINER;
ALTER FUNCTION customer_profile.identity_namespace_alter(text, boolean, integer, integer, text[], text[]) SECURITY DEFINER;
ALTER FUNCTION customer_profile.trait_define(text, text, text, text[]) SECURITY DEFINER;
ALTER FUNCTION customer_profile.event_measure_define(text, text) SECURITY DEFINER;
ALTER FUNCTION customer_profile.event_property_define(text, text, text) SECURITY DEFINER;
ALTER FUNCTION customer_profile.segment_create(text, text, text) SECURITY DEFINER;
ALTER FUNCTION customer_profile.segment_alter(text, text, text) SECURITY DEFINER;
ALTER FUNCTION customer_profile.segment_drop(text) SECURITY DEFINER;
ALTER FUNCTION customer_profile.segment_refresh(text) SECURITY DEFINER;
ALTER FUNCTION customer_profile.value_define(text, text) SECURITY DEFINER;
ALTER FUNCTION customer_profile.value_drop(text, text) SECURITY DEFINER;
ALTER FUNCTION customer_profile.feature_define(text, text, text) SECURITY DEFINER;
ALTER FUNCTION customer_profile.feature_drop(text) SECURITY DEFINER;
ALTER FUNCTION customer_profile.feature_build() SECURITY DEFINER;
ALTER FUNCTION customer_profile.profile_cluster(integer, text[], bigint) SECURITY DEFINER;
ALTER FUNCTION customer_profile.profile_forget(text, text) SECURITY DEFINER;

-- The settings but the salt, which never changes through a function (every
-- stored hash depends on it).
CREATE FUNCTION customer_profile.settings_alter(max_identities_per_profile integer DEFAULT NULL,
                                                default_phone_region text DEFAULT NULL)
    RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF max_identities_per_profile IS NOT NULL AND max_identities_per_profile < 1 THEN
        RAISE EXCEPTION 'max_identities_per_profile must be at least 1' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF default_phone_region IS NOT NULL AND NOT customer_profile._phone_region_valid(default_phone_region) THEN
        RAISE EXCEPTION 'unknown phone region %', quote_literal(left(default_phone_region, 16))
            USING ERRCODE = 'invalid_parameter_value', HINT = 'A two-letter region code such as US or DE.';
    END IF;
    UPDATE customer_profile.settings s
       SET max_identities_per_profile = coalesce(settings_alter.max_identities_per_profile, s.max_identities_per_profile),
           default_phone_region = coalesce(settings_alter.default_phone_region, s.default_phone_region);
END
$$;
COMMENT ON FUNCTION customer_profile.settings_alter(integer, text) IS
    'Changes the per-database identity settings (NULL keeps a value): the cap of identifiers per profile and the region of phone numbers written without a country code. The salt cannot be changed.';

-- Defect 2: the admin could rewrite attached_table to map another column
-- (an ssn) to a trait, and the attach trigger, running as the extension's
-- owner, copied it into profiles. Now the attaching role is recorded, it
-- must be allowed to create the trigger on the table (own it, or hold
-- TRIGGER) and to SELECT every mapped column (checked as itself, by
-- _attached_table_insert, before the row is written as the owner), and the
-- trigger checks on every row that it still may.
-- By name, not regrole: a dump restored into a cluster where the role is
-- missing keeps the attachment (its rows are refused until the role exists).
ALTER TABLE customer_profile.attached_table ADD COLUMN attached_by name;
COMMENT ON COLUMN customer_profile.attached_table.attached_by IS
    'The role that attached the table: its mapped columns flow only while it exists and may SELECT each of them.';
-- Tables attached before 1.6: their owner (who did attach is not known).
-- Rows of tables dropped since are forgotten (they were not dumped either).
DELETE FROM customer_profile.attached_table a WHERE NOT EXISTS (SELECT 1 FROM pg_catalog.pg_class c WHERE c.oid = a.table_oid);
UPDATE customer_profile.attached_table a SET attached_by = pg_catalog.pg_get_userbyid(c.relowner)
  FROM pg_catalog.pg_class c WHERE c.oid = a.table_oid;
ALTER TABLE customer_profile.attached_table ALTER COLUMN attached_by SET NOT NULL;

-- The row type gained a column: the function returning it is defined again.
CREATE OR REPLACE FUNCTION customer_profile._attached_config(rel regclass) RETURNS customer_profile.attached_table
    LANGUAGE sql STABLE
    BEGIN ATOMIC
        SELECT a.*
          FROM (SELECT rel, 0::bigint   -- pg_partition_ancestors() is empty for a table that is no partition
                UNION ALL
                SELECT p.relid, p.depth FROM pg_catalog.pg_partition_ancestors(rel) WITH ORDINALITY AS p(relid, depth))
               AS t(relid, depth)
          JOIN customer_profile.attached_table a ON a.table_oid = t.relid
         ORDER BY t.depth
         LIMIT 1;
    END;

CREATE FUNCTION customer_profile._attached_table_insert(tbl regclass, source text, identity_columns jsonb,
                                                        trait_columns jsonb)
    RETURNS void
    AS 'MODULE_PATHNAME', 'cp_attached_table_insert' LANGUAGE C VOLATILE;
COMMENT ON FUNCTION customer_profile._attached_table_insert(regclass, text, jsonb, jsonb) IS
    'Internal: records an attachment (as the extension''s owner) once the calling role was found allowed to create triggers on the table and to SELECT every mapped column (42501 otherwise).';

-- The first mapped column of an attached table that the role which attached
-- it may not SELECT (now; every column when the role is gone), NULL when it
-- may read them all.
CREATE FUNCTION customer_profile._attached_unreadable_column(config customer_profile.attached_table) RETURNS text
    LANGUAGE sql STABLE
    SET search_path = pg_catalog, pg_temp
    BEGIN ATOMIC
        SELECT a.attname::text
          FROM (SELECT m.value #>> '{}' AS col FROM pg_catalog.jsonb_each(config.identity_columns) m
                UNION
                SELECT m.value #>> '{}' FROM pg_catalog.jsonb_each(config.trait_columns) m) c
          JOIN pg_catalog.pg_attribute a ON a.attrelid = config.table_oid AND a.attname = c.col AND a.attnum > 0
                                        AND NOT a.attisdropped
         WHERE CASE WHEN EXISTS (SELECT 1 FROM pg_catalog.pg_roles r WHERE r.rolname = config.attached_by)
                    THEN NOT pg_catalog.has_column_privilege(config.attached_by, config.table_oid::oid, a.attnum, 'SELECT')
                    ELSE true END
         ORDER BY a.attnum
         LIMIT 1;
    END;
COMMENT ON FUNCTION customer_profile._attached_unreadable_column(customer_profile.attached_table) IS
    'Internal: the first mapped column that the role which attached the table may no longer SELECT, NULL when it may read them all.';

-- The trigger refuses a row (42501, so the write fails and nothing flows
-- unseen) once the attaching role lost SELECT on a mapped column: its values
-- would reach profiles through the trigger, which runs as the owner.
CREATE OR REPLACE FUNCTION customer_profile._attached_row_changed() RETURNS trigger
    LANGUAGE plpgsql
    SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    config customer_profile.attached_table;
    denied text;
    row_sql text;
    old_json jsonb;
    new_json jsonb;
BEGIN
    config := customer_profile._attached_config(TG_RELID);
    IF config.table_oid IS NULL THEN
        RETURN NULL;
    END IF;
    denied := customer_profile._attached_unreadable_column(config);
    IF denied IS NOT NULL AND NOT EXISTS (SELECT 1 FROM pg_roles r WHERE r.rolname = config.attached_by) THEN
        RAISE EXCEPTION 'role %, which attached table %, does not exist', config.attached_by, config.table_oid
            USING ERRCODE = 'insufficient_privilege',
                  DETAIL = 'The values of the mapped columns flow into profiles only while the role that attached the table may read them.',
                  HINT = 'Detach the table (customer_profile.profile_detach_table) and attach it again.';
    ELSIF denied IS NOT NULL THEN
        RAISE EXCEPTION 'role % attached table %, but may not read its column "%"', config.attached_by,
                        config.table_oid, denied
            USING ERRCODE = 'insufficient_privilege',
                  DETAIL = 'The values of the mapped columns flow into profiles only while the role that attached the table may read them.',
                  HINT = 'Grant it SELECT on the column again, or detach the table (customer_profile.profile_detach_table) and attach it again.';
    END IF;
    row_sql := 'SELECT ' || customer_profile._attached_row_expr(config, TG_RELID, '($1)');
    IF TG_OP IN ('DELETE', 'UPDATE') THEN
        EXECUTE row_sql INTO old_json USING OLD;
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        EXECUTE row_sql INTO new_json USING NEW;
    END IF;
    IF TG_OP IN ('DELETE', 'UPDATE') THEN
        IF TG_OP = 'DELETE' OR customer_profile._attached_row(config, old_json) IS DISTINCT FROM
                               customer_profile._attached_row(config, new_json) THEN
            PERFORM customer_profile._attached_withdraw(config, old_json);
        END IF;
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        PERFORM customer_profile._attached_apply(config, new_json);
    END IF;
    RETURN NULL;
END
$$;

-- Attaching: as before, the row recorded by _attached_table_insert (which
-- checks the caller's rights), then the trigger created and the rows read as
-- the caller.
CREATE OR REPLACE FUNCTION customer_profile.profile_attach_table(tbl regclass, source text, identity_columns jsonb,
                                                                 trait_columns jsonb DEFAULT '{}',
                                                                 batch_size integer DEFAULT 1000)
    RETURNS bigint
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    config customer_profile.attached_table;
    mapping record;
    other regclass;
BEGIN
    IF tbl IS NULL OR source IS NULL OR identity_columns IS NULL OR trait_columns IS NULL THEN
        RAISE EXCEPTION 'table, source, identity_columns and trait_columns must not be NULL'
            USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF jsonb_typeof(identity_columns) <> 'object' OR identity_columns = '{}' THEN
        RAISE EXCEPTION 'identity_columns must be a non-empty object of namespace -> column'
            USING ERRCODE = 'invalid_parameter_value', HINT = 'Example: {"crm_id": "id", "email": "email"}';
    END IF;
    IF jsonb_typeof(trait_columns) <> 'object' THEN
        RAISE EXCEPTION 'trait_columns must be an object of trait -> column' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF source = '' OR length(source) > 200 THEN
        RAISE EXCEPTION 'source must be 1 to 200 characters' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF EXISTS (SELECT 1 FROM customer_profile.attached_table a WHERE a.table_oid = tbl) THEN
        RAISE EXCEPTION 'table % is already attached', tbl USING ERRCODE = 'duplicate_object';
    END IF;
    other := (customer_profile._attached_config(tbl)).table_oid;
    IF other IS NOT NULL THEN
        RAISE EXCEPTION 'table % is a partition of %, which is attached', tbl, other
            USING ERRCODE = 'duplicate_object', HINT = 'Its rows already flow in; a row must flow in once.';
    END IF;
    SELECT a.table_oid INTO other
      FROM pg_catalog.pg_partition_tree(tbl) t
      JOIN customer_profile.attached_table a ON a.table_oid = t.relid
     ORDER BY t.level, t.relid::oid
     LIMIT 1;
    IF other IS NOT NULL THEN
        RAISE EXCEPTION 'partition % of % is attached', other, tbl
            USING ERRCODE = 'duplicate_object', HINT = 'Detach the partition first; a row must flow in once.';
    END IF;
    FOR mapping IN SELECT 'identity' AS kind, key, value FROM jsonb_each(identity_columns)
                   UNION ALL SELECT 'trait', key, value FROM jsonb_each(trait_columns) LOOP
        IF jsonb_typeof(mapping.value) <> 'string' THEN
            RAISE EXCEPTION '% "%" must map to a column name (a JSON string)', mapping.kind, mapping.key
                USING ERRCODE = 'invalid_parameter_value';
        END IF;
        IF NOT EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = tbl AND a.attnum > 0 AND NOT a.attisdropped
                                                     AND a.attname = mapping.value #>> '{}') THEN
            RAISE EXCEPTION 'column "%" of % does not exist', mapping.value #>> '{}', tbl
                USING ERRCODE = 'undefined_column';
        END IF;
        IF mapping.kind = 'identity' AND NOT EXISTS (
                SELECT 1 FROM customer_profile.namespace n WHERE n.name = mapping.key) THEN
            RAISE EXCEPTION 'unknown identity namespace "%"', mapping.key USING ERRCODE = 'undefined_object';
        END IF;
    END LOOP;
    PERFORM customer_profile._attached_table_insert(tbl, source, identity_columns, trait_columns);
    SELECT * INTO config FROM customer_profile.attached_table a WHERE a.table_oid = tbl;
    -- On a partitioned table, PostgreSQL clones the trigger to every
    -- partition, present and future (CREATE, ATTACH PARTITION).
    EXECUTE format('CREATE OR REPLACE TRIGGER customer_profile_attached AFTER INSERT OR UPDATE OR DELETE ON %s '
                   'FOR EACH ROW EXECUTE FUNCTION customer_profile._attached_row_changed()', tbl);
    RETURN customer_profile._attached_backfill(config, tbl, batch_size, 'profile_attach_table');
END
$$;

-- Forgetting an attachment, as the owner, once its trigger is gone: dropping
-- that takes the table's owner, so whoever may detach a table (its owner,
-- through profile_detach_table) or has dropped it may forget it.
CREATE FUNCTION customer_profile._attached_table_forget(tbl regclass) RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_catalog.pg_trigger t
                WHERE t.tgrelid = tbl AND t.tgname = 'customer_profile_attached' AND t.tgparentid = 0
                  AND t.tgfoid = 'customer_profile._attached_row_changed()'::regprocedure) THEN
        RAISE EXCEPTION 'table % still has the trigger of its attachment', tbl
            USING ERRCODE = 'insufficient_privilege', HINT = 'Detach it with customer_profile.profile_detach_table().';
    END IF;
    DELETE FROM customer_profile.attached_table a WHERE a.table_oid = tbl;
END
$$;
COMMENT ON FUNCTION customer_profile._attached_table_forget(regclass) IS
    'Internal: deletes the attachment of a table whose trigger is gone (42501 while it is there).';

-- Detaching: the trigger is dropped and the rows are read as the caller (the
-- table's owner), then the attachment forgotten.
CREATE OR REPLACE FUNCTION customer_profile.profile_detach_table(tbl regclass, withdraw_observations boolean DEFAULT false)
    RETURNS void
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    config customer_profile.attached_table;
    parent regclass;
    r record;
BEGIN
    SELECT * INTO config FROM customer_profile.attached_table a WHERE a.table_oid = tbl;
    IF NOT FOUND THEN
        parent := (customer_profile._attached_config(tbl)).table_oid;
        IF parent IS NOT NULL THEN
            RAISE EXCEPTION 'table % is not attached', tbl USING ERRCODE = 'undefined_object',
                HINT = format('It is a partition of %s, which is attached: detach that table, or take this partition '
                              'out of it with ALTER TABLE ... DETACH PARTITION.', parent);
        END IF;
        IF EXISTS (SELECT 1 FROM pg_catalog.pg_trigger t
                    WHERE t.tgrelid = tbl AND t.tgname = 'customer_profile_attached' AND t.tgparentid = 0
                      AND t.tgfoid = 'customer_profile._attached_row_changed()'::regprocedure) THEN
            EXECUTE format('DROP TRIGGER customer_profile_attached ON %s', tbl);
            RAISE NOTICE 'table % had a trigger of customer_profile but no configuration (restored from a dump made before 1.6?): trigger dropped', tbl;
            RETURN;
        END IF;
        RAISE EXCEPTION 'table % is not attached', tbl USING ERRCODE = 'undefined_object';
    END IF;
    EXECUTE format('DROP TRIGGER IF EXISTS customer_profile_attached ON %s', tbl);
    IF withdraw_observations THEN
        FOR r IN EXECUTE format('SELECT %s AS j FROM %s t', customer_profile._attached_row_expr(config, tbl, 't'), tbl) LOOP
            PERFORM customer_profile._attached_withdraw(config, r.j);
        END LOOP;
    END IF;
    PERFORM customer_profile._attached_table_forget(tbl);
END
$$;

-- Who may execute what, function by function. 1.5 gave every role every
-- internal (_) function and the admin every function: the reader could call
-- _identity_hash_or_null(), the hash oracle identity_hash() is refused to
-- it for (defect 3), the admin worker_start() (defect 5). Now a role gets a
-- function when it is its API, or when a function of its API runs it as the
-- caller (a SECURITY DEFINER function runs its internals as the owner: they
-- are granted to no one). Trigger functions are granted to no one: a trigger
-- runs its function without an EXECUTE check. sql/privileges.sql shows the
-- result; docs/security.md gives the reason for each grant. The revoke below
-- also takes back the grants of the sections above: a function added there
-- gets its grants in the lists that follow.
REVOKE ALL ON ALL FUNCTIONS IN SCHEMA customer_profile
    FROM PUBLIC, customer_profile_reader, customer_profile_writer, customer_profile_admin;

-- Reader: lookups, profiles, segments, behavior, value, similarity.
GRANT EXECUTE ON FUNCTION
    customer_profile.identity_lookup(text, text),
    customer_profile.identity_normalize(text, text),
    customer_profile.profile_resolve(bigint),
    customer_profile.profile_get(bigint),
    customer_profile.profile_get(text, text),
    customer_profile.profile_explain(customer_profile.profile),
    customer_profile.profile_traits(customer_profile.profile),
    customer_profile.profile_trait_value(customer_profile.profile, text),
    customer_profile.profile_trait_text(customer_profile.profile, text),
    customer_profile.profile_has_trait(customer_profile.profile, text),
    customer_profile.profile_from_binary(bytea),
    customer_profile.profile_in(cstring), customer_profile.profile_out(customer_profile.profile),
    customer_profile.profile_recv(internal), customer_profile.profile_send(customer_profile.profile),
    customer_profile.profile_matches(customer_profile.profile, customer_profile.segment_predicate),
    customer_profile.unified_profile_matches(customer_profile.unified_profile, customer_profile.segment_predicate),
    customer_profile.profile_behavior(bigint),
    customer_profile.event_count(bigint, text, interval),
    customer_profile.event_sum(bigint, text, text, interval),
    customer_profile.last_seen(bigint, text),
    customer_profile.profile_consent(bigint, text),
    customer_profile.profile_segment(bigint),
    customer_profile.profile_segment(bigint, text),
    customer_profile.segment_matches(bigint, customer_profile.segment_predicate),
    customer_profile.segment_members(text),
    customer_profile.segment_size(text),
    customer_profile.segment_explain(text),
    customer_profile.segment_predicate_check(customer_profile.segment_predicate),
    customer_profile.segment_predicate_in(cstring),
    customer_profile.segment_predicate_out(customer_profile.segment_predicate),
    customer_profile.segment_predicate_recv(internal),
    customer_profile.segment_predicate_send(customer_profile.segment_predicate),
    customer_profile.profile_value(bigint),
    customer_profile.profile_rfm(),
    customer_profile.segment_lookalike(text, integer),
    customer_profile.profile_similar(bigint, integer),
    -- run as the reader by the functions above and the views it reads
    customer_profile._operand_values(bigint, customer_profile.profile, bytea, text[]),
    customer_profile._vector_search(real[], integer, bigint[]),
    customer_profile._segment_predicate_sql(customer_profile.segment_predicate),
    customer_profile._segment_predicate_tree(customer_profile.segment_predicate),
    customer_profile._event_property(jsonb, anyelement),
    -- a constant list, the default of an argument of identity_namespace_create:
    -- a default is evaluated before the function's own EXECUTE check, so a
    -- role refused that function would be told about this one instead
    customer_profile._default_blocked_values()
    TO customer_profile_reader;

-- Writer: ingestion, consent, outbox consumers, raw identifiers. Defect 5:
-- identity_explain (it shows raw identifier values and needs identity_hash)
-- and identity_components (the links) are the writer's, not the reader's.
GRANT EXECUTE ON FUNCTION
    customer_profile.resolve_identity(jsonb, text),
    customer_profile.trait_observe(jsonb, jsonb, text, timestamptz),
    customer_profile.track(jsonb, text, timestamptz, jsonb, text),
    customer_profile.consent_set(jsonb, text, boolean, text, timestamptz),
    customer_profile.event_inbox_drain(integer),
    customer_profile.event_partitions_ensure(timestamptz, timestamptz),
    customer_profile.feature_refresh(integer),
    customer_profile.segment_outbox_read(text, integer, text),
    customer_profile.segment_outbox_ack(text, bigint),
    customer_profile.identity_hash(text, text),
    customer_profile.profile_identities(bigint),
    customer_profile.identity_explain(text, text, text, text),
    customer_profile.identity_components(),
    -- run as the writer by the functions above, and by the trigger that
    -- makes deleted profiles leave their segments
    customer_profile._identity_hash_or_null(text, text),
    customer_profile._identity_find(text, text),
    customer_profile._identity_link_path(bigint, bigint, bigint[], bigint[]),
    customer_profile._segment_stream(bigint[], text),
    customer_profile._feature_layout(),
    customer_profile._feature_vector(bigint, customer_profile.profile, bytea, text[], float8[], float8[], text[], text[]),
    customer_profile._nearest_cluster(real[], integer[], float8[]),
    -- the default of segment_outbox.cluster_id (a column default runs as the
    -- inserting role), and read by segment_outbox_read, with the snapshot
    -- its batches are cut with
    customer_profile._cluster_id(),
    customer_profile._outbox_snapshot()
    TO customer_profile_writer;

-- Admin: definitions (SECURITY DEFINER, above), the identity graph, attached
-- tables, erasure and subject access, repairs. Not worker_start() nor
-- worker_stop(): workers are the superuser's (defect 5).
GRANT EXECUTE ON FUNCTION
    customer_profile.identity_namespace_create(text, text, boolean, integer, integer, boolean, text[], text[]),
    customer_profile.identity_namespace_alter(text, boolean, integer, integer, text[], text[]),
    customer_profile.settings_alter(integer, text),
    customer_profile.trait_define(text, text, text, text[]),
    customer_profile.profiles_wide_refresh(),
    customer_profile.event_measure_define(text, text),
    customer_profile.event_property_define(text, text, text),
    customer_profile.segment_create(text, text, text),
    customer_profile.segment_alter(text, text, text),
    customer_profile.segment_drop(text),
    customer_profile.segment_refresh(text),
    customer_profile.segment_windows_run(integer),
    customer_profile.value_define(text, text),
    customer_profile.value_drop(text, text),
    customer_profile.feature_define(text, text, text),
    customer_profile.feature_drop(text),
    customer_profile.feature_build(),
    customer_profile.profile_cluster(integer, text[], bigint),
    customer_profile.identity_unlink(text, text, text, text),
    customer_profile.identity_remove(text, text),
    customer_profile.identity_rebuild(),
    customer_profile.identity_check(),
    customer_profile.profile_recompute(bigint),
    customer_profile.profile_attach_table(regclass, text, jsonb, jsonb, integer),
    customer_profile.profile_attach_backfill(regclass, integer),
    customer_profile.profile_detach_table(regclass, boolean),
    customer_profile.profile_export(text, text),
    customer_profile.profile_forget(text, text),
    customer_profile.retention_run(),
    -- run as the admin by the functions above (CREATE TRIGGER needs EXECUTE
    -- on the attach trigger's function)
    customer_profile._identity_lock(bigint),
    customer_profile._identity_split(bigint, text),
    customer_profile._profile_recompute(bigint, text[]),
    customer_profile._attached_config(regclass),
    customer_profile._attached_table_insert(regclass, text, jsonb, jsonb),
    customer_profile._attached_table_forget(regclass),
    customer_profile._attached_row_changed(),
    customer_profile._attached_row_expr(customer_profile.attached_table, regclass, text),
    customer_profile._attached_backfill(customer_profile.attached_table, regclass, integer, text),
    customer_profile._attached_row(customer_profile.attached_table, jsonb),
    customer_profile._attached_apply(customer_profile.attached_table, jsonb),
    customer_profile._attached_withdraw(customer_profile.attached_table, jsonb),
    customer_profile._identity_refusal(text, text),
    customer_profile._trait_refusal(text, jsonb),
    -- taken by segment_windows_run (held until commit, it holds back
    -- segment_alter: not the reader's nor the writer's)
    customer_profile._segment_definitions_lock()
    TO customer_profile_admin;

-- The worker's own role (defect 1). The inbox workers ran as the bootstrap
-- superuser, so any trigger on the tables they write ran as one. Now every
-- transaction of a worker runs as customer_profile.worker_role, by default
-- this role: it cannot log in (the worker connects as the bootstrap
-- superuser and switches, src/pg/worker/worker.cpp), is a member of no other role,
-- and holds exactly what the worker's work needs: draining the inbox
-- (resolution, merges, events, behavior, streaming segments), sliding
-- windows, feature vectors, retention (SECURITY DEFINER) and its own status.
DO $role$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = 'customer_profile_worker') THEN
        CREATE ROLE customer_profile_worker NOLOGIN;
    END IF;
END
$role$;
COMMENT ON ROLE customer_profile_worker IS
    'customer_profile: what the inbox workers run as (customer_profile.worker_role); nothing else should be granted it.';
GRANT USAGE ON SCHEMA customer_profile TO customer_profile_worker;
GRANT SELECT, INSERT, UPDATE, DELETE ON customer_profile.worker_state TO customer_profile_worker;
-- Taking inbox rows FOR UPDATE needs UPDATE; applied rows are deleted.
GRANT SELECT, UPDATE, DELETE ON customer_profile.event_inbox TO customer_profile_worker;
GRANT INSERT ON customer_profile.event_dead_letter, customer_profile.identity_conflict TO customer_profile_worker;
GRANT SELECT, INSERT ON customer_profile.event, customer_profile.event_key, customer_profile.identity_link,
    customer_profile.profile_merge, customer_profile.segment_outbox TO customer_profile_worker;
GRANT SELECT, INSERT, UPDATE ON customer_profile.segment_membership TO customer_profile_worker;
-- Identities: written, and found by hash; their raw values are never read
-- back (review of issue 14: the worker could read them).
GRANT SELECT (identity_id, namespace_id, value_hash, profile_id, first_seen, last_seen), INSERT, UPDATE
    ON customer_profile.identity TO customer_profile_worker;
GRANT SELECT, INSERT, UPDATE, DELETE ON customer_profile.unified_profile, customer_profile.segment_schedule,
    customer_profile.profile_feature TO customer_profile_worker;
GRANT SELECT ON customer_profile.namespace, customer_profile.trait_definition, customer_profile.trait_observation,
    customer_profile.event_measure, customer_profile.event_property, customer_profile.segment,
    customer_profile.consent, customer_profile.feature, customer_profile.feature_list,
    customer_profile.cluster_model TO customer_profile_worker;
GRANT USAGE ON SEQUENCE customer_profile.unified_profile_profile_id_seq, customer_profile.identity_identity_id_seq,
    customer_profile.identity_conflict_conflict_id_seq TO customer_profile_worker;
GRANT EXECUTE ON FUNCTION
    customer_profile.event_inbox_drain(integer),
    customer_profile.segment_windows_run(integer),
    customer_profile.feature_refresh(integer),
    customer_profile.retention_run(),
    customer_profile.event_partitions_ensure(timestamptz, timestamptz),
    -- run as the worker by the functions above (and by the query that reads
    -- the segments' predicates)
    customer_profile.profile_resolve(bigint),
    customer_profile.segment_predicate_send(customer_profile.segment_predicate),
    customer_profile._segment_stream(bigint[], text),
    customer_profile._feature_layout(),
    customer_profile._feature_vector(bigint, customer_profile.profile, bytea, text[], float8[], float8[], text[], text[]),
    customer_profile._nearest_cluster(real[], integer[], float8[]),
    customer_profile._segment_definitions_lock(),
    customer_profile._cluster_id()
    TO customer_profile_worker;
-- The workers' status is the worker's to write; the writer reads it as a reader.
REVOKE ALL ON customer_profile.worker_state FROM customer_profile_writer;

-- Review of issue 14: event_partitions_ensure runs as the owner and is the
-- writer's and the worker's; any range of 20 years was accepted, so a loop
-- could create millions of tables. Only months that can hold an event are
-- created: from the behavior horizon to a year ahead (track() refuses events
-- more than a day ahead).
CREATE OR REPLACE FUNCTION customer_profile.event_partitions_ensure(from_time timestamptz, to_time timestamptz)
    RETURNS integer
    LANGUAGE plpgsql STRICT SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    m date;
    created integer := 0;
    name text;
    horizon_days integer := coalesce(nullif(current_setting('customer_profile.behavior_horizon', true), '')::integer, 400);
BEGIN
    IF to_time < from_time THEN
        RETURN 0;
    END IF;
    IF from_time < now() - make_interval(days => horizon_days + 31) OR to_time > now() + interval '1 year' THEN
        RAISE EXCEPTION 'event_partitions_ensure: months outside the behavior horizon or more than a year ahead'
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = format('Partitions hold events from %s to %s.',
                                  now() - make_interval(days => horizon_days + 31), now() + interval '1 year');
    END IF;
    -- Concurrent callers would race on the same table name.
    PERFORM pg_advisory_xact_lock(hashtext('customer_profile.event_partitions'));
    m := date_trunc('month', from_time AT TIME ZONE 'UTC')::date;
    WHILE m <= (to_time AT TIME ZONE 'UTC')::date LOOP
        name := 'event_' || to_char(m, 'YYYYMM');
        IF to_regclass(format('customer_profile.%I', name)) IS NULL THEN
            EXECUTE format('CREATE TABLE customer_profile.%I PARTITION OF customer_profile.event '
                           'FOR VALUES FROM (%L) TO (%L)', name,
                           (m::timestamp AT TIME ZONE 'UTC'), ((m + interval '1 month')::timestamp AT TIME ZONE 'UTC'));
            EXECUTE format('CREATE INDEX %I ON customer_profile.%I (identity_id, occurred_at)',
                           name || '_identity_idx', name);
            EXECUTE format('REVOKE USAGE ON TYPE customer_profile.%I FROM PUBLIC', name);
            created := created + 1;
        END IF;
        m := (m + interval '1 month')::date;
    END LOOP;
    RETURN created;
END
$$;
COMMENT ON FUNCTION customer_profile.event_partitions_ensure(timestamptz, timestamptz) IS
    'Creates the monthly event partitions (UTC months) covering a range within the behavior horizon and at most a year ahead; returns how many were created.';

-- Review of issue 14: the row types of the extension's tables and views were
-- usable by PUBLIC, so any role could pin a table in a column of its own and
-- make a later update fail (ALTER TABLE ... TYPE).
DO $$
DECLARE
    t regtype;
BEGIN
    FOR t IN SELECT ty.oid::regtype FROM pg_catalog.pg_type ty JOIN pg_catalog.pg_class c ON c.oid = ty.typrelid
              WHERE c.relnamespace = 'customer_profile'::regnamespace AND c.relkind IN ('r', 'p', 'v', 'm', 'f')
    LOOP
        EXECUTE format('REVOKE USAGE ON TYPE %s FROM PUBLIC', t);
    END LOOP;
END
$$;

-- ===========================================================================
-- Comments for BI tools and \df+ (issue 15): every public function, view and
-- view column has one, as in a fresh install (src/sql/current). JDBC
-- (getColumns REMARKS), ODBC (SQLColumns) and \d+ show them;
-- test/tap/009_documentation.pl fails when one is missing. Last, so that no
-- view of this script is created again after its columns got their comments.
-- ===========================================================================

-- The segment_predicate type's I/O (profile's have had comments since 1.1).
COMMENT ON FUNCTION customer_profile.segment_predicate_in(cstring) IS
    'Text input of segment_predicate: parses the predicate language (22P02 for a syntax error; segment_predicate_check checks the types).';
COMMENT ON FUNCTION customer_profile.segment_predicate_out(customer_profile.segment_predicate) IS
    'Text output of segment_predicate: the normalized predicate.';
COMMENT ON FUNCTION customer_profile.segment_predicate_recv(internal) IS
    'Binary input of segment_predicate, validated like text input.';
COMMENT ON FUNCTION customer_profile.segment_predicate_send(customer_profile.segment_predicate) IS
    'Binary output of segment_predicate (format version byte first).';

-- View profiles.
COMMENT ON COLUMN customer_profile.profiles.profile_id IS 'The live profile (merged-away ids are in merges).';
COMMENT ON COLUMN customer_profile.profiles.is_known IS 'Whether the profile holds an identifier of a known namespace (crm_id, email, phone, ...).';
COMMENT ON COLUMN customer_profile.profiles.identity_count IS 'How many identifiers the profile holds.';
COMMENT ON COLUMN customer_profile.profiles.created_at IS 'When the profile was created.';
COMMENT ON COLUMN customer_profile.profiles.updated_at IS 'When its traits, behavior or identifiers last changed.';
COMMENT ON COLUMN customer_profile.profiles.traits IS 'Every merged trait value as one jsonb object {"trait": value} (profile_traits).';

-- View identities.
COMMENT ON COLUMN customer_profile.identities.identity_id IS 'The identifier.';
COMMENT ON COLUMN customer_profile.identities.namespace IS 'Its namespace (crm_id, email, phone, device_id, cookie, or one of your own).';
COMMENT ON COLUMN customer_profile.identities.is_known IS 'Whether the namespace identifies a known person.';
COMMENT ON COLUMN customer_profile.identities.value IS 'The raw value as received, only where the namespace keeps raw values (keep_raw); NULL otherwise.';
COMMENT ON COLUMN customer_profile.identities.value_hash IS 'The stored key in hex: SHA-256 of the salt, the namespace and the normalized value.';
COMMENT ON COLUMN customer_profile.identities.profile_id IS 'The profile holding the identifier.';
COMMENT ON COLUMN customer_profile.identities.first_seen IS 'When the identifier was first seen.';
COMMENT ON COLUMN customer_profile.identities.last_seen IS 'When the identifier was last seen.';

-- View merges.
COMMENT ON COLUMN customer_profile.merges.merged_profile_id IS 'The profile id merged away.';
COMMENT ON COLUMN customer_profile.merges.into_profile_id IS 'The profile it was merged into.';
COMMENT ON COLUMN customer_profile.merges.current_profile_id IS 'The live profile it resolves to now (following later merges; profile_resolve).';
COMMENT ON COLUMN customer_profile.merges.merged_at IS 'When the merge happened.';
COMMENT ON COLUMN customer_profile.merges.cause IS 'What merged it: resolve_identity (new evidence) or identity_rebuild.';
COMMENT ON COLUMN customer_profile.merges.source IS 'The source of the evidence that caused the merge.';

-- View identity_guard_stats.
COMMENT ON COLUMN customer_profile.identity_guard_stats.rule IS 'The rule that refused: namespace_cap, profile_identity_cap, blocked_value, blocked_pattern, invalid_identifier or invalid_trait.';
COMMENT ON COLUMN customer_profile.identity_guard_stats.namespace IS 'The namespace the refusal concerned (NULL when none).';
COMMENT ON COLUMN customer_profile.identity_guard_stats.refusals IS 'How many refusals are recorded in identity_conflict.';
COMMENT ON COLUMN customer_profile.identity_guard_stats.last_refused_at IS 'When the latest refusal happened.';

-- View segments.
COMMENT ON COLUMN customer_profile.segments.segment_id IS 'The segment.';
COMMENT ON COLUMN customer_profile.segments.name IS 'Its name (segment_create).';
COMMENT ON COLUMN customer_profile.segments.predicate IS 'Its predicate, normalized.';
COMMENT ON COLUMN customer_profile.segments.refers_to IS 'The segments its predicate reads with in_segment().';
COMMENT ON COLUMN customer_profile.segments.description IS 'Free text given at segment_create or segment_alter.';
COMMENT ON COLUMN customer_profile.segments.created_at IS 'When the segment was created.';
COMMENT ON COLUMN customer_profile.segments.updated_at IS 'When its predicate or description last changed.';

-- View worker_status.
COMMENT ON COLUMN customer_profile.worker_status.pid IS 'Process id of the worker.';
COMMENT ON COLUMN customer_profile.worker_status.state IS 'idle, draining, or stopped (no such worker process runs now).';
COMMENT ON COLUMN customer_profile.worker_status.started_at IS 'When the worker started.';
COMMENT ON COLUMN customer_profile.worker_status.heartbeat_at IS 'When the worker last reported progress.';
COMMENT ON COLUMN customer_profile.worker_status.batch_size IS 'Inbox rows per transaction (customer_profile.batch_size).';
COMMENT ON COLUMN customer_profile.worker_status.batches IS 'Batches committed since the worker started.';
COMMENT ON COLUMN customer_profile.worker_status.events_applied IS 'Events applied since the worker started.';
COMMENT ON COLUMN customer_profile.worker_status.dead_lettered IS 'Inbox rows moved to event_dead_letter since the worker started.';
COMMENT ON COLUMN customer_profile.worker_status.last_error IS 'The latest error that concerned a whole batch (the batch is retried).';
COMMENT ON COLUMN customer_profile.worker_status.last_error_at IS 'When last_error happened.';
COMMENT ON COLUMN customer_profile.worker_status.last_retention_at IS 'When the worker last ran retention_run().';
COMMENT ON COLUMN customer_profile.worker_status.inbox_lag IS 'Age of the oldest queued inbox event (NULL when the inbox is empty).';

-- View customer_value.
COMMENT ON COLUMN customer_profile.customer_value.profile_id IS 'The profile.';
COMMENT ON COLUMN customer_profile.customer_value.revenue IS 'Sum of the revenue value expressions (value_define(''revenue'', ...)).';
COMMENT ON COLUMN customer_profile.customer_value.cost IS 'Sum of the cost-to-serve value expressions (value_define(''cost'', ...)).';
COMMENT ON COLUMN customer_profile.customer_value.margin IS 'revenue minus cost.';

-- View most_profitable_customers.
COMMENT ON COLUMN customer_profile.most_profitable_customers.profile_id IS 'The profile (customers with any revenue or cost).';
COMMENT ON COLUMN customer_profile.most_profitable_customers.revenue IS 'Sum of the revenue value expressions.';
COMMENT ON COLUMN customer_profile.most_profitable_customers.cost IS 'Sum of the cost-to-serve value expressions.';
COMMENT ON COLUMN customer_profile.most_profitable_customers.margin IS 'revenue minus cost; the view is ordered by it, highest first.';
COMMENT ON COLUMN customer_profile.most_profitable_customers.margin_rank IS 'Rank by margin, 1 for the highest (ties share a rank).';
COMMENT ON COLUMN customer_profile.most_profitable_customers.revenue_rank IS 'Rank by revenue, 1 for the highest (ties share a rank).';

-- ===========================================================================
-- Lock order (issue 15 review): places that took locks against the global
-- order (docs/concurrency.md) and could deadlock. Grants and comments stay.
-- ===========================================================================

-- 1. segment_windows_run: reads the due rows without locking them, locks their
--    profiles with SKIP LOCKED, then takes the schedule rows of those it locked
--    (spec windows_vs_writers).
CREATE OR REPLACE FUNCTION customer_profile.segment_windows_run(max_profiles integer DEFAULT 10000) RETURNS integer
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

-- 2. segment_refresh: when the segment changed before its row was locked, lets
--    the row go (a subtransaction) and takes the definitions lock first
--    (spec refresh_alter_late).
CREATE OR REPLACE FUNCTION customer_profile.segment_refresh(name text, OUT entered bigint, OUT exited bigint) RETURNS record
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
      FROM customer_profile.segment s WHERE s.name = segment_refresh.name;
    schedule := FOUND AND customer_profile._segment_predicate_reads_time(seg.predicate)
                AND seg.windows_scheduled_for IS DISTINCT FROM seg.updated_at;
    LOOP
        IF schedule THEN
            LOCK TABLE customer_profile.segment IN EXCLUSIVE MODE;
        END IF;
        BEGIN
            SELECT s.segment_id, s.name, s.predicate, s.updated_at, s.windows_scheduled_for INTO seg
              FROM customer_profile.segment s
             WHERE s.name = segment_refresh.name FOR UPDATE;  -- one refresh of a segment at a time
            IF NOT FOUND THEN
                RAISE EXCEPTION 'unknown segment "%"', name USING ERRCODE = 'undefined_object';
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
    members := customer_profile._segment_evaluate_all(seg.predicate);
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
    IF entered + exited > 0 THEN
        PERFORM pg_notify('customer_profile_segment',
                          json_build_object('segment', seg.name, 'entered', entered, 'exited', exited,
                                            'source', 'refresh')::text);
    END IF;
END
$$;

-- 3. retention_run and consent_set take the identity gate before their first
--    profile lock, as the C writers now do (spec rebuild_vs_writers).
CREATE OR REPLACE FUNCTION customer_profile.retention_run(OUT partitions_dropped integer, OUT event_keys_deleted bigint, OUT profiles_purged bigint, OUT identities_purged bigint, OUT conflicts_deleted bigint) RETURNS record
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
DECLARE
    horizon integer := coalesce(nullif(current_setting('customer_profile.behavior_horizon', true), ''), '400')::integer;
    ttl interval := make_interval(days => coalesce(nullif(current_setting('customer_profile.anonymous_ttl_days', true), ''),
                                                   '90')::integer);
    oldest timestamptz;
    part record;
    doomed bigint[];
BEGIN
    -- The identity gate first, before the partitions and the profiles this
    -- locks (a rebuild running meanwhile waits for us, or we for it).
    LOCK TABLE customer_profile.identity IN ROW EXCLUSIVE MODE;
    partitions_dropped := 0;
    -- First instant inside the horizon: the start of its oldest UTC day.
    oldest := ((now() AT TIME ZONE 'UTC')::date - (horizon - 1))::timestamp AT TIME ZONE 'UTC';
    FOR part IN
        SELECT c.oid::regclass AS rel, pg_get_expr(c.relpartbound, c.oid) AS bound
          FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
         WHERE i.inhparent = 'customer_profile.event'::regclass
    LOOP
        -- FOR VALUES FROM ('...') TO ('...'): drop when the upper bound <= oldest.
        IF substring(part.bound FROM 'TO \(''([^'']+)''\)')::timestamptz <= oldest THEN
            EXECUTE format('DROP TABLE %s', part.rel);
            partitions_dropped := partitions_dropped + 1;
        END IF;
    END LOOP;
    DELETE FROM customer_profile.event_key k WHERE k.occurred_at < oldest;
    GET DIAGNOSTICS event_keys_deleted = ROW_COUNT;
    DELETE FROM customer_profile.identity_conflict c WHERE c.occurred_at < oldest;
    GET DIAGNOSTICS conflicts_deleted = ROW_COUNT;

    -- Anonymous profiles (no identifier in a known namespace) idle past the TTL.
    profiles_purged := 0;
    identities_purged := 0;
    IF ttl > interval '0' THEN
        -- At most 10,000 per run: one transaction stays short; the next run continues.
        SELECT array_agg(x.profile_id) INTO doomed
          FROM (SELECT p.profile_id FROM customer_profile.unified_profile p
                 WHERE p.updated_at < now() - ttl
                   AND NOT EXISTS (SELECT 1 FROM customer_profile.identity i
                                     JOIN customer_profile.namespace n USING (namespace_id)
                                    WHERE i.profile_id = p.profile_id AND (n.is_known OR i.last_seen >= now() - ttl))
                 LIMIT 10000) x;
        IF doomed IS NOT NULL THEN
            -- Lock them as every other writer does, then re-check under the lock.
            SELECT array_agg(p.profile_id ORDER BY p.profile_id) INTO doomed
              FROM (SELECT u.profile_id FROM customer_profile.unified_profile u
                     WHERE u.profile_id = ANY (doomed) ORDER BY u.profile_id FOR UPDATE) p
             WHERE NOT EXISTS (SELECT 1 FROM customer_profile.identity i
                                 JOIN customer_profile.namespace n USING (namespace_id)
                                WHERE i.profile_id = p.profile_id AND (n.is_known OR i.last_seen >= now() - ttl));
            DELETE FROM customer_profile.event e USING customer_profile.identity i
             WHERE i.profile_id = ANY (doomed) AND e.identity_id = i.identity_id;
            DELETE FROM customer_profile.trait_observation o USING customer_profile.identity i
             WHERE i.profile_id = ANY (doomed) AND o.identity_id = i.identity_id;
            DELETE FROM customer_profile.identity_link l USING customer_profile.identity i
             WHERE i.profile_id = ANY (doomed) AND l.identity_a = i.identity_id;
            DELETE FROM customer_profile.identity i WHERE i.profile_id = ANY (doomed);
            GET DIAGNOSTICS identities_purged = ROW_COUNT;
            DELETE FROM customer_profile.unified_profile p WHERE p.profile_id = ANY (doomed);
            GET DIAGNOSTICS profiles_purged = ROW_COUNT;
        END IF;
    END IF;
END
$$;

CREATE OR REPLACE FUNCTION customer_profile.consent_set(identities jsonb, purpose text, granted boolean, source text, observed_at timestamp with time zone DEFAULT now()) RETURNS bigint
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $_$
DECLARE
    pid bigint;
    carrier bigint;
BEGIN
    IF purpose IS NULL OR purpose !~ '^[a-z][a-z0-9_]{0,62}$' THEN
        RAISE EXCEPTION 'invalid consent purpose %', coalesce(quote_literal(left(purpose, 64)), 'NULL')
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Use 1-63 lower-case letters, digits and underscores, starting with a letter (e.g. email_marketing).';
    END IF;
    IF granted IS NULL OR source IS NULL OR observed_at IS NULL THEN
        RAISE EXCEPTION 'granted, source and observed_at are required' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF length(source) NOT BETWEEN 1 AND 200 THEN
        RAISE EXCEPTION 'a source of 1 to 200 characters is required' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF NOT (observed_at BETWEEN '0001-01-01 00:00:00+00' AND '9999-12-31 23:59:59+00') THEN
        RAISE EXCEPTION 'observed_at must be within years 0001-9999' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    -- The identity gate before the profile's lock, as every writer takes it:
    -- an identity_rebuild() running meanwhile waits for us, or we for it.
    LOCK TABLE customer_profile.identity IN ROW EXCLUSIVE MODE;
    -- The statement is kept on the first of the given identifiers (by
    -- namespace) that is stored, under the profile's lock: an erasure or
    -- removal we waited for may have deleted it, and then the person is
    -- resolved again (a consent must never be left attached to no one).
    FOR attempt IN 1..50 LOOP
        pid := customer_profile.resolve_identity(identities, consent_set.source);
        IF pid IS NULL THEN
            RAISE EXCEPTION 'no usable identifier in %', identities USING ERRCODE = 'invalid_parameter_value';
        END IF;
        -- Held until commit, as a trait or event change holds it: a concurrent
        -- refresh, merge or erasure of the profile waits and then sees the
        -- membership this may change.
        PERFORM 1 FROM customer_profile.unified_profile u WHERE u.profile_id = pid FOR NO KEY UPDATE;
        -- A namespace may hold an array of values (as resolve_identity takes
        -- them); blocked or malformed values are skipped, as resolution skipped them.
        SELECT i.identity_id INTO carrier
          FROM jsonb_each(identities) e
         CROSS JOIN LATERAL jsonb_array_elements_text(
                   CASE jsonb_typeof(e.value) WHEN 'array' THEN e.value ELSE jsonb_build_array(e.value) END) AS v(value)
          JOIN customer_profile.identity i ON i.value_hash = customer_profile._identity_hash_or_null(e.key, v.value)
         WHERE i.profile_id = pid
         ORDER BY e.key, v.value LIMIT 1;
        EXIT WHEN carrier IS NOT NULL;
    END LOOP;
    IF carrier IS NULL THEN
        RAISE EXCEPTION 'could not record the consent: its profile kept changing concurrently'
            USING ERRCODE = 'serialization_failure', HINT = 'Retry the transaction.';
    END IF;
    INSERT INTO customer_profile.consent (identity_id, purpose, granted, source, observed_at)
    VALUES (carrier, consent_set.purpose, consent_set.granted, consent_set.source, consent_set.observed_at);
    PERFORM customer_profile._segment_stream(ARRAY[pid], 'consent:' || consent_set.purpose);
    RETURN pid;
END
$_$;


-- Issue 16, membership that is there when you ask: segment_create,
-- segment_alter and segment_enable backfill (at once for a small population,
-- queued to the worker otherwise), a segment can be disabled, segment_drop
-- announces its members' exits. Existing segments are active. A segment has
-- a time zone for the predicate language's today.
ALTER TABLE customer_profile.segment
    ADD COLUMN state text DEFAULT 'active'::text NOT NULL,
    ADD COLUMN build_next bigint,
    ADD COLUMN build_done bigint,
    ADD COLUMN build_total bigint,
    ADD COLUMN time_zone text DEFAULT 'UTC'::text NOT NULL,
    ADD CONSTRAINT segment_state_check CHECK ((state = ANY (ARRAY['building'::text, 'active'::text, 'disabled'::text]))),
    ADD CONSTRAINT segment_build_check CHECK (((state = 'building'::text) = (build_next IS NOT NULL)));
COMMENT ON COLUMN customer_profile.segment.state IS 'active (evaluated, membership complete), building (evaluated, membership being backfilled by the worker) or disabled (kept, not evaluated).';
COMMENT ON COLUMN customer_profile.segment.build_next IS 'While building: the first profile_id the build has not evaluated yet.';
COMMENT ON COLUMN customer_profile.segment.time_zone IS 'The time zone whose calendar days today (without a zone) counts in this segment''s predicate.';

-- A time zone (and with it a new signature) for segment_create and segment_alter.
DROP FUNCTION customer_profile.segment_create(text, text, text);
DROP FUNCTION customer_profile.segment_alter(text, text, text);

-- The predicate language reads the time: a profile value's match is STABLE.
ALTER FUNCTION customer_profile.profile_matches(customer_profile.profile, customer_profile.segment_predicate) STABLE;

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
BEGIN
    PERFORM customer_profile._segment_definitions_lock();  -- loads the library, which defines the setting
    inline_limit := current_setting('customer_profile.segment_build_inline_limit')::bigint;
    SELECT count(*) INTO population
      FROM (SELECT 1 FROM customer_profile.unified_profile u LIMIT inline_limit + 1) x;
    IF population <= inline_limit THEN
        UPDATE customer_profile.segment s
           SET state = 'active', build_next = NULL, build_done = NULL, build_total = NULL
         WHERE s.segment_id = _segment_backfill.segment_id
        RETURNING s.name INTO seg_name;
        PERFORM customer_profile.segment_refresh(seg_name);
        RETURN 'active';
    END IF;
    SELECT count(*) INTO population FROM customer_profile.unified_profile u;
    UPDATE customer_profile.segment s
       SET state = 'building', build_next = 0, build_done = 0, build_total = population
     WHERE s.segment_id = _segment_backfill.segment_id
    RETURNING s.name INTO seg_name;
    RAISE NOTICE 'segment "%" is building: the worker evaluates its % profiles', seg_name, population
        USING HINT = 'The segments view shows the progress; segment_refresh() builds it at once.';
    RETURN 'building';
END
$$;
COMMENT ON FUNCTION customer_profile._segment_backfill(segment_id integer) IS 'Internal: backfills a segment whose predicate is new: refreshed at once up to customer_profile.segment_build_inline_limit profiles, otherwise marked building for the worker; returns the state.';
REVOKE ALL ON FUNCTION customer_profile._segment_backfill(segment_id integer) FROM PUBLIC;

CREATE FUNCTION customer_profile._segment_predicate_in_zone(predicate customer_profile.segment_predicate, time_zone text, old_time_zone text) RETURNS customer_profile.segment_predicate
    LANGUAGE c STABLE PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'cp_segment_predicate_in_zone';
COMMENT ON FUNCTION customer_profile._segment_predicate_in_zone(predicate customer_profile.segment_predicate, time_zone text, old_time_zone text) IS 'Internal: the predicate with today (without a zone, or in old_time_zone) counting days in time_zone; 22023 for an unknown zone.';
REVOKE ALL ON FUNCTION customer_profile._segment_predicate_in_zone(predicate customer_profile.segment_predicate, time_zone text, old_time_zone text) FROM PUBLIC;

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

-- One batch of a queued build: the next profiles of the first segment that
-- is building, evaluated by the stream (which writes memberships, outbox and
-- schedule as for any change). It never waits: the segment row and the
-- profiles are taken with SKIP LOCKED, so a writer or a refresh holding them
-- is passed over; the build moves on only up to the first profile it could
-- not take, which the next batch tries again.
CREATE FUNCTION customer_profile.segment_build_run(max_profiles integer DEFAULT 10000) RETURNS integer
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
DECLARE
    seg record;
    ids bigint[];
    locked bigint[];
    first_held bigint;
    built bigint[];
BEGIN
    IF max_profiles IS NULL OR max_profiles < 1 THEN
        RAISE EXCEPTION 'max_profiles must be at least 1' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    PERFORM customer_profile._segment_definitions_lock();
    SELECT s.segment_id, s.name, s.build_next INTO seg FROM customer_profile.segment s
     WHERE s.state = 'building' ORDER BY s.segment_id LIMIT 1 FOR UPDATE SKIP LOCKED;
    IF NOT FOUND THEN
        RETURN 0;
    END IF;
    SELECT array_agg(x.profile_id ORDER BY x.profile_id) INTO ids
      FROM (SELECT u.profile_id FROM customer_profile.unified_profile u
             WHERE u.profile_id >= seg.build_next ORDER BY u.profile_id LIMIT max_profiles) x;
    IF ids IS NULL THEN
        -- Every profile was evaluated (those created since by their writers'
        -- streams), and each one's windows scheduled.
        UPDATE customer_profile.segment s
           SET state = 'active', build_next = NULL, build_done = NULL, build_total = NULL,
               windows_scheduled_for = s.updated_at
         WHERE s.segment_id = seg.segment_id;
        RETURN 0;
    END IF;
    WITH locking AS (
        SELECT u.profile_id FROM customer_profile.unified_profile u
         WHERE u.profile_id = ANY (ids) ORDER BY u.profile_id FOR UPDATE OF u SKIP LOCKED)
    SELECT array_agg(l.profile_id ORDER BY l.profile_id) INTO locked FROM locking l;
    -- A profile deleted meanwhile is not locked either: the next batch no
    -- longer sees it.
    SELECT min(i) INTO first_held FROM unnest(ids) i WHERE NOT (i = ANY (coalesce(locked, '{}')));
    SELECT array_agg(l ORDER BY l) INTO built FROM unnest(locked) l WHERE first_held IS NULL OR l < first_held;
    IF built IS NOT NULL THEN
        PERFORM customer_profile._segment_stream(built, 'segment:' || seg.segment_id);
    END IF;
    UPDATE customer_profile.segment s
       SET build_next = coalesce(first_held, ids[cardinality(ids)] + 1),
           build_done = s.build_done + coalesce(cardinality(built), 0)
     WHERE s.segment_id = seg.segment_id;
    RETURN coalesce(cardinality(built), 0);
END
$$;
COMMENT ON FUNCTION customer_profile.segment_build_run(max_profiles integer) IS 'Evaluates the next profiles of a segment that is building (what the worker runs while one is queued); returns how many. The segment becomes active after the last batch.';
REVOKE ALL ON FUNCTION customer_profile.segment_build_run(max_profiles integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION customer_profile.segment_build_run(max_profiles integer) TO customer_profile_admin;
GRANT EXECUTE ON FUNCTION customer_profile.segment_build_run(max_profiles integer) TO customer_profile_worker;

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
       SET state = 'disabled', build_next = NULL, build_done = NULL, build_total = NULL
     WHERE s.name = segment_disable.name;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'unknown segment "%"', name USING ERRCODE = 'undefined_object';
    END IF;
END
$$;
COMMENT ON FUNCTION customer_profile.segment_disable(name text) IS 'Stops evaluating a segment: its members stay as they are (no entries, exits or outbox rows) until segment_enable().';
REVOKE ALL ON FUNCTION customer_profile.segment_disable(name text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION customer_profile.segment_disable(name text) TO customer_profile_admin;

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

CREATE OR REPLACE FUNCTION customer_profile.segment_drop(name text) RETURNS void
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

CREATE OR REPLACE FUNCTION customer_profile.segment_members(segment text) RETURNS SETOF bigint
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
CREATE OR REPLACE FUNCTION customer_profile.segment_refresh(name text, OUT entered bigint, OUT exited bigint) RETURNS record
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
      FROM customer_profile.segment s WHERE s.name = segment_refresh.name;
    schedule := FOUND AND customer_profile._segment_predicate_reads_time(seg.predicate)
                AND seg.windows_scheduled_for IS DISTINCT FROM seg.updated_at;
    LOOP
        IF schedule THEN
            LOCK TABLE customer_profile.segment IN EXCLUSIVE MODE;
        END IF;
        BEGIN
            SELECT s.segment_id, s.name, s.predicate, s.updated_at, s.windows_scheduled_for, s.state INTO seg
              FROM customer_profile.segment s
             WHERE s.name = segment_refresh.name FOR UPDATE;  -- one refresh of a segment at a time
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
    members := customer_profile._segment_evaluate_all(seg.predicate);
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
        UPDATE customer_profile.segment s SET state = 'active', build_next = NULL, build_done = NULL, build_total = NULL
         WHERE s.segment_id = seg.segment_id;
    END IF;
    IF entered + exited > 0 THEN
        PERFORM pg_notify('customer_profile_segment',
                          json_build_object('segment', seg.name, 'entered', entered, 'exited', exited,
                                            'source', 'refresh')::text);
    END IF;
END
$$;
COMMENT ON FUNCTION customer_profile.segment_refresh(name text, OUT entered bigint, OUT exited bigint) IS 'Recomputes a segment over every live profile in one pass (completing a build): records entries and exits (history and outbox) and sends one NOTIFY customer_profile_segment; returns the counts. 55000 for a disabled segment.';
REVOKE ALL ON FUNCTION customer_profile.segment_refresh(name text, OUT entered bigint, OUT exited bigint) FROM PUBLIC;
GRANT ALL ON FUNCTION customer_profile.segment_refresh(name text, OUT entered bigint, OUT exited bigint) TO customer_profile_admin;

CREATE OR REPLACE FUNCTION customer_profile.segment_size(segment text) RETURNS bigint
    LANGUAGE sql STABLE
    SET search_path TO 'pg_catalog', 'pg_temp'
    BEGIN ATOMIC
 SELECT count(*) AS count
    FROM customer_profile.segment_members(segment_size.segment) segment_members(segment_members);
END;
COMMENT ON FUNCTION customer_profile.segment_size(segment text) IS 'How many profiles are in a segment now (stored membership; a NOTICE says when it is building or disabled).';
REVOKE ALL ON FUNCTION customer_profile.segment_size(segment text) FROM PUBLIC;
GRANT ALL ON FUNCTION customer_profile.segment_size(segment text) TO customer_profile_reader;

CREATE OR REPLACE VIEW customer_profile.segments AS
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


-- Point and list-of-objects traits are jsonb columns of profiles_wide.
-- The column type of a trait type, and the expression of a column.
CREATE OR REPLACE FUNCTION customer_profile._trait_column_type(type text) RETURNS text
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    SET search_path TO 'pg_catalog', 'pg_temp'
    BEGIN ATOMIC
 SELECT
         CASE type
             WHEN 'number'::text THEN 'double precision'::text
             WHEN 'boolean'::text THEN 'boolean'::text
             WHEN 'timestamp'::text THEN 'timestamp with time zone'::text
             WHEN 'text[]'::text THEN 'text[]'::text
             WHEN 'point'::text THEN 'jsonb'::text
             WHEN 'object[]'::text THEN 'jsonb'::text
             ELSE 'text'::text
         END AS "case";
END;
COMMENT ON FUNCTION customer_profile._trait_column_type(type text) IS 'Internal: the SQL type of a trait''s column in profiles_wide.';
REVOKE ALL ON FUNCTION customer_profile._trait_column_type(type text) FROM PUBLIC;

CREATE OR REPLACE FUNCTION customer_profile._profiles_wide_column(trait text, column_type text) RETURNS text
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    SET search_path TO 'pg_catalog', 'pg_temp'
    BEGIN ATOMIC
 SELECT format(
         CASE column_type
             WHEN 'double precision'::text THEN 'customer_profile.profile_trait_text(u.data, %1$L)::double precision AS %1$I'::text
             WHEN 'boolean'::text THEN 'customer_profile.profile_trait_text(u.data, %1$L)::boolean AS %1$I'::text
             WHEN 'timestamp with time zone'::text THEN 'customer_profile.profile_trait_text(u.data, %1$L)::timestamptz AS %1$I'::text
             WHEN 'text[]'::text THEN 'ARRAY(SELECT pg_catalog.jsonb_array_elements_text(customer_profile.profile_trait_value(u.data, %1$L))) AS %1$I'::text
             WHEN 'jsonb'::text THEN 'customer_profile.profile_trait_value(u.data, %1$L) AS %1$I'::text
             ELSE 'customer_profile.profile_trait_text(u.data, %1$L) AS %1$I'::text
         END, trait) AS format;
END;
COMMENT ON FUNCTION customer_profile._profiles_wide_column(trait text, column_type text) IS 'Internal: the select-list entry of one profiles_wide column.';
REVOKE ALL ON FUNCTION customer_profile._profiles_wide_column(trait text, column_type text) FROM PUBLIC;

-- The behavior side (issue 16): the day of each event type's last event, a
-- stored generated column (computed here for every existing profile: the
-- table is rewritten) that unified_profile_index_keys_idx reads.
CREATE FUNCTION customer_profile._behavior_index_keys(behavior bytea) RETURNS bigint[]
    LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'cp_behavior_index_keys';
COMMENT ON FUNCTION customer_profile._behavior_index_keys(behavior bytea) IS 'Internal: what unified_profile.behavior_keys holds for a behavior summary: per event type, its hash and the block of 8 days holding its last event (or a marker for before 2000 or after 2358), and for a type whose buckets count two events or more the same for the latest day from which they do, expanded into index keys by _profile_index_keys.';
REVOKE ALL ON FUNCTION customer_profile._behavior_index_keys(behavior bytea) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION customer_profile._behavior_index_keys(behavior bytea) TO customer_profile_writer;
GRANT EXECUTE ON FUNCTION customer_profile._behavior_index_keys(behavior bytea) TO customer_profile_worker;
ALTER TABLE customer_profile.unified_profile
    ADD COLUMN behavior_keys bigint[] GENERATED ALWAYS AS (customer_profile._behavior_index_keys(behavior)) STORED;
-- In the row, uncompressed, while anything else can give way (see 03_identity.sql).
ALTER TABLE customer_profile.unified_profile ALTER COLUMN behavior_keys SET STORAGE MAIN;

-- Index-driven refresh: a GIN index over the keys of each profile's traits
-- and behavior (built here over the existing profiles).
-- The keys a profile is indexed under (core/predicate_index.hpp): a GIN
-- index on them lets segment_refresh read only the profiles that can match
-- a predicate's equality and presence conditions.
CREATE FUNCTION customer_profile._profile_index_keys(data customer_profile.profile, behavior_keys bigint[]) RETURNS text[]
    LANGUAGE c IMMUTABLE PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'cp_profile_index_keys';
COMMENT ON FUNCTION customer_profile._profile_index_keys(data customer_profile.profile, behavior_keys bigint[]) IS 'Internal: the keys of a profile''s traits (name, and name with its text, number or boolean value) and of its behavior (per event type, the blocks of 8 to 32768 days holding its last event and the day from which it counts two events, from behavior_keys) that unified_profile_index_keys_idx indexes.';
-- The roles that write profiles evaluate it as the index expression.
REVOKE ALL ON FUNCTION customer_profile._profile_index_keys(data customer_profile.profile, behavior_keys bigint[]) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION customer_profile._profile_index_keys(data customer_profile.profile, behavior_keys bigint[]) TO customer_profile_writer;
GRANT EXECUTE ON FUNCTION customer_profile._profile_index_keys(data customer_profile.profile, behavior_keys bigint[]) TO customer_profile_worker;
CREATE INDEX unified_profile_index_keys_idx ON customer_profile.unified_profile USING gin (customer_profile._profile_index_keys(data, behavior_keys));


-- Scores (issue 16): named sums of rule points, read as number traits.
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

-- Whether a predicate reads a name as a trait (a comparison or has()).
CREATE FUNCTION customer_profile._segment_predicate_reads_trait(predicate customer_profile.segment_predicate, trait text) RETURNS boolean
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
    SET search_path TO 'pg_catalog', 'pg_temp'
    BEGIN ATOMIC
 SELECT jsonb_path_exists(customer_profile._segment_predicate_tree(_segment_predicate_reads_trait.predicate), '$.** ? (@.trait == $n || @.has == $n || @.distance.trait == $n)'::jsonpath, jsonb_build_object('n', _segment_predicate_reads_trait.trait)) AS jsonb_path_exists;
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

ALTER FUNCTION customer_profile._segment_predicate_reads_time(customer_profile.segment_predicate) STABLE;

CREATE OR REPLACE FUNCTION customer_profile.trait_define(name text, type text, policy text DEFAULT 'latest'::text, source_order text[] DEFAULT '{}'::text[]) RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
DECLARE
    bad record;
BEGIN
    IF name IS NULL OR type IS NULL OR policy IS NULL THEN
        RAISE EXCEPTION 'name, type and policy must not be NULL' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    PERFORM customer_profile._trait_definition_check(name, type, policy, coalesce(source_order, '{}'));
    IF EXISTS (SELECT 1 FROM customer_profile.score s WHERE s.name = trait_define.name) THEN
        RAISE EXCEPTION 'a score named "%" exists: a trait cannot take its name', name USING ERRCODE = 'duplicate_object';
    END IF;
    -- Existing observations must fit the declared type (null fits any; text fits a text[] union).
    SELECT o.value_type INTO bad FROM customer_profile.trait_observation o
     WHERE o.trait = trait_define.name AND o.value_type NOT IN ('null', trait_define.type)
       AND NOT (trait_define.type = 'text[]' AND o.value_type = 'text')
     LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'trait "%" already has % observations, which type % cannot hold', name, bad.value_type, type
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    INSERT INTO customer_profile.trait_definition AS d (name, type, policy, source_order)
    VALUES (name, type, policy, coalesce(source_order, '{}'))
    ON CONFLICT ON CONSTRAINT trait_definition_pkey DO UPDATE
        SET type = EXCLUDED.type, policy = EXCLUDED.policy, source_order = EXCLUDED.source_order;
    -- Text observations of a trait now declared text[] become one-element arrays.
    IF type = 'text[]' THEN
        UPDATE customer_profile.trait_observation o
           SET value_type = 'text[]', value = jsonb_build_array(o.value)
         WHERE o.trait = trait_define.name AND o.value_type = 'text';
    END IF;
    -- The policy decides merged values: recompute every profile holding the trait.
    PERFORM customer_profile._profile_recompute(p.profile_id, ARRAY[trait_define.name])
       FROM (SELECT DISTINCT i.profile_id FROM customer_profile.trait_observation o
               JOIN customer_profile.identity i USING (identity_id)
              WHERE o.trait = trait_define.name) p;
    PERFORM customer_profile.profiles_wide_refresh();
END
$$;
COMMENT ON FUNCTION customer_profile.trait_define(name text, type text, policy text, source_order text[]) IS 'Declares (or redeclares) a trait: type null/boolean/number/text/timestamp/text[] and merge policy; existing profiles are recomputed.';
REVOKE ALL ON FUNCTION customer_profile.trait_define(name text, type text, policy text, source_order text[]) FROM PUBLIC;
GRANT ALL ON FUNCTION customer_profile.trait_define(name text, type text, policy text, source_order text[]) TO customer_profile_admin;

-- Regenerates profiles_wide without touching what users built on it: the
-- existing columns keep their places, new traits come last, so in the
-- common case (a new trait, a new policy) CREATE OR REPLACE VIEW suffices.
-- A column whose trait is gone stays while a view reads it. When a column
-- must change type or go, the views on profiles_wide (and on them) are
-- saved, dropped and created again as they were: definition, options,
-- owner, privileges, comments; one that cannot follow the change stops it
-- (2BP01, naming the view) and nothing changes.
CREATE OR REPLACE FUNCTION customer_profile._profiles_wide_rebuild() RETURNS void
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
DECLARE
    wide oid;
    names text[] := '{}';
    types text[] := '{}';
    scores text[] := '{}';
    in_place boolean := true;
    body text := 'SELECT u.profile_id';
    a record;
    d record;
    v record;
    dependents jsonb;
    wide_acl aclitem[];
    blocker text;
BEGIN
    -- One rebuild at a time: each reads the view it replaces.
    PERFORM pg_advisory_xact_lock(hashtext('customer_profile.profiles_wide'));
    wide := to_regclass('customer_profile.profiles_wide');
    -- Scores (1.6) are number columns too, computed by profile_score().
    IF to_regclass('customer_profile.score') IS NOT NULL THEN
        EXECUTE 'SELECT coalesce(array_agg(name ORDER BY name), ''{}'') FROM customer_profile.score' INTO scores;
    END IF;
    IF wide IS NOT NULL THEN
        FOR a IN SELECT c.attname::text AS name, format_type(c.atttypid, c.atttypmod) AS type, t.type AS trait_type,
                        EXISTS (SELECT 1 FROM pg_depend p JOIN pg_rewrite r ON r.oid = p.objid
                                 WHERE p.classid = 'pg_rewrite'::regclass AND p.refclassid = 'pg_class'::regclass
                                   AND p.refobjid = wide AND p.refobjsubid = c.attnum AND r.ev_class <> wide) AS read
                   FROM pg_attribute c
                   LEFT JOIN customer_profile.trait_definition t ON t.name = c.attname::text
                  WHERE c.attrelid = wide AND c.attnum > 1 AND NOT c.attisdropped
                  ORDER BY c.attnum LOOP
            IF a.trait_type IS NOT NULL THEN
                names := names || a.name;
                types := types || customer_profile._trait_column_type(a.trait_type);
                in_place := in_place AND a.type = customer_profile._trait_column_type(a.trait_type);
            ELSIF a.name = ANY (scores) THEN
                names := names || a.name;
                types := types || 'score'::text;
                in_place := in_place AND a.type = 'double precision';
            ELSIF a.read THEN
                names := names || a.name;  -- no longer declared, still read by a view
                types := types || a.type;
            ELSE
                in_place := false;
            END IF;
        END LOOP;
    END IF;
    FOR d IN SELECT t.name, t.type FROM customer_profile.trait_definition t
              WHERE t.name <> 'profile_id' AND t.name <> ALL (names) ORDER BY t.created_at, t.name LOOP
        names := names || d.name;
        types := types || customer_profile._trait_column_type(d.type);
    END LOOP;
    FOR i IN 1 .. coalesce(array_length(scores, 1), 0) LOOP
        IF scores[i] <> ALL (names) THEN
            names := names || scores[i];
            types := types || 'score'::text;
        END IF;
    END LOOP;
    FOR i IN 1 .. coalesce(array_length(names, 1), 0) LOOP
        body := body || ', ' || CASE WHEN types[i] = 'score'
                                     THEN format('customer_profile.profile_score(u.profile_id, %L) AS %I', names[i], names[i])
                                     ELSE customer_profile._profiles_wide_column(names[i], types[i]) END;
    END LOOP;
    body := body || ' FROM customer_profile.unified_profile u';

    IF wide IS NULL THEN
        EXECUTE 'CREATE VIEW customer_profile.profiles_wide AS ' || body;
    ELSIF in_place THEN
        EXECUTE 'CREATE OR REPLACE VIEW customer_profile.profiles_wide AS ' || body;
    ELSE
        -- Every view on profiles_wide, directly or through other views, deepest last.
        WITH RECURSIVE dep(oid, depth) AS (
            SELECT r.ev_class, 1 FROM pg_depend p JOIN pg_rewrite r ON r.oid = p.objid
             WHERE p.classid = 'pg_rewrite'::regclass AND p.refclassid = 'pg_class'::regclass
               AND p.refobjid = wide AND r.ev_class <> wide
            UNION
            SELECT r.ev_class, dep.depth + 1 FROM dep
              JOIN pg_depend p ON p.refobjid = dep.oid AND p.classid = 'pg_rewrite'::regclass
                              AND p.refclassid = 'pg_class'::regclass
              JOIN pg_rewrite r ON r.oid = p.objid AND r.ev_class <> dep.oid)
        SELECT jsonb_agg(jsonb_build_object(
                   'view', x.oid::regclass::text, 'kind', c.relkind, 'owner', c.relowner::regrole::text,
                   'definition', rtrim(pg_get_viewdef(x.oid), '; ' || chr(10)),
                   'options', coalesce(array_to_string(c.reloptions, ', '), ''), 'acl', c.relacl::text[],
                   'comment', obj_description(x.oid, 'pg_class'),
                   'columns', (SELECT coalesce(jsonb_object_agg(t.attname, col_description(x.oid, t.attnum)), '{}')
                                 FROM pg_attribute t WHERE t.attrelid = x.oid AND t.attnum > 0
                                  AND col_description(x.oid, t.attnum) IS NOT NULL),
                   'extra', EXISTS (SELECT 1 FROM pg_trigger g WHERE g.tgrelid = x.oid)
                            OR EXISTS (SELECT 1 FROM pg_rewrite w WHERE w.ev_class = x.oid AND w.rulename <> '_RETURN')
                            OR EXISTS (SELECT 1 FROM pg_attrdef f WHERE f.adrelid = x.oid))
                 ORDER BY x.depth, x.oid)
          INTO dependents
          FROM (SELECT dep.oid, max(dep.depth) AS depth FROM dep GROUP BY dep.oid) x JOIN pg_class c ON c.oid = x.oid;
        SELECT string_agg(e ->> 'view', ', ') INTO blocker FROM jsonb_array_elements(dependents) e
         WHERE e ->> 'kind' <> 'v' OR (e ->> 'extra')::boolean;
        IF blocker IS NOT NULL THEN
            RAISE EXCEPTION 'profiles_wide must be created again for this trait change, and % cannot be re-created automatically', blocker
                USING ERRCODE = 'dependent_objects_still_exist',
                      HINT = 'Materialized views, and views with triggers, rules or column defaults, must be dropped before the change and created again after it.';
        END IF;
        FOR v IN SELECT j.e FROM jsonb_array_elements(coalesce(dependents, '[]')) WITH ORDINALITY AS j(e, n) ORDER BY j.n DESC LOOP
            EXECUTE format('DROP VIEW %s', v.e ->> 'view');
        END LOOP;
        SELECT c.relacl INTO wide_acl FROM pg_class c WHERE c.oid = wide;
        DROP VIEW customer_profile.profiles_wide;  -- RESTRICT: another kind of dependent names itself here
        EXECUTE 'CREATE VIEW customer_profile.profiles_wide AS ' || body;
        PERFORM customer_profile._relation_acl_restore('customer_profile.profiles_wide', wide_acl);
        FOR v IN SELECT j.e FROM jsonb_array_elements(coalesce(dependents, '[]')) WITH ORDINALITY AS j(e, n) ORDER BY j.n LOOP
            BEGIN
                EXECUTE format('CREATE VIEW %s%s AS %s', v.e ->> 'view',
                               CASE WHEN v.e ->> 'options' <> '' THEN ' WITH (' || (v.e ->> 'options') || ')' ELSE '' END,
                               v.e ->> 'definition');
            EXCEPTION WHEN OTHERS THEN
                RAISE EXCEPTION 'view % reads profiles_wide and cannot follow this trait change: %', v.e ->> 'view', SQLERRM
                    USING ERRCODE = 'dependent_objects_still_exist',
                          HINT = 'Drop the view, change the trait, then create the view again.';
            END;
            IF EXISTS (SELECT 1 FROM pg_depend p WHERE p.classid = 'pg_class'::regclass
                          AND p.objid = (v.e ->> 'view')::regclass AND p.deptype = 'e') THEN
                EXECUTE format('ALTER EXTENSION customer_profile DROP VIEW %s', v.e ->> 'view');  -- a user's view
            END IF;
            EXECUTE format('ALTER VIEW %s OWNER TO %s', v.e ->> 'view', v.e ->> 'owner');
            PERFORM customer_profile._relation_acl_restore(
                (v.e ->> 'view')::regclass,
                CASE WHEN jsonb_typeof(v.e -> 'acl') = 'array'
                     THEN ARRAY(SELECT x::aclitem FROM jsonb_array_elements_text(v.e -> 'acl') x) END);
            EXECUTE format('COMMENT ON VIEW %s IS %L', v.e ->> 'view', v.e ->> 'comment');
            FOR d IN SELECT x.k, x.c FROM jsonb_each_text(v.e -> 'columns') AS x(k, c) LOOP
                EXECUTE format('COMMENT ON COLUMN %s.%I IS %L', v.e ->> 'view', d.k, d.c);
            END LOOP;
        END LOOP;
    END IF;
    -- Never a member, even when an extension script runs this.
    IF EXISTS (SELECT 1 FROM pg_depend p WHERE p.classid = 'pg_class'::regclass
                  AND p.objid = 'customer_profile.profiles_wide'::regclass AND p.deptype = 'e') THEN
        ALTER EXTENSION customer_profile DROP VIEW customer_profile.profiles_wide;
    END IF;
    PERFORM customer_profile._depend_on_extension('customer_profile.profiles_wide');
    COMMENT ON VIEW customer_profile.profiles_wide IS
        'One row per profile, one typed column per declared trait, in declaration order (a new trait is a new last column); views built on it survive trait definitions, pg_dump and pg_restore.';
    COMMENT ON COLUMN customer_profile.profiles_wide.profile_id IS 'The profile.';
    FOR d IN SELECT c.attname::text AS name, t.type, t.policy FROM pg_attribute c
               LEFT JOIN customer_profile.trait_definition t ON t.name = c.attname::text
              WHERE c.attrelid = 'customer_profile.profiles_wide'::regclass AND c.attnum > 1 AND NOT c.attisdropped LOOP
        EXECUTE format('COMMENT ON COLUMN customer_profile.profiles_wide.%I IS %L', d.name,
                       CASE WHEN d.type IS NULL THEN 'No longer a declared trait: kept while a view reads this column.'
                            ELSE format('Trait %s (%s, policy %s).', d.name, d.type, d.policy) END);
    END LOOP;
END
$$;
COMMENT ON FUNCTION customer_profile._profiles_wide_rebuild() IS 'Internal: brings profiles_wide in line with the trait definitions, keeping the views built on it (profiles_wide_refresh grants it).';
REVOKE ALL ON FUNCTION customer_profile._profiles_wide_rebuild() FROM PUBLIC;


-- Review of issue 16: held profiles are retried by the next build batch.
ALTER TABLE customer_profile.segment ADD COLUMN build_retry bigint[];
COMMENT ON COLUMN customer_profile.segment.build_retry IS 'While building: profiles before build_next that another transaction held, tried again by the next batch.';

-- Membership for a segment whose predicate is new (created, altered,
-- enabled), with the definitions lock held in EXCLUSIVE mode: a small
-- population at once (the refresh in this transaction), a large one queued
-- to the worker (segment_build_run), whose streams never wait for a profile.
CREATE OR REPLACE FUNCTION customer_profile._segment_backfill(segment_id integer) RETURNS text
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

-- One batch of a queued build: the next profiles of a segment that is
-- building, evaluated by the stream (which writes memberships, outbox and
-- schedule as for any change). It never waits: segment rows and profiles are
-- taken with SKIP LOCKED. A profile another transaction holds is kept in
-- build_retry and tried again by the next batch, and a segment whose batch
-- took nothing lets the next building segment have its turn, so one held
-- profile stalls no build.
CREATE OR REPLACE FUNCTION customer_profile.segment_build_run(max_profiles integer DEFAULT 10000) RETURNS integer
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

-- Disabled: kept with its members as they are, not evaluated by streams,
-- windows or refreshes (a segment that reads it with in_segment() reads the
-- frozen members). Under the definitions lock, as a new predicate is.
CREATE OR REPLACE FUNCTION customer_profile.segment_disable(name text) RETURNS void
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
CREATE OR REPLACE FUNCTION customer_profile.segment_refresh(name text, OUT entered bigint, OUT exited bigint) RETURNS record
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
      FROM customer_profile.segment s WHERE s.name = segment_refresh.name;
    schedule := FOUND AND customer_profile._segment_predicate_reads_time(seg.predicate)
                AND seg.windows_scheduled_for IS DISTINCT FROM seg.updated_at;
    LOOP
        IF schedule THEN
            LOCK TABLE customer_profile.segment IN EXCLUSIVE MODE;
        END IF;
        BEGIN
            SELECT s.segment_id, s.name, s.predicate, s.updated_at, s.windows_scheduled_for, s.state INTO seg
              FROM customer_profile.segment s
             WHERE s.name = segment_refresh.name FOR UPDATE;  -- one refresh of a segment at a time
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
    members := customer_profile._segment_evaluate_all(seg.predicate);
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
COMMENT ON FUNCTION customer_profile.segment_refresh(name text, OUT entered bigint, OUT exited bigint) IS 'Recomputes a segment over every live profile in one pass (completing a build): records entries and exits (history and outbox) and sends one NOTIFY customer_profile_segment; returns the counts. 55000 for a disabled segment.';
REVOKE ALL ON FUNCTION customer_profile.segment_refresh(name text, OUT entered bigint, OUT exited bigint) FROM PUBLIC;
GRANT ALL ON FUNCTION customer_profile.segment_refresh(name text, OUT entered bigint, OUT exited bigint) TO customer_profile_admin;


-- Every segment refreshed in one scan (segment_refresh_all).
CREATE FUNCTION customer_profile._segment_evaluate_many(predicates customer_profile.segment_predicate[]) RETURNS TABLE(n integer, members bigint[])
    LANGUAGE c STABLE STRICT
    AS 'MODULE_PATHNAME', 'cp_segment_evaluate_many';
COMMENT ON FUNCTION customer_profile._segment_evaluate_many(predicates customer_profile.segment_predicate[]) IS 'Internal: for each predicate (by its place n), every live profile matching it now, sorted: one scan of the profiles.';
REVOKE ALL ON FUNCTION customer_profile._segment_evaluate_many(predicates customer_profile.segment_predicate[]) FROM PUBLIC;

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

CREATE OR REPLACE FUNCTION customer_profile.segment_refresh(name text, OUT entered bigint, OUT exited bigint) RETURNS record
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


-- Review of issue 16: the traits a predicate reads come from its tree (not the fields of any()); score rules read no segment.
CREATE FUNCTION customer_profile._segment_predicate_traits(predicate customer_profile.segment_predicate) RETURNS text[]
    LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'cp_segment_predicate_traits';
COMMENT ON FUNCTION customer_profile._segment_predicate_traits(predicate customer_profile.segment_predicate) IS 'Internal: the names a predicate reads as traits (not where-filter properties, not the fields of any()), sorted.';
REVOKE ALL ON FUNCTION customer_profile._segment_predicate_traits(predicate customer_profile.segment_predicate) FROM PUBLIC;

-- Whether a predicate reads a name as a trait (a score read by a segment or another score).
CREATE OR REPLACE FUNCTION customer_profile._segment_predicate_reads_trait(predicate customer_profile.segment_predicate, trait text) RETURNS boolean
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
    SET search_path TO 'pg_catalog', 'pg_temp'
    BEGIN ATOMIC
 SELECT (_segment_predicate_reads_trait.trait = ANY (customer_profile._segment_predicate_traits(_segment_predicate_reads_trait.predicate))) AS reads;
END;
COMMENT ON FUNCTION customer_profile._segment_predicate_reads_trait(predicate customer_profile.segment_predicate, trait text) IS 'Internal: whether the predicate reads the name as a trait (a score read by a segment or another score).';
REVOKE ALL ON FUNCTION customer_profile._segment_predicate_reads_trait(predicate customer_profile.segment_predicate, trait text) FROM PUBLIC;

-- Defines or redefines a score, then brings up to date the segments that
-- read it (under the definitions lock, as a new predicate) and profiles_wide.
CREATE OR REPLACE FUNCTION customer_profile.score_define(name text, rules jsonb) RETURNS void
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

COMMENT ON FUNCTION customer_profile.worker_stop() IS 'Asks every inbox worker of the current database to exit: a statement it runs is cancelled (its batch goes back to the inbox); returns how many were signalled.';

-- A profile's current segments, which every stream reads (see 06_segments_activation.sql).
CREATE INDEX segment_membership_profile_current_idx ON customer_profile.segment_membership USING btree (profile_id, segment_id) WHERE (exited_at IS NULL);

-- worker_status reads the server's list of background workers: through pg_stat_activity a reader saw every worker stopped.
CREATE FUNCTION customer_profile._worker_pids() RETURNS integer[]
    LANGUAGE c STABLE
    AS 'MODULE_PATHNAME', 'cp_worker_pids';
COMMENT ON FUNCTION customer_profile._worker_pids() IS 'Internal: the pids of this database''s customer_profile workers (for worker_status, whatever the reader may see of pg_stat_activity).';
REVOKE ALL ON FUNCTION customer_profile._worker_pids() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION customer_profile._worker_pids() TO customer_profile_reader;

CREATE OR REPLACE VIEW customer_profile.worker_status AS
 SELECT w.pid,
        CASE
            WHEN (a.pid IS NULL) THEN 'stopped'::text
            ELSE w.state
        END AS state,
    w.started_at,
    w.heartbeat_at,
    w.batch_size,
    w.batches,
    w.events_applied,
    w.dead_lettered,
    w.last_error,
    w.last_error_at,
    w.last_retention_at,
    ( SELECT (clock_timestamp() - i.enqueued_at)
           FROM customer_profile.event_inbox i
          ORDER BY i.inbox_id
         LIMIT 1) AS inbox_lag
   FROM (customer_profile.worker_state w
     LEFT JOIN unnest(customer_profile._worker_pids()) a(pid) ON ((a.pid = w.pid)));

-- The worker undoes its own identifier inserts when it loses a race (see 03_identity.sql).
GRANT DELETE ON TABLE customer_profile.identity TO customer_profile_worker;
-- Its consent cascade runs as the owner, as a foreign key's would (see 03_identity.sql).
ALTER FUNCTION customer_profile._identities_deleted() SECURITY DEFINER;

-- Issue 17: probabilistic links carry their match rule and score.
ALTER TABLE customer_profile.identity_link ADD COLUMN rule text, ADD COLUMN score double precision;
CREATE INDEX identity_link_b_idx ON customer_profile.identity_link USING btree (identity_b);
COMMENT ON COLUMN customer_profile.identity_link.rule IS 'The match rule whose probabilistic match made the link (NULL: the identifiers were seen together).';
COMMENT ON COLUMN customer_profile.identity_link.score IS 'The match probability of a probabilistic link.';

CREATE OR REPLACE FUNCTION customer_profile.identity_explain(namespace_a text, value_a text, namespace_b text, value_b text) RETURNS jsonb
    LANGUAGE plpgsql STABLE
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
DECLARE
    a record;
    b record;
    la bigint[];
    lb bigint[];
    positions integer[];
    pos integer;
    cur bigint;
    nxt bigint;
    steps jsonb := '[]';
BEGIN
    a := customer_profile._identity_find(namespace_a, value_a);
    b := customer_profile._identity_find(namespace_b, value_b);
    IF a.identity_id IS NULL OR b.identity_id IS NULL THEN
        RETURN jsonb_build_object('tied', false, 'reason',
            format('%s identifier is not known', CASE WHEN a.identity_id IS NULL THEN 'the first' ELSE 'the second' END));
    END IF;
    IF a.profile_id <> b.profile_id THEN
        RETURN jsonb_build_object(
            'tied', false,
            'reason', 'the identifiers belong to different profiles',
            'profiles', jsonb_build_array(a.profile_id, b.profile_id),
            'refusals', coalesce((
                SELECT jsonb_agg(jsonb_build_object('rule', c.rule, 'namespace', n.name, 'kept_profile_id', c.kept_profile_id,
                                                    'refused_profile_id', c.refused_profile_id, 'detail', c.detail,
                                                    'occurred_at', c.occurred_at) ORDER BY c.conflict_id)
                  FROM customer_profile.identity_conflict c
                  LEFT JOIN customer_profile.namespace n USING (namespace_id)
                 WHERE (c.kept_profile_id, coalesce(c.refused_profile_id, -1)) IN ((a.profile_id, b.profile_id), (b.profile_id, a.profile_id))
                    OR c.refused_identity_id IN (a.identity_id, b.identity_id)), '[]'::jsonb));
    END IF;
    SELECT array_agg(l.identity_a ORDER BY l.identity_a, l.identity_b), array_agg(l.identity_b ORDER BY l.identity_a, l.identity_b)
      INTO la, lb
      FROM customer_profile.identity_link l
      JOIN customer_profile.identity i ON i.identity_id = l.identity_a
     WHERE i.profile_id = a.profile_id;
    positions := customer_profile._identity_link_path(a.identity_id, b.identity_id, coalesce(la, '{}'), coalesce(lb, '{}'));
    -- Walk the chain from the first identifier, orienting each link along it.
    cur := a.identity_id;
    FOREACH pos IN ARRAY coalesce(positions, '{}') LOOP
        nxt := CASE WHEN la[pos] = cur THEN lb[pos] ELSE la[pos] END;
        steps := steps || (jsonb_build_object(
            'step', jsonb_array_length(steps) + 1,
            'from', (SELECT jsonb_build_object('namespace', n.name, 'identity_id', i.identity_id, 'value', i.raw_value)
                       FROM customer_profile.identity i JOIN customer_profile.namespace n USING (namespace_id)
                      WHERE i.identity_id = cur),
            'to', (SELECT jsonb_build_object('namespace', n.name, 'identity_id', i.identity_id, 'value', i.raw_value)
                     FROM customer_profile.identity i JOIN customer_profile.namespace n USING (namespace_id)
                    WHERE i.identity_id = nxt),
            'source', (SELECT l.source FROM customer_profile.identity_link l
                        WHERE l.identity_a = la[pos] AND l.identity_b = lb[pos]),
            'linked_at', (SELECT l.linked_at FROM customer_profile.identity_link l
                           WHERE l.identity_a = la[pos] AND l.identity_b = lb[pos]))
            -- A probabilistic link names its match rule and probability.
            || coalesce((SELECT jsonb_build_object('rule', l.rule, 'score', l.score) FROM customer_profile.identity_link l
                          WHERE l.identity_a = la[pos] AND l.identity_b = lb[pos] AND l.rule IS NOT NULL), '{}'));
        cur := nxt;
    END LOOP;
    RETURN jsonb_build_object(
        'tied', positions IS NOT NULL,
        'profile_id', a.profile_id,
        'reason', CASE WHEN a.identity_id = b.identity_id THEN 'the same identifier'
                       WHEN positions IS NULL THEN 'same profile but no chain of links (run identity_rebuild())'
                       ELSE format('tied by a chain of %s link(s)', cardinality(positions)) END,
        'path', steps);
END
$$;
COMMENT ON FUNCTION customer_profile.identity_explain(namespace_a text, value_a text, namespace_b text, value_b text) IS 'Why two identifiers are (or are not) one person: the shortest chain of links with source and time (and rule and score for a probabilistic link), or the profiles and guard-rail refusals that keep them apart.';
REVOKE ALL ON FUNCTION customer_profile.identity_explain(namespace_a text, value_a text, namespace_b text, value_b text) FROM PUBLIC;
GRANT ALL ON FUNCTION customer_profile.identity_explain(namespace_a text, value_a text, namespace_b text, value_b text) TO customer_profile_writer;
COMMENT ON FUNCTION customer_profile.identity_explain(namespace_a text, value_a text, namespace_b text, value_b text) IS 'Why two identifiers are (or are not) one person: the shortest chain of links with source and time (and rule and score for a probabilistic link), or the profiles and guard-rail refusals that keep them apart.';

-- Issue 17: match rules (see 12_matching.sql).
-- Probabilistic identity resolution: match rules compare the records of
-- identifiers whose values disagree (names, addresses, dates of birth), pick
-- candidates through indexed blocking keys, and link the pairs whose
-- Fellegi-Sunter match probability passes a threshold; the pairs between the
-- two thresholds wait in match_review. See docs/matching.md.

CREATE FUNCTION customer_profile._match_rule_check(fields jsonb, blocking jsonb, link_threshold double precision, review_threshold double precision, parameters jsonb) RETURNS boolean
    LANGUAGE c IMMUTABLE PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'cp_match_rule_check';
COMMENT ON FUNCTION customer_profile._match_rule_check(fields jsonb, blocking jsonb, link_threshold double precision, review_threshold double precision, parameters jsonb) IS 'Internal: true when a match rule parses (fields, blocking keys, thresholds, parameters); raises 22023 naming what is wrong otherwise.';
REVOKE ALL ON FUNCTION customer_profile._match_rule_check(fields jsonb, blocking jsonb, link_threshold double precision, review_threshold double precision, parameters jsonb) FROM PUBLIC;
-- The admin updates a rule's parameters and progress (match_estimate, match_run): the row's check runs as the admin.
GRANT EXECUTE ON FUNCTION customer_profile._match_rule_check(fields jsonb, blocking jsonb, link_threshold double precision, review_threshold double precision, parameters jsonb) TO customer_profile_admin;

CREATE TABLE customer_profile.match_rule (
    rule_id integer NOT NULL,
    name text NOT NULL,
    namespaces text[] NOT NULL,
    fields jsonb NOT NULL,
    blocking jsonb NOT NULL,
    link_threshold double precision NOT NULL,
    review_threshold double precision NOT NULL,
    parameters jsonb,
    deduplicates text[] DEFAULT '{}'::text[] NOT NULL,
    max_candidates integer DEFAULT 200 NOT NULL,
    enabled boolean DEFAULT true NOT NULL,
    estimated_at timestamp with time zone,
    estimate jsonb,
    run_next bigint,
    run_done bigint,
    run_total bigint,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    CONSTRAINT match_rule_name_check CHECK ((name ~ '^[a-z][a-z0-9_]{0,62}$'::text)),
    CONSTRAINT match_rule_namespaces_check CHECK ((cardinality(namespaces) >= 1)),
    CONSTRAINT match_rule_max_candidates_check CHECK (((max_candidates >= 1) AND (max_candidates <= 100000))),
    CONSTRAINT match_rule_valid CHECK (customer_profile._match_rule_check(fields, blocking, link_threshold, review_threshold, parameters))
);
SELECT pg_catalog.pg_extension_config_dump('customer_profile.match_rule', '');
ALTER TABLE customer_profile.match_rule ALTER COLUMN rule_id ADD GENERATED ALWAYS AS IDENTITY (
    SEQUENCE NAME customer_profile.match_rule_rule_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1
);
SELECT pg_catalog.pg_extension_config_dump('customer_profile.match_rule_rule_id_seq', '');
ALTER TABLE ONLY customer_profile.match_rule
    ADD CONSTRAINT match_rule_pkey PRIMARY KEY (rule_id);
ALTER TABLE ONLY customer_profile.match_rule
    ADD CONSTRAINT match_rule_name_key UNIQUE (name);
CREATE TRIGGER match_rule_changed AFTER INSERT OR DELETE OR UPDATE OR TRUNCATE ON customer_profile.match_rule FOR EACH STATEMENT EXECUTE FUNCTION customer_profile._catalog_changed();
COMMENT ON TABLE customer_profile.match_rule IS 'Match rules: whose identifiers are records (namespaces), the fields compared with their levels, the blocking keys, the link and review thresholds (match probabilities), the Fellegi-Sunter parameters (m, u, lambda), and the progress of match_run().';
COMMENT ON COLUMN customer_profile.match_rule.deduplicates IS 'Namespaces whose per-profile cap this rule''s links may exceed: two records of one such namespace found to be one person are duplicates, and linking them is what the rule is for.';
GRANT SELECT ON TABLE customer_profile.match_rule TO customer_profile_reader;
GRANT UPDATE(parameters, estimated_at, estimate, run_next, run_done, run_total) ON TABLE customer_profile.match_rule TO customer_profile_admin;
REVOKE USAGE ON TYPE customer_profile.match_rule FROM PUBLIC;

-- Blocking keys: a record is compared with the records that share one of its
-- keys. Keys are stored as 16 bytes of SHA-256 (no identifying text here,
-- and a fixed size whatever the values).
CREATE TABLE customer_profile.match_key (
    rule_id integer NOT NULL,
    key_no smallint NOT NULL,
    key bytea NOT NULL,
    identity_id bigint NOT NULL
);
SELECT pg_catalog.pg_extension_config_dump('customer_profile.match_key', '');
ALTER TABLE ONLY customer_profile.match_key
    ADD CONSTRAINT match_key_pkey PRIMARY KEY (rule_id, key, identity_id);
CREATE INDEX match_key_identity_idx ON customer_profile.match_key USING btree (identity_id, rule_id);
COMMENT ON TABLE customer_profile.match_key IS 'Blocking keys of every record per match rule (hashed; key_no: the key''s position in the rule): the index through which a new record finds its candidates.';
GRANT SELECT,INSERT,DELETE ON TABLE customer_profile.match_key TO customer_profile_writer;
REVOKE USAGE ON TYPE customer_profile.match_key FROM PUBLIC;

CREATE TABLE customer_profile.match_review (
    rule_id integer NOT NULL,
    identity_a bigint NOT NULL,
    identity_b bigint NOT NULL,
    weight double precision NOT NULL,
    probability double precision NOT NULL,
    status text DEFAULT 'pending'::text NOT NULL,
    reason text NOT NULL,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    decided_at timestamp with time zone,
    decided_by name,
    CONSTRAINT match_review_check CHECK ((identity_a < identity_b)),
    CONSTRAINT match_review_status_check CHECK ((status = ANY (ARRAY['pending'::text, 'accepted'::text, 'rejected'::text])))
);
SELECT pg_catalog.pg_extension_config_dump('customer_profile.match_review', '');
ALTER TABLE ONLY customer_profile.match_review
    ADD CONSTRAINT match_review_pkey PRIMARY KEY (rule_id, identity_a, identity_b);
CREATE INDEX match_review_a_idx ON customer_profile.match_review USING btree (identity_a);
CREATE INDEX match_review_b_idx ON customer_profile.match_review USING btree (identity_b);
-- The pairs kept apart for good, which every link checks: few, so that the
-- check is an index probe per identity of the profile even before the
-- first ANALYZE of a freshly loaded database (see resolve_identity.cpp).
CREATE INDEX match_review_rejected_idx ON customer_profile.match_review USING btree (identity_a, identity_b) WHERE (status = 'rejected'::text);
CREATE INDEX match_review_pending_idx ON customer_profile.match_review USING btree (rule_id, probability DESC) WHERE (status = 'pending'::text);
COMMENT ON TABLE customer_profile.match_review IS 'Pairs of records a match rule could not decide (probability between its thresholds, or a link a guard rail refused): accepted pairs are linked, rejected pairs are never linked by the rule again.';
GRANT SELECT ON TABLE customer_profile.match_review TO customer_profile_reader;
-- The writer's trait_observe queues pairs through _match_review_queue(),
-- which scores them itself and writes as the table's owner; only the admin's
-- review functions decide. No write grant: the writer could forge a pair's
-- probability or rewrite a decided one.
GRANT SELECT ON TABLE customer_profile.match_review TO customer_profile_writer;
REVOKE USAGE ON TYPE customer_profile.match_review FROM PUBLIC;

CREATE FUNCTION customer_profile.match_rule_create(name text, namespaces text[], fields jsonb, blocking jsonb, link_threshold double precision DEFAULT 0.99, review_threshold double precision DEFAULT 0.8, deduplicates text[] DEFAULT '{}'::text[], max_candidates integer DEFAULT 200) RETURNS integer
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
DECLARE
    unknown text;
    created integer;
BEGIN
    IF name IS NULL OR namespaces IS NULL OR fields IS NULL OR blocking IS NULL OR link_threshold IS NULL
       OR review_threshold IS NULL OR deduplicates IS NULL OR max_candidates IS NULL THEN
        RAISE EXCEPTION 'match_rule_create arguments must not be NULL' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    SELECT x INTO unknown FROM unnest(namespaces || deduplicates) x
     WHERE NOT EXISTS (SELECT 1 FROM customer_profile.namespace n WHERE n.name = x) LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'unknown namespace "%"', unknown USING ERRCODE = 'undefined_object';
    END IF;
    SELECT x INTO unknown FROM unnest(namespaces) x GROUP BY x HAVING count(*) > 1 LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'namespace "%" is named twice', unknown USING ERRCODE = 'invalid_parameter_value';
    END IF;
    SELECT x INTO unknown FROM unnest(deduplicates) x WHERE x <> ALL (namespaces) LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'namespace "%" is deduplicated but holds no records of the rule', unknown
              USING ERRCODE = 'invalid_parameter_value', HINT = 'Name it in namespaces too.';
    END IF;
    IF EXISTS (SELECT 1 FROM customer_profile.match_rule r WHERE r.name = match_rule_create.name) THEN
        RAISE EXCEPTION 'match rule "%" exists', name USING ERRCODE = 'duplicate_object';
    END IF;
    INSERT INTO customer_profile.match_rule (name, namespaces, fields, blocking, link_threshold, review_threshold,
                                             deduplicates, max_candidates)
    VALUES (name, namespaces, fields, blocking, link_threshold, review_threshold, deduplicates, max_candidates)
    RETURNING rule_id INTO created;
    RETURN created;
END
$$;
COMMENT ON FUNCTION customer_profile.match_rule_create(name text, namespaces text[], fields jsonb, blocking jsonb, link_threshold double precision, review_threshold double precision, deduplicates text[], max_candidates integer) IS 'Creates a match rule: the identifiers of namespaces are records; fields compare traits by levels; blocking keys pick candidates; pairs at or above link_threshold (match probability) link, those at or above review_threshold wait in match_review. match_run() matches the records already there, match_estimate() estimates m and u.';
REVOKE ALL ON FUNCTION customer_profile.match_rule_create(name text, namespaces text[], fields jsonb, blocking jsonb, link_threshold double precision, review_threshold double precision, deduplicates text[], max_candidates integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION customer_profile.match_rule_create(name text, namespaces text[], fields jsonb, blocking jsonb, link_threshold double precision, review_threshold double precision, deduplicates text[], max_candidates integer) TO customer_profile_admin;

CREATE FUNCTION customer_profile.match_rule_alter(name text, link_threshold double precision DEFAULT NULL::double precision, review_threshold double precision DEFAULT NULL::double precision, enabled boolean DEFAULT NULL::boolean, parameters jsonb DEFAULT NULL::jsonb, max_candidates integer DEFAULT NULL::integer) RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
BEGIN
    IF name IS NULL THEN
        RAISE EXCEPTION 'the rule must not be NULL' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    UPDATE customer_profile.match_rule r
       SET link_threshold = coalesce(match_rule_alter.link_threshold, r.link_threshold),
           review_threshold = coalesce(match_rule_alter.review_threshold, r.review_threshold),
           enabled = coalesce(match_rule_alter.enabled, r.enabled),
           parameters = coalesce(match_rule_alter.parameters, r.parameters),
           max_candidates = coalesce(match_rule_alter.max_candidates, r.max_candidates)
     WHERE r.name = match_rule_alter.name;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'unknown match rule "%"', name USING ERRCODE = 'undefined_object';
    END IF;
END
$$;
COMMENT ON FUNCTION customer_profile.match_rule_alter(name text, link_threshold double precision, review_threshold double precision, enabled boolean, parameters jsonb, max_candidates integer) IS 'Changes a match rule''s thresholds, whether it matches arriving records, its parameters ({"lambda", "m", "u"}) or its candidate limit; NULL keeps a setting. Links already made stay.';
REVOKE ALL ON FUNCTION customer_profile.match_rule_alter(name text, link_threshold double precision, review_threshold double precision, enabled boolean, parameters jsonb, max_candidates integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION customer_profile.match_rule_alter(name text, link_threshold double precision, review_threshold double precision, enabled boolean, parameters jsonb, max_candidates integer) TO customer_profile_admin;

CREATE FUNCTION customer_profile.match_rule_drop(name text) RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
DECLARE
    dropped integer;
BEGIN
    IF name IS NULL THEN
        RAISE EXCEPTION 'the rule must not be NULL' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    DELETE FROM customer_profile.match_rule r WHERE r.name = match_rule_drop.name RETURNING r.rule_id INTO dropped;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'unknown match rule "%"', name USING ERRCODE = 'undefined_object';
    END IF;
    DELETE FROM customer_profile.match_key k WHERE k.rule_id = dropped;
    DELETE FROM customer_profile.match_review v WHERE v.rule_id = dropped;
END
$$;
COMMENT ON FUNCTION customer_profile.match_rule_drop(name text) IS 'Drops a match rule with its blocking keys and reviews. The links it made stay (they are identity links; identity_unlink withdraws one).';
REVOKE ALL ON FUNCTION customer_profile.match_rule_drop(name text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION customer_profile.match_rule_drop(name text) TO customer_profile_admin;

CREATE FUNCTION customer_profile.match_blocking(name text) RETURNS TABLE(key_no integer, key jsonb, records bigint, distinct_keys bigint, candidates_per_record double precision, largest_group bigint)
    LANGUAGE plpgsql STABLE
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
DECLARE
    chosen customer_profile.match_rule;
BEGIN
    IF name IS NULL THEN
        RAISE EXCEPTION 'the rule must not be NULL' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    SELECT * INTO chosen FROM customer_profile.match_rule r WHERE r.name = match_blocking.name;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'unknown match rule "%"', name USING ERRCODE = 'undefined_object';
    END IF;
    -- A record in a group of n shares the key with n - 1 others: summed over
    -- the groups and divided by the records, the mean (an upper bound where a
    -- deletions() key gives a pair several shared keys).
    RETURN QUERY
    SELECT (b.ord - 1)::integer, b.parts, coalesce(s.records, 0), coalesce(s.groups, 0), coalesce(s.pairs / s.records, 0),
           coalesce(s.largest, 0)
      FROM jsonb_array_elements(chosen.blocking) WITH ORDINALITY AS b(parts, ord)
      LEFT JOIN (SELECT g.key_no, count(*) AS groups, sum(g.n * (g.n - 1))::float8 AS pairs, max(g.n) AS largest,
                        (SELECT count(DISTINCT k.identity_id) FROM customer_profile.match_key k
                          WHERE k.rule_id = chosen.rule_id AND k.key_no = g.key_no) AS records
                   FROM (SELECT k.key_no, count(*) AS n FROM customer_profile.match_key k
                          WHERE k.rule_id = chosen.rule_id GROUP BY k.key_no, k.key) g
                  GROUP BY g.key_no) s ON s.key_no = b.ord - 1
     ORDER BY 1;
END
$$;
COMMENT ON FUNCTION customer_profile.match_blocking(name text) IS 'How selective a rule''s blocking keys are, from the keys stored: per key its parts, the records that have it, its distinct values, the mean number of records a record shares it with (the candidates it brings, before max_candidates) and the largest group. Reads all of match_key for the rule.';
REVOKE ALL ON FUNCTION customer_profile.match_blocking(name text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION customer_profile.match_blocking(name text) TO customer_profile_admin;

CREATE FUNCTION customer_profile._match_identity(identity_id bigint) RETURNS integer
    LANGUAGE c STRICT
    AS 'MODULE_PATHNAME', 'cp_match_identity';
COMMENT ON FUNCTION customer_profile._match_identity(identity_id bigint) IS 'Internal: matches one record under every enabled rule that covers its namespace (as trait_observe does); returns the links made.';
REVOKE ALL ON FUNCTION customer_profile._match_identity(identity_id bigint) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION customer_profile._match_identity(identity_id bigint) TO customer_profile_writer;

CREATE FUNCTION customer_profile._match_rekey(identity_ids bigint[]) RETURNS integer
    LANGUAGE c
    AS 'MODULE_PATHNAME', 'cp_match_rekey';
COMMENT ON FUNCTION customer_profile._match_rekey(identity_ids bigint[]) IS 'Internal: stores the blocking keys of these records again under every rule that covers them, without matching (identity_remove and identity_unlink call it for the identifiers a removed or unlinked identifier lent values to); returns the records re-keyed.';
REVOKE ALL ON FUNCTION customer_profile._match_rekey(identity_ids bigint[]) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION customer_profile._match_rekey(identity_ids bigint[]) TO customer_profile_admin;

CREATE FUNCTION customer_profile.match_run(name text, max_records integer DEFAULT NULL::integer, OUT records bigint, OUT comparisons bigint, OUT links bigint, OUT reviews bigint, OUT remaining bigint) RETURNS record
    LANGUAGE c
    AS 'MODULE_PATHNAME', 'cp_match_run';
COMMENT ON FUNCTION customer_profile.match_run(name text, max_records integer, OUT records bigint, OUT comparisons bigint, OUT links bigint, OUT reviews bigint, OUT remaining bigint) IS 'Matches the records already stored under a rule, in identifier order: all of them, or max_records per call (calls resume where the last committed one stopped; match_rules shows the progress). Returns what this call did and how many records remain.';
REVOKE ALL ON FUNCTION customer_profile.match_run(name text, max_records integer, OUT records bigint, OUT comparisons bigint, OUT links bigint, OUT reviews bigint, OUT remaining bigint) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION customer_profile.match_run(name text, max_records integer, OUT records bigint, OUT comparisons bigint, OUT links bigint, OUT reviews bigint, OUT remaining bigint) TO customer_profile_admin;

CREATE FUNCTION customer_profile.match_estimate(name text, sample_pairs integer DEFAULT 100000, OUT random_pairs bigint, OUT blocked_pairs bigint, OUT labelled_pairs bigint, OUT iterations integer, OUT converged boolean, OUT lambda double precision) RETURNS record
    LANGUAGE c
    AS 'MODULE_PATHNAME', 'cp_match_estimate';
COMMENT ON FUNCTION customer_profile.match_estimate(name text, sample_pairs integer, OUT random_pairs bigint, OUT blocked_pairs bigint, OUT labelled_pairs bigint, OUT iterations integer, OUT converged boolean, OUT lambda double precision) IS 'Estimates a rule''s parameters without labels: u from random pairs of records, m and lambda by expectation-maximisation over blocked pairs (up to sample_pairs of each), reviewed pairs as labels; stores them with the rule.';
REVOKE ALL ON FUNCTION customer_profile.match_estimate(name text, sample_pairs integer, OUT random_pairs bigint, OUT blocked_pairs bigint, OUT labelled_pairs bigint, OUT iterations integer, OUT converged boolean, OUT lambda double precision) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION customer_profile.match_estimate(name text, sample_pairs integer, OUT random_pairs bigint, OUT blocked_pairs bigint, OUT labelled_pairs bigint, OUT iterations integer, OUT converged boolean, OUT lambda double precision) TO customer_profile_admin;

CREATE FUNCTION customer_profile._match_explain_ids(rule text, identity_a bigint, identity_b bigint) RETURNS TABLE(field text, value_a text, value_b text, level integer, comparison text, weight double precision, probability double precision)
    LANGUAGE c STABLE
    AS 'MODULE_PATHNAME', 'cp_match_explain_ids';
COMMENT ON FUNCTION customer_profile._match_explain_ids(rule text, identity_a bigint, identity_b bigint) IS 'Internal: match_explain on identity ids.';
REVOKE ALL ON FUNCTION customer_profile._match_explain_ids(rule text, identity_a bigint, identity_b bigint) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION customer_profile._match_explain_ids(rule text, identity_a bigint, identity_b bigint) TO customer_profile_writer;

CREATE FUNCTION customer_profile.match_explain(rule text, namespace_a text, identifier_a text, namespace_b text, identifier_b text) RETURNS TABLE(field text, value_a text, value_b text, level integer, comparison text, weight double precision, probability double precision)
    LANGUAGE plpgsql STABLE
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
DECLARE
    a record;
    b record;
BEGIN
    IF rule IS NULL OR namespace_a IS NULL OR identifier_a IS NULL OR namespace_b IS NULL OR identifier_b IS NULL THEN
        RAISE EXCEPTION 'the rule and both identifiers must not be NULL' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    a := customer_profile._identity_find(namespace_a, identifier_a);
    b := customer_profile._identity_find(namespace_b, identifier_b);
    IF a.identity_id IS NULL OR b.identity_id IS NULL THEN
        RAISE EXCEPTION '% identifier is not known', CASE WHEN a.identity_id IS NULL THEN 'the first' ELSE 'the second' END
              USING ERRCODE = 'undefined_object';
    END IF;
    RETURN QUERY SELECT * FROM customer_profile._match_explain_ids(rule, a.identity_id, b.identity_id);
END
$$;
COMMENT ON FUNCTION customer_profile.match_explain(rule text, namespace_a text, identifier_a text, namespace_b text, identifier_b text) IS 'How a rule scores two records: per field the two values, the comparison level and its weight (log2 m/u; 0 when a value is missing), then a row "total" with the summed weight, the match probability and the decision (link, review or none).';
REVOKE ALL ON FUNCTION customer_profile.match_explain(rule text, namespace_a text, identifier_a text, namespace_b text, identifier_b text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION customer_profile.match_explain(rule text, namespace_a text, identifier_a text, namespace_b text, identifier_b text) TO customer_profile_writer;

CREATE FUNCTION customer_profile._match_link(rule text, identity_a bigint, identity_b bigint, score double precision, source text) RETURNS text
    LANGUAGE c STRICT
    AS 'MODULE_PATHNAME', 'cp_match_link';
COMMENT ON FUNCTION customer_profile._match_link(rule text, identity_a bigint, identity_b bigint, score double precision, source text) IS 'Internal: links two records under the guard rails (a rule''s deduplicated namespaces uncapped); returns linked, already or refused.';
REVOKE ALL ON FUNCTION customer_profile._match_link(rule text, identity_a bigint, identity_b bigint, score double precision, source text) FROM PUBLIC;

-- Reviews are written only by this function, not by a caller's own INSERT: the writer's process can neither forge a
-- pending pair's probability or reason nor touch a decided one. No grant: it is reached through the two doors below,
-- C functions that score the pair as their caller (with the values the caller may read, as its own matching did) and
-- then run this as the owner of match_review. enabled_only: the writer's door takes an enabled rule only (a
-- disabled rule matches nothing as records arrive); match_run() runs a rule whether or not it is enabled (a batch
-- load keeps it disabled until it is estimated), and its review band must be queued too.
CREATE FUNCTION customer_profile._match_review_store(rule_id integer, identity_a bigint, identity_b bigint, refused boolean, enabled_only boolean, weight double precision, probability double precision) RETURNS boolean
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
DECLARE
    r record;
    w double precision := weight;
    p double precision := probability;
    why text;
BEGIN
    SELECT m.name, m.namespaces, m.link_threshold, m.review_threshold INTO r FROM customer_profile.match_rule m
     WHERE m.rule_id = _match_review_store.rule_id AND (m.enabled OR NOT coalesce(enabled_only, true));
    IF NOT FOUND OR identity_a IS NULL OR identity_b IS NULL OR identity_a = identity_b THEN
        RETURN false;
    END IF;
    -- Only pairs the rule compares: both in its namespaces, still in two profiles; a refusal only with the guard
    -- rail's record of it, written by this transaction's link attempt.
    IF (SELECT count(DISTINCT i.profile_id) FROM customer_profile.identity i
          JOIN customer_profile.namespace n ON n.namespace_id = i.namespace_id
         WHERE i.identity_id IN (identity_a, identity_b) AND n.name = ANY (r.namespaces)) <> 2 THEN
        RETURN false;
    END IF;
    IF refused AND NOT EXISTS (
        SELECT 1 FROM customer_profile.identity_conflict c
         WHERE c.occurred_at = now() AND c.source = 'match'
           AND (c.refused_identity_id IN (identity_a, identity_b)
                OR c.refused_profile_id IN (SELECT i.profile_id FROM customer_profile.identity i
                                             WHERE i.identity_id IN (identity_a, identity_b)))) THEN
        RETURN false;
    END IF;
    IF p IS NULL OR p < r.review_threshold OR (p >= r.link_threshold) IS DISTINCT FROM coalesce(refused, false) THEN
        RETURN false;  -- not what the rule would queue
    END IF;
    why := CASE WHEN refused
                THEN format('probability %s passes the link threshold, but a guard rail refused the link (see identity_conflict)',
                            round(p::numeric, 4))
                ELSE format('probability %s is between the thresholds', round(p::numeric, 4)) END;
    INSERT INTO customer_profile.match_review AS v (rule_id, identity_a, identity_b, weight, probability, reason)
    VALUES (_match_review_store.rule_id, least(identity_a, identity_b), greatest(identity_a, identity_b), w, p, why)
    ON CONFLICT ON CONSTRAINT match_review_pkey DO UPDATE SET weight = EXCLUDED.weight,
        probability = EXCLUDED.probability, reason = EXCLUDED.reason WHERE v.status = 'pending';
    RETURN FOUND;
END
$$;
COMMENT ON FUNCTION customer_profile._match_review_store(rule_id integer, identity_a bigint, identity_b bigint, refused boolean, enabled_only boolean, weight double precision, probability double precision) IS 'Internal: queues a pair for review (or refreshes a pending one) with the weight and probability its door scored; refused marks a link a guard rail refused; enabled_only refuses a disabled rule. Returns whether a row was written. Reached through _match_review_queue and _match_run_review_queue.';
REVOKE ALL ON FUNCTION customer_profile._match_review_store(rule_id integer, identity_a bigint, identity_b bigint, refused boolean, enabled_only boolean, weight double precision, probability double precision) FROM PUBLIC;

CREATE FUNCTION customer_profile._match_review_queue(rule_id integer, identity_a bigint, identity_b bigint, refused boolean) RETURNS boolean
    LANGUAGE c STRICT
    AS 'MODULE_PATHNAME', 'cp_match_review_queue';
COMMENT ON FUNCTION customer_profile._match_review_queue(rule_id integer, identity_a bigint, identity_b bigint, refused boolean) IS 'Internal: the writer''s trait_observe queues a pair of an enabled rule for review, scored with the values the caller may read, stored as the owner of match_review (see _match_review_store). Returns whether a row was written.';
REVOKE ALL ON FUNCTION customer_profile._match_review_queue(rule_id integer, identity_a bigint, identity_b bigint, refused boolean) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION customer_profile._match_review_queue(rule_id integer, identity_a bigint, identity_b bigint, refused boolean) TO customer_profile_writer;

CREATE FUNCTION customer_profile._match_run_review_queue(rule_id integer, identity_a bigint, identity_b bigint, refused boolean) RETURNS boolean
    LANGUAGE c STRICT
    AS 'MODULE_PATHNAME', 'cp_match_run_review_queue';
COMMENT ON FUNCTION customer_profile._match_run_review_queue(rule_id integer, identity_a bigint, identity_b bigint, refused boolean) IS 'Internal: the admin''s match_run() queues a pair for review, enabled rule or not, scored with the values the caller may read, stored as the owner of match_review (see _match_review_store). Returns whether a row was written.';
REVOKE ALL ON FUNCTION customer_profile._match_run_review_queue(rule_id integer, identity_a bigint, identity_b bigint, refused boolean) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION customer_profile._match_run_review_queue(rule_id integer, identity_a bigint, identity_b bigint, refused boolean) TO customer_profile_admin;

CREATE FUNCTION customer_profile.match_review_accept(rule text, identity_a bigint, identity_b bigint) RETURNS text
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
DECLARE
    v record;
    outcome text;
    score double precision;
BEGIN
    IF rule IS NULL OR identity_a IS NULL OR identity_b IS NULL THEN
        RAISE EXCEPTION 'the rule and both identities must not be NULL' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    SELECT m.* INTO v FROM customer_profile.match_review m JOIN customer_profile.match_rule r USING (rule_id)
     WHERE r.name = match_review_accept.rule AND m.identity_a = least(match_review_accept.identity_a, match_review_accept.identity_b)
       AND m.identity_b = greatest(match_review_accept.identity_a, match_review_accept.identity_b)
       FOR UPDATE OF m;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'no review of this pair under rule "%"', rule USING ERRCODE = 'undefined_object';
    END IF;
    IF v.status = 'rejected' THEN
        RAISE EXCEPTION 'the pair was rejected under rule "%"', rule USING ERRCODE = 'object_not_in_prerequisite_state',
              DETAIL = format('Rejected by %s at %s; a rejection is final.', v.decided_by, v.decided_at);
    END IF;
    -- The link's score is the pair's probability scored now, not the stored one (a writer's process records reviews).
    SELECT x.probability INTO score FROM customer_profile._match_explain_ids(rule, v.identity_a, v.identity_b) x
     WHERE x.field = 'total';
    outcome := customer_profile._match_link(rule, v.identity_a, v.identity_b, coalesce(score, v.probability), 'match_review');
    UPDATE customer_profile.match_review m SET status = 'accepted', decided_at = now(), decided_by = session_user,
           reason = CASE WHEN outcome = 'refused' THEN m.reason || '; accepted but refused by a guard rail'
                         WHEN outcome = 'kept_apart' THEN m.reason || '; accepted but it would join a rejected pair'
                         ELSE m.reason END
     WHERE m.rule_id = v.rule_id AND m.identity_a = v.identity_a AND m.identity_b = v.identity_b;
    RETURN outcome;
END
$$;
COMMENT ON FUNCTION customer_profile.match_review_accept(rule text, identity_a bigint, identity_b bigint) IS 'Accepts a reviewed pair: the two records are linked (source match_review, under the guard rails); returns linked, already, refused (a guard rail) or kept_apart (it would join a rejected pair); a rejected pair cannot be accepted (55000). The pair counts as a match in the next match_estimate().';
REVOKE ALL ON FUNCTION customer_profile.match_review_accept(rule text, identity_a bigint, identity_b bigint) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION customer_profile.match_review_accept(rule text, identity_a bigint, identity_b bigint) TO customer_profile_admin;

CREATE FUNCTION customer_profile.match_review_reject(rule text, identity_a bigint, identity_b bigint) RETURNS boolean
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
DECLARE
    rid integer;
    lo bigint := least(identity_a, identity_b);
    hi bigint := greatest(identity_a, identity_b);
    rname text := rule;
    holder bigint;
    unlinked boolean := false;
BEGIN
    IF rule IS NULL OR identity_a IS NULL OR identity_b IS NULL THEN
        RAISE EXCEPTION 'the rule and both identities must not be NULL' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    SELECT r.rule_id INTO rid FROM customer_profile.match_rule r WHERE r.name = rname;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'unknown match rule "%"', rule USING ERRCODE = 'undefined_object';
    END IF;
    IF lo = hi OR NOT EXISTS (SELECT 1 FROM customer_profile.identity i WHERE i.identity_id = lo)
       OR NOT EXISTS (SELECT 1 FROM customer_profile.identity i WHERE i.identity_id = hi) THEN
        RAISE EXCEPTION 'identities % and % are not two known identifiers', lo, hi USING ERRCODE = 'undefined_object';
    END IF;
    INSERT INTO customer_profile.match_review AS m (rule_id, identity_a, identity_b, weight, probability, status, reason,
                                                    decided_at, decided_by)
    VALUES (rid, lo, hi, 0, 0, 'rejected', 'rejected without review', now(), session_user)
    ON CONFLICT ON CONSTRAINT match_review_pkey DO UPDATE SET status = 'rejected', decided_at = now(), decided_by = session_user;
    -- A link this rule (or its review) made between the two is withdrawn: the profile splits like after identity_unlink.
    -- The profile is locked, then its holding of the identity checked again (a merge may have moved it meanwhile).
    LOOP
        SELECT i.profile_id INTO holder FROM customer_profile.identity i WHERE i.identity_id = lo;
        PERFORM 1 FROM customer_profile.unified_profile u WHERE u.profile_id = holder FOR UPDATE;
        EXIT WHEN EXISTS (SELECT 1 FROM customer_profile.identity i WHERE i.identity_id = lo AND i.profile_id = holder);
    END LOOP;
    DELETE FROM customer_profile.identity_link l
     WHERE l.identity_a = lo AND l.identity_b = hi AND l.rule = rname;
    IF FOUND THEN
        PERFORM customer_profile._identity_split(holder, 'match_review_reject');
        unlinked := true;
    END IF;
    -- Other links (another rule's, a chain through a third record, a deterministic one) may still join the two: the
    -- rejection then only holds against new links, and the caller is told which links to withdraw.
    IF (SELECT i.profile_id FROM customer_profile.identity i WHERE i.identity_id = lo)
       = (SELECT i.profile_id FROM customer_profile.identity i WHERE i.identity_id = hi) THEN
        RAISE WARNING 'the rejected pair is still in one profile through other links'
            USING DETAIL = format('Identities %s and %s.', lo, hi),
                  HINT = 'identity_explain() shows the path between them; identity_unlink() withdraws a link on it.';
    END IF;
    RETURN unlinked;
END
$$;
COMMENT ON FUNCTION customer_profile.match_review_reject(rule text, identity_a bigint, identity_b bigint) IS 'Keeps two records apart for good under a rule: the pair is marked rejected (the rule never links it again, and it counts as a non-match in match_estimate()), and a link the rule made between them is withdrawn, splitting the profile; returns whether a link was withdrawn.';
REVOKE ALL ON FUNCTION customer_profile.match_review_reject(rule text, identity_a bigint, identity_b bigint) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION customer_profile.match_review_reject(rule text, identity_a bigint, identity_b bigint) TO customer_profile_admin;

CREATE VIEW customer_profile.match_rules AS
 SELECT r.name,
    r.namespaces,
    r.enabled,
    jsonb_array_length(r.fields) AS fields,
    jsonb_array_length(r.blocking) AS blocking_keys,
    r.link_threshold,
    r.review_threshold,
    r.deduplicates,
    (r.parameters ->> 'lambda'::text)::double precision AS lambda,
    r.estimated_at,
    r.run_done,
    r.run_total,
    (SELECT count(*) FROM customer_profile.match_review v
       JOIN customer_profile.identity ia ON ia.identity_id = v.identity_a
       JOIN customer_profile.identity ib ON ib.identity_id = v.identity_b
      WHERE v.rule_id = r.rule_id AND v.status = 'pending'::text AND ia.profile_id <> ib.profile_id) AS pending_reviews,
    (SELECT count(*) FROM customer_profile.identity_link l WHERE l.rule = r.name) AS links
   FROM customer_profile.match_rule r;
COMMENT ON VIEW customer_profile.match_rules IS 'Match rules with their thresholds, estimated share of matches, match_run() progress (run_done of run_total records), pending reviews and links made.';
GRANT SELECT ON TABLE customer_profile.match_rules TO customer_profile_reader;
REVOKE USAGE ON TYPE customer_profile.match_rules FROM PUBLIC;
COMMENT ON COLUMN customer_profile.match_rules.name IS 'The rule''s name.';
COMMENT ON COLUMN customer_profile.match_rules.namespaces IS 'The namespaces whose identifiers are the rule''s records.';
COMMENT ON COLUMN customer_profile.match_rules.enabled IS 'Whether arriving records are matched (trait_observe, attached tables).';
COMMENT ON COLUMN customer_profile.match_rules.fields IS 'How many fields the rule compares.';
COMMENT ON COLUMN customer_profile.match_rules.blocking_keys IS 'How many blocking keys pick the candidates (OR-ed).';
COMMENT ON COLUMN customer_profile.match_rules.link_threshold IS 'Match probability at or above which two records link.';
COMMENT ON COLUMN customer_profile.match_rules.review_threshold IS 'Match probability at or above which a pair waits for review.';
COMMENT ON COLUMN customer_profile.match_rules.deduplicates IS 'Namespaces whose per-profile cap the rule''s links may exceed.';
COMMENT ON COLUMN customer_profile.match_rules.lambda IS 'The estimated share of matches among compared pairs (NULL before match_estimate()).';
COMMENT ON COLUMN customer_profile.match_rules.estimated_at IS 'When match_estimate() last stored parameters.';
COMMENT ON COLUMN customer_profile.match_rules.run_done IS 'match_run(): records matched so far in the current (or last) run.';
COMMENT ON COLUMN customer_profile.match_rules.run_total IS 'match_run(): records of the rule when the last call ended.';
COMMENT ON COLUMN customer_profile.match_rules.pending_reviews IS 'Pairs waiting in match_reviews.';
COMMENT ON COLUMN customer_profile.match_rules.links IS 'Identity links the rule (or its review) made that still exist.';

CREATE VIEW customer_profile.match_reviews AS
 SELECT r.name AS rule,
    v.identity_a,
    na.name AS namespace_a,
    ia.profile_id AS profile_a,
    v.identity_b,
    nb.name AS namespace_b,
    ib.profile_id AS profile_b,
    v.probability,
    v.weight,
    v.reason,
    v.created_at
   FROM customer_profile.match_review v
     JOIN customer_profile.match_rule r USING (rule_id)
     JOIN customer_profile.identity ia ON ia.identity_id = v.identity_a
     JOIN customer_profile.namespace na ON na.namespace_id = ia.namespace_id
     JOIN customer_profile.identity ib ON ib.identity_id = v.identity_b
     JOIN customer_profile.namespace nb ON nb.namespace_id = ib.namespace_id
  WHERE v.status = 'pending'::text AND ia.profile_id <> ib.profile_id;
COMMENT ON VIEW customer_profile.match_reviews IS 'Pairs waiting for a decision (match_review_accept, match_review_reject), most likely first when ordered by probability; match_explain() shows why. A pending pair already in one profile (linked since by other evidence) is not listed.';
GRANT SELECT ON TABLE customer_profile.match_reviews TO customer_profile_reader;
REVOKE USAGE ON TYPE customer_profile.match_reviews FROM PUBLIC;
COMMENT ON COLUMN customer_profile.match_reviews.rule IS 'The rule that scored the pair.';
COMMENT ON COLUMN customer_profile.match_reviews.identity_a IS 'The first record''s identity id (the lower).';
COMMENT ON COLUMN customer_profile.match_reviews.namespace_a IS 'Its namespace.';
COMMENT ON COLUMN customer_profile.match_reviews.profile_a IS 'Its profile now.';
COMMENT ON COLUMN customer_profile.match_reviews.identity_b IS 'The second record''s identity id.';
COMMENT ON COLUMN customer_profile.match_reviews.namespace_b IS 'Its namespace.';
COMMENT ON COLUMN customer_profile.match_reviews.profile_b IS 'Its profile now.';
COMMENT ON COLUMN customer_profile.match_reviews.probability IS 'The pair''s match probability when it was scored.';
COMMENT ON COLUMN customer_profile.match_reviews.weight IS 'The pair''s total match weight (log2 of the likelihood ratio).';
COMMENT ON COLUMN customer_profile.match_reviews.reason IS 'Why the pair waits: between the thresholds, or a guard rail refused its link.';
COMMENT ON COLUMN customer_profile.match_reviews.created_at IS 'When the pair was first queued.';

CREATE FUNCTION customer_profile.profile_graph(profile_id bigint) RETURNS text
    LANGUAGE c STABLE STRICT
    AS 'MODULE_PATHNAME', 'cp_profile_graph';
COMMENT ON FUNCTION customer_profile.profile_graph(profile_id bigint) IS 'The profile''s identity graph as Graphviz DOT: identifiers (coloured by namespace, raw values only where kept), links labelled by source, rule, score and time (probabilistic links dashed), and the links guard rails refused (red, dotted). Render with dot -Tsvg.';
REVOKE ALL ON FUNCTION customer_profile.profile_graph(profile_id bigint) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION customer_profile.profile_graph(profile_id bigint) TO customer_profile_writer;

-- An attached row's withdrawal stores again the blocking keys made from its
-- values (review of the matching, after 0e1db34).
-- Withdraws what one row contributed; an identifier that cannot be hashed
-- (malformed, so never stored) matches nothing instead of raising. The
-- blocking keys made from the withdrawn values are stored again: the row's
-- identifiers' own, and those of the identifiers seen with them, which read
-- their values (see docs/matching.md#records).
CREATE OR REPLACE FUNCTION customer_profile._attached_withdraw(config customer_profile.attached_table, row_json jsonb) RETURNS void
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
DECLARE
    parts record;
    affected bigint[];
    withdrawn bigint[];
    trait_names text[];
BEGIN
    parts := customer_profile._attached_row(config, row_json);
    SELECT array_agg(k) INTO trait_names FROM jsonb_object_keys(config.trait_columns) k;
    WITH gone AS (
        DELETE FROM customer_profile.trait_observation o
         USING customer_profile.identity i
         WHERE o.identity_id = i.identity_id
           AND o.source = config.source
           AND o.trait = ANY(trait_names)
           AND i.value_hash IN (SELECT customer_profile._identity_hash_or_null(e.key, e.value)
                                  FROM jsonb_each_text(parts.identities) e)
        RETURNING i.profile_id, i.identity_id)
    SELECT array_agg(DISTINCT g.profile_id), array_agg(DISTINCT g.identity_id) INTO affected, withdrawn FROM gone g;
    PERFORM customer_profile._profile_recompute(p, trait_names) FROM unnest(affected) p;
    IF withdrawn IS NOT NULL THEN
        PERFORM customer_profile._match_rekey(withdrawn || ARRAY(
            SELECT l.identity_b FROM customer_profile.identity_link l
             WHERE l.identity_a = ANY (withdrawn) AND l.rule IS NULL
            UNION
            SELECT l.identity_a FROM customer_profile.identity_link l
             WHERE l.identity_b = ANY (withdrawn) AND l.rule IS NULL));
    END IF;
END
$$;
COMMENT ON FUNCTION customer_profile._attached_withdraw(config customer_profile.attached_table, row_json jsonb) IS 'Internal: deletes the trait observations an attached row contributed, recomputes the profiles and stores again the blocking keys made from them.';
REVOKE ALL ON FUNCTION customer_profile._attached_withdraw(config customer_profile.attached_table, row_json jsonb) FROM PUBLIC;
GRANT ALL ON FUNCTION customer_profile._attached_withdraw(config customer_profile.attached_table, row_json jsonb) TO customer_profile_admin;

-- Erasure and removal take blocking keys and reviews along (issue 17).
-- A consent statement lives on the identifier it came through: when the
-- identifier goes (identity_remove, the anonymous-profile purge, erasure),
-- its statements go with it instead of staying behind unreachable.
-- SECURITY DEFINER, as a foreign key's cascade runs as the table's owner: a
-- role may delete an identifier (the worker undoes its own new ones when it
-- loses a race) without any right on the consent statements that go with it.
CREATE OR REPLACE FUNCTION customer_profile._identities_deleted() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
BEGIN
    DELETE FROM customer_profile.consent c USING gone WHERE c.identity_id = gone.identity_id;
    -- Blocking keys are hashes of the record's values, reviews name the record: both go with it.
    DELETE FROM customer_profile.match_key k USING gone WHERE k.identity_id = gone.identity_id;
    DELETE FROM customer_profile.match_review v USING gone
     WHERE v.identity_a = gone.identity_id OR v.identity_b = gone.identity_id;
    RETURN NULL;
END
$$;
COMMENT ON FUNCTION customer_profile._identities_deleted() IS 'Internal trigger: removes the consent statements, blocking keys and match reviews of deleted identifiers.';
REVOKE ALL ON FUNCTION customer_profile._identities_deleted() FROM PUBLIC;
