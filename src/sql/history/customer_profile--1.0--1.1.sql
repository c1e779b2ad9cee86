-- customer_profile 1.0 -> 1.1: the profile type (issue 3, first slice).
\echo Use "ALTER EXTENSION customer_profile UPDATE TO '1.1'" to load this file. \quit

CREATE TYPE customer_profile.profile;

CREATE FUNCTION customer_profile.profile_in(cstring) RETURNS customer_profile.profile
    AS 'MODULE_PATHNAME', 'cp_profile_in' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION customer_profile.profile_out(customer_profile.profile) RETURNS cstring
    AS 'MODULE_PATHNAME', 'cp_profile_out' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION customer_profile.profile_recv(internal) RETURNS customer_profile.profile
    AS 'MODULE_PATHNAME', 'cp_profile_recv' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION customer_profile.profile_send(customer_profile.profile) RETURNS bytea
    AS 'MODULE_PATHNAME', 'cp_profile_send' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE TYPE customer_profile.profile (
    INPUT = customer_profile.profile_in,
    OUTPUT = customer_profile.profile_out,
    RECEIVE = customer_profile.profile_recv,
    SEND = customer_profile.profile_send,
    INTERNALLENGTH = VARIABLE,
    STORAGE = extended
);
COMMENT ON TYPE customer_profile.profile IS
    'A unified profile: merged traits, each with value, source and observation time. Text form: {"traits": {"name": {"value": ..., "type": ..., "source": ..., "observed_at": ...}}}; compact versioned binary form.';
COMMENT ON FUNCTION customer_profile.profile_in(cstring) IS 'Text input of profile (JSON).';
COMMENT ON FUNCTION customer_profile.profile_out(customer_profile.profile) IS 'Text output of profile (canonical JSON).';
COMMENT ON FUNCTION customer_profile.profile_recv(internal) IS 'Binary input of profile, validated like text input.';
COMMENT ON FUNCTION customer_profile.profile_send(customer_profile.profile) IS 'Binary output of profile (format version byte first).';

CREATE FUNCTION customer_profile.profile_trait_value(p customer_profile.profile, trait text) RETURNS jsonb
    AS 'MODULE_PATHNAME', 'cp_profile_trait_value' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION customer_profile.profile_trait_value(customer_profile.profile, text) IS
    'A trait''s value as jsonb (timestamps as ISO strings), NULL when absent; the -> operator.';
CREATE FUNCTION customer_profile.profile_trait_text(p customer_profile.profile, trait text) RETURNS text
    AS 'MODULE_PATHNAME', 'cp_profile_trait_text' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION customer_profile.profile_trait_text(customer_profile.profile, text) IS
    'A trait''s value as text, NULL when absent or null; the ->> operator.';
CREATE FUNCTION customer_profile.profile_has_trait(p customer_profile.profile, trait text) RETURNS boolean
    AS 'MODULE_PATHNAME', 'cp_profile_has_trait' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION customer_profile.profile_has_trait(customer_profile.profile, text) IS
    'Whether the profile holds the trait; the ? operator.';
CREATE FUNCTION customer_profile.profile_traits(p customer_profile.profile) RETURNS jsonb
    AS 'MODULE_PATHNAME', 'cp_profile_traits' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION customer_profile.profile_traits(customer_profile.profile) IS
    'Every trait''s value as one jsonb object {"trait": value}.';

CREATE OPERATOR customer_profile.-> (
    LEFTARG = customer_profile.profile, RIGHTARG = text, FUNCTION = customer_profile.profile_trait_value);
COMMENT ON OPERATOR customer_profile.-> (customer_profile.profile, text) IS 'trait value as jsonb';
CREATE OPERATOR customer_profile.->> (
    LEFTARG = customer_profile.profile, RIGHTARG = text, FUNCTION = customer_profile.profile_trait_text);
COMMENT ON OPERATOR customer_profile.->> (customer_profile.profile, text) IS 'trait value as text';
CREATE OPERATOR customer_profile.? (
    LEFTARG = customer_profile.profile, RIGHTARG = text, FUNCTION = customer_profile.profile_has_trait);
COMMENT ON OPERATOR customer_profile.? (customer_profile.profile, text) IS 'does the profile hold this trait?';

