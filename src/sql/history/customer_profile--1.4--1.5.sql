-- customer_profile 1.4 -> 1.5: trust (issue 6): consent() in segment
-- predicates, erasure, least-privilege roles, refreshes that never undo a
-- concurrent change; customer value (issue 7): revenue, cost, margin, RFM.
\echo Use "ALTER EXTENSION customer_profile UPDATE TO '1.5'" to load this file. \quit

-- A consent statement re-evaluates, for that person, the segments whose
-- predicates read consent(purpose) for that purpose.
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
    -- Held until commit, as a trait or event change holds it: a concurrent
    -- refresh, merge or erasure of the profile waits and then sees the
    -- membership this may change.
    PERFORM 1 FROM customer_profile.unified_profile u WHERE u.profile_id = pid FOR NO KEY UPDATE;
    PERFORM customer_profile._segment_stream(ARRAY[pid], 'consent:' || consent_set.purpose);
    RETURN pid;
END
$$;

-- A consent statement lives on the identifier it came through: when the
-- identifier goes (identity_remove, the anonymous-profile purge, erasure),
-- its statements go with it instead of staying behind unreachable.
CREATE FUNCTION customer_profile._identities_deleted() RETURNS trigger
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    DELETE FROM customer_profile.consent c USING gone WHERE c.identity_id = gone.identity_id;
    RETURN NULL;
END
$$;
COMMENT ON FUNCTION customer_profile._identities_deleted() IS
    'Internal trigger: removes the consent statements of deleted identifiers.';
CREATE TRIGGER identities_deleted AFTER DELETE ON customer_profile.identity
    REFERENCING OLD TABLE AS gone FOR EACH STATEMENT EXECUTE FUNCTION customer_profile._identities_deleted();

-- A refused name is quoted up to 64 characters (it may be megabytes long).
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

-- A refresh racing with streaming, a merge or an erasure: see checked below.
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
    -- The scan above read a snapshot; profiles keep changing (streaming
    -- applies events and traits meanwhile, merges and erasures delete
    -- profiles). So each profile whose membership would change is locked (in
    -- profile order, as ingestion locks them) and evaluated again on its
    -- newest version: a refresh never undoes a newer streamed change, and a
    -- profile deleted meanwhile never comes back as a member.
    WITH current_members AS (
        SELECT m.profile_id FROM customer_profile.segment_membership m
         WHERE m.segment_id = seg.segment_id AND m.exited_at IS NULL),
    -- Set differences (hashed or sorted, linear whatever the statistics say;
    -- an anti join planned on stale estimates was quadratic).
    candidates AS (
        (SELECT unnest(members) AS profile_id EXCEPT SELECT c.profile_id FROM current_members c)
        UNION ALL
        (SELECT c.profile_id FROM current_members c EXCEPT SELECT unnest(members))),
    checked AS (
        SELECT u.profile_id,
               customer_profile._segment_matches_columns(u.profile_id, u.data, u.behavior, seg.predicate) AS matches
          FROM customer_profile.unified_profile u JOIN candidates c USING (profile_id)
         ORDER BY u.profile_id FOR SHARE OF u),
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

------------------------------------------------------------------------------
-- Erasure: profile_forget() removes a person everywhere
------------------------------------------------------------------------------

CREATE FUNCTION customer_profile._identity_hash_or_null(namespace text, value text) RETURNS bytea
    AS 'MODULE_PATHNAME', 'cp_identity_hash_or_null' LANGUAGE C STABLE STRICT;
COMMENT ON FUNCTION customer_profile._identity_hash_or_null(text, text) IS
    'Internal: identity_hash(), or NULL for an unknown namespace or a malformed value.';

-- What is kept of an erased person: that an erasure happened, when, by whom,
-- the opaque profile ids it removed (so downstream systems that hold them
-- can erase their copies) and how many rows of each kind went. No
-- identifier, no hash, no trait.
CREATE TABLE customer_profile.erasure (
    erasure_id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    erased_at timestamptz NOT NULL DEFAULT now(),
    erased_by name NOT NULL DEFAULT session_user,
    profile_ids bigint[] NOT NULL,
    removed jsonb NOT NULL
);
COMMENT ON TABLE customer_profile.erasure IS
    'One row per profile_forget(): when, by whom, the profile ids removed and row counts per kind; nothing that identifies the person.';
SELECT pg_catalog.pg_extension_config_dump('customer_profile.erasure', '');
SELECT pg_catalog.pg_extension_config_dump('customer_profile.erasure_erasure_id_seq', '');

-- Whether a queued or failed event names one of the identifiers: by hash for
-- well-formed pairs, by text for anything else (a malformed row may still
-- hold the raw value).
CREATE FUNCTION customer_profile._mentions_identifier(identities jsonb, hashes bytea[], raw_values text[])
    RETURNS boolean
    LANGUAGE sql STABLE
    SET search_path = pg_catalog, pg_temp
    BEGIN ATOMIC
        SELECT EXISTS (SELECT 1 FROM pg_catalog.jsonb_each_text(
                                   CASE WHEN pg_catalog.jsonb_typeof(identities) = 'object' THEN identities
                                        ELSE '{}'::jsonb END) e
                        WHERE customer_profile._identity_hash_or_null(e.key, e.value) = ANY (hashes))
            OR EXISTS (SELECT 1 FROM pg_catalog.unnest(raw_values) r
                        WHERE pg_catalog.strpos(pg_catalog.lower(identities::text), pg_catalog.lower(r)) > 0);
    END;
COMMENT ON FUNCTION customer_profile._mentions_identifier(jsonb, bytea[], text[]) IS
    'Internal: whether an inbox or dead-letter row names one of the identifiers (by hash, or by raw text).';

CREATE FUNCTION customer_profile.profile_forget(namespace text, value text) RETURNS bigint
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
    raws text[];
    removed jsonb := '{}';
    n bigint;
    erasure bigint;
