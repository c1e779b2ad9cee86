-- Identity: namespaces and their normalizers, identifiers (hashed, raw
-- values kept only where asked), the identity graph (links, merges, splits)
-- with its guard rails, unified profiles, and lookups by any identifier.

CREATE FUNCTION customer_profile._blocked_patterns_valid(patterns text[]) RETURNS boolean
    LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'cp_blocked_patterns_valid';
COMMENT ON FUNCTION customer_profile._blocked_patterns_valid(patterns text[]) IS 'Internal: raises 22P02 naming the first pattern RE2 cannot compile (CHECK helper).';
REVOKE ALL ON FUNCTION customer_profile._blocked_patterns_valid(patterns text[]) FROM PUBLIC;

CREATE FUNCTION customer_profile._normalizer_valid(name text) RETURNS boolean
    LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'cp_normalizer_valid';
COMMENT ON FUNCTION customer_profile._normalizer_valid(name text) IS 'Internal: raises 22023 unless the name is a known normalizer (CHECK helper).';
REVOKE ALL ON FUNCTION customer_profile._normalizer_valid(name text) FROM PUBLIC;

CREATE TABLE customer_profile.namespace (
    namespace_id integer NOT NULL,
    name text NOT NULL,
    normalizer text DEFAULT 'trim'::text NOT NULL,
    is_known boolean DEFAULT false NOT NULL,
    priority integer DEFAULT 10 NOT NULL,
    max_per_profile integer,
    keep_raw boolean DEFAULT false NOT NULL,
    blocked_values text[] DEFAULT '{}'::text[] NOT NULL,
    blocked_patterns text[] DEFAULT '{}'::text[] NOT NULL,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    CONSTRAINT namespace_blocked_patterns_check CHECK (customer_profile._blocked_patterns_valid(blocked_patterns)),
    CONSTRAINT namespace_max_per_profile_check CHECK ((max_per_profile > 0)),
    CONSTRAINT namespace_name_check CHECK ((name ~ '^[a-z][a-z0-9_]{0,62}$'::text)),
    CONSTRAINT namespace_normalizer_check CHECK (customer_profile._normalizer_valid(normalizer))
);
SELECT pg_catalog.pg_extension_config_dump('customer_profile.namespace', '');
ALTER TABLE customer_profile.namespace ALTER COLUMN namespace_id ADD GENERATED ALWAYS AS IDENTITY (
    SEQUENCE NAME customer_profile.namespace_namespace_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1
);
SELECT pg_catalog.pg_extension_config_dump('customer_profile.namespace_namespace_id_seq', '');
ALTER TABLE ONLY customer_profile.namespace
    ADD CONSTRAINT namespace_name_key UNIQUE (name);
ALTER TABLE ONLY customer_profile.namespace
    ADD CONSTRAINT namespace_pkey PRIMARY KEY (namespace_id);
CREATE TRIGGER namespace_changed AFTER INSERT OR DELETE OR UPDATE OR TRUNCATE ON customer_profile.namespace FOR EACH STATEMENT EXECUTE FUNCTION customer_profile._catalog_changed();
COMMENT ON TABLE customer_profile.namespace IS 'Identifier namespaces: how values are normalized, whether they identify a known person, their priority (higher wins conflicts), how many of them one profile may hold, whether raw values are kept, and which values are refused.';
GRANT SELECT ON TABLE customer_profile.namespace TO customer_profile_reader;
GRANT SELECT ON TABLE customer_profile.namespace TO customer_profile_worker;
REVOKE USAGE ON TYPE customer_profile.namespace FROM PUBLIC;

-- No foreign keys on the hot tables: every resolve_identity() that creates
-- identifiers would run an RI query per row and take FOR KEY SHARE locks on
-- the few namespace rows (multixact churn under concurrency), and
-- identity_rebuild() rewrites profile_id for up to every row. The invariants
-- are kept by the functions, a namespace in use cannot be deleted (trigger
-- below), and identity_check() verifies them.
CREATE TABLE customer_profile.identity (
    identity_id bigint NOT NULL,
    namespace_id integer NOT NULL,
    value_hash bytea NOT NULL,
    raw_value text,
    profile_id bigint NOT NULL,
    first_seen timestamp with time zone DEFAULT now() NOT NULL,
    last_seen timestamp with time zone DEFAULT now() NOT NULL,
    CONSTRAINT identity_value_hash_check CHECK ((octet_length(value_hash) = 32))
);
SELECT pg_catalog.pg_extension_config_dump('customer_profile.identity', '');
CREATE SEQUENCE customer_profile.identity_identity_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;
SELECT pg_catalog.pg_extension_config_dump('customer_profile.identity_identity_id_seq', '');
ALTER SEQUENCE customer_profile.identity_identity_id_seq OWNED BY customer_profile.identity.identity_id;
ALTER TABLE ONLY customer_profile.identity ALTER COLUMN identity_id SET DEFAULT nextval('customer_profile.identity_identity_id_seq'::regclass);
ALTER TABLE ONLY customer_profile.identity
    ADD CONSTRAINT identity_pkey PRIMARY KEY (identity_id);
ALTER TABLE ONLY customer_profile.identity
    ADD CONSTRAINT identity_value_hash_key UNIQUE (value_hash);
CREATE INDEX identity_profile_idx ON customer_profile.identity USING btree (profile_id);
COMMENT ON TABLE customer_profile.identity IS 'One row per identifier: SHA-256(salt, namespace, normalized value); raw_value only where the namespace keeps it.';
GRANT SELECT,INSERT,DELETE,UPDATE ON TABLE customer_profile.identity TO customer_profile_writer;
-- DELETE: resolve_identity undoes its own inserts when a concurrent
-- transaction created one of its new identifiers first (without it, such an
-- event became a dead letter, 42501). UPDATE already lets it move any
-- identifier. The grant cannot limit it to those rows: the worker's code
-- deletes nothing else.
GRANT INSERT,DELETE,UPDATE ON TABLE customer_profile.identity TO customer_profile_worker;
GRANT SELECT(identity_id) ON TABLE customer_profile.identity TO customer_profile_reader;
GRANT SELECT(identity_id) ON TABLE customer_profile.identity TO customer_profile_worker;
GRANT SELECT(namespace_id) ON TABLE customer_profile.identity TO customer_profile_reader;
GRANT SELECT(namespace_id) ON TABLE customer_profile.identity TO customer_profile_worker;
GRANT SELECT(value_hash) ON TABLE customer_profile.identity TO customer_profile_worker;
GRANT SELECT(profile_id) ON TABLE customer_profile.identity TO customer_profile_reader;
GRANT SELECT(profile_id) ON TABLE customer_profile.identity TO customer_profile_worker;
GRANT SELECT(first_seen) ON TABLE customer_profile.identity TO customer_profile_reader;
GRANT SELECT(first_seen) ON TABLE customer_profile.identity TO customer_profile_worker;
GRANT SELECT(last_seen) ON TABLE customer_profile.identity TO customer_profile_reader;
GRANT SELECT(last_seen) ON TABLE customer_profile.identity TO customer_profile_worker;
GRANT USAGE ON SEQUENCE customer_profile.identity_identity_id_seq TO customer_profile_writer;
GRANT USAGE ON SEQUENCE customer_profile.identity_identity_id_seq TO customer_profile_worker;
REVOKE USAGE ON TYPE customer_profile.identity FROM PUBLIC;

