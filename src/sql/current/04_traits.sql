-- Traits: definitions with their merge policies, observations with
-- provenance, recomputation of stored profiles, and the BI views profiles and
-- profiles_wide (generated per declared traits).

CREATE FUNCTION customer_profile._trait_definition_check(name text, type text, policy text, source_order text[]) RETURNS boolean
    LANGUAGE c IMMUTABLE PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'cp_trait_definition_check';
COMMENT ON FUNCTION customer_profile._trait_definition_check(name text, type text, policy text, source_order text[]) IS 'Internal: raises unless the type and policy of a trait definition fit together (CHECK helper).';
REVOKE ALL ON FUNCTION customer_profile._trait_definition_check(name text, type text, policy text, source_order text[]) FROM PUBLIC;

CREATE TABLE customer_profile.trait_definition (
    name text NOT NULL,
    type text NOT NULL,
    policy text DEFAULT 'latest'::text NOT NULL,
    source_order text[] DEFAULT '{}'::text[] NOT NULL,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    CONSTRAINT trait_definition_check CHECK (customer_profile._trait_definition_check(name, type, policy, source_order))
);
SELECT pg_catalog.pg_extension_config_dump('customer_profile.trait_definition', '');
ALTER TABLE ONLY customer_profile.trait_definition
    ADD CONSTRAINT trait_definition_pkey PRIMARY KEY (name);
CREATE TRIGGER trait_definition_changed AFTER INSERT OR DELETE OR UPDATE OR TRUNCATE ON customer_profile.trait_definition FOR EACH STATEMENT EXECUTE FUNCTION customer_profile._catalog_changed();
COMMENT ON TABLE customer_profile.trait_definition IS 'Declared traits: type and merge policy (latest, earliest, source_priority, max, min, sum, union). Undeclared traits merge by latest with an inferred type.';
GRANT SELECT ON TABLE customer_profile.trait_definition TO customer_profile_reader;
GRANT SELECT ON TABLE customer_profile.trait_definition TO customer_profile_worker;
REVOKE USAGE ON TYPE customer_profile.trait_definition FROM PUBLIC;

CREATE TABLE customer_profile.trait_observation (
    identity_id bigint NOT NULL,
    trait text NOT NULL,
    source text NOT NULL,
    value_type text NOT NULL,
    value jsonb NOT NULL,
    observed_at timestamp with time zone NOT NULL,
    recorded_at timestamp with time zone DEFAULT now() NOT NULL
);
SELECT pg_catalog.pg_extension_config_dump('customer_profile.trait_observation', '');
ALTER TABLE ONLY customer_profile.trait_observation
    ADD CONSTRAINT trait_observation_pkey PRIMARY KEY (identity_id, trait, source);
COMMENT ON TABLE customer_profile.trait_observation IS 'The latest observation of each trait per identity and source. Merged values are folds over these rows, so a split recomputes each half from its own identities.';
GRANT SELECT ON TABLE customer_profile.trait_observation TO customer_profile_reader;
GRANT SELECT,INSERT,DELETE,UPDATE ON TABLE customer_profile.trait_observation TO customer_profile_writer;
GRANT SELECT ON TABLE customer_profile.trait_observation TO customer_profile_worker;
REVOKE USAGE ON TYPE customer_profile.trait_observation FROM PUBLIC;

CREATE FUNCTION customer_profile._profile_recompute(profile_id bigint, traits text[]) RETURNS void
    LANGUAGE c
    AS 'MODULE_PATHNAME', 'cp_profile_recompute';
COMMENT ON FUNCTION customer_profile._profile_recompute(profile_id bigint, traits text[]) IS 'Internal: recomputes merged traits (all when traits is NULL) from the observations of the profile''s identities.';
REVOKE ALL ON FUNCTION customer_profile._profile_recompute(profile_id bigint, traits text[]) FROM PUBLIC;
GRANT ALL ON FUNCTION customer_profile._profile_recompute(profile_id bigint, traits text[]) TO customer_profile_admin;

CREATE FUNCTION customer_profile._profiles_wide_column(trait text, column_type text) RETURNS text
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