CREATE FUNCTION customer_profile.profile_from_binary(bytea) RETURNS customer_profile.profile
    AS 'MODULE_PATHNAME', 'cp_profile_from_binary' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION customer_profile.profile_from_binary(bytea) IS
    'The profile whose binary form (profile_send) is given, validated like text input.';

------------------------------------------------------------------------------
-- Traits: definitions, observations, merged values
------------------------------------------------------------------------------

ALTER TABLE customer_profile.unified_profile
    ADD COLUMN data customer_profile.profile NOT NULL DEFAULT '{}';
COMMENT ON COLUMN customer_profile.unified_profile.data IS
    'Merged traits, recomputed from trait_observation whenever observations, merges, splits or definitions change.';

CREATE FUNCTION customer_profile._trait_definition_check(name text, type text, policy text, source_order text[])
    RETURNS boolean
    AS 'MODULE_PATHNAME', 'cp_trait_definition_check' LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION customer_profile._trait_definition_check(text, text, text, text[]) IS
    'Internal: raises unless the type and policy of a trait definition fit together (CHECK helper).';

CREATE TABLE customer_profile.trait_definition (
    name text PRIMARY KEY,
    type text NOT NULL,
    policy text NOT NULL DEFAULT 'latest',
    source_order text[] NOT NULL DEFAULT '{}',
    created_at timestamptz NOT NULL DEFAULT now(),
    CHECK (customer_profile._trait_definition_check(name, type, policy, source_order))
);
COMMENT ON TABLE customer_profile.trait_definition IS
    'Declared traits: type and merge policy (latest, earliest, source_priority, max, min, sum, union). Undeclared traits merge by latest with an inferred type.';
CREATE TRIGGER trait_definition_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE
    ON customer_profile.trait_definition FOR EACH STATEMENT EXECUTE FUNCTION customer_profile._catalog_changed();

CREATE TABLE customer_profile.trait_observation (
    identity_id bigint NOT NULL,
    trait text NOT NULL,
    source text NOT NULL,
    value_type text NOT NULL,
    value jsonb NOT NULL,
    observed_at timestamptz NOT NULL,
    recorded_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (identity_id, trait, source)
);
COMMENT ON TABLE customer_profile.trait_observation IS
    'The latest observation of each trait per identity and source. Merged values are folds over these rows, so a split recomputes each half from its own identities.';
SELECT pg_catalog.pg_extension_config_dump('customer_profile.trait_definition', '');
SELECT pg_catalog.pg_extension_config_dump('customer_profile.trait_observation', '');

CREATE FUNCTION customer_profile._profile_recompute(profile_id bigint, traits text[]) RETURNS void
    AS 'MODULE_PATHNAME', 'cp_profile_recompute' LANGUAGE C VOLATILE;
COMMENT ON FUNCTION customer_profile._profile_recompute(bigint, text[]) IS
    'Internal: recomputes merged traits (all when traits is NULL) from the observations of the profile''s identities.';

CREATE FUNCTION customer_profile.profile_explain(p customer_profile.profile)
    RETURNS TABLE (trait text, value jsonb, source text, observed_at timestamptz, policy text)
    AS 'MODULE_PATHNAME', 'cp_profile_explain' LANGUAGE C STABLE STRICT;
COMMENT ON FUNCTION customer_profile.profile_explain(customer_profile.profile) IS
    'Where every trait value came from: its source, observation time and the merge policy that chose it.';

CREATE FUNCTION customer_profile.trait_define(name text, type text, policy text DEFAULT 'latest',
                                              source_order text[] DEFAULT '{}')
    RETURNS void
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    bad record;
BEGIN
    IF name IS NULL OR type IS NULL OR policy IS NULL THEN
        RAISE EXCEPTION 'name, type and policy must not be NULL' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    PERFORM customer_profile._trait_definition_check(name, type, policy, coalesce(source_order, '{}'));
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
COMMENT ON FUNCTION customer_profile.trait_define(text, text, text, text[]) IS
    'Declares (or redeclares) a trait: type null/boolean/number/text/timestamp/text[] and merge policy; existing profiles are recomputed.';