BEGIN
    IF namespace IS NULL OR value IS NULL THEN
        RAISE EXCEPTION 'namespace and value must not be NULL' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    target := customer_profile.identity_hash(namespace, value);  -- 42704 / 22P02 for bad input
    raws := ARRAY[value, customer_profile.identity_normalize(namespace, value)];
    hashes := ARRAY[target];
    -- Events not yet applied, and events that failed, that name the person
    -- (by any of their identifiers). Before the profile is locked: the
    -- worker holds an inbox row while it waits for the profile.
    SELECT hashes || array_agg(i.value_hash),
           raws || coalesce(array_agg(i.raw_value) FILTER (WHERE i.raw_value IS NOT NULL), '{}')
      INTO hashes, raws
      FROM customer_profile.identity i
     WHERE i.profile_id = (SELECT t.profile_id FROM customer_profile.identity t WHERE t.value_hash = target);
    DELETE FROM customer_profile.event_inbox x
     WHERE customer_profile._mentions_identifier(x.identities, hashes, raws);
    GET DIAGNOSTICS n = ROW_COUNT;
    removed := removed || jsonb_build_object('queued_events', n);
    DELETE FROM customer_profile.event_dead_letter d
     WHERE customer_profile._mentions_identifier(d.identities, hashes, raws);
    GET DIAGNOSTICS n = ROW_COUNT;
    removed := removed || jsonb_build_object('dead_letters', n);

    LOCK TABLE customer_profile.identity IN ROW EXCLUSIVE MODE;  -- waits for identity_rebuild()
    SELECT i.identity_id INTO found_identity FROM customer_profile.identity i WHERE i.value_hash = target;
    IF found_identity IS NOT NULL THEN
        pid := customer_profile._identity_lock(found_identity);
    END IF;
    IF pid IS NOT NULL THEN
        -- The person: every identifier of the profile, and every profile id merged into it.
        SELECT array_agg(i.identity_id), coalesce(raws || array_agg(i.raw_value) FILTER (WHERE i.raw_value IS NOT NULL), raws)
          INTO idents, raws
          FROM customer_profile.identity i WHERE i.profile_id = pid;
        WITH RECURSIVE merged(id) AS (
            SELECT pid
            UNION
            SELECT m.merged_profile_id FROM customer_profile.profile_merge m JOIN merged ON m.into_profile_id = merged.id
        )
        SELECT array_agg(id ORDER BY id) INTO profiles FROM merged;
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
    DELETE FROM customer_profile.identity_conflict c
     WHERE c.kept_profile_id = ANY (profiles) OR c.refused_profile_id = ANY (profiles)
        OR c.refused_identity_id = ANY (idents)
        OR EXISTS (SELECT 1 FROM unnest(raws) r WHERE strpos(lower(c.detail), lower(r)) > 0);
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
    'Right to erasure: removes the person behind an identifier everywhere (identifiers, links, observations, events, consents, memberships, outbox rows, queued and failed events) in one transaction; returns the erasure record id.';

------------------------------------------------------------------------------
-- Customer value: revenue, cost to serve, margin, RFM (issue 7)
------------------------------------------------------------------------------

-- Value expressions are operands of the predicate language, evaluated on the
-- stored profile: sum(purchase.amount), count(purchase within 90 days),
-- last_seen(purchase), a number trait.
CREATE FUNCTION customer_profile._operand_describe(expression text, OUT normalized text, OUT event_type text)
    AS 'MODULE_PATHNAME', 'cp_operand_describe' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION customer_profile._operand_describe(text) IS
    'Internal: a value expression in normalized form and the event type it reads (22P02 when malformed).';
CREATE FUNCTION customer_profile._operand_values(profile_id bigint, data customer_profile.profile, behavior bytea,
                                                 expressions text[])
    RETURNS float8[]
    AS 'MODULE_PATHNAME', 'cp_operand_values' LANGUAGE C STABLE PARALLEL SAFE;
COMMENT ON FUNCTION customer_profile._operand_values(bigint, customer_profile.profile, bytea, text[]) IS
    'Internal: value expressions on a stored profile (numbers; booleans 1/0; times as days before now; NULL otherwise).';

CREATE TABLE customer_profile.value_measure (
    kind text NOT NULL CHECK (kind IN ('revenue', 'cost')),
    expression text NOT NULL,
    event_type text,
    defined_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (kind, expression)
);
COMMENT ON TABLE customer_profile.value_measure IS
    'What makes up a customer''s revenue and cost to serve: value expressions summed per kind (value_define).';
SELECT pg_catalog.pg_extension_config_dump('customer_profile.value_measure', '');

CREATE FUNCTION customer_profile.value_define(kind text, expression text) RETURNS text
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    d record;
BEGIN
    IF kind IS NULL OR kind NOT IN ('revenue', 'cost') THEN
        RAISE EXCEPTION 'kind must be ''revenue'' or ''cost''' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF expression IS NULL THEN
        RAISE EXCEPTION 'expression must not be NULL' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    d := customer_profile._operand_describe(expression);
    INSERT INTO customer_profile.value_measure AS m (kind, expression, event_type)
    VALUES (value_define.kind, d.normalized, d.event_type)
    ON CONFLICT ON CONSTRAINT value_measure_pkey DO NOTHING;
    RETURN d.normalized;
END
$$;
COMMENT ON FUNCTION customer_profile.value_define(text, text) IS
    'Adds a value expression to a customer''s revenue or cost to serve (e.g. sum(purchase.amount), sum(support_ticket.cost), a number trait); returns it normalized.';

CREATE FUNCTION customer_profile.value_drop(kind text, expression text) RETURNS void
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF kind IS NULL OR expression IS NULL THEN
        RAISE EXCEPTION 'kind and expression must not be NULL' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    DELETE FROM customer_profile.value_measure m
     WHERE m.kind = value_drop.kind
       AND m.expression = (customer_profile._operand_describe(value_drop.expression)).normalized;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'no % measure %', value_drop.kind, quote_literal(left(value_drop.expression, 64))
            USING ERRCODE = 'undefined_object';
    END IF;
END
$$;
COMMENT ON FUNCTION customer_profile.value_drop(text, text) IS 'Removes a value expression from revenue or cost.';