CREATE TABLE customer_profile.identity_link (
    identity_a bigint NOT NULL,
    identity_b bigint NOT NULL,
    source text,
    linked_at timestamp with time zone DEFAULT now() NOT NULL,
    rule text,
    score double precision,
    CONSTRAINT identity_link_check CHECK ((identity_a < identity_b))
);
SELECT pg_catalog.pg_extension_config_dump('customer_profile.identity_link', '');
ALTER TABLE ONLY customer_profile.identity_link
    ADD CONSTRAINT identity_link_pkey PRIMARY KEY (identity_a, identity_b);
-- A record's values include those of the identifiers it was seen with
-- (matching, src/pg/matching/match_engine.cpp): its links from either end.
CREATE INDEX identity_link_b_idx ON customer_profile.identity_link USING btree (identity_b);
COMMENT ON TABLE customer_profile.identity_link IS 'Accepted evidence that two identifiers belong to one person: the edges of the identity graph. Its connected components are exactly the profiles.';
COMMENT ON COLUMN customer_profile.identity_link.rule IS 'The match rule whose probabilistic match made the link (NULL: the identifiers were seen together).';
COMMENT ON COLUMN customer_profile.identity_link.score IS 'The match probability of a probabilistic link.';
GRANT SELECT,INSERT,DELETE,UPDATE ON TABLE customer_profile.identity_link TO customer_profile_writer;
GRANT SELECT,INSERT ON TABLE customer_profile.identity_link TO customer_profile_worker;
REVOKE USAGE ON TYPE customer_profile.identity_link FROM PUBLIC;

CREATE TABLE customer_profile.profile_merge (
    merged_profile_id bigint NOT NULL,
    into_profile_id bigint NOT NULL,
    merged_at timestamp with time zone DEFAULT now() NOT NULL,
    cause text NOT NULL,
    source text
);
SELECT pg_catalog.pg_extension_config_dump('customer_profile.profile_merge', '');
ALTER TABLE ONLY customer_profile.profile_merge
    ADD CONSTRAINT profile_merge_pkey PRIMARY KEY (merged_profile_id);
CREATE INDEX profile_merge_into_idx ON customer_profile.profile_merge USING btree (into_profile_id);
COMMENT ON TABLE customer_profile.profile_merge IS 'Merged-away profile ids and where they went, so downstream systems can remap ids.';
GRANT SELECT ON TABLE customer_profile.profile_merge TO customer_profile_reader;
GRANT SELECT,INSERT,DELETE,UPDATE ON TABLE customer_profile.profile_merge TO customer_profile_writer;
GRANT SELECT,INSERT ON TABLE customer_profile.profile_merge TO customer_profile_worker;
REVOKE USAGE ON TYPE customer_profile.profile_merge FROM PUBLIC;

-- The keys of a behavior summary (core/predicate_index.hpp): per event
-- type the 8-day block of its last event, and of the day from which its
-- buckets count two events, kept in unified_profile.behavior_keys for
-- unified_profile_index_keys_idx, so that segment_refresh reads only the
-- profiles whose events can meet a predicate's behavior conditions.
CREATE FUNCTION customer_profile._behavior_index_keys(behavior bytea) RETURNS bigint[]
    LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'cp_behavior_index_keys';
COMMENT ON FUNCTION customer_profile._behavior_index_keys(behavior bytea) IS 'Internal: what unified_profile.behavior_keys holds for a behavior summary: per event type, its hash and the block of 8 days holding its last event (or a marker for before 2000 or after 2358), and for a type whose buckets count two events or more the same for the latest day from which they do, expanded into index keys by _profile_index_keys.';
-- The roles that write profiles evaluate it as the generated column.
REVOKE ALL ON FUNCTION customer_profile._behavior_index_keys(behavior bytea) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION customer_profile._behavior_index_keys(behavior bytea) TO customer_profile_writer;
GRANT EXECUTE ON FUNCTION customer_profile._behavior_index_keys(behavior bytea) TO customer_profile_worker;

-- behavior_keys is a stored column rather than an index expression over
-- behavior: an event that leaves the keys unchanged (a third event of a
-- type in the same 8-day block as the two before) then keeps its update HOT.
CREATE TABLE customer_profile.unified_profile (
    profile_id bigint NOT NULL,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    updated_at timestamp with time zone DEFAULT now() NOT NULL,
    data customer_profile.profile DEFAULT '{"traits":{}}'::customer_profile.profile NOT NULL,
    behavior bytea,
    behavior_keys bigint[] GENERATED ALWAYS AS (customer_profile._behavior_index_keys(behavior)) STORED
)
WITH (fillfactor='70');
-- Kept in the row, uncompressed, as long as anything else can give way: a
-- compressed or moved old value never equals the recomputed one, and the
-- update of a profile whose row passes 2 kB could not be HOT.
ALTER TABLE customer_profile.unified_profile ALTER COLUMN behavior_keys SET STORAGE MAIN;
SELECT pg_catalog.pg_extension_config_dump('customer_profile.unified_profile', '');
CREATE SEQUENCE customer_profile.unified_profile_profile_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;
SELECT pg_catalog.pg_extension_config_dump('customer_profile.unified_profile_profile_id_seq', '');
ALTER SEQUENCE customer_profile.unified_profile_profile_id_seq OWNED BY customer_profile.unified_profile.profile_id;
ALTER TABLE ONLY customer_profile.unified_profile ALTER COLUMN profile_id SET DEFAULT nextval('customer_profile.unified_profile_profile_id_seq'::regclass);
ALTER TABLE ONLY customer_profile.unified_profile
    ADD CONSTRAINT unified_profile_pkey PRIMARY KEY (profile_id);