-- Regenerates profiles_wide without touching what users built on it: the
-- existing columns keep their places, new traits come last, so in the
-- common case (a new trait, a new policy) CREATE OR REPLACE VIEW suffices.
-- A column whose trait is gone stays while a view reads it. When a column
-- must change type or go, the views on profiles_wide (and on them) are
-- saved, dropped and created again as they were: definition, options,
-- owner, privileges, comments; one that cannot follow the change stops it
-- (2BP01, naming the view) and nothing changes.
CREATE FUNCTION customer_profile._profiles_wide_rebuild() RETURNS void
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

-- At restore, the dumped profiles_wide is created before the trait
-- definitions arrive; pg_dump does not dump its dependency on the
-- extension, so the definitions' arrival records it again.
CREATE FUNCTION customer_profile._profiles_wide_restored() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
BEGIN
    IF to_regclass('customer_profile.profiles_wide') IS NOT NULL THEN
        PERFORM customer_profile._depend_on_extension('customer_profile.profiles_wide');
    END IF;
    RETURN NULL;
END
$$;
COMMENT ON FUNCTION customer_profile._profiles_wide_restored() IS 'Internal trigger: a restored profiles_wide is dropped with the extension again.';
REVOKE ALL ON FUNCTION customer_profile._profiles_wide_restored() FROM PUBLIC;
CREATE TRIGGER trait_definition_wide_view AFTER INSERT ON customer_profile.trait_definition FOR EACH STATEMENT EXECUTE FUNCTION customer_profile._profiles_wide_restored();

-- The column type of a trait type, and the expression of a column.
CREATE FUNCTION customer_profile._trait_column_type(type text) RETURNS text
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

CREATE FUNCTION customer_profile._trait_refusal(trait text, value jsonb) RETURNS text
    LANGUAGE c STABLE STRICT
    AS 'MODULE_PATHNAME', 'cp_trait_refusal';
COMMENT ON FUNCTION customer_profile._trait_refusal(trait text, value jsonb) IS 'Internal: why trait_observe() would refuse this value of the trait (message and SQLSTATE), or NULL when it accepts it.';
REVOKE ALL ON FUNCTION customer_profile._trait_refusal(trait text, value jsonb) FROM PUBLIC;
GRANT ALL ON FUNCTION customer_profile._trait_refusal(trait text, value jsonb) TO customer_profile_admin;

CREATE FUNCTION customer_profile.profile_get(profile_id bigint) RETURNS customer_profile.profile
    LANGUAGE sql STABLE STRICT
    BEGIN ATOMIC
 SELECT u.data
    FROM customer_profile.unified_profile u
   WHERE (u.profile_id = customer_profile.profile_resolve(profile_get.profile_id));
END;
COMMENT ON FUNCTION customer_profile.profile_get(profile_id bigint) IS 'The current profile (following merges), NULL when unknown.';
REVOKE ALL ON FUNCTION customer_profile.profile_get(profile_id bigint) FROM PUBLIC;
GRANT ALL ON FUNCTION customer_profile.profile_get(profile_id bigint) TO customer_profile_reader;

CREATE FUNCTION customer_profile.profile_get(namespace text, value text) RETURNS customer_profile.profile
    LANGUAGE c STABLE STRICT
    AS 'MODULE_PATHNAME', 'cp_profile_get_by_identifier';
COMMENT ON FUNCTION customer_profile.profile_get(namespace text, value text) IS 'The current profile of the person holding an identifier (two index probes), NULL when unknown.';
REVOKE ALL ON FUNCTION customer_profile.profile_get(namespace text, value text) FROM PUBLIC;
GRANT ALL ON FUNCTION customer_profile.profile_get(namespace text, value text) TO customer_profile_reader;

CREATE FUNCTION customer_profile.profile_recompute(profile_id bigint) RETURNS void
    LANGUAGE sql STRICT
    SET search_path TO 'pg_catalog', 'pg_temp'
    BEGIN ATOMIC
 SELECT customer_profile._profile_recompute(customer_profile.profile_resolve(profile_id), NULL::text[]) AS _profile_recompute;