-- One pass over the profiles; the expression lists are read once.
CREATE VIEW customer_profile.customer_value AS
    WITH m AS (
        SELECT coalesce(array_agg(v.expression ORDER BY v.expression) FILTER (WHERE v.kind = 'revenue'), '{}') AS r,
               coalesce(array_agg(v.expression ORDER BY v.expression) FILTER (WHERE v.kind = 'cost'), '{}') AS c
          FROM customer_profile.value_measure v)
    SELECT u.profile_id, x.revenue, x.cost, x.revenue - x.cost AS margin
      FROM customer_profile.unified_profile u
     CROSS JOIN m
     -- One evaluation per profile: revenue expressions first, then cost.
     CROSS JOIN LATERAL (
        SELECT coalesce(sum(t.v) FILTER (WHERE t.i <= cardinality(m.r)), 0)::numeric AS revenue,
               coalesce(sum(t.v) FILTER (WHERE t.i > cardinality(m.r)), 0)::numeric AS cost
          FROM unnest(customer_profile._operand_values(u.profile_id, u.data, u.behavior, m.r || m.c))
               WITH ORDINALITY AS t(v, i)) x;
COMMENT ON VIEW customer_profile.customer_value IS
    'Per profile: revenue and cost to serve (the sums of the value_measure expressions) and margin.';

CREATE VIEW customer_profile.most_profitable_customers AS
    SELECT v.profile_id, v.revenue, v.cost, v.margin,
           rank() OVER (ORDER BY v.margin DESC) AS margin_rank,
           rank() OVER (ORDER BY v.revenue DESC) AS revenue_rank
      FROM customer_profile.customer_value v
     WHERE v.revenue <> 0 OR v.cost <> 0
     ORDER BY v.margin DESC, v.profile_id;
COMMENT ON VIEW customer_profile.most_profitable_customers IS
    'Customers by margin (revenue minus cost to serve), with their rank by revenue alongside.';

CREATE FUNCTION customer_profile.profile_value(profile_id bigint)
    RETURNS TABLE (revenue numeric, cost numeric, margin numeric)
    LANGUAGE sql STABLE STRICT
    SET search_path = pg_catalog, pg_temp
    BEGIN ATOMIC
        SELECT v.revenue, v.cost, v.margin FROM customer_profile.customer_value v
         WHERE v.profile_id = customer_profile.profile_resolve(profile_value.profile_id);
    END;
COMMENT ON FUNCTION customer_profile.profile_value(bigint) IS
    'A customer''s revenue, cost to serve and margin (following merges); no row for an unknown profile.';

-- RFM: recency (days since the latest event of a revenue event type),
-- frequency (how many such events), monetary (revenue), each scored 1-5 by
-- quintile over the customers with at least one such event (5 = most recent,
-- most frequent, highest revenue; ties split by profile id).
CREATE FUNCTION customer_profile.profile_rfm()
    RETURNS TABLE (profile_id bigint, recency_days float8, frequency float8, monetary numeric,
                   r smallint, f smallint, m smallint, rfm text)
    LANGUAGE sql STABLE
    SET search_path = pg_catalog, pg_temp
    BEGIN ATOMIC
        WITH types AS (
            SELECT DISTINCT v.event_type FROM customer_profile.value_measure v
             WHERE v.kind = 'revenue' AND v.event_type IS NOT NULL),
        -- One evaluation per profile: last_seen of each revenue event type,
        -- then their counts, then the revenue expressions.
        e AS (
            SELECT coalesce(array_agg('last_seen("' || replace(t.event_type, '"', '""') || '")' ORDER BY t.event_type), '{}')
                   || coalesce(array_agg('count("' || replace(t.event_type, '"', '""') || '")' ORDER BY t.event_type), '{}')
                   || coalesce((SELECT array_agg(v.expression ORDER BY v.expression) FROM customer_profile.value_measure v
                                 WHERE v.kind = 'revenue'), '{}') AS expressions,
                   count(*) AS types
              FROM types t),
        facts AS (
            SELECT u.profile_id,
                   min(x.v) FILTER (WHERE x.i <= e.types) AS recency_days,
                   sum(x.v) FILTER (WHERE x.i > e.types AND x.i <= 2 * e.types) AS frequency,
                   coalesce(sum(x.v) FILTER (WHERE x.i > 2 * e.types), 0)::numeric AS monetary
              FROM customer_profile.unified_profile u
             CROSS JOIN e
             CROSS JOIN LATERAL unnest(customer_profile._operand_values(u.profile_id, u.data, u.behavior, e.expressions))
                   WITH ORDINALITY AS x(v, i)
             GROUP BY u.profile_id),
        scored AS (
            SELECT f.profile_id, f.recency_days, f.frequency, f.monetary,
                   ntile(5) OVER (ORDER BY f.recency_days DESC, f.profile_id)::smallint AS r,
                   ntile(5) OVER (ORDER BY f.frequency, f.profile_id)::smallint AS f,
                   ntile(5) OVER (ORDER BY f.monetary, f.profile_id)::smallint AS m
              FROM facts f
             WHERE f.frequency > 0)
        SELECT s.profile_id, s.recency_days, s.frequency, s.monetary, s.r, s.f, s.m, s.r::text || s.f::text || s.m::text
          FROM scored s
         ORDER BY s.profile_id;
    END;
COMMENT ON FUNCTION customer_profile.profile_rfm() IS
    'Recency, frequency and monetary value of every customer with a revenue event, scored 1-5 by quintile (5 is best), computed in one pass.';

------------------------------------------------------------------------------
-- Feature vectors and automatic grouping (issue 7)
------------------------------------------------------------------------------

