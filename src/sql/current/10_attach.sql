-- Attach: a company's own CRM tables feed identities and traits through a
-- trigger, with a backfill of the rows already there.

CREATE TABLE customer_profile.attached_table (
    table_oid regclass NOT NULL,
    source text NOT NULL,
    identity_columns jsonb NOT NULL,
    trait_columns jsonb NOT NULL,
    attached_at timestamp with time zone DEFAULT now() NOT NULL,
    attached_by name NOT NULL,
    CONSTRAINT attached_table_source_check CHECK (((length(source) >= 1) AND (length(source) <= 200)))
);
SELECT pg_catalog.pg_extension_config_dump('customer_profile.attached_table', 'WHERE EXISTS (SELECT 1 FROM pg_catalog.pg_class c WHERE c.oid = table_oid)');
ALTER TABLE ONLY customer_profile.attached_table
    ADD CONSTRAINT attached_table_pkey PRIMARY KEY (table_oid);
COMMENT ON TABLE customer_profile.attached_table IS 'Tables whose rows flow into identities and traits: namespace -> column and trait -> column mappings.';
COMMENT ON COLUMN customer_profile.attached_table.attached_by IS 'The role that attached the table: its mapped columns flow only while it exists and may SELECT each of them.';
GRANT SELECT ON TABLE customer_profile.attached_table TO customer_profile_reader;
REVOKE USAGE ON TYPE customer_profile.attached_table FROM PUBLIC;

-- Applies one row: its valid identifiers are resolved and its valid trait
-- values observed; a malformed identifier or trait value is left out and
-- recorded instead of raising, so the host's write (or the backfill) goes on.
CREATE FUNCTION customer_profile._attached_apply(config customer_profile.attached_table, row_json jsonb) RETURNS bigint
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'pg_temp'
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
COMMENT ON FUNCTION customer_profile._attached_apply(config customer_profile.attached_table, row_json jsonb) IS 'Internal: resolves one attached row and records its trait observations.';
REVOKE ALL ON FUNCTION customer_profile._attached_apply(config customer_profile.attached_table, row_json jsonb) FROM PUBLIC;
GRANT ALL ON FUNCTION customer_profile._attached_apply(config customer_profile.attached_table, row_json jsonb) TO customer_profile_admin;

-- Applies every row of tbl (an attached table or one of its partitions),
-- reporting progress every batch_size rows; returns the rows applied.
CREATE FUNCTION customer_profile._attached_backfill(config customer_profile.attached_table, tbl regclass, batch_size integer, caller text) RETURNS bigint
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'pg_temp'
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
COMMENT ON FUNCTION customer_profile._attached_backfill(config customer_profile.attached_table, tbl regclass, batch_size integer, caller text) IS 'Internal: applies every row of an attached table (or of one of its partitions), with a progress notice every batch.';
REVOKE ALL ON FUNCTION customer_profile._attached_backfill(config customer_profile.attached_table, tbl regclass, batch_size integer, caller text) FROM PUBLIC;
GRANT ALL ON FUNCTION customer_profile._attached_backfill(config customer_profile.attached_table, tbl regclass, batch_size integer, caller text) TO customer_profile_admin;

CREATE FUNCTION customer_profile._attached_config(rel regclass) RETURNS customer_profile.attached_table
    LANGUAGE sql STABLE
    BEGIN ATOMIC
 SELECT a.table_oid,
     a.source,
     a.identity_columns,
     a.trait_columns,
     a.attached_at,
     a.attached_by
    FROM (( SELECT _attached_config.rel AS rel,
             (0)::bigint AS int8
         UNION ALL
          SELECT p.relid,
             p.depth
            FROM pg_partition_ancestors(_attached_config.rel) WITH ORDINALITY p(relid, depth)) t(relid, depth)
      JOIN customer_profile.attached_table a ON (((a.table_oid)::oid = (t.relid)::oid)))
   ORDER BY t.depth
  LIMIT 1;
END;
COMMENT ON FUNCTION customer_profile._attached_config(rel regclass) IS 'Internal: the attachment that governs a table: its own, or that of the attached partitioned table it is a partition of (NULL when none).';
REVOKE ALL ON FUNCTION customer_profile._attached_config(rel regclass) FROM PUBLIC;
GRANT ALL ON FUNCTION customer_profile._attached_config(rel regclass) TO customer_profile_admin;