COMMENT ON TABLE customer_profile.unified_profile IS 'One row per live unified profile.';
COMMENT ON COLUMN customer_profile.unified_profile.data IS 'Merged traits, recomputed from trait_observation whenever observations, merges, splits or definitions change.';
COMMENT ON COLUMN customer_profile.unified_profile.behavior IS 'Behavior summary (binary, see profile_behavior()): per event type counts, first/last time, measure totals and daily buckets.';
GRANT SELECT ON TABLE customer_profile.unified_profile TO customer_profile_reader;
GRANT SELECT,INSERT,DELETE,UPDATE ON TABLE customer_profile.unified_profile TO customer_profile_writer;
GRANT SELECT,INSERT,DELETE,UPDATE ON TABLE customer_profile.unified_profile TO customer_profile_worker;
GRANT USAGE ON SEQUENCE customer_profile.unified_profile_profile_id_seq TO customer_profile_writer;
GRANT USAGE ON SEQUENCE customer_profile.unified_profile_profile_id_seq TO customer_profile_worker;
REVOKE USAGE ON TYPE customer_profile.unified_profile FROM PUBLIC;

CREATE TABLE customer_profile.identity_conflict (
    conflict_id bigint NOT NULL,
    occurred_at timestamp with time zone DEFAULT now() NOT NULL,
    rule text NOT NULL,
    namespace_id integer,
    kept_profile_id bigint,
    refused_profile_id bigint,
    refused_identity_id bigint,
    detail text,
    source text,
    CONSTRAINT identity_conflict_rule_check CHECK ((rule = ANY (ARRAY['blocked_value'::text, 'blocked_pattern'::text, 'namespace_cap'::text, 'profile_identity_cap'::text, 'invalid_identifier'::text, 'invalid_trait'::text])))
);
SELECT pg_catalog.pg_extension_config_dump('customer_profile.identity_conflict', '');
CREATE SEQUENCE customer_profile.identity_conflict_conflict_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;
SELECT pg_catalog.pg_extension_config_dump('customer_profile.identity_conflict_conflict_id_seq', '');
ALTER SEQUENCE customer_profile.identity_conflict_conflict_id_seq OWNED BY customer_profile.identity_conflict.conflict_id;
ALTER TABLE ONLY customer_profile.identity_conflict ALTER COLUMN conflict_id SET DEFAULT nextval('customer_profile.identity_conflict_conflict_id_seq'::regclass);
ALTER TABLE ONLY customer_profile.identity_conflict
    ADD CONSTRAINT identity_conflict_pkey PRIMARY KEY (conflict_id);
CREATE INDEX identity_conflict_profiles_idx ON customer_profile.identity_conflict USING btree (kept_profile_id, refused_profile_id);
CREATE INDEX identity_conflict_refused_identity_idx ON customer_profile.identity_conflict USING btree (refused_identity_id) WHERE (source = 'match'::text);
CREATE INDEX identity_conflict_refused_profile_idx ON customer_profile.identity_conflict USING btree (refused_profile_id) WHERE (source = 'match'::text);
COMMENT ON TABLE customer_profile.identity_conflict IS 'Every link a guard rail refused, and every malformed identifier or trait value of an attached table''s row that was left out (invalid_identifier, invalid_trait), with its rule and reason: nothing is refused silently.';
GRANT SELECT,INSERT,DELETE,UPDATE ON TABLE customer_profile.identity_conflict TO customer_profile_writer;
GRANT INSERT ON TABLE customer_profile.identity_conflict TO customer_profile_worker;
GRANT USAGE ON SEQUENCE customer_profile.identity_conflict_conflict_id_seq TO customer_profile_writer;
GRANT USAGE ON SEQUENCE customer_profile.identity_conflict_conflict_id_seq TO customer_profile_worker;
REVOKE USAGE ON TYPE customer_profile.identity_conflict FROM PUBLIC;

CREATE TABLE customer_profile.profile_split (
    split_id bigint NOT NULL,
    profile_id bigint NOT NULL,
    new_profile_id bigint NOT NULL,
    split_at timestamp with time zone DEFAULT now() NOT NULL,
    cause text NOT NULL
);
SELECT pg_catalog.pg_extension_config_dump('customer_profile.profile_split', '');
CREATE SEQUENCE customer_profile.profile_split_split_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;
SELECT pg_catalog.pg_extension_config_dump('customer_profile.profile_split_split_id_seq', '');
ALTER SEQUENCE customer_profile.profile_split_split_id_seq OWNED BY customer_profile.profile_split.split_id;
ALTER TABLE ONLY customer_profile.profile_split ALTER COLUMN split_id SET DEFAULT nextval('customer_profile.profile_split_split_id_seq'::regclass);
ALTER TABLE ONLY customer_profile.profile_split
    ADD CONSTRAINT profile_split_pkey PRIMARY KEY (split_id);
COMMENT ON TABLE customer_profile.profile_split IS 'Profiles carved out of another when a link or identifier was withdrawn.';
GRANT SELECT ON TABLE customer_profile.profile_split TO customer_profile_reader;
GRANT SELECT,INSERT,DELETE,UPDATE ON TABLE customer_profile.profile_split TO customer_profile_writer;
GRANT USAGE ON SEQUENCE customer_profile.profile_split_split_id_seq TO customer_profile_writer;
REVOKE USAGE ON TYPE customer_profile.profile_split FROM PUBLIC;

CREATE FUNCTION customer_profile._default_blocked_values() RETURNS text[]
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    RETURN ARRAY[''::text, 'null'::text, 'nil'::text, 'none'::text, 'undefined'::text, 'unknown'::text, 'anonymous'::text, 'n/a'::text, 'na'::text, '-'::text, '0'::text, 'test'::text, 'guest'::text, 'nan'::text, 'false'::text, 'true'::text];
COMMENT ON FUNCTION customer_profile._default_blocked_values() IS 'Placeholder values refused in every namespace unless the namespace says otherwise.';
REVOKE ALL ON FUNCTION customer_profile._default_blocked_values() FROM PUBLIC;
GRANT ALL ON FUNCTION customer_profile._default_blocked_values() TO customer_profile_reader;

