-- customer_profile 1.0: identity stitching.
-- Every object lives in schema customer_profile (created from the control
-- file); every reference is schema-qualified and functions pin search_path.
\echo Use "CREATE EXTENSION customer_profile" to load this file. \quit

COMMENT ON SCHEMA customer_profile IS 'customer_profile: identity stitching and unified customer profiles';

------------------------------------------------------------------------------
-- Configuration
------------------------------------------------------------------------------

CREATE TABLE customer_profile.settings (
    singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    salt bytea NOT NULL CHECK (octet_length(salt) >= 16),
    max_identities_per_profile integer NOT NULL DEFAULT 500 CHECK (max_identities_per_profile > 0),
    default_phone_region text NOT NULL DEFAULT 'US'
);
COMMENT ON TABLE customer_profile.settings IS
    'One row of per-database identity settings: the hashing salt (secret; changing it orphans every stored hash), the hard cap of identities per profile, and the region used for phone numbers written without a country code.';
REVOKE ALL ON customer_profile.settings FROM PUBLIC;

-- 32 random bytes from pg_strong_random, via two v4 UUIDs (no pgcrypto needed).
INSERT INTO customer_profile.settings (salt)
SELECT pg_catalog.decode(pg_catalog.replace(pg_catalog.gen_random_uuid()::text, '-', '')
                         || pg_catalog.replace(pg_catalog.gen_random_uuid()::text, '-', ''), 'hex');

CREATE FUNCTION customer_profile._normalizer_valid(name text) RETURNS boolean
    AS 'MODULE_PATHNAME', 'cp_normalizer_valid' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION customer_profile._normalizer_valid(text) IS
    'Internal: raises 22023 unless the name is a known normalizer (CHECK helper).';
CREATE FUNCTION customer_profile._blocked_patterns_valid(patterns text[]) RETURNS boolean
    AS 'MODULE_PATHNAME', 'cp_blocked_patterns_valid' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION customer_profile._blocked_patterns_valid(text[]) IS
    'Internal: raises 22P02 naming the first pattern RE2 cannot compile (CHECK helper).';
CREATE FUNCTION customer_profile._phone_region_valid(region text) RETURNS boolean
    AS 'MODULE_PATHNAME', 'cp_phone_region_valid' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION customer_profile._phone_region_valid(text) IS
    'Internal: true when libphonenumber knows the two-letter region (e.g. US, DE).';

ALTER TABLE customer_profile.settings ADD CONSTRAINT settings_phone_region_valid
    CHECK (customer_profile._phone_region_valid(default_phone_region));