-- Identities and traits of one row of an attached table, as jsonb.
CREATE FUNCTION customer_profile._attached_row(config customer_profile.attached_table, row_json jsonb, OUT identities jsonb, OUT traits jsonb) RETURNS record
    LANGUAGE sql IMMUTABLE
    BEGIN ATOMIC
 SELECT ( SELECT COALESCE(jsonb_object_agg(m.key, (_attached_row.row_json ->> (m.value #>> '{}'::text[]))) FILTER (WHERE ((_attached_row.row_json ->> (m.value #>> '{}'::text[])) IS NOT NULL)), '{}'::jsonb) AS "coalesce"
            FROM jsonb_each((_attached_row.config).identity_columns) m(key, value)) AS "coalesce",
     ( SELECT COALESCE(jsonb_object_agg(m.key, COALESCE((_attached_row.row_json -> (m.value #>> '{}'::text[])), 'null'::jsonb)), '{}'::jsonb) AS "coalesce"
            FROM jsonb_each((_attached_row.config).trait_columns) m(key, value)) AS "coalesce";
END;
COMMENT ON FUNCTION customer_profile._attached_row(config customer_profile.attached_table, row_json jsonb, OUT identities jsonb, OUT traits jsonb) IS 'Internal: the identities (non-null columns, as text) and traits (JSON values) of one attached row.';
REVOKE ALL ON FUNCTION customer_profile._attached_row(config customer_profile.attached_table, row_json jsonb, OUT identities jsonb, OUT traits jsonb) FROM PUBLIC;
GRANT ALL ON FUNCTION customer_profile._attached_row(config customer_profile.attached_table, row_json jsonb, OUT identities jsonb, OUT traits jsonb) TO customer_profile_admin;

-- The trigger refuses a row (42501, so the write fails and nothing flows
-- unseen) once the attaching role lost SELECT on a mapped column: its values
-- would reach profiles through the trigger, which runs as the owner.
CREATE FUNCTION customer_profile._attached_row_changed() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $_$
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
$_$;
COMMENT ON FUNCTION customer_profile._attached_row_changed() IS 'Internal trigger on attached tables: rows flow into identities and traits in the same transaction.';
REVOKE ALL ON FUNCTION customer_profile._attached_row_changed() FROM PUBLIC;
GRANT ALL ON FUNCTION customer_profile._attached_row_changed() TO customer_profile_admin;

-- The trigger finds the configuration of a partition through its ancestors.
-- The JSON of an attached row's mapped columns, built without running code
-- the table's owner controls: to_jsonb(NEW) calls any cast to json defined
-- for a column's type (an owner can create one for an enum or composite of
-- theirs), and the trigger runs as the extension owner. Columns of built-in
-- types go through to_jsonb (no user cast can exist from them); others
-- through their type's output function (format %s), as text.
CREATE FUNCTION customer_profile._attached_row_expr(config customer_profile.attached_table, rel regclass, alias text) RETURNS text
    LANGUAGE sql STABLE
    SET search_path TO 'pg_catalog', 'pg_temp'
    BEGIN ATOMIC
 WITH RECURSIVE cols AS (
          SELECT c.col,
             a.atttypid AS typ
            FROM (( SELECT (m.value #>> '{}'::text[]) AS col
                    FROM jsonb_each((_attached_row_expr.config).identity_columns) m(key, value)
                 UNION
                  SELECT (m.value #>> '{}'::text[])
                    FROM jsonb_each((_attached_row_expr.config).trait_columns) m(key, value)) c
              JOIN pg_attribute a ON (((a.attrelid = (_attached_row_expr.rel)::oid) AND (a.attname = c.col) AND (a.attnum > 0) AND (NOT a.attisdropped))))
         ), base(col, typ, depth) AS (
          SELECT cols.col,
             cols.typ,
             0 AS "?column?"
            FROM cols
         UNION ALL
          SELECT b.col,
             t.typbasetype,
             (b.depth + 1)
            FROM (base b
              JOIN pg_type t ON ((t.oid = b.typ)))
           WHERE (t.typtype = 'd'::"char")
         ), resolved AS (
          SELECT DISTINCT ON (base.col) base.col,
             base.typ
            FROM base
           ORDER BY base.col, base.depth DESC
         )
  SELECT COALESCE((('(SELECT jsonb_object_agg(k, v) FROM (VALUES '::text || string_agg(format('(%L, %s)'::text, r.col,
         CASE
             WHEN (r.typ < (16384)::oid) THEN format('to_jsonb(%s.%I::%s)'::text, _attached_row_expr.alias, r.col, (r.typ)::regtype)
             ELSE format('CASE WHEN num_nulls(%1$s.%2$I) = 1 THEN NULL ELSE to_jsonb(format(%3$L, %1$s.%2$I)) END'::text, _attached_row_expr.alias, r.col, '%s')
         END), ', '::text ORDER BY r.col)) || ') AS x(k, v))'::text), '''{}''::jsonb'::text) AS "coalesce"
    FROM resolved r;
END;
COMMENT ON FUNCTION customer_profile._attached_row_expr(config customer_profile.attached_table, rel regclass, alias text) IS 'Internal: an SQL expression building the JSON of the mapped columns of a row of rel named alias, running no code of the table owner.';
REVOKE ALL ON FUNCTION customer_profile._attached_row_expr(config customer_profile.attached_table, rel regclass, alias text) FROM PUBLIC;
GRANT ALL ON FUNCTION customer_profile._attached_row_expr(config customer_profile.attached_table, rel regclass, alias text) TO customer_profile_admin;

-- Forgetting an attachment, as the owner, once its trigger is gone: dropping
-- that takes the table's owner, so whoever may detach a table (its owner,
-- through profile_detach_table) or has dropped it may forget it.
CREATE FUNCTION customer_profile._attached_table_forget(tbl regclass) RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
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
COMMENT ON FUNCTION customer_profile._attached_table_forget(tbl regclass) IS 'Internal: deletes the attachment of a table whose trigger is gone (42501 while it is there).';
REVOKE ALL ON FUNCTION customer_profile._attached_table_forget(tbl regclass) FROM PUBLIC;
GRANT ALL ON FUNCTION customer_profile._attached_table_forget(tbl regclass) TO customer_profile_admin;

CREATE FUNCTION customer_profile._attached_table_insert(tbl regclass, source text, identity_columns jsonb, trait_columns jsonb) RETURNS void
    LANGUAGE c
    AS 'MODULE_PATHNAME', 'cp_attached_table_insert';
COMMENT ON FUNCTION customer_profile._attached_table_insert(tbl regclass, source text, identity_columns jsonb, trait_columns jsonb) IS 'Internal: records an attachment (as the extension''s owner) once the calling role was found allowed to create triggers on the table and to SELECT every mapped column (42501 otherwise).';
REVOKE ALL ON FUNCTION customer_profile._attached_table_insert(tbl regclass, source text, identity_columns jsonb, trait_columns jsonb) FROM PUBLIC;
GRANT ALL ON FUNCTION customer_profile._attached_table_insert(tbl regclass, source text, identity_columns jsonb, trait_columns jsonb) TO customer_profile_admin;

-- The first mapped column of an attached table that the role which attached
-- it may not SELECT (now; every column when the role is gone), NULL when it
-- may read them all.
CREATE FUNCTION customer_profile._attached_unreadable_column(config customer_profile.attached_table) RETURNS text
    LANGUAGE sql STABLE
    SET search_path TO 'pg_catalog', 'pg_temp'
    BEGIN ATOMIC
 SELECT (a.attname)::text AS attname
    FROM (( SELECT (m.value #>> '{}'::text[]) AS col
            FROM jsonb_each((_attached_unreadable_column.config).identity_columns) m(key, value)
         UNION
          SELECT (m.value #>> '{}'::text[])
            FROM jsonb_each((_attached_unreadable_column.config).trait_columns) m(key, value)) c
      JOIN pg_attribute a ON (((a.attrelid = ((_attached_unreadable_column.config).table_oid)::oid) AND (a.attname = c.col) AND (a.attnum > 0) AND (NOT a.attisdropped))))
   WHERE
         CASE
             WHEN (EXISTS ( SELECT 1
                FROM pg_roles r
               WHERE (r.rolname = (_attached_unreadable_column.config).attached_by))) THEN (NOT has_column_privilege((_attached_unreadable_column.config).attached_by, ((_attached_unreadable_column.config).table_oid)::oid, a.attnum, 'SELECT'::text))
             ELSE true
         END
   ORDER BY a.attnum
  LIMIT 1;
END;
COMMENT ON FUNCTION customer_profile._attached_unreadable_column(config customer_profile.attached_table) IS 'Internal: the first mapped column that the role which attached the table may no longer SELECT, NULL when it may read them all.';
REVOKE ALL ON FUNCTION customer_profile._attached_unreadable_column(config customer_profile.attached_table) FROM PUBLIC;

-- Withdraws what one row contributed; an identifier that cannot be hashed
-- (malformed, so never stored) matches nothing instead of raising. The
-- blocking keys made from the withdrawn values are stored again: the row's
-- identifiers' own, and those of the identifiers seen with them, which read
-- their values (see docs/matching.md#records).
CREATE FUNCTION customer_profile._attached_withdraw(config customer_profile.attached_table, row_json jsonb) RETURNS void
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

-- Backfills an attached table again, or one of its partitions: rows that were
-- there when a partition was attached with ALTER TABLE ... ATTACH PARTITION
-- fired no trigger. Applying a row twice changes nothing.
CREATE FUNCTION customer_profile.profile_attach_backfill(tbl regclass, batch_size integer DEFAULT 1000) RETURNS bigint
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'pg_temp'
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
COMMENT ON FUNCTION customer_profile.profile_attach_backfill(tbl regclass, batch_size integer) IS 'Applies every row of an attached table, or of one of its partitions, again (rows already in a partition attached later with ALTER TABLE ... ATTACH PARTITION fired no trigger); returns the rows applied.';
REVOKE ALL ON FUNCTION customer_profile.profile_attach_backfill(tbl regclass, batch_size integer) FROM PUBLIC;
GRANT ALL ON FUNCTION customer_profile.profile_attach_backfill(tbl regclass, batch_size integer) TO customer_profile_admin;

-- Attaching: as before, the row recorded by _attached_table_insert (which
-- checks the caller's rights), then the trigger created and the rows read as
-- the caller.
CREATE FUNCTION customer_profile.profile_attach_table(tbl regclass, source text, identity_columns jsonb, trait_columns jsonb DEFAULT '{}'::jsonb, batch_size integer DEFAULT 1000) RETURNS bigint
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'pg_temp'
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
COMMENT ON FUNCTION customer_profile.profile_attach_table(tbl regclass, source text, identity_columns jsonb, trait_columns jsonb, batch_size integer) IS 'Attaches an existing table: backfills its rows into identities and traits and installs a trigger so later INSERT/UPDATE flow in within the same transaction and DELETE withdraws the row''s observations. Returns the rows backfilled.';
REVOKE ALL ON FUNCTION customer_profile.profile_attach_table(tbl regclass, source text, identity_columns jsonb, trait_columns jsonb, batch_size integer) FROM PUBLIC;
GRANT ALL ON FUNCTION customer_profile.profile_attach_table(tbl regclass, source text, identity_columns jsonb, trait_columns jsonb, batch_size integer) TO customer_profile_admin;

-- Detaching: the trigger is dropped and the rows are read as the caller (the
-- table's owner), then the attachment forgotten.
CREATE FUNCTION customer_profile.profile_detach_table(tbl regclass, withdraw_observations boolean DEFAULT false) RETURNS void
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'pg_temp'
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
COMMENT ON FUNCTION customer_profile.profile_detach_table(tbl regclass, withdraw_observations boolean) IS 'Removes an attached table''s trigger and configuration; with withdraw_observations, also withdraws what its rows contributed.';
REVOKE ALL ON FUNCTION customer_profile.profile_detach_table(tbl regclass, withdraw_observations boolean) FROM PUBLIC;
GRANT ALL ON FUNCTION customer_profile.profile_detach_table(tbl regclass, withdraw_observations boolean) TO customer_profile_admin;