CREATE FUNCTION customer_profile._identifier_values(identities jsonb, OUT key text, OUT value text) RETURNS SETOF record
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    SET search_path TO 'pg_catalog', 'pg_temp'
    BEGIN ATOMIC
 WITH RECURSIVE walk(key, node) AS (
          SELECT NULL::text AS text,
             _identifier_values.identities AS identities
         UNION ALL
          SELECT c.key,
             c.node
            FROM (walk w_1
              CROSS JOIN LATERAL ( SELECT e.key,
                     e.value
                    FROM jsonb_each(
                         CASE
                             WHEN (jsonb_typeof(w_1.node) = 'object'::text) THEN w_1.node
                             ELSE NULL::jsonb
                         END) e(key, value)
                 UNION ALL
                  SELECT w_1.key,
                     a.value
                    FROM jsonb_array_elements(
                         CASE
                             WHEN (jsonb_typeof(w_1.node) = 'array'::text) THEN w_1.node
                             ELSE NULL::jsonb
                         END) a(value)) c(key, node))
         )
  SELECT w.key,
     (w.node #>> '{}'::text[])
    FROM walk w
   WHERE (jsonb_typeof(w.node) = ANY (ARRAY['string'::text, 'number'::text]));
END;
COMMENT ON FUNCTION customer_profile._identifier_values(identities jsonb, OUT key text, OUT value text) IS 'Internal: every string or number in an identities JSON value, with the nearest enclosing object key (NULL at the top level).';
REVOKE ALL ON FUNCTION customer_profile._identifier_values(identities jsonb, OUT key text, OUT value text) FROM PUBLIC;

-- A consent statement lives on the identifier it came through: when the
-- identifier goes (identity_remove, the anonymous-profile purge, erasure),
-- its statements go with it instead of staying behind unreachable.
-- SECURITY DEFINER, as a foreign key's cascade runs as the table's owner: a
-- role may delete an identifier (the worker undoes its own new ones when it
-- loses a race) without any right on the consent statements that go with it.
CREATE FUNCTION customer_profile._identities_deleted() RETURNS trigger
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
CREATE TRIGGER identities_deleted AFTER DELETE ON customer_profile.identity REFERENCING OLD TABLE AS gone FOR EACH STATEMENT EXECUTE FUNCTION customer_profile._identities_deleted();

CREATE FUNCTION customer_profile._identity_hash_or_null(namespace text, value text) RETURNS bytea
    LANGUAGE c STABLE STRICT
    AS 'MODULE_PATHNAME', 'cp_identity_hash_or_null';
COMMENT ON FUNCTION customer_profile._identity_hash_or_null(namespace text, value text) IS 'Internal: identity_hash(), or NULL for an unknown namespace or a malformed value.';
REVOKE ALL ON FUNCTION customer_profile._identity_hash_or_null(namespace text, value text) FROM PUBLIC;
GRANT ALL ON FUNCTION customer_profile._identity_hash_or_null(namespace text, value text) TO customer_profile_writer;

CREATE FUNCTION customer_profile._identities_match(identities jsonb, hashes bytea[], namespaces text[]) RETURNS boolean
    LANGUAGE sql STABLE
    SET search_path TO 'pg_catalog', 'pg_temp'
    BEGIN ATOMIC
 WITH v AS (
          SELECT v.value,
             (n.namespace_id IS NOT NULL) AS keyed,
                 CASE
                     WHEN (n.namespace_id IS NOT NULL) THEN customer_profile._identity_hash_or_null(v.key, v.value)
                     ELSE NULL::bytea
                 END AS h
            FROM (customer_profile._identifier_values(_identities_match.identities) v(key, value)
              LEFT JOIN customer_profile.namespace n ON ((n.name = v.key)))
         )
  SELECT ((EXISTS ( SELECT 1
            FROM v
           WHERE (v.h = ANY (_identities_match.hashes)))) OR ((NOT (EXISTS ( SELECT 1
            FROM v
           WHERE (v.h IS NOT NULL)))) AND (EXISTS ( SELECT 1
            FROM v,
             unnest(_identities_match.namespaces) s(ns)
           WHERE ((NOT v.keyed) AND (customer_profile._identity_hash_or_null(s.ns, v.value) = ANY (_identities_match.hashes)))))));
END;
COMMENT ON FUNCTION customer_profile._identities_match(identities jsonb, hashes bytea[], namespaces text[]) IS 'Internal: whether an inbox or dead-letter row names one of the identifier hashes, key by key (a value under no namespace key is tried in each of the given namespaces).';
REVOKE ALL ON FUNCTION customer_profile._identities_match(identities jsonb, hashes bytea[], namespaces text[]) FROM PUBLIC;

-- Finds an identity or raises naming the identifier.
CREATE FUNCTION customer_profile._identity_find(namespace text, value text, OUT identity_id bigint, OUT profile_id bigint) RETURNS record
    LANGUAGE plpgsql STABLE
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
BEGIN
    IF namespace IS NULL OR value IS NULL THEN
        RAISE EXCEPTION 'namespace and value must not be NULL' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    SELECT i.identity_id, i.profile_id INTO identity_id, profile_id
      FROM customer_profile.identity i WHERE i.value_hash = customer_profile.identity_hash(namespace, value);
END
$$;
COMMENT ON FUNCTION customer_profile._identity_find(namespace text, value text, OUT identity_id bigint, OUT profile_id bigint) IS 'Internal: identity and profile of an identifier (NULLs when unknown).';
REVOKE ALL ON FUNCTION customer_profile._identity_find(namespace text, value text, OUT identity_id bigint, OUT profile_id bigint) FROM PUBLIC;
GRANT ALL ON FUNCTION customer_profile._identity_find(namespace text, value text, OUT identity_id bigint, OUT profile_id bigint) TO customer_profile_writer;

CREATE FUNCTION customer_profile._identity_link_path(from_identity bigint, to_identity bigint, a bigint[], b bigint[]) RETURNS integer[]
    LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'cp_identity_link_path';
COMMENT ON FUNCTION customer_profile._identity_link_path(from_identity bigint, to_identity bigint, a bigint[], b bigint[]) IS 'Internal: positions (1-based) in a/b of one shortest chain of links, NULL when not connected.';
REVOKE ALL ON FUNCTION customer_profile._identity_link_path(from_identity bigint, to_identity bigint, a bigint[], b bigint[]) FROM PUBLIC;
GRANT ALL ON FUNCTION customer_profile._identity_link_path(from_identity bigint, to_identity bigint, a bigint[], b bigint[]) TO customer_profile_writer;

-- Locks the profile of an identity, re-reading after a concurrent merge.
CREATE FUNCTION customer_profile._identity_lock(identity_id bigint) RETURNS bigint
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
DECLARE
    p bigint;
    locked bigint;
BEGIN
    FOR attempt IN 1..50 LOOP
        SELECT i.profile_id INTO p FROM customer_profile.identity i WHERE i.identity_id = _identity_lock.identity_id;
        IF p IS NULL THEN
            RETURN NULL;
        END IF;
        SELECT pr.profile_id INTO locked FROM customer_profile.unified_profile pr WHERE pr.profile_id = p FOR UPDATE;
        IF locked IS NOT NULL AND EXISTS (
            SELECT 1 FROM customer_profile.identity i
             WHERE i.identity_id = _identity_lock.identity_id AND i.profile_id = p) THEN
            RETURN p;
        END IF;
    END LOOP;
    RAISE EXCEPTION 'could not lock the profile: it kept changing concurrently'
        USING ERRCODE = 'serialization_failure', HINT = 'Retry the transaction.';
END
$$;
COMMENT ON FUNCTION customer_profile._identity_lock(identity_id bigint) IS 'Internal: locks and returns the profile of an identity.';
REVOKE ALL ON FUNCTION customer_profile._identity_lock(identity_id bigint) FROM PUBLIC;
GRANT ALL ON FUNCTION customer_profile._identity_lock(identity_id bigint) TO customer_profile_admin;

CREATE FUNCTION customer_profile._identity_refusal(namespace text, value text) RETURNS text
    LANGUAGE c STABLE STRICT
    AS 'MODULE_PATHNAME', 'cp_identity_refusal';
COMMENT ON FUNCTION customer_profile._identity_refusal(namespace text, value text) IS 'Internal: why resolve_identity() would raise for this identifier (message and SQLSTATE), or NULL when it accepts it (blocked values included: resolve_identity records those).';
REVOKE ALL ON FUNCTION customer_profile._identity_refusal(namespace text, value text) FROM PUBLIC;
GRANT ALL ON FUNCTION customer_profile._identity_refusal(namespace text, value text) TO customer_profile_admin;

CREATE FUNCTION customer_profile._identity_split(profile_id bigint, cause text) RETURNS integer
    LANGUAGE c
    AS 'MODULE_PATHNAME', 'cp_identity_split';
COMMENT ON FUNCTION customer_profile._identity_split(profile_id bigint, cause text) IS 'Internal: re-partitions one (locked) profile by its remaining links; returns how many profiles were carved out.';
REVOKE ALL ON FUNCTION customer_profile._identity_split(profile_id bigint, cause text) FROM PUBLIC;
GRANT ALL ON FUNCTION customer_profile._identity_split(profile_id bigint, cause text) TO customer_profile_admin;

CREATE FUNCTION customer_profile._namespace_delete_guard() RETURNS trigger
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM customer_profile.identity i WHERE i.namespace_id = OLD.namespace_id) THEN
        RAISE EXCEPTION 'identity namespace "%" still has identities', OLD.name
            USING ERRCODE = 'dependent_objects_still_exist',
                  HINT = 'Remove its identities first (identity_remove), or keep the namespace.';
    END IF;
    RETURN OLD;