CREATE FUNCTION customer_profile.trait_observe(identities jsonb, traits jsonb, source text,
                                               observed_at timestamptz DEFAULT now())
    RETURNS bigint
    AS 'MODULE_PATHNAME', 'cp_trait_observe' LANGUAGE C VOLATILE;
COMMENT ON FUNCTION customer_profile.trait_observe(jsonb, jsonb, text, timestamptz) IS
    'Resolves the person, records each trait observation on the call''s strongest identifier, and updates the merged profile; returns the profile id.';

CREATE FUNCTION customer_profile.profile_get(profile_id bigint) RETURNS customer_profile.profile
    LANGUAGE sql STABLE STRICT
    BEGIN ATOMIC
        SELECT u.data FROM customer_profile.unified_profile u
         WHERE u.profile_id = customer_profile.profile_resolve(profile_get.profile_id);
    END;
COMMENT ON FUNCTION customer_profile.profile_get(bigint) IS
    'The current profile (following merges), NULL when unknown.';

CREATE FUNCTION customer_profile.profile_get(namespace text, value text) RETURNS customer_profile.profile
    AS 'MODULE_PATHNAME', 'cp_profile_get_by_identifier' LANGUAGE C STABLE STRICT;
COMMENT ON FUNCTION customer_profile.profile_get(text, text) IS
    'The current profile of the person holding an identifier (two index probes), NULL when unknown.';

-- identity_remove now also withdraws the removed identifier's observations.
CREATE OR REPLACE FUNCTION customer_profile.identity_remove(namespace text, value text) RETURNS integer
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    a record;
    p bigint;
    carved integer;
BEGIN
    LOCK TABLE customer_profile.identity IN ROW EXCLUSIVE MODE;  -- waits for identity_rebuild()
    a := customer_profile._identity_find(namespace, value);
    IF a.identity_id IS NULL THEN
        RAISE EXCEPTION 'identifier is not known' USING ERRCODE = 'undefined_object';
    END IF;
    p := customer_profile._identity_lock(a.identity_id);
    DELETE FROM customer_profile.identity_link l
     USING customer_profile.identity i
     WHERE i.profile_id = p AND l.identity_a = i.identity_id AND a.identity_id IN (l.identity_a, l.identity_b);
    DELETE FROM customer_profile.trait_observation o WHERE o.identity_id = a.identity_id;
    DELETE FROM customer_profile.identity i WHERE i.identity_id = a.identity_id;
    IF NOT EXISTS (SELECT 1 FROM customer_profile.identity i WHERE i.profile_id = p) THEN
        DELETE FROM customer_profile.unified_profile pr WHERE pr.profile_id = p;
        RETURN 0;
    END IF;
    carved := customer_profile._identity_split(p, 'identity_remove');
    PERFORM customer_profile._profile_recompute(p, NULL);
    RETURN carved;
END
$$;

CREATE OR REPLACE VIEW customer_profile.profiles AS
    SELECT p.profile_id,
           EXISTS (SELECT 1 FROM customer_profile.identity i JOIN customer_profile.namespace n USING (namespace_id)
                    WHERE i.profile_id = p.profile_id AND n.is_known) AS is_known,
           (SELECT count(*) FROM customer_profile.identity i WHERE i.profile_id = p.profile_id) AS identity_count,
           p.created_at, p.updated_at,
           customer_profile.profile_traits(p.data) AS traits
      FROM customer_profile.unified_profile p;

------------------------------------------------------------------------------
-- Next to the CRM tables: attach an existing table as a source
------------------------------------------------------------------------------