END;
COMMENT ON FUNCTION customer_profile.profile_recompute(profile_id bigint) IS 'Recomputes a profile''s behavior summary from its stored events and its traits from their observations, then re-evaluates its segments. After an update from 1.5: SELECT count(*) FROM customer_profile.unified_profile u, LATERAL customer_profile.profile_recompute(u.profile_id);';
REVOKE ALL ON FUNCTION customer_profile.profile_recompute(profile_id bigint) FROM PUBLIC;
GRANT ALL ON FUNCTION customer_profile.profile_recompute(profile_id bigint) TO customer_profile_admin;

-- profiles_wide is replaced with every trait definition: its grants are
-- given again each time, SELECT to the reader (the admin reads it as one).
CREATE FUNCTION customer_profile.profiles_wide_refresh() RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
BEGIN
    PERFORM customer_profile._profiles_wide_rebuild();
    GRANT SELECT ON customer_profile.profiles_wide TO customer_profile_reader;
    -- Its row type, too, is nobody's to pin in a column (review of issue 14).
    REVOKE USAGE ON TYPE customer_profile.profiles_wide FROM PUBLIC;
END
$$;
COMMENT ON FUNCTION customer_profile.profiles_wide_refresh() IS 'Brings profiles_wide in line with the trait definitions (trait_define calls it), keeping the views built on it.';
REVOKE ALL ON FUNCTION customer_profile.profiles_wide_refresh() FROM PUBLIC;
GRANT ALL ON FUNCTION customer_profile.profiles_wide_refresh() TO customer_profile_admin;

CREATE FUNCTION customer_profile.trait_define(name text, type text, policy text DEFAULT 'latest'::text, source_order text[] DEFAULT '{}'::text[]) RETURNS void
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

CREATE FUNCTION customer_profile.trait_observe(identities jsonb, traits jsonb, source text, observed_at timestamp with time zone DEFAULT now()) RETURNS bigint
    LANGUAGE c
    AS 'MODULE_PATHNAME', 'cp_trait_observe';
COMMENT ON FUNCTION customer_profile.trait_observe(identities jsonb, traits jsonb, source text, observed_at timestamp with time zone) IS 'Resolves the person, records each trait observation on the call''s strongest identifier, and updates the merged profile; returns the profile id.';
REVOKE ALL ON FUNCTION customer_profile.trait_observe(identities jsonb, traits jsonb, source text, observed_at timestamp with time zone) FROM PUBLIC;
GRANT ALL ON FUNCTION customer_profile.trait_observe(identities jsonb, traits jsonb, source text, observed_at timestamp with time zone) TO customer_profile_writer;

CREATE VIEW customer_profile.profiles AS
 SELECT p.profile_id,
    (EXISTS ( SELECT 1
           FROM (customer_profile.identity i
             JOIN customer_profile.namespace n USING (namespace_id))
          WHERE ((i.profile_id = p.profile_id) AND n.is_known))) AS is_known,
    ( SELECT count(*) AS count
           FROM customer_profile.identity i
          WHERE (i.profile_id = p.profile_id)) AS identity_count,
    p.created_at,
    p.updated_at,
    customer_profile.profile_traits(p.data) AS traits
   FROM customer_profile.unified_profile p;
COMMENT ON VIEW customer_profile.profiles IS 'One row per live profile: known or anonymous, how many identifiers, created and updated times.';
COMMENT ON COLUMN customer_profile.profiles.profile_id IS 'The live profile (merged-away ids are in merges).';
COMMENT ON COLUMN customer_profile.profiles.is_known IS 'Whether the profile holds an identifier of a known namespace (crm_id, email, phone, ...).';
COMMENT ON COLUMN customer_profile.profiles.identity_count IS 'How many identifiers the profile holds.';
COMMENT ON COLUMN customer_profile.profiles.created_at IS 'When the profile was created.';
COMMENT ON COLUMN customer_profile.profiles.updated_at IS 'When its traits, behavior or identifiers last changed.';
COMMENT ON COLUMN customer_profile.profiles.traits IS 'Every merged trait value as one jsonb object {"trait": value} (profile_traits).';
GRANT SELECT ON TABLE customer_profile.profiles TO customer_profile_reader;
REVOKE USAGE ON TYPE customer_profile.profiles FROM PUBLIC;