END
$$;
COMMENT ON FUNCTION customer_profile._namespace_delete_guard() IS 'Internal trigger: refuses to delete a namespace that identities still use.';
REVOKE ALL ON FUNCTION customer_profile._namespace_delete_guard() FROM PUBLIC;
CREATE TRIGGER namespace_delete_guard BEFORE DELETE ON customer_profile.namespace FOR EACH ROW EXECUTE FUNCTION customer_profile._namespace_delete_guard();

-- A namespace row inserted with the id and name of an existing one (a
-- built-in namespace from a restored dump) replaces it, keeping its changes;
-- identity_namespace_create() still refuses an existing name.
CREATE FUNCTION customer_profile._namespace_replace() RETURNS trigger
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM customer_profile.namespace n
                WHERE n.namespace_id = NEW.namespace_id AND n.name = NEW.name) THEN
        UPDATE customer_profile.namespace n
           SET normalizer = NEW.normalizer, is_known = NEW.is_known, priority = NEW.priority,
               max_per_profile = NEW.max_per_profile, keep_raw = NEW.keep_raw,
               blocked_values = NEW.blocked_values, blocked_patterns = NEW.blocked_patterns,
               created_at = NEW.created_at
         WHERE n.namespace_id = NEW.namespace_id;
        RETURN NULL;
    END IF;
    RETURN NEW;
END
$$;
COMMENT ON FUNCTION customer_profile._namespace_replace() IS 'Internal trigger: an inserted namespace row with the id and name of an existing one (from a restored dump) replaces it.';
REVOKE ALL ON FUNCTION customer_profile._namespace_replace() FROM PUBLIC;
CREATE TRIGGER namespace_replace BEFORE INSERT ON customer_profile.namespace FOR EACH ROW EXECUTE FUNCTION customer_profile._namespace_replace();

-- Every deletion of profiles streams their exits, even when no segment was
-- visible to the deleting statement: the stream takes the definitions lock
-- (a segment created meanwhile waits for it, or it for the segment) and
-- removes the profiles' schedule rows.
CREATE FUNCTION customer_profile._profiles_deleted() RETURNS trigger
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
DECLARE
    gone bigint[];
BEGIN
    SELECT array_agg(g.profile_id) INTO gone FROM deleted_profiles g;
    PERFORM customer_profile._segment_stream(gone, 'gone');
    RETURN NULL;
END
$$;
REVOKE ALL ON FUNCTION customer_profile._profiles_deleted() FROM PUBLIC;
CREATE TRIGGER profiles_deleted AFTER DELETE ON customer_profile.unified_profile REFERENCING OLD TABLE AS deleted_profiles FOR EACH STATEMENT EXECUTE FUNCTION customer_profile._profiles_deleted();

CREATE FUNCTION customer_profile.identity_components(OUT identity_id bigint, OUT component_id bigint) RETURNS SETOF record
    LANGUAGE c STABLE
    AS 'MODULE_PATHNAME', 'cp_identity_components';
COMMENT ON FUNCTION customer_profile.identity_components(OUT identity_id bigint, OUT component_id bigint) IS 'Connected components of the link graph computed in memory (union-find); component_id is the smallest identity_id of the component. Writes nothing.';
REVOKE ALL ON FUNCTION customer_profile.identity_components(OUT identity_id bigint, OUT component_id bigint) FROM PUBLIC;
GRANT ALL ON FUNCTION customer_profile.identity_components(OUT identity_id bigint, OUT component_id bigint) TO customer_profile_writer;