-- A feature is a number (a value expression, standardized with the mean and
-- standard deviation seen at the last feature_build) or a category (a text
-- trait, one slot per frequent value: one-hot).
CREATE TABLE customer_profile.feature (
    name text PRIMARY KEY CHECK (name ~ '^[a-z][a-z0-9_]{0,62}$'),
    kind text NOT NULL CHECK (kind IN ('number', 'category')),
    expression text NOT NULL,
    mean float8,
    stddev float8,
    categories text[],
    first_slot integer,
    defined_at timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE customer_profile.feature IS
    'Features of the profile vectors: numbers (value expressions, standardized) and categories (text traits, one-hot); statistics and slots from the last feature_build().';
SELECT pg_catalog.pg_extension_config_dump('customer_profile.feature', '');

CREATE TABLE customer_profile.profile_feature (
    profile_id bigint PRIMARY KEY,
    vector real[] NOT NULL,
    cluster integer,
    list_id integer,
    computed_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX profile_feature_cluster_idx ON customer_profile.profile_feature (cluster);
-- The look-alike search reads whole lists: an inverted-file index.
CREATE INDEX profile_feature_list_idx ON customer_profile.profile_feature (list_id);

CREATE TABLE customer_profile.feature_list (
    list_id integer PRIMARY KEY,
    centroid float8[] NOT NULL,
    size bigint NOT NULL
);
COMMENT ON TABLE customer_profile.feature_list IS
    'The look-alike search''s coarse lists: centroids from k-means over a sample of the vectors (feature_build), and how many vectors each holds.';
SELECT pg_catalog.pg_extension_config_dump('customer_profile.feature_list', '');
COMMENT ON TABLE customer_profile.profile_feature IS
    'Each profile''s feature vector (float4, in feature slot order) and its cluster from profile_cluster(); kept current by feature_refresh() (the worker).';
SELECT pg_catalog.pg_extension_config_dump('customer_profile.profile_feature', '');

CREATE TABLE customer_profile.cluster_model (
    cluster integer PRIMARY KEY,
    size bigint NOT NULL,
    slots integer[] NOT NULL,
    centroid float8[] NOT NULL,
    summary jsonb NOT NULL,
    seed bigint NOT NULL,
    built_at timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE customer_profile.cluster_model IS
    'The clusters of the last profile_cluster(): size, centroid (standardized, for assigning new vectors) and summary in original units.';
SELECT pg_catalog.pg_extension_config_dump('customer_profile.cluster_model', '');

CREATE FUNCTION customer_profile._feature_vector(profile_id bigint, data customer_profile.profile, behavior bytea,
                                                 expressions text[], means float8[], stddevs float8[],
                                                 category_traits text[], category_values text[])
    RETURNS real[]
    AS 'MODULE_PATHNAME', 'cp_feature_vector' LANGUAGE C STABLE PARALLEL SAFE;
COMMENT ON FUNCTION customer_profile._feature_vector(bigint, customer_profile.profile, bytea, text[], float8[], float8[], text[], text[]) IS
    'Internal: one profile''s feature vector.';
CREATE FUNCTION customer_profile._nearest_cluster(vector real[], slots integer[], centroids float8[]) RETURNS integer
    AS 'MODULE_PATHNAME', 'cp_nearest_cluster' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION customer_profile._nearest_cluster(real[], integer[], float8[]) IS
    'Internal: the 1-based number of the centroid nearest to a vector over the given slots.';
CREATE FUNCTION customer_profile._feature_lists_build(lists integer, seed bigint, slots integer[]) RETURNS float8[]
    AS 'MODULE_PATHNAME', 'cp_feature_lists_build' LANGUAGE C VOLATILE;
COMMENT ON FUNCTION customer_profile._feature_lists_build(integer, bigint, integer[]) IS
    'Internal: trains the search lists on a sample of the vectors and files every vector; returns the centroids.';
CREATE FUNCTION customer_profile._vector_search(query real[], k integer, exclude bigint[])
    RETURNS TABLE (profile_id bigint, distance float8)
    AS 'MODULE_PATHNAME', 'cp_vector_search' LANGUAGE C STABLE;
COMMENT ON FUNCTION customer_profile._vector_search(real[], integer, bigint[]) IS
    'Internal: the k stored vectors nearest to a query, reading the nearest lists only.';
CREATE FUNCTION customer_profile._profile_cluster_run(k integer, seed bigint, slots integer[]) RETURNS float8[]
    AS 'MODULE_PATHNAME', 'cp_profile_cluster_run' LANGUAGE C VOLATILE;
COMMENT ON FUNCTION customer_profile._profile_cluster_run(integer, bigint, integer[]) IS
    'Internal: k-means over the stored vectors; writes the clusters, returns the centroids.';

CREATE FUNCTION customer_profile.feature_define(name text, expression text, kind text DEFAULT 'number') RETURNS text
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    normalized text;
BEGIN
    IF name IS NULL OR name !~ '^[a-z][a-z0-9_]{0,62}$' THEN
        RAISE EXCEPTION 'invalid feature name %', coalesce(quote_literal(left(name, 64)), 'NULL')
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Use 1-63 lower-case letters, digits and underscores, starting with a letter.';
    END IF;
    IF expression IS NULL OR kind IS NULL THEN
        RAISE EXCEPTION 'expression and kind must not be NULL' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF kind = 'number' THEN
        normalized := (customer_profile._operand_describe(expression)).normalized;
    ELSIF kind = 'category' THEN
        IF length(expression) NOT BETWEEN 1 AND 63 THEN
            RAISE EXCEPTION 'a category feature names a text trait (1 to 63 bytes)' USING ERRCODE = 'invalid_parameter_value';
        END IF;
        normalized := expression;
    ELSE
        RAISE EXCEPTION 'kind must be ''number'' or ''category''' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    INSERT INTO customer_profile.feature AS f (name, kind, expression)
    VALUES (feature_define.name, feature_define.kind, normalized)
    ON CONFLICT ON CONSTRAINT feature_pkey DO UPDATE
       SET kind = excluded.kind, expression = excluded.expression, mean = NULL, stddev = NULL, categories = NULL,
           first_slot = NULL;
    RETURN normalized;
END
$$;
COMMENT ON FUNCTION customer_profile.feature_define(text, text, text) IS
    'Declares (or redeclares) a feature: a number (a value expression such as ltv or count(purchase within 90 days)) or a category (a text trait, one-hot); takes effect at the next feature_build().';

CREATE FUNCTION customer_profile.feature_drop(name text) RETURNS void
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    DELETE FROM customer_profile.feature f WHERE f.name = feature_drop.name;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'unknown feature %', coalesce(quote_literal(left(name, 64)), 'NULL')
            USING ERRCODE = 'undefined_object';
    END IF;
END
$$;
COMMENT ON FUNCTION customer_profile.feature_drop(text) IS 'Removes a feature (takes effect at the next feature_build()).';

-- The arguments of _feature_vector() from the feature table, read once per statement.
CREATE FUNCTION customer_profile._feature_layout(OUT expressions text[], OUT means float8[], OUT stddevs float8[],
                                                 OUT category_traits text[], OUT category_values text[])
    LANGUAGE sql STABLE
    SET search_path = pg_catalog, pg_temp
    BEGIN ATOMIC
        SELECT coalesce((SELECT array_agg(f.expression ORDER BY f.first_slot) FROM customer_profile.feature f
                          WHERE f.kind = 'number' AND f.first_slot IS NOT NULL), '{}'),
               coalesce((SELECT array_agg(coalesce(f.mean, 0) ORDER BY f.first_slot) FROM customer_profile.feature f
                          WHERE f.kind = 'number' AND f.first_slot IS NOT NULL), '{}'),
               coalesce((SELECT array_agg(coalesce(f.stddev, 0) ORDER BY f.first_slot) FROM customer_profile.feature f
                          WHERE f.kind = 'number' AND f.first_slot IS NOT NULL), '{}'),
               coalesce((SELECT array_agg(f.expression ORDER BY f.first_slot, c.n) FROM customer_profile.feature f
                          CROSS JOIN LATERAL unnest(f.categories) WITH ORDINALITY AS c(v, n)
                          WHERE f.kind = 'category' AND f.first_slot IS NOT NULL), '{}'),
               coalesce((SELECT array_agg(c.v ORDER BY f.first_slot, c.n) FROM customer_profile.feature f
                          CROSS JOIN LATERAL unnest(f.categories) WITH ORDINALITY AS c(v, n)
                          WHERE f.kind = 'category' AND f.first_slot IS NOT NULL), '{}');
    END;
COMMENT ON FUNCTION customer_profile._feature_layout() IS 'Internal: the feature table as _feature_vector() arguments.';

-- Statistics, slots and every vector from scratch. Numbers take slots first
-- (in name order), then each category's values (up to 20 most frequent).
CREATE FUNCTION customer_profile.feature_build() RETURNS bigint
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    f record;
    slot integer := 1;
    n bigint;
    lists integer;
    all_slots integer[];
    centroids float8[];
BEGIN
    IF NOT EXISTS (SELECT 1 FROM customer_profile.feature) THEN
        RAISE EXCEPTION 'no feature is defined' USING ERRCODE = 'object_not_in_prerequisite_state',
            HINT = 'Declare some with feature_define().';
    END IF;
    LOCK TABLE customer_profile.feature IN EXCLUSIVE MODE;
    -- Standardization: mean and population standard deviation of each number, in one pass.
    WITH e AS (SELECT array_agg(x.expression ORDER BY x.name) AS expressions, array_agg(x.name ORDER BY x.name) AS names
                 FROM customer_profile.feature x WHERE x.kind = 'number'),
    stats AS (
        SELECT e.names[t.i::int] AS name, avg(t.v) AS mean, stddev_pop(t.v) AS stddev
          FROM customer_profile.unified_profile u CROSS JOIN e
         CROSS JOIN LATERAL unnest(customer_profile._operand_values(u.profile_id, u.data, u.behavior, e.expressions))
               WITH ORDINALITY AS t(v, i)
         GROUP BY 1)
    UPDATE customer_profile.feature x SET mean = s.mean, stddev = s.stddev FROM stats s WHERE x.name = s.name;
    FOR f IN SELECT x.name, x.kind, x.expression FROM customer_profile.feature x ORDER BY x.kind DESC, x.name LOOP
        IF f.kind = 'number' THEN
            UPDATE customer_profile.feature x SET first_slot = slot WHERE x.name = f.name;
            slot := slot + 1;
        ELSE
            UPDATE customer_profile.feature x
               SET categories = coalesce((SELECT array_agg(c.v ORDER BY c.count DESC, c.v)
                                            FROM (SELECT t.v, count(*) AS count
                                                    FROM (SELECT customer_profile.profile_trait_text(u.data, f.expression) AS v
                                                            FROM customer_profile.unified_profile u) t
                                                   WHERE t.v IS NOT NULL
                                                   GROUP BY t.v ORDER BY 2 DESC, 1 LIMIT 20) c), '{}'),
                   first_slot = slot
             WHERE x.name = f.name
            RETURNING slot + cardinality(x.categories) INTO slot;
        END IF;
    END LOOP;
    -- A new layout: old vectors and clusters mean nothing in it.
    DELETE FROM customer_profile.profile_feature;
    DELETE FROM customer_profile.cluster_model;
    INSERT INTO customer_profile.profile_feature (profile_id, vector)
    SELECT u.profile_id,
           customer_profile._feature_vector(u.profile_id, u.data, u.behavior, l.expressions, l.means, l.stddevs,
                                            l.category_traits, l.category_values)
      FROM customer_profile.unified_profile u CROSS JOIN customer_profile._feature_layout() l;
    GET DIAGNOSTICS n = ROW_COUNT;
    -- The search lists: about sqrt(n) of them, so a search reads a few
    -- thousand vectors instead of all.
    SELECT array_agg(g ORDER BY g) INTO all_slots FROM generate_series(1, slot - 1) g;
    lists := greatest(1, least(1024, round(sqrt(n))::int));
    centroids := customer_profile._feature_lists_build(lists, 1, all_slots);
    DELETE FROM customer_profile.feature_list;
    INSERT INTO customer_profile.feature_list (list_id, centroid, size)
    SELECT i, centroids[(i - 1) * (slot - 1) + 1 : i * (slot - 1)],
           (SELECT count(*) FROM customer_profile.profile_feature pf WHERE pf.list_id = i)
      FROM generate_series(1, cardinality(centroids) / greatest(slot - 1, 1)) i;
    RETURN n;
END
$$;
COMMENT ON FUNCTION customer_profile.feature_build() IS
    'Computes the features'' statistics and slots and every profile''s vector from scratch (clears the clusters); returns how many vectors.';

-- The vectors of profiles changed since they were computed, or new, and the
-- rows of deleted profiles; a changed vector moves to its nearest cluster
-- and the segments that read in_cluster() follow (what the worker runs).
CREATE FUNCTION customer_profile.feature_refresh(max_profiles integer DEFAULT 10000) RETURNS integer
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    stale bigint[];
    moved bigint[];
    centroids float8[];
    chosen integer[];
    list_centroids float8[];
    all_slots integer[];
BEGIN
    IF max_profiles IS NULL OR max_profiles < 1 THEN
        RAISE EXCEPTION 'max_profiles must be at least 1' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF NOT EXISTS (SELECT 1 FROM customer_profile.feature WHERE first_slot IS NOT NULL) THEN
        RETURN 0;
    END IF;
    DELETE FROM customer_profile.profile_feature f
     WHERE NOT EXISTS (SELECT 1 FROM customer_profile.unified_profile u WHERE u.profile_id = f.profile_id);
    SELECT array_agg(x.profile_id) INTO stale FROM (
        SELECT u.profile_id FROM customer_profile.unified_profile u
          LEFT JOIN customer_profile.profile_feature f USING (profile_id)
         WHERE f.profile_id IS NULL OR f.computed_at < u.updated_at
         ORDER BY u.profile_id LIMIT max_profiles) x;
    IF stale IS NULL THEN
        RETURN 0;
    END IF;
    SELECT array_agg(m.centroid ORDER BY m.cluster, m.n), min(m.slots) INTO centroids, chosen FROM (
        SELECT m.cluster, c.v AS centroid, c.n, m.slots
          FROM customer_profile.cluster_model m, unnest(m.centroid) WITH ORDINALITY AS c(v, n)) m;
    SELECT array_agg(c.v ORDER BY l.list_id, c.n) INTO list_centroids
      FROM customer_profile.feature_list l, unnest(l.centroid) WITH ORDINALITY AS c(v, n);
    SELECT array_agg(g ORDER BY g) INTO all_slots
      FROM generate_series(1, (SELECT cardinality(l.centroid) FROM customer_profile.feature_list l LIMIT 1)) g;
    WITH fresh AS (
        SELECT u.profile_id,
               customer_profile._feature_vector(u.profile_id, u.data, u.behavior, l.expressions, l.means, l.stddevs,
                                                l.category_traits, l.category_values) AS vector
          FROM customer_profile.unified_profile u CROSS JOIN customer_profile._feature_layout() l
         WHERE u.profile_id = ANY (stale)),
    written AS (
        INSERT INTO customer_profile.profile_feature AS f (profile_id, vector, cluster, list_id, computed_at)
        SELECT x.profile_id, x.vector, customer_profile._nearest_cluster(x.vector, chosen, centroids),
               customer_profile._nearest_cluster(x.vector, all_slots, list_centroids), now()
          FROM fresh x
        ON CONFLICT ON CONSTRAINT profile_feature_pkey DO UPDATE
           SET vector = excluded.vector, cluster = excluded.cluster, list_id = excluded.list_id,
               computed_at = excluded.computed_at
        RETURNING f.profile_id, f.cluster)
    SELECT array_agg(w.profile_id) INTO moved FROM written w;
    PERFORM customer_profile._segment_stream(moved, 'cluster');
    RETURN cardinality(stale);
END
$$;
COMMENT ON FUNCTION customer_profile.feature_refresh(integer) IS
    'Recomputes the vectors of new and changed profiles (and their nearest cluster), up to max_profiles; returns how many.';

-- Look-alikes: the profiles outside a seed segment nearest to the seed's
-- centroid (the mean of its members' standardized vectors); score 1 / (1 +
-- Euclidean distance). The search reads only the lists nearest to the
-- centroid (see _vector_search), not every profile.
CREATE FUNCTION customer_profile.segment_lookalike(seed_segment text, k integer)
    RETURNS TABLE (profile_id bigint, score float8)
    LANGUAGE plpgsql STABLE
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    seed bigint[];
    centroid real[];
BEGIN
    IF k IS NULL OR k NOT BETWEEN 1 AND 100000 THEN
        RAISE EXCEPTION 'k must be between 1 and 100000' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    seed := ARRAY(SELECT customer_profile.segment_members(seed_segment));  -- 42704 for an unknown segment
    SELECT array_agg(x.mean ORDER BY x.i) INTO centroid FROM (
        SELECT t.i, avg(t.v)::real AS mean
          FROM customer_profile.profile_feature f, unnest(f.vector) WITH ORDINALITY AS t(v, i)
         WHERE f.profile_id = ANY (seed)
         GROUP BY t.i) x;
    IF centroid IS NULL THEN
        RAISE EXCEPTION 'segment % has no member with a feature vector', quote_literal(left(seed_segment, 64))
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  HINT = 'Refresh the segment, and build the features (feature_build).';
    END IF;
    RETURN QUERY SELECT s.profile_id, 1 / (1 + s.distance)
                   FROM customer_profile._vector_search(centroid, k, seed) s
                  ORDER BY s.distance, s.profile_id;
END
$$;
COMMENT ON FUNCTION customer_profile.segment_lookalike(text, integer) IS
    'The k profiles outside a segment most similar to it: nearest to the mean of its members'' feature vectors (score 1 / (1 + distance)), found through the search lists.';

CREATE FUNCTION customer_profile.profile_similar(profile_id bigint, k integer)
    RETURNS TABLE (similar_profile_id bigint, score float8)
    LANGUAGE plpgsql STABLE
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    live bigint;
    query real[];
BEGIN
    IF k IS NULL OR k NOT BETWEEN 1 AND 100000 THEN
        RAISE EXCEPTION 'k must be between 1 and 100000' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    live := customer_profile.profile_resolve(profile_similar.profile_id);
    SELECT f.vector INTO query FROM customer_profile.profile_feature f WHERE f.profile_id = live;
    IF query IS NULL THEN
        RETURN;  -- unknown profile, or no vector yet
    END IF;
    RETURN QUERY SELECT s.profile_id, 1 / (1 + s.distance)
                   FROM customer_profile._vector_search(query, k, ARRAY[live]) s
                  ORDER BY s.distance, s.profile_id;
END
$$;
COMMENT ON FUNCTION customer_profile.profile_similar(bigint, integer) IS
    'The k profiles whose feature vectors are nearest to this one''s (score 1 / (1 + distance)); none for an unknown profile or one without a vector.';

CREATE FUNCTION customer_profile.profile_cluster(k integer, features text[] DEFAULT NULL, seed bigint DEFAULT 1)
    RETURNS TABLE (cluster integer, size bigint, summary jsonb)
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    chosen integer[];
    centroids float8[];
    width integer;
    i integer;
    unknown text;
BEGIN
    IF k IS NULL OR k NOT BETWEEN 1 AND 1000 THEN
        RAISE EXCEPTION 'k must be between 1 and 1000' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF seed IS NULL THEN
        RAISE EXCEPTION 'seed must not be NULL' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF NOT EXISTS (SELECT 1 FROM customer_profile.profile_feature) THEN
        RAISE EXCEPTION 'no feature vectors' USING ERRCODE = 'object_not_in_prerequisite_state',
            HINT = 'Declare features with feature_define() and run feature_build().';
    END IF;
    SELECT min(n.x) INTO unknown FROM unnest(features) n(x)
     WHERE NOT EXISTS (SELECT 1 FROM customer_profile.feature f WHERE f.name = n.x AND f.first_slot IS NOT NULL);
    IF unknown IS NOT NULL THEN
        RAISE EXCEPTION 'unknown or unbuilt feature %', quote_literal(left(unknown, 64)) USING ERRCODE = 'undefined_object';
    END IF;
    -- The slots of the chosen features (all by default).
    SELECT array_agg(s ORDER BY s) INTO chosen FROM (
        SELECT generate_series(f.first_slot,
                               f.first_slot + CASE f.kind WHEN 'number' THEN 1 ELSE cardinality(f.categories) END - 1) AS s
          FROM customer_profile.feature f
         WHERE f.first_slot IS NOT NULL AND (features IS NULL OR f.name = ANY (features))) x;
    IF chosen IS NULL THEN
        RAISE EXCEPTION 'the chosen features have no slot (a category with no value?)' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    width := cardinality(chosen);
    centroids := customer_profile._profile_cluster_run(k, seed, chosen);
    DELETE FROM customer_profile.cluster_model;
    FOR i IN 1..k LOOP
        INSERT INTO customer_profile.cluster_model (cluster, size, slots, centroid, summary, seed)
        SELECT i, (SELECT count(*) FROM customer_profile.profile_feature p WHERE p.cluster = i), chosen,
               centroids[(i - 1) * width + 1 : i * width],
               -- In original units: a number's mean, a category's share of each value.
               (SELECT jsonb_object_agg(f.name,
                         CASE f.kind
                           WHEN 'number' THEN to_jsonb(round((coalesce(f.mean, 0)
                                  + coalesce(f.stddev, 0) * centroids[(i - 1) * width + array_position(chosen, f.first_slot)])::numeric, 4))
                           ELSE (SELECT jsonb_object_agg(c.v, round(centroids[(i - 1) * width + array_position(chosen, f.first_slot + c.n::int - 1)]::numeric, 4))
                                   FROM unnest(f.categories) WITH ORDINALITY AS c(v, n))
                         END ORDER BY f.name)
                  FROM customer_profile.feature f
                 WHERE f.first_slot = ANY (chosen)),
               seed;
    END LOOP;
    -- One segment per cluster; those of a previous, larger k go.
    FOR i IN 1..k LOOP
        IF EXISTS (SELECT 1 FROM customer_profile.segment s WHERE s.name = 'auto_cluster_' || i) THEN
            PERFORM customer_profile.segment_alter('auto_cluster_' || i, 'in_cluster(' || i || ')');
        ELSE
            PERFORM customer_profile.segment_create('auto_cluster_' || i, 'in_cluster(' || i || ')',
                                                    'Made by profile_cluster()');
        END IF;
        PERFORM customer_profile.segment_refresh('auto_cluster_' || i);
    END LOOP;
    FOR i IN SELECT substr(s.name, 14)::int FROM customer_profile.segment s
              WHERE s.name ~ '^auto_cluster_[0-9]+$' AND substr(s.name, 14)::int > k LOOP
        PERFORM customer_profile.segment_drop('auto_cluster_' || i);
    END LOOP;
    RETURN QUERY SELECT m.cluster, m.size, m.summary FROM customer_profile.cluster_model m ORDER BY m.cluster;
END
$$;
COMMENT ON FUNCTION customer_profile.profile_cluster(integer, text[], bigint) IS
    'k-means (k-means++ seeding from a fixed seed) over the feature vectors (all features, or the named ones); stores the clusters as segments auto_cluster_1..k and returns each cluster''s size and centroid in original units.';

------------------------------------------------------------------------------
-- Least privilege: three roles, nothing for PUBLIC
------------------------------------------------------------------------------

-- Roles belong to the cluster, not to the database or the extension: they
-- are created when missing (a second database reuses them) and stay after
-- DROP EXTENSION. They cannot log in; grant them to login roles.
DO $roles$
DECLARE
    r text;
BEGIN
    FOREACH r IN ARRAY ARRAY['customer_profile_reader', 'customer_profile_writer', 'customer_profile_admin'] LOOP
        IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = r) THEN
            EXECUTE pg_catalog.format('CREATE ROLE %I NOLOGIN', r);
        END IF;
    END LOOP;
END
$roles$;
COMMENT ON ROLE customer_profile_reader IS
    'customer_profile: profiles, segments, behavior and lookups; no raw identifiers, hashes, queued events or salt.';
COMMENT ON ROLE customer_profile_writer IS
    'customer_profile: ingestion (identities, traits, events, consent) and outbox consumers; what the reader may do.';
COMMENT ON ROLE customer_profile_admin IS
    'customer_profile: definitions (namespaces, traits, segments), attached tables, erasure and subject access.';
GRANT customer_profile_reader TO customer_profile_writer;
GRANT customer_profile_writer TO customer_profile_admin;

-- Functions are executable by PUBLIC by default: not these.
REVOKE ALL ON ALL FUNCTIONS IN SCHEMA customer_profile FROM PUBLIC;
GRANT USAGE ON SCHEMA customer_profile TO customer_profile_reader;

-- Reader: lookups and reads. Internal helpers (the _ functions) are called
-- by the public ones as the caller, so each role may execute them; what
-- they touch is limited by the table privileges below.
DO $grants$
DECLARE
    f regprocedure;
BEGIN
    FOR f IN SELECT p.oid FROM pg_catalog.pg_proc p
              WHERE p.pronamespace = 'customer_profile'::regnamespace
                AND (p.proname LIKE '\_%' OR p.proname = ANY (ARRAY[
                     'event_count', 'event_sum', 'last_seen', 'identity_lookup', 'identity_normalize',
                     'identity_components', 'identity_explain', 'profile_behavior', 'profile_consent', 'profile_explain',
                     'profile_from_binary', 'profile_get', 'profile_has_trait', 'profile_resolve', 'profile_segment',
                     'profile_trait_text', 'profile_trait_value', 'profile_traits', 'profile_matches',
                     'unified_profile_matches', 'profile_in', 'profile_out', 'profile_recv', 'profile_send',
                     'segment_predicate_in', 'segment_predicate_out', 'segment_predicate_recv',
                     'segment_predicate_send', 'segment_predicate_check', 'segment_matches', 'segment_members',
                     'segment_size', 'segment_explain', 'profile_value', 'profile_rfm', 'segment_lookalike',
                     'profile_similar'])) LOOP
        EXECUTE pg_catalog.format('GRANT EXECUTE ON FUNCTION %s TO customer_profile_reader', f);
    END LOOP;
    FOR f IN SELECT p.oid FROM pg_catalog.pg_proc p
              WHERE p.pronamespace = 'customer_profile'::regnamespace
                AND p.proname = ANY (ARRAY[
                     'resolve_identity', 'trait_observe', 'track', 'consent_set', 'event_inbox_drain',
                     'event_partitions_ensure', 'identity_hash', 'profile_identities', 'segment_outbox_read',
                     'segment_outbox_ack', 'feature_refresh']) LOOP
        EXECUTE pg_catalog.format('GRANT EXECUTE ON FUNCTION %s TO customer_profile_writer', f);
    END LOOP;
    FOR f IN SELECT p.oid FROM pg_catalog.pg_proc p WHERE p.pronamespace = 'customer_profile'::regnamespace LOOP
        EXECUTE pg_catalog.format('GRANT EXECUTE ON FUNCTION %s TO customer_profile_admin', f);
    END LOOP;
END
$grants$;

GRANT SELECT ON customer_profile.unified_profile, customer_profile.segment, customer_profile.segment_membership,
                customer_profile.segment_schedule, customer_profile.namespace, customer_profile.trait_definition,
                customer_profile.event_measure, customer_profile.profile_merge, customer_profile.profile_split,
                customer_profile.consent, customer_profile.trait_observation, customer_profile.event,
                customer_profile.worker_state, customer_profile.attached_table,
                customer_profile.profiles, customer_profile.profiles_wide, customer_profile.segments,
                customer_profile.merges, customer_profile.identity_guard_stats, customer_profile.worker_status,
                customer_profile.value_measure, customer_profile.customer_value,
                customer_profile.most_profitable_customers, customer_profile.feature,
                customer_profile.profile_feature, customer_profile.cluster_model, customer_profile.feature_list
    TO customer_profile_reader;
GRANT SELECT (identity_id, namespace_id, profile_id, first_seen, last_seen) ON customer_profile.identity
    TO customer_profile_reader;

-- Writer: the data tables (not the definitions, the settings or the erasure log).
GRANT SELECT, INSERT, UPDATE, DELETE
    ON customer_profile.identity, customer_profile.identity_link, customer_profile.unified_profile,
       customer_profile.profile_merge, customer_profile.profile_split, customer_profile.identity_conflict,
       customer_profile.trait_observation, customer_profile.event, customer_profile.event_key,
       customer_profile.event_inbox, customer_profile.event_dead_letter, customer_profile.segment_membership,
       customer_profile.segment_outbox, customer_profile.segment_schedule, customer_profile.segment_consumer,
       customer_profile.consent, customer_profile.worker_state, customer_profile.profile_feature
    TO customer_profile_writer;
GRANT SELECT ON customer_profile.identities TO customer_profile_writer;
GRANT USAGE ON ALL SEQUENCES IN SCHEMA customer_profile TO customer_profile_writer;

-- Admin: every table (definitions, attached tables, settings, erasure log).
GRANT ALL ON ALL TABLES IN SCHEMA customer_profile TO customer_profile_admin;
GRANT ALL ON ALL SEQUENCES IN SCHEMA customer_profile TO customer_profile_admin;

-- A lookup compares stored hashes, which the reader may not select: it runs
-- as the extension's owner (search_path pinned since 1.0).
ALTER FUNCTION customer_profile.identity_lookup(text, text) SECURITY DEFINER;

-- profiles_wide is replaced whenever a trait is defined, which drops its
-- grants: the rebuild (unchanged, renamed) now runs inside a wrapper that
-- grants again, as the extension's owner (an admin does not own the view).
ALTER FUNCTION customer_profile.profiles_wide_refresh() RENAME TO _profiles_wide_rebuild;
COMMENT ON FUNCTION customer_profile._profiles_wide_rebuild() IS
    'Internal: replaces profiles_wide with one typed column per declared trait (profiles_wide_refresh grants it).';
CREATE FUNCTION customer_profile.profiles_wide_refresh() RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    PERFORM customer_profile._profiles_wide_rebuild();
    GRANT SELECT ON customer_profile.profiles_wide TO customer_profile_reader;
    GRANT ALL ON customer_profile.profiles_wide TO customer_profile_admin;
END
$$;
COMMENT ON FUNCTION customer_profile.profiles_wide_refresh() IS
    'Regenerates profiles_wide from the trait definitions (trait_define calls it; run it after restoring a dump).';
REVOKE ALL ON FUNCTION customer_profile.profiles_wide_refresh(), customer_profile._profiles_wide_rebuild() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION customer_profile.profiles_wide_refresh() TO customer_profile_admin;