CREATE TABLE customer_profile.attached_table (
    table_oid regclass PRIMARY KEY,
    source text NOT NULL CHECK (length(source) BETWEEN 1 AND 200),
    identity_columns jsonb NOT NULL,
    trait_columns jsonb NOT NULL,
    attached_at timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE customer_profile.attached_table IS
    'Tables whose rows flow into identities and traits: namespace -> column and trait -> column mappings.';

-- Identities and traits of one row of an attached table, as jsonb.
CREATE FUNCTION customer_profile._attached_row(config customer_profile.attached_table, row_json jsonb,
                                               OUT identities jsonb, OUT traits jsonb)
    LANGUAGE sql IMMUTABLE
    BEGIN ATOMIC
        SELECT (SELECT coalesce(jsonb_object_agg(m.key, row_json ->> (m.value #>> '{}'))
                                FILTER (WHERE row_json ->> (m.value #>> '{}') IS NOT NULL), '{}')
                  FROM jsonb_each(config.identity_columns) m),
               (SELECT coalesce(jsonb_object_agg(m.key, coalesce(row_json -> (m.value #>> '{}'), 'null'::jsonb)), '{}')
                  FROM jsonb_each(config.trait_columns) m);
    END;
COMMENT ON FUNCTION customer_profile._attached_row(customer_profile.attached_table, jsonb) IS
    'Internal: the identities (non-null columns, as text) and traits (JSON values) of one attached row.';

-- Applies one row: resolution and trait observations (or only resolution).
CREATE FUNCTION customer_profile._attached_apply(config customer_profile.attached_table, row_json jsonb)
    RETURNS bigint
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    parts record;
BEGIN
    parts := customer_profile._attached_row(config, row_json);
    IF parts.identities = '{}' THEN
        RETURN NULL;  -- a row without any identifier cannot be tied to a person
    END IF;
    IF parts.traits = '{}' THEN
        RETURN customer_profile.resolve_identity(parts.identities, config.source);
    END IF;
    RETURN customer_profile.trait_observe(parts.identities, parts.traits, config.source, now());
END
$$;
COMMENT ON FUNCTION customer_profile._attached_apply(customer_profile.attached_table, jsonb) IS
    'Internal: resolves one attached row and records its trait observations.';

-- Withdraws the observations one row contributed (DELETE, or the old side of an UPDATE that changed identities).
CREATE FUNCTION customer_profile._attached_withdraw(config customer_profile.attached_table, row_json jsonb)
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
           AND i.value_hash IN (SELECT customer_profile.identity_hash(e.key, e.value)
                                  FROM jsonb_each_text(parts.identities) e)
        RETURNING i.profile_id)
    SELECT array_agg(DISTINCT g.profile_id) INTO affected FROM gone g;
    PERFORM customer_profile._profile_recompute(p, trait_names) FROM unnest(affected) p;
END
$$;
COMMENT ON FUNCTION customer_profile._attached_withdraw(customer_profile.attached_table, jsonb) IS
    'Internal: deletes the trait observations an attached row contributed and recomputes the profiles.';

-- The trigger on attached tables. SECURITY DEFINER so that whoever may write
-- the CRM table need not be granted the extension's tables.
CREATE FUNCTION customer_profile._attached_row_changed() RETURNS trigger
    LANGUAGE plpgsql
    SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    config customer_profile.attached_table;
BEGIN
    SELECT * INTO config FROM customer_profile.attached_table a WHERE a.table_oid = TG_RELID;
    IF NOT FOUND THEN
        RETURN NULL;
    END IF;
    IF TG_OP IN ('DELETE', 'UPDATE') THEN
        IF TG_OP = 'DELETE' OR customer_profile._attached_row(config, to_jsonb(OLD)) IS DISTINCT FROM
                               customer_profile._attached_row(config, to_jsonb(NEW)) THEN
            PERFORM customer_profile._attached_withdraw(config, to_jsonb(OLD));
        END IF;
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        PERFORM customer_profile._attached_apply(config, to_jsonb(NEW));
    END IF;
    RETURN NULL;
END
$$;
COMMENT ON FUNCTION customer_profile._attached_row_changed() IS
    'Internal trigger on attached tables: rows flow into identities and traits in the same transaction.';

CREATE FUNCTION customer_profile.profile_attach_table(tbl regclass, source text, identity_columns jsonb,
                                                      trait_columns jsonb DEFAULT '{}', batch_size integer DEFAULT 1000)
    RETURNS bigint
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    config customer_profile.attached_table;
    mapping record;
    r record;
    done bigint := 0;
    total bigint;
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
    EXECUTE format('CREATE TRIGGER customer_profile_attached AFTER INSERT OR UPDATE OR DELETE ON %s '
                   'FOR EACH ROW EXECUTE FUNCTION customer_profile._attached_row_changed()', tbl);
    -- Backfill the rows already there, reporting progress every batch.
    EXECUTE format('SELECT count(*) FROM %s', tbl) INTO total;
    FOR r IN EXECUTE format('SELECT to_jsonb(t) AS j FROM %s t', tbl) LOOP
        PERFORM customer_profile._attached_apply(config, r.j);
        done := done + 1;
        IF done % greatest(batch_size, 1) = 0 THEN
            RAISE NOTICE 'profile_attach_table: % of % rows of % applied', done, total, tbl;
        END IF;
    END LOOP;
    RETURN done;
END
$$;
COMMENT ON FUNCTION customer_profile.profile_attach_table(regclass, text, jsonb, jsonb, integer) IS
    'Attaches an existing table: backfills its rows into identities and traits and installs a trigger so later INSERT/UPDATE flow in within the same transaction and DELETE withdraws the row''s observations. Returns the rows backfilled.';

CREATE FUNCTION customer_profile.profile_detach_table(tbl regclass, withdraw_observations boolean DEFAULT false)
    RETURNS void
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    config customer_profile.attached_table;
    r record;
BEGIN
    SELECT * INTO config FROM customer_profile.attached_table a WHERE a.table_oid = tbl;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'table % is not attached', tbl USING ERRCODE = 'undefined_object';
    END IF;
    EXECUTE format('DROP TRIGGER IF EXISTS customer_profile_attached ON %s', tbl);
    IF withdraw_observations THEN
        FOR r IN EXECUTE format('SELECT to_jsonb(t) AS j FROM %s t', tbl) LOOP
            PERFORM customer_profile._attached_withdraw(config, r.j);
        END LOOP;
    END IF;
    DELETE FROM customer_profile.attached_table a WHERE a.table_oid = tbl;
END
$$;
COMMENT ON FUNCTION customer_profile.profile_detach_table(regclass, boolean) IS
    'Removes an attached table''s trigger and configuration; with withdraw_observations, also withdraws what its rows contributed.';

------------------------------------------------------------------------------
-- A wide view for BI tools: one typed column per declared trait
------------------------------------------------------------------------------

CREATE VIEW customer_profile.profiles_wide AS
    SELECT u.profile_id FROM customer_profile.unified_profile u;
COMMENT ON VIEW customer_profile.profiles_wide IS
    'One row per profile, one typed column per declared trait; regenerated by trait_define() and profiles_wide_refresh().';

CREATE FUNCTION customer_profile.profiles_wide_refresh() RETURNS void
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    columns text := '';
    d record;
BEGIN
    FOR d IN SELECT t.name, t.type FROM customer_profile.trait_definition t
              WHERE t.name <> 'profile_id' ORDER BY t.created_at, t.name LOOP
        columns := columns || ', ' || format(
            CASE d.type
                WHEN 'number' THEN 'customer_profile.profile_trait_text(u.data, %1$L)::double precision AS %2$I'
                WHEN 'boolean' THEN 'customer_profile.profile_trait_text(u.data, %1$L)::boolean AS %2$I'
                WHEN 'timestamp' THEN 'customer_profile.profile_trait_text(u.data, %1$L)::timestamptz AS %2$I'
                WHEN 'text[]' THEN 'ARRAY(SELECT pg_catalog.jsonb_array_elements_text('
                                   'customer_profile.profile_trait_value(u.data, %1$L))) AS %2$I'
                ELSE 'customer_profile.profile_trait_text(u.data, %1$L) AS %2$I'
            END, d.name, d.name);
    END LOOP;
    -- The view belongs to the extension: detach it, replace it, attach it again.
    ALTER EXTENSION customer_profile DROP VIEW customer_profile.profiles_wide;
    DROP VIEW customer_profile.profiles_wide;
    EXECUTE 'CREATE VIEW customer_profile.profiles_wide AS SELECT u.profile_id' || columns
            || ' FROM customer_profile.unified_profile u';
    ALTER EXTENSION customer_profile ADD VIEW customer_profile.profiles_wide;
    COMMENT ON VIEW customer_profile.profiles_wide IS
        'One row per profile, one typed column per declared trait; regenerated by trait_define() and profiles_wide_refresh().';
END
$$;
COMMENT ON FUNCTION customer_profile.profiles_wide_refresh() IS
    'Regenerates profiles_wide from the trait definitions (trait_define calls it; run it after restoring a dump).';