CREATE FUNCTION customer_profile.identity_check()
    RETURNS TABLE (problem text, count bigint)
    LANGUAGE sql STABLE
    SET search_path = pg_catalog, pg_temp
    BEGIN ATOMIC
        SELECT 'identity without a live profile', count(*) FROM customer_profile.identity i
         WHERE NOT EXISTS (SELECT 1 FROM customer_profile.unified_profile p WHERE p.profile_id = i.profile_id)
        UNION ALL
        SELECT 'profile without identities', count(*) FROM customer_profile.unified_profile p
         WHERE NOT EXISTS (SELECT 1 FROM customer_profile.identity i WHERE i.profile_id = p.profile_id)
        UNION ALL
        SELECT 'link to a missing identity', count(*) FROM customer_profile.identity_link l
         WHERE NOT EXISTS (SELECT 1 FROM customer_profile.identity i WHERE i.identity_id = l.identity_a)
            OR NOT EXISTS (SELECT 1 FROM customer_profile.identity i WHERE i.identity_id = l.identity_b)
        UNION ALL
        SELECT 'identity in an unknown namespace', count(*) FROM customer_profile.identity i
         WHERE NOT EXISTS (SELECT 1 FROM customer_profile.namespace n WHERE n.namespace_id = i.namespace_id)
        UNION ALL
        SELECT 'link across two profiles', count(*) FROM customer_profile.identity_link l
          JOIN customer_profile.identity a ON a.identity_id = l.identity_a
          JOIN customer_profile.identity b ON b.identity_id = l.identity_b
         WHERE a.profile_id <> b.profile_id
        UNION ALL
        SELECT 'profile that is not one connected component', count(*) FROM (
            SELECT i.profile_id FROM customer_profile.identity_components() c
              JOIN customer_profile.identity i USING (identity_id)
             GROUP BY i.profile_id HAVING count(DISTINCT c.component_id) > 1) s
        UNION ALL
        SELECT 'live profile listed as merged', count(*) FROM customer_profile.profile_merge m
          JOIN customer_profile.unified_profile p ON p.profile_id = m.merged_profile_id;
    END;
COMMENT ON FUNCTION customer_profile.identity_check() IS 'Consistency check of the identity graph: every count should be 0.';
REVOKE ALL ON FUNCTION customer_profile.identity_check() FROM PUBLIC;
GRANT ALL ON FUNCTION customer_profile.identity_check() TO customer_profile_admin;

CREATE FUNCTION customer_profile.identity_explain(namespace_a text, value_a text, namespace_b text, value_b text) RETURNS jsonb
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

CREATE FUNCTION customer_profile.identity_hash(namespace text, value text) RETURNS bytea
    LANGUAGE c STABLE STRICT
    AS 'MODULE_PATHNAME', 'cp_identity_hash';
COMMENT ON FUNCTION customer_profile.identity_hash(namespace text, value text) IS 'The stored key of an identifier: SHA-256 of the database salt, the namespace and the normalized value.';
REVOKE ALL ON FUNCTION customer_profile.identity_hash(namespace text, value text) FROM PUBLIC;
GRANT ALL ON FUNCTION customer_profile.identity_hash(namespace text, value text) TO customer_profile_writer;

CREATE FUNCTION customer_profile.identity_lookup(namespace text, value text) RETURNS bigint
    LANGUAGE sql STABLE STRICT SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    BEGIN ATOMIC
 SELECT i.profile_id
    FROM customer_profile.identity i
   WHERE (i.value_hash = customer_profile.identity_hash(identity_lookup.namespace, identity_lookup.value));
END;
COMMENT ON FUNCTION customer_profile.identity_lookup(namespace text, value text) IS 'The profile holding an identifier (one index probe), or NULL when it is unknown.';
REVOKE ALL ON FUNCTION customer_profile.identity_lookup(namespace text, value text) FROM PUBLIC;
GRANT ALL ON FUNCTION customer_profile.identity_lookup(namespace text, value text) TO customer_profile_reader;

CREATE FUNCTION customer_profile.identity_namespace_alter(name text, is_known boolean DEFAULT NULL::boolean, priority integer DEFAULT NULL::integer, max_per_profile integer DEFAULT NULL::integer, blocked_values text[] DEFAULT NULL::text[], blocked_patterns text[] DEFAULT NULL::text[]) RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
BEGIN
    IF max_per_profile IS NOT NULL AND max_per_profile < 1 THEN
        RAISE EXCEPTION 'max_per_profile must be at least 1' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    UPDATE customer_profile.namespace n
       SET is_known = coalesce(identity_namespace_alter.is_known, n.is_known),
           priority = coalesce(identity_namespace_alter.priority, n.priority),
           max_per_profile = coalesce(identity_namespace_alter.max_per_profile, n.max_per_profile),
           blocked_values = coalesce(identity_namespace_alter.blocked_values, n.blocked_values),
           blocked_patterns = coalesce(identity_namespace_alter.blocked_patterns, n.blocked_patterns)
     WHERE n.name = identity_namespace_alter.name;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'unknown identity namespace "%"', name USING ERRCODE = 'undefined_object';
    END IF;
END
$$;
COMMENT ON FUNCTION customer_profile.identity_namespace_alter(name text, is_known boolean, priority integer, max_per_profile integer, blocked_values text[], blocked_patterns text[]) IS 'Changes a namespace''s rules; NULL arguments keep the current value. Existing links are not revisited.';
REVOKE ALL ON FUNCTION customer_profile.identity_namespace_alter(name text, is_known boolean, priority integer, max_per_profile integer, blocked_values text[], blocked_patterns text[]) FROM PUBLIC;
GRANT ALL ON FUNCTION customer_profile.identity_namespace_alter(name text, is_known boolean, priority integer, max_per_profile integer, blocked_values text[], blocked_patterns text[]) TO customer_profile_admin;

CREATE FUNCTION customer_profile.identity_namespace_create(name text, normalizer text DEFAULT 'trim'::text, is_known boolean DEFAULT false, priority integer DEFAULT 10, max_per_profile integer DEFAULT NULL::integer, keep_raw boolean DEFAULT false, blocked_values text[] DEFAULT customer_profile._default_blocked_values(), blocked_patterns text[] DEFAULT '{}'::text[]) RETURNS integer
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $_$
DECLARE
    new_id integer;
BEGIN
    IF name IS NULL OR name !~ '^[a-z][a-z0-9_]{0,62}$' THEN
        RAISE EXCEPTION 'invalid namespace name %', coalesce(quote_literal(name), 'NULL')
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Use lowercase letters, digits and underscores, starting with a letter.';
    END IF;
    IF max_per_profile IS NOT NULL AND max_per_profile < 1 THEN
        RAISE EXCEPTION 'max_per_profile must be at least 1 (or NULL for unlimited)'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF EXISTS (SELECT 1 FROM customer_profile.namespace n WHERE n.name = identity_namespace_create.name) THEN
        RAISE EXCEPTION 'identity namespace "%" already exists', name USING ERRCODE = 'duplicate_object';
    END IF;
    INSERT INTO customer_profile.namespace
        (name, normalizer, is_known, priority, max_per_profile, keep_raw, blocked_values, blocked_patterns)
    VALUES (name, coalesce(normalizer, 'trim'), coalesce(is_known, false), coalesce(priority, 10),
            max_per_profile, coalesce(keep_raw, false), coalesce(blocked_values, '{}'), coalesce(blocked_patterns, '{}'))
    RETURNING namespace_id INTO new_id;
    RETURN new_id;