CREATE TABLE customer_profile.namespace (
    namespace_id integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name text NOT NULL UNIQUE CHECK (name ~ '^[a-z][a-z0-9_]{0,62}$'),
    normalizer text NOT NULL DEFAULT 'trim' CHECK (customer_profile._normalizer_valid(normalizer)),
    is_known boolean NOT NULL DEFAULT false,
    priority integer NOT NULL DEFAULT 10,
    max_per_profile integer CHECK (max_per_profile > 0),
    keep_raw boolean NOT NULL DEFAULT false,
    blocked_values text[] NOT NULL DEFAULT '{}',
    blocked_patterns text[] NOT NULL DEFAULT '{}'
        CHECK (customer_profile._blocked_patterns_valid(blocked_patterns)),
    created_at timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE customer_profile.namespace IS
    'Identifier namespaces: how values are normalized, whether they identify a known person, their priority (higher wins conflicts), how many of them one profile may hold, whether raw values are kept, and which values are refused.';

CREATE FUNCTION customer_profile._default_blocked_values() RETURNS text[]
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    RETURN ARRAY['', 'null', 'nil', 'none', 'undefined', 'unknown', 'anonymous', 'n/a', 'na', '-', '0',
                 'test', 'guest', 'nan', 'false', 'true'];
COMMENT ON FUNCTION customer_profile._default_blocked_values() IS
    'Placeholder values refused in every namespace unless the namespace says otherwise.';

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

CREATE FUNCTION customer_profile._catalog_changed() RETURNS trigger
    AS 'MODULE_PATHNAME', 'cp_catalog_changed' LANGUAGE C;
COMMENT ON FUNCTION customer_profile._catalog_changed() IS
    'Internal trigger: makes every backend reload its cached identity configuration.';
CREATE TRIGGER namespace_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE
    ON customer_profile.namespace FOR EACH STATEMENT EXECUTE FUNCTION customer_profile._catalog_changed();
CREATE TRIGGER settings_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE
    ON customer_profile.settings FOR EACH STATEMENT EXECUTE FUNCTION customer_profile._catalog_changed();

------------------------------------------------------------------------------
-- The identity graph
------------------------------------------------------------------------------

CREATE TABLE customer_profile.unified_profile (
    profile_id bigserial PRIMARY KEY,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE customer_profile.unified_profile IS 'One row per live unified profile.';

-- No foreign keys on the hot tables: every resolve_identity() that creates
-- identifiers would run an RI query per row and take FOR KEY SHARE locks on
-- the few namespace rows (multixact churn under concurrency), and
-- identity_rebuild() rewrites profile_id for up to every row. The invariants
-- are kept by the functions, a namespace in use cannot be deleted (trigger
-- below), and identity_check() verifies them.
CREATE TABLE customer_profile.identity (
    identity_id bigserial PRIMARY KEY,
    namespace_id integer NOT NULL,
    value_hash bytea NOT NULL UNIQUE CHECK (octet_length(value_hash) = 32),
    raw_value text,
    profile_id bigint NOT NULL,
    first_seen timestamptz NOT NULL DEFAULT now(),
    last_seen timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX identity_profile_idx ON customer_profile.identity (profile_id);
COMMENT ON TABLE customer_profile.identity IS
    'One row per identifier: SHA-256(salt, namespace, normalized value); raw_value only where the namespace keeps it.';

CREATE FUNCTION customer_profile._namespace_delete_guard() RETURNS trigger
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
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
COMMENT ON FUNCTION customer_profile._namespace_delete_guard() IS
    'Internal trigger: refuses to delete a namespace that identities still use.';
CREATE TRIGGER namespace_delete_guard BEFORE DELETE ON customer_profile.namespace
    FOR EACH ROW EXECUTE FUNCTION customer_profile._namespace_delete_guard();

-- The salt is part of every stored hash: changing it would orphan them all.
CREATE FUNCTION customer_profile._settings_guard() RETURNS trigger
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF NEW.salt IS DISTINCT FROM OLD.salt AND EXISTS (SELECT 1 FROM customer_profile.identity) THEN
        RAISE EXCEPTION 'the salt cannot change while identities exist'
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  DETAIL = 'Every stored identifier hash depends on it.';
    END IF;
    RETURN NEW;
END
$$;
COMMENT ON FUNCTION customer_profile._settings_guard() IS
    'Internal trigger: refuses to change the salt once identities exist.';
CREATE TRIGGER settings_guard BEFORE UPDATE ON customer_profile.settings
    FOR EACH ROW EXECUTE FUNCTION customer_profile._settings_guard();

CREATE TABLE customer_profile.identity_link (
    identity_a bigint NOT NULL,
    identity_b bigint NOT NULL,
    source text,
    linked_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (identity_a, identity_b),
    CHECK (identity_a < identity_b)
);
-- No index on identity_b alone: both ends of a link are always in the same
-- profile, so every lookup goes through the profile's identities and the
-- primary key; one index fewer per link keeps resolution fast.
COMMENT ON TABLE customer_profile.identity_link IS
    'Accepted evidence that two identifiers belong to one person: the edges of the identity graph. Its connected components are exactly the profiles.';

CREATE TABLE customer_profile.profile_merge (
    merged_profile_id bigint PRIMARY KEY,
    into_profile_id bigint NOT NULL,
    merged_at timestamptz NOT NULL DEFAULT now(),
    cause text NOT NULL,
    source text
);
CREATE INDEX profile_merge_into_idx ON customer_profile.profile_merge (into_profile_id);
COMMENT ON TABLE customer_profile.profile_merge IS
    'Merged-away profile ids and where they went, so downstream systems can remap ids.';

CREATE TABLE customer_profile.profile_split (
    split_id bigserial PRIMARY KEY,
    profile_id bigint NOT NULL,
    new_profile_id bigint NOT NULL,
    split_at timestamptz NOT NULL DEFAULT now(),
    cause text NOT NULL
);
COMMENT ON TABLE customer_profile.profile_split IS
    'Profiles carved out of another when a link or identifier was withdrawn.';

CREATE TABLE customer_profile.identity_conflict (
    conflict_id bigserial PRIMARY KEY,
    occurred_at timestamptz NOT NULL DEFAULT now(),
    rule text NOT NULL CHECK (rule IN ('blocked_value', 'blocked_pattern', 'namespace_cap', 'profile_identity_cap')),
    namespace_id integer,
    kept_profile_id bigint,
    refused_profile_id bigint,
    refused_identity_id bigint,
    detail text,
    source text
);
CREATE INDEX identity_conflict_profiles_idx ON customer_profile.identity_conflict (kept_profile_id, refused_profile_id);
COMMENT ON TABLE customer_profile.identity_conflict IS
    'Every link a guard rail refused, with its rule: nothing is refused silently.';

SELECT pg_catalog.pg_extension_config_dump('customer_profile.settings', '');
SELECT pg_catalog.pg_extension_config_dump('customer_profile.namespace', '');
SELECT pg_catalog.pg_extension_config_dump('customer_profile.unified_profile', '');
SELECT pg_catalog.pg_extension_config_dump('customer_profile.unified_profile_profile_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('customer_profile.identity', '');
SELECT pg_catalog.pg_extension_config_dump('customer_profile.identity_identity_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('customer_profile.identity_link', '');
SELECT pg_catalog.pg_extension_config_dump('customer_profile.profile_merge', '');
SELECT pg_catalog.pg_extension_config_dump('customer_profile.profile_split', '');
SELECT pg_catalog.pg_extension_config_dump('customer_profile.profile_split_split_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('customer_profile.identity_conflict', '');
SELECT pg_catalog.pg_extension_config_dump('customer_profile.identity_conflict_conflict_id_seq', '');

------------------------------------------------------------------------------
-- C entry points
------------------------------------------------------------------------------

CREATE FUNCTION customer_profile.resolve_identity(identities jsonb, source text DEFAULT NULL) RETURNS bigint
    AS 'MODULE_PATHNAME', 'cp_resolve_identity' LANGUAGE C VOLATILE;
COMMENT ON FUNCTION customer_profile.resolve_identity(jsonb, text) IS
    'Normalizes, hashes and links the identifiers ({"email": "...", "cookie": "..."}), merging profiles unless a guard rail forbids it; returns the profile id (NULL when every identifier was blocked).';

CREATE FUNCTION customer_profile.identity_normalize(namespace text, value text) RETURNS text
    AS 'MODULE_PATHNAME', 'cp_identity_normalize' LANGUAGE C STABLE STRICT;
COMMENT ON FUNCTION customer_profile.identity_normalize(text, text) IS
    'The canonical form of value in namespace (what is hashed), or an error explaining why it is malformed.';

CREATE FUNCTION customer_profile.identity_hash(namespace text, value text) RETURNS bytea
    AS 'MODULE_PATHNAME', 'cp_identity_hash' LANGUAGE C STABLE STRICT;
COMMENT ON FUNCTION customer_profile.identity_hash(text, text) IS
    'The stored key of an identifier: SHA-256 of the database salt, the namespace and the normalized value.';

CREATE FUNCTION customer_profile.identity_components(OUT identity_id bigint, OUT component_id bigint)
    RETURNS SETOF record
    AS 'MODULE_PATHNAME', 'cp_identity_components' LANGUAGE C STABLE;
COMMENT ON FUNCTION customer_profile.identity_components() IS
    'Connected components of the link graph computed in memory (union-find); component_id is the smallest identity_id of the component. Writes nothing.';

CREATE FUNCTION customer_profile.identity_rebuild(
    OUT identities bigint, OUT components bigint, OUT identities_moved bigint,
    OUT profiles_created bigint, OUT profiles_merged bigint)
    AS 'MODULE_PATHNAME', 'cp_identity_rebuild' LANGUAGE C VOLATILE;
COMMENT ON FUNCTION customer_profile.identity_rebuild() IS
    'Recomputes every profile from the link table in one pass and writes changed profile ids back set-wise; profile ids are kept where possible.';

CREATE FUNCTION customer_profile._identity_split(profile_id bigint, cause text) RETURNS integer
    AS 'MODULE_PATHNAME', 'cp_identity_split' LANGUAGE C VOLATILE;
COMMENT ON FUNCTION customer_profile._identity_split(bigint, text) IS
    'Internal: re-partitions one (locked) profile by its remaining links; returns how many profiles were carved out.';

CREATE FUNCTION customer_profile._identity_link_path(from_identity bigint, to_identity bigint, a bigint[], b bigint[])
    RETURNS integer[]
    AS 'MODULE_PATHNAME', 'cp_identity_link_path' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION customer_profile._identity_link_path(bigint, bigint, bigint[], bigint[]) IS
    'Internal: positions (1-based) in a/b of one shortest chain of links, NULL when not connected.';

CREATE FUNCTION customer_profile._boundary_selftest(kind text) RETURNS text
    AS 'MODULE_PATHNAME', 'cp_boundary_selftest' LANGUAGE C VOLATILE STRICT;
COMMENT ON FUNCTION customer_profile._boundary_selftest(text) IS
    'Internal test hook: raises each kind of C++ failure so tests can prove it becomes a PostgreSQL ERROR.';
REVOKE ALL ON FUNCTION customer_profile._boundary_selftest(text) FROM PUBLIC;

------------------------------------------------------------------------------
-- Namespaces
------------------------------------------------------------------------------

CREATE FUNCTION customer_profile.identity_namespace_create(
    name text,
    normalizer text DEFAULT 'trim',
    is_known boolean DEFAULT false,
    priority integer DEFAULT 10,
    max_per_profile integer DEFAULT NULL,
    keep_raw boolean DEFAULT false,
    blocked_values text[] DEFAULT customer_profile._default_blocked_values(),
    blocked_patterns text[] DEFAULT '{}')
RETURNS integer
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
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
$$;
COMMENT ON FUNCTION customer_profile.identity_namespace_create(text, text, boolean, integer, integer, boolean, text[], text[]) IS
    'Adds an identifier namespace (normalizer trim, lowercase, email or phone); returns its id.';

CREATE FUNCTION customer_profile.identity_namespace_alter(
    name text,
    is_known boolean DEFAULT NULL,
    priority integer DEFAULT NULL,
    max_per_profile integer DEFAULT NULL,
    blocked_values text[] DEFAULT NULL,
    blocked_patterns text[] DEFAULT NULL)
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
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
COMMENT ON FUNCTION customer_profile.identity_namespace_alter(text, boolean, integer, integer, text[], text[]) IS
    'Changes a namespace''s rules; NULL arguments keep the current value. Existing links are not revisited.';

------------------------------------------------------------------------------
-- Lookups
------------------------------------------------------------------------------

CREATE FUNCTION customer_profile.identity_lookup(namespace text, value text) RETURNS bigint
    LANGUAGE sql STABLE STRICT
    SET search_path = pg_catalog, pg_temp
    BEGIN ATOMIC
        SELECT i.profile_id FROM customer_profile.identity i
         WHERE i.value_hash = customer_profile.identity_hash(namespace, value);
    END;
COMMENT ON FUNCTION customer_profile.identity_lookup(text, text) IS
    'The profile holding an identifier (one index probe), or NULL when it is unknown.';

CREATE FUNCTION customer_profile.profile_resolve(profile_id bigint) RETURNS bigint
    LANGUAGE sql STABLE STRICT
    SET search_path = pg_catalog, pg_temp
    BEGIN ATOMIC
        WITH RECURSIVE chain(id, depth) AS (
            SELECT profile_resolve.profile_id, 0
            UNION ALL
            SELECT m.into_profile_id, c.depth + 1
              FROM chain c JOIN customer_profile.profile_merge m ON m.merged_profile_id = c.id
             WHERE c.depth < 1000
        )
        SELECT c.id FROM chain c JOIN customer_profile.unified_profile p ON p.profile_id = c.id
         ORDER BY c.depth LIMIT 1;
    END;
COMMENT ON FUNCTION customer_profile.profile_resolve(bigint) IS
    'The live profile id for a possibly merged-away id (follows profile_merge), or NULL.';

CREATE FUNCTION customer_profile.profile_identities(profile_id bigint)
    RETURNS TABLE (identity_id bigint, namespace text, is_known boolean, value text, value_hash bytea,
                   first_seen timestamptz, last_seen timestamptz)
    LANGUAGE sql STABLE STRICT
    SET search_path = pg_catalog, pg_temp
    BEGIN ATOMIC
        SELECT i.identity_id, n.name, n.is_known, i.raw_value, i.value_hash, i.first_seen, i.last_seen
          FROM customer_profile.identity i
          JOIN customer_profile.namespace n USING (namespace_id)
         WHERE i.profile_id = customer_profile.profile_resolve(profile_identities.profile_id)
         ORDER BY n.priority DESC, i.identity_id;
    END;
COMMENT ON FUNCTION customer_profile.profile_identities(bigint) IS
    'The identifiers of a profile (following merges); value is NULL unless the namespace keeps raw values.';

-- Finds an identity or raises naming the identifier.
CREATE FUNCTION customer_profile._identity_find(namespace text, value text, OUT identity_id bigint, OUT profile_id bigint)
    LANGUAGE plpgsql STABLE
    SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF namespace IS NULL OR value IS NULL THEN
        RAISE EXCEPTION 'namespace and value must not be NULL' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    SELECT i.identity_id, i.profile_id INTO identity_id, profile_id
      FROM customer_profile.identity i WHERE i.value_hash = customer_profile.identity_hash(namespace, value);
END
$$;
COMMENT ON FUNCTION customer_profile._identity_find(text, text) IS
    'Internal: identity and profile of an identifier (NULLs when unknown).';

CREATE FUNCTION customer_profile.identity_explain(namespace_a text, value_a text, namespace_b text, value_b text)
    RETURNS jsonb
    LANGUAGE plpgsql STABLE
    SET search_path = pg_catalog, pg_temp
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
        steps := steps || jsonb_build_object(
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
                           WHERE l.identity_a = la[pos] AND l.identity_b = lb[pos]));
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
COMMENT ON FUNCTION customer_profile.identity_explain(text, text, text, text) IS
    'Why two identifiers are (or are not) one person: the shortest chain of links with source and time, or the profiles and guard-rail refusals that keep them apart.';

------------------------------------------------------------------------------
-- Withdrawing evidence
------------------------------------------------------------------------------

-- Locks the profile of an identity, re-reading after a concurrent merge.
CREATE FUNCTION customer_profile._identity_lock(identity_id bigint) RETURNS bigint
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
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
COMMENT ON FUNCTION customer_profile._identity_lock(bigint) IS
    'Internal: locks and returns the profile of an identity.';

CREATE FUNCTION customer_profile.identity_unlink(namespace_a text, value_a text, namespace_b text, value_b text)
    RETURNS integer
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    a record;
    b record;
    p bigint;
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
     WHERE l.identity_a = least(a.identity_id, b.identity_id) AND l.identity_b = greatest(a.identity_id, b.identity_id);
    IF NOT FOUND THEN
        RAISE EXCEPTION 'no direct link between these identifiers'
            USING ERRCODE = 'undefined_object',
                  HINT = 'identity_explain() shows the chain of links that ties them; unlink one of those.';
    END IF;
    RETURN customer_profile._identity_split(p, 'identity_unlink');
END
$$;
COMMENT ON FUNCTION customer_profile.identity_unlink(text, text, text, text) IS
    'Withdraws the direct link between two identifiers; if the profile falls apart it splits. Returns the number of profiles carved out.';

CREATE FUNCTION customer_profile.identity_remove(namespace text, value text) RETURNS integer
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    a record;
    p bigint;
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
    DELETE FROM customer_profile.identity i WHERE i.identity_id = a.identity_id;
    IF NOT EXISTS (SELECT 1 FROM customer_profile.identity i WHERE i.profile_id = p) THEN
        DELETE FROM customer_profile.unified_profile pr WHERE pr.profile_id = p;
        RETURN 0;
    END IF;
    RETURN customer_profile._identity_split(p, 'identity_remove');
END
$$;
COMMENT ON FUNCTION customer_profile.identity_remove(text, text) IS
    'Deletes an identifier and its links; the rest of its profile splits if it falls apart. Returns the number of profiles carved out.';

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
COMMENT ON FUNCTION customer_profile.identity_check() IS
    'Consistency check of the identity graph: every count should be 0.';

------------------------------------------------------------------------------
-- Views
------------------------------------------------------------------------------

CREATE VIEW customer_profile.identities AS
    SELECT i.identity_id, n.name AS namespace, n.is_known, i.raw_value AS value,
           pg_catalog.encode(i.value_hash, 'hex') AS value_hash, i.profile_id, i.first_seen, i.last_seen
      FROM customer_profile.identity i
      JOIN customer_profile.namespace n USING (namespace_id);
COMMENT ON VIEW customer_profile.identities IS 'Every identifier with its namespace and profile (raw value only where kept).';

CREATE VIEW customer_profile.merges AS
    SELECT m.merged_profile_id, m.into_profile_id, customer_profile.profile_resolve(m.merged_profile_id) AS current_profile_id,
           m.merged_at, m.cause, m.source
      FROM customer_profile.profile_merge m;
COMMENT ON VIEW customer_profile.merges IS 'Merged-away profile ids, where they went, and the live profile they resolve to now.';

CREATE VIEW customer_profile.identity_guard_stats AS
    SELECT c.rule, n.name AS namespace, count(*) AS refusals, max(c.occurred_at) AS last_refused_at
      FROM customer_profile.identity_conflict c
      LEFT JOIN customer_profile.namespace n USING (namespace_id)
     GROUP BY c.rule, n.name;
COMMENT ON VIEW customer_profile.identity_guard_stats IS 'How often each guard rail refused a link, per namespace.';

CREATE VIEW customer_profile.profiles AS
    SELECT p.profile_id,
           EXISTS (SELECT 1 FROM customer_profile.identity i JOIN customer_profile.namespace n USING (namespace_id)
                    WHERE i.profile_id = p.profile_id AND n.is_known) AS is_known,
           (SELECT count(*) FROM customer_profile.identity i WHERE i.profile_id = p.profile_id) AS identity_count,
           p.created_at, p.updated_at
      FROM customer_profile.unified_profile p;
COMMENT ON VIEW customer_profile.profiles IS 'One row per live profile: known or anonymous, how many identifiers, created and updated times.';
