-- Privacy: consent per purpose, subject access (export) and erasure.

CREATE TABLE customer_profile.consent (
    consent_id bigint NOT NULL,
    identity_id bigint NOT NULL,
    purpose text NOT NULL,
    granted boolean NOT NULL,
    source text NOT NULL,
    observed_at timestamp with time zone NOT NULL,
    recorded_at timestamp with time zone DEFAULT now() NOT NULL,
    CONSTRAINT consent_purpose_check CHECK ((purpose ~ '^[a-z][a-z0-9_]{0,62}$'::text)),
    CONSTRAINT consent_source_check CHECK (((length(source) >= 1) AND (length(source) <= 200)))
);
SELECT pg_catalog.pg_extension_config_dump('customer_profile.consent', '');
ALTER TABLE customer_profile.consent ALTER COLUMN consent_id ADD GENERATED ALWAYS AS IDENTITY (
    SEQUENCE NAME customer_profile.consent_consent_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1
);
SELECT pg_catalog.pg_extension_config_dump('customer_profile.consent_consent_id_seq', '');
ALTER TABLE ONLY customer_profile.consent
    ADD CONSTRAINT consent_pkey PRIMARY KEY (consent_id);
CREATE INDEX consent_identity_idx ON customer_profile.consent USING btree (identity_id, purpose, observed_at);
COMMENT ON TABLE customer_profile.consent IS 'Every consent statement (granted or withdrawn) per identifier and purpose, with source and time.';
GRANT SELECT ON TABLE customer_profile.consent TO customer_profile_reader;
GRANT SELECT,INSERT,DELETE,UPDATE ON TABLE customer_profile.consent TO customer_profile_writer;
GRANT SELECT ON TABLE customer_profile.consent TO customer_profile_worker;
REVOKE USAGE ON TYPE customer_profile.consent FROM PUBLIC;

-- What is kept of an erased person: that an erasure happened, when, by whom,
-- the opaque profile ids it removed (so downstream systems that hold them
-- can erase their copies) and how many rows of each kind went. No
-- identifier, no hash, no trait.
CREATE TABLE customer_profile.erasure (
    erasure_id bigint NOT NULL,
    erased_at timestamp with time zone DEFAULT now() NOT NULL,
    erased_by name DEFAULT SESSION_USER NOT NULL,
    profile_ids bigint[] NOT NULL,
    removed jsonb NOT NULL
);
SELECT pg_catalog.pg_extension_config_dump('customer_profile.erasure', '');
ALTER TABLE customer_profile.erasure ALTER COLUMN erasure_id ADD GENERATED ALWAYS AS IDENTITY (
    SEQUENCE NAME customer_profile.erasure_erasure_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1
);
SELECT pg_catalog.pg_extension_config_dump('customer_profile.erasure_erasure_id_seq', '');
ALTER TABLE ONLY customer_profile.erasure
    ADD CONSTRAINT erasure_pkey PRIMARY KEY (erasure_id);
COMMENT ON TABLE customer_profile.erasure IS 'One row per profile_forget(): when, by whom, the profile ids removed and row counts per kind; nothing that identifies the person.';
GRANT SELECT ON TABLE customer_profile.erasure TO customer_profile_admin;
REVOKE USAGE ON TYPE customer_profile.erasure FROM PUBLIC;

-- consent_set finds the identifier to keep the statement on among arrays of
-- values too (it raised 23502 for {"cookie": ["a", "b"]}), and records it
-- under the profile's lock on an identifier that still exists.
CREATE FUNCTION customer_profile.consent_set(identities jsonb, purpose text, granted boolean, source text, observed_at timestamp with time zone DEFAULT now()) RETURNS bigint
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
COMMENT ON FUNCTION customer_profile.consent_set(identities jsonb, purpose text, granted boolean, source text, observed_at timestamp with time zone) IS 'Records that the person behind the identifiers granted (or withdrew) consent to a purpose; returns the profile id.';
REVOKE ALL ON FUNCTION customer_profile.consent_set(identities jsonb, purpose text, granted boolean, source text, observed_at timestamp with time zone) FROM PUBLIC;
GRANT ALL ON FUNCTION customer_profile.consent_set(identities jsonb, purpose text, granted boolean, source text, observed_at timestamp with time zone) TO customer_profile_writer;

CREATE FUNCTION customer_profile.profile_consent(profile_id bigint, purpose text) RETURNS boolean
    LANGUAGE sql STABLE STRICT
    SET search_path TO 'pg_catalog', 'pg_temp'
    BEGIN ATOMIC
 SELECT c.granted
    FROM (customer_profile.consent c
      JOIN customer_profile.identity i USING (identity_id))
   WHERE ((i.profile_id = customer_profile.profile_resolve(profile_consent.profile_id)) AND (c.purpose = profile_consent.purpose))
   ORDER BY c.observed_at DESC, c.consent_id DESC
  LIMIT 1;
END;
COMMENT ON FUNCTION customer_profile.profile_consent(profile_id bigint, purpose text) IS 'The person''s latest statement on a purpose: true (granted), false (withdrawn), NULL (never asked).';
REVOKE ALL ON FUNCTION customer_profile.profile_consent(profile_id bigint, purpose text) FROM PUBLIC;
GRANT ALL ON FUNCTION customer_profile.profile_consent(profile_id bigint, purpose text) TO customer_profile_reader;

CREATE FUNCTION customer_profile.profile_export(namespace text, value text) RETURNS jsonb
    LANGUAGE plpgsql STABLE
    SET search_path TO 'pg_catalog', 'pg_temp'
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
COMMENT ON FUNCTION customer_profile.profile_export(namespace text, value text) IS 'Subject access: everything held about the person behind an identifier (identities, merged traits with provenance, every observation, behavior summary, events, segment history, consents) as one jsonb; NULL when unknown.';
REVOKE ALL ON FUNCTION customer_profile.profile_export(namespace text, value text) FROM PUBLIC;
GRANT ALL ON FUNCTION customer_profile.profile_export(namespace text, value text) TO customer_profile_admin;

-- Erasure matches the person's identifiers by hash, key by key, in queued
-- and failed events, and guard-rail records by the ids they name; no
-- substring of any text.
CREATE FUNCTION customer_profile.profile_forget(namespace text, value text) RETURNS bigint
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
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
COMMENT ON FUNCTION customer_profile.profile_forget(namespace text, value text) IS 'Right to erasure: removes the person behind an identifier everywhere (identifiers, links, observations, events, consents, memberships, outbox rows, guard-rail records naming their ids, queued and failed events naming one of their identifiers by namespace and normalized value) in one transaction; returns the erasure record id.';
REVOKE ALL ON FUNCTION customer_profile.profile_forget(namespace text, value text) FROM PUBLIC;
GRANT ALL ON FUNCTION customer_profile.profile_forget(namespace text, value text) TO customer_profile_admin;