END
$_$;
COMMENT ON FUNCTION customer_profile.identity_namespace_create(name text, normalizer text, is_known boolean, priority integer, max_per_profile integer, keep_raw boolean, blocked_values text[], blocked_patterns text[]) IS 'Adds an identifier namespace (normalizer trim, lowercase, email or phone); returns its id.';
REVOKE ALL ON FUNCTION customer_profile.identity_namespace_create(name text, normalizer text, is_known boolean, priority integer, max_per_profile integer, keep_raw boolean, blocked_values text[], blocked_patterns text[]) FROM PUBLIC;
GRANT ALL ON FUNCTION customer_profile.identity_namespace_create(name text, normalizer text, is_known boolean, priority integer, max_per_profile integer, keep_raw boolean, blocked_values text[], blocked_patterns text[]) TO customer_profile_admin;

CREATE FUNCTION customer_profile.identity_normalize(namespace text, value text) RETURNS text
    LANGUAGE c STABLE STRICT
    AS 'MODULE_PATHNAME', 'cp_identity_normalize';
COMMENT ON FUNCTION customer_profile.identity_normalize(namespace text, value text) IS 'The canonical form of value in namespace (what is hashed), or an error explaining why it is malformed.';
REVOKE ALL ON FUNCTION customer_profile.identity_normalize(namespace text, value text) FROM PUBLIC;
GRANT ALL ON FUNCTION customer_profile.identity_normalize(namespace text, value text) TO customer_profile_reader;

CREATE FUNCTION customer_profile.identity_rebuild(OUT identities bigint, OUT components bigint, OUT identities_moved bigint, OUT profiles_created bigint, OUT profiles_merged bigint) RETURNS record
    LANGUAGE c
    AS 'MODULE_PATHNAME', 'cp_identity_rebuild';
COMMENT ON FUNCTION customer_profile.identity_rebuild(OUT identities bigint, OUT components bigint, OUT identities_moved bigint, OUT profiles_created bigint, OUT profiles_merged bigint) IS 'Recomputes every profile from the link table in one pass and writes changed profile ids back set-wise; profile ids are kept where possible.';
REVOKE ALL ON FUNCTION customer_profile.identity_rebuild(OUT identities bigint, OUT components bigint, OUT identities_moved bigint, OUT profiles_created bigint, OUT profiles_merged bigint) FROM PUBLIC;
GRANT ALL ON FUNCTION customer_profile.identity_rebuild(OUT identities bigint, OUT components bigint, OUT identities_moved bigint, OUT profiles_created bigint, OUT profiles_merged bigint) TO customer_profile_admin;

-- An identifier's events stay with the identifier that carried them (a split
-- divides them that way): identity_remove deletes them with their event ids,
-- so that none is left attached to no one (out of reach of profile_forget,
-- and dropping a redelivered event as a duplicate forever).
CREATE FUNCTION customer_profile.identity_remove(namespace text, value text) RETURNS integer
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'pg_temp'
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
COMMENT ON FUNCTION customer_profile.identity_remove(namespace text, value text) IS 'Deletes an identifier with its links, trait observations and stored events (and their event ids, so a redelivered event is applied again); the rest of its profile is recomputed and splits if it falls apart. Returns the number of profiles carved out.';
REVOKE ALL ON FUNCTION customer_profile.identity_remove(namespace text, value text) FROM PUBLIC;
GRANT ALL ON FUNCTION customer_profile.identity_remove(namespace text, value text) TO customer_profile_admin;

CREATE FUNCTION customer_profile.identity_unlink(namespace_a text, value_a text, namespace_b text, value_b text) RETURNS integer
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
COMMENT ON FUNCTION customer_profile.identity_unlink(namespace_a text, value_a text, namespace_b text, value_b text) IS 'Withdraws the direct link between two identifiers; if the profile falls apart it splits. Returns the number of profiles carved out.';
REVOKE ALL ON FUNCTION customer_profile.identity_unlink(namespace_a text, value_a text, namespace_b text, value_b text) FROM PUBLIC;
GRANT ALL ON FUNCTION customer_profile.identity_unlink(namespace_a text, value_a text, namespace_b text, value_b text) TO customer_profile_admin;

CREATE FUNCTION customer_profile.profile_resolve(profile_id bigint) RETURNS bigint
    LANGUAGE sql STABLE STRICT
    SET search_path TO 'pg_catalog', 'pg_temp'
    BEGIN ATOMIC
 WITH RECURSIVE chain(id, depth) AS (
          SELECT profile_resolve.profile_id AS profile_id,
             0 AS "?column?"
         UNION ALL
          SELECT m.into_profile_id,
             (c_1.depth + 1)
            FROM (chain c_1
              JOIN customer_profile.profile_merge m ON ((m.merged_profile_id = c_1.id)))
           WHERE (c_1.depth < 1000)
         )
  SELECT c.id
    FROM (chain c
      JOIN customer_profile.unified_profile p ON ((p.profile_id = c.id)))
   ORDER BY c.depth
  LIMIT 1;
END;
COMMENT ON FUNCTION customer_profile.profile_resolve(profile_id bigint) IS 'The live profile id for a possibly merged-away id (follows profile_merge), or NULL.';
REVOKE ALL ON FUNCTION customer_profile.profile_resolve(profile_id bigint) FROM PUBLIC;
GRANT ALL ON FUNCTION customer_profile.profile_resolve(profile_id bigint) TO customer_profile_reader;
GRANT ALL ON FUNCTION customer_profile.profile_resolve(profile_id bigint) TO customer_profile_worker;

CREATE FUNCTION customer_profile.profile_explain(p customer_profile.profile) RETURNS TABLE(trait text, value jsonb, source text, observed_at timestamp with time zone, policy text)
    LANGUAGE c STABLE STRICT
    AS 'MODULE_PATHNAME', 'cp_profile_explain';
COMMENT ON FUNCTION customer_profile.profile_explain(p customer_profile.profile) IS 'Where every trait value came from: its source, observation time and the merge policy that chose it.';
REVOKE ALL ON FUNCTION customer_profile.profile_explain(p customer_profile.profile) FROM PUBLIC;
GRANT ALL ON FUNCTION customer_profile.profile_explain(p customer_profile.profile) TO customer_profile_reader;

CREATE FUNCTION customer_profile.profile_identities(profile_id bigint) RETURNS TABLE(identity_id bigint, namespace text, is_known boolean, value text, value_hash bytea, first_seen timestamp with time zone, last_seen timestamp with time zone)
    LANGUAGE sql STABLE STRICT
    SET search_path TO 'pg_catalog', 'pg_temp'
    BEGIN ATOMIC
 SELECT i.identity_id,
     n.name,
     n.is_known,
     i.raw_value,
     i.value_hash,
     i.first_seen,
     i.last_seen
    FROM (customer_profile.identity i
      JOIN customer_profile.namespace n USING (namespace_id))
   WHERE (i.profile_id = customer_profile.profile_resolve(profile_identities.profile_id))
   ORDER BY n.priority DESC, i.identity_id;
END;
COMMENT ON FUNCTION customer_profile.profile_identities(profile_id bigint) IS 'The identifiers of a profile (following merges); value is NULL unless the namespace keeps raw values.';
REVOKE ALL ON FUNCTION customer_profile.profile_identities(profile_id bigint) FROM PUBLIC;
GRANT ALL ON FUNCTION customer_profile.profile_identities(profile_id bigint) TO customer_profile_writer;

CREATE FUNCTION customer_profile.resolve_identity(identities jsonb, source text DEFAULT NULL::text) RETURNS bigint
    LANGUAGE c
    AS 'MODULE_PATHNAME', 'cp_resolve_identity';
COMMENT ON FUNCTION customer_profile.resolve_identity(identities jsonb, source text) IS 'Normalizes, hashes and links the identifiers ({"email": "...", "cookie": "..."}), merging profiles unless a guard rail forbids it; returns the profile id (NULL when every identifier was blocked).';
REVOKE ALL ON FUNCTION customer_profile.resolve_identity(identities jsonb, source text) FROM PUBLIC;
GRANT ALL ON FUNCTION customer_profile.resolve_identity(identities jsonb, source text) TO customer_profile_writer;

CREATE VIEW customer_profile.identities AS
 SELECT i.identity_id,
    n.name AS namespace,
    n.is_known,
    i.raw_value AS value,
    encode(i.value_hash, 'hex'::text) AS value_hash,
    i.profile_id,
    i.first_seen,
    i.last_seen
   FROM (customer_profile.identity i
     JOIN customer_profile.namespace n USING (namespace_id));
COMMENT ON VIEW customer_profile.identities IS 'Every identifier with its namespace and profile (raw value only where kept).';
COMMENT ON COLUMN customer_profile.identities.identity_id IS 'The identifier.';
COMMENT ON COLUMN customer_profile.identities.namespace IS 'Its namespace (crm_id, email, phone, device_id, cookie, or one of your own).';
COMMENT ON COLUMN customer_profile.identities.is_known IS 'Whether the namespace identifies a known person.';
COMMENT ON COLUMN customer_profile.identities.value IS 'The raw value as received, only where the namespace keeps raw values (keep_raw); NULL otherwise.';
COMMENT ON COLUMN customer_profile.identities.value_hash IS 'The stored key in hex: SHA-256 of the salt, the namespace and the normalized value.';
COMMENT ON COLUMN customer_profile.identities.profile_id IS 'The profile holding the identifier.';
COMMENT ON COLUMN customer_profile.identities.first_seen IS 'When the identifier was first seen.';
COMMENT ON COLUMN customer_profile.identities.last_seen IS 'When the identifier was last seen.';
GRANT SELECT ON TABLE customer_profile.identities TO customer_profile_writer;
REVOKE USAGE ON TYPE customer_profile.identities FROM PUBLIC;

CREATE VIEW customer_profile.identity_guard_stats AS
 SELECT c.rule,
    n.name AS namespace,
    count(*) AS refusals,
    max(c.occurred_at) AS last_refused_at
   FROM (customer_profile.identity_conflict c
     LEFT JOIN customer_profile.namespace n USING (namespace_id))
  GROUP BY c.rule, n.name;
COMMENT ON VIEW customer_profile.identity_guard_stats IS 'How often each guard rail refused a link, or an attached row''s identifier or trait value, per namespace.';
COMMENT ON COLUMN customer_profile.identity_guard_stats.rule IS 'The rule that refused: namespace_cap, profile_identity_cap, blocked_value, blocked_pattern, invalid_identifier or invalid_trait.';
COMMENT ON COLUMN customer_profile.identity_guard_stats.namespace IS 'The namespace the refusal concerned (NULL when none).';
COMMENT ON COLUMN customer_profile.identity_guard_stats.refusals IS 'How many refusals are recorded in identity_conflict.';
COMMENT ON COLUMN customer_profile.identity_guard_stats.last_refused_at IS 'When the latest refusal happened.';
GRANT SELECT ON TABLE customer_profile.identity_guard_stats TO customer_profile_reader;
REVOKE USAGE ON TYPE customer_profile.identity_guard_stats FROM PUBLIC;

CREATE VIEW customer_profile.merges AS
 SELECT m.merged_profile_id,
    m.into_profile_id,
    customer_profile.profile_resolve(m.merged_profile_id) AS current_profile_id,
    m.merged_at,
    m.cause,
    m.source
   FROM customer_profile.profile_merge m;
COMMENT ON VIEW customer_profile.merges IS 'Merged-away profile ids, where they went, and the live profile they resolve to now.';
COMMENT ON COLUMN customer_profile.merges.merged_profile_id IS 'The profile id merged away.';
COMMENT ON COLUMN customer_profile.merges.into_profile_id IS 'The profile it was merged into.';
COMMENT ON COLUMN customer_profile.merges.current_profile_id IS 'The live profile it resolves to now (following later merges; profile_resolve).';
COMMENT ON COLUMN customer_profile.merges.merged_at IS 'When the merge happened.';
COMMENT ON COLUMN customer_profile.merges.cause IS 'What merged it: resolve_identity (new evidence) or identity_rebuild.';
COMMENT ON COLUMN customer_profile.merges.source IS 'The source of the evidence that caused the merge.';
GRANT SELECT ON TABLE customer_profile.merges TO customer_profile_reader;
REVOKE USAGE ON TYPE customer_profile.merges FROM PUBLIC;

-- The namespaces every installation starts with.
INSERT INTO customer_profile.namespace
    (name, normalizer, is_known, priority, max_per_profile, keep_raw, blocked_values, blocked_patterns)
VALUES
    ('crm_id', 'trim', true, 100, 1, true, customer_profile._default_blocked_values(), '{}'),
    ('email', 'email', true, 80, 10, false,
     customer_profile._default_blocked_values() || ARRAY['test@test.com', 'test@example.com', 'noemail@noemail.com'],
     ARRAY['^(no-?reply|do-?not-?reply)@']),
    ('phone', 'phone', true, 60, 5, false, customer_profile._default_blocked_values(), '{}'),
    ('device_id', 'lowercase', false, 40, 20, false,
     customer_profile._default_blocked_values() || ARRAY['00000000-0000-0000-0000-000000000000'], '{}'),
    ('cookie', 'trim', false, 20, 100, false, customer_profile._default_blocked_values(), '{}');
