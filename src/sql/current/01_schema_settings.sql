-- Schema and settings: the one-row settings table (salt, identifier cap,
-- phone region), the catalog-change trigger every cached configuration
-- listens to, and internal helpers shared by every capability.

CREATE FUNCTION customer_profile._phone_region_valid(region text) RETURNS boolean
    LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'cp_phone_region_valid';
COMMENT ON FUNCTION customer_profile._phone_region_valid(region text) IS 'Internal: true when libphonenumber knows the two-letter region (e.g. US, DE).';
REVOKE ALL ON FUNCTION customer_profile._phone_region_valid(region text) FROM PUBLIC;

CREATE TABLE customer_profile.settings (
    singleton boolean DEFAULT true NOT NULL,
    salt bytea NOT NULL,
    max_identities_per_profile integer DEFAULT 500 NOT NULL,
    default_phone_region text DEFAULT 'US'::text NOT NULL,
    CONSTRAINT settings_max_identities_per_profile_check CHECK ((max_identities_per_profile > 0)),
    CONSTRAINT settings_phone_region_valid CHECK (customer_profile._phone_region_valid(default_phone_region)),
    CONSTRAINT settings_salt_check CHECK ((octet_length(salt) >= 16)),
    CONSTRAINT settings_singleton_check CHECK (singleton)
);
SELECT pg_catalog.pg_extension_config_dump('customer_profile.settings', '');
ALTER TABLE ONLY customer_profile.settings
    ADD CONSTRAINT settings_pkey PRIMARY KEY (singleton);
COMMENT ON TABLE customer_profile.settings IS 'One row of per-database identity settings: the hashing salt (secret; changing it orphans every stored hash), the hard cap of identities per profile, and the region used for phone numbers written without a country code.';
GRANT SELECT(max_identities_per_profile) ON TABLE customer_profile.settings TO customer_profile_admin;
GRANT SELECT(default_phone_region) ON TABLE customer_profile.settings TO customer_profile_admin;
REVOKE USAGE ON TYPE customer_profile.settings FROM PUBLIC;

COMMENT ON SCHEMA customer_profile IS 'customer_profile: identity stitching and unified customer profiles';
GRANT USAGE ON SCHEMA customer_profile TO customer_profile_reader;
GRANT USAGE ON SCHEMA customer_profile TO customer_profile_worker;

CREATE FUNCTION customer_profile._boundary_selftest(kind text) RETURNS text
    LANGUAGE c STRICT
    AS 'MODULE_PATHNAME', 'cp_boundary_selftest';
COMMENT ON FUNCTION customer_profile._boundary_selftest(kind text) IS 'Internal test hook: raises each kind of C++ failure so tests can prove it becomes a PostgreSQL ERROR.';
REVOKE ALL ON FUNCTION customer_profile._boundary_selftest(kind text) FROM PUBLIC;

CREATE FUNCTION customer_profile._catalog_changed() RETURNS trigger
    LANGUAGE c
    AS 'MODULE_PATHNAME', 'cp_catalog_changed';
COMMENT ON FUNCTION customer_profile._catalog_changed() IS 'Internal trigger: makes every backend reload its cached identity configuration.';
REVOKE ALL ON FUNCTION customer_profile._catalog_changed() FROM PUBLIC;
CREATE TRIGGER settings_changed AFTER INSERT OR DELETE OR UPDATE OR TRUNCATE ON customer_profile.settings FOR EACH STATEMENT EXECUTE FUNCTION customer_profile._catalog_changed();

CREATE FUNCTION customer_profile._cluster_id() RETURNS bigint
    LANGUAGE c STABLE PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'cp_cluster_id';
COMMENT ON FUNCTION customer_profile._cluster_id() IS 'Internal: the system identifier of this cluster, the space that outbox transaction ids and consumer snapshots belong to.';
REVOKE ALL ON FUNCTION customer_profile._cluster_id() FROM PUBLIC;
GRANT ALL ON FUNCTION customer_profile._cluster_id() TO customer_profile_writer;
GRANT ALL ON FUNCTION customer_profile._cluster_id() TO customer_profile_worker;

CREATE FUNCTION customer_profile._depend_on_extension(rel regclass) RETURNS void
    LANGUAGE c STRICT
    AS 'MODULE_PATHNAME', 'cp_depend_on_extension';
COMMENT ON FUNCTION customer_profile._depend_on_extension(rel regclass) IS 'Internal: rel is dropped with the extension without being a member of it (pg_dump dumps it).';
REVOKE ALL ON FUNCTION customer_profile._depend_on_extension(rel regclass) FROM PUBLIC;

-- Gives a relation the privileges of an ACL (NULL: the owner's defaults),
-- revoking what it has beyond them. Grants are made as the owner.
CREATE FUNCTION customer_profile._relation_acl_restore(rel regclass, acl aclitem[]) RETURNS void
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'pg_temp'
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
COMMENT ON FUNCTION customer_profile._relation_acl_restore(rel regclass, acl aclitem[]) IS 'Internal: gives a re-created view the privileges it had.';
REVOKE ALL ON FUNCTION customer_profile._relation_acl_restore(rel regclass, acl aclitem[]) FROM PUBLIC;

CREATE FUNCTION customer_profile._settings_guard() RETURNS trigger
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
BEGIN
    -- pg_trigger_depth() > 1: the update comes from _settings_replace (a restore).
    IF NEW.salt IS DISTINCT FROM OLD.salt AND pg_trigger_depth() = 1
       AND EXISTS (SELECT 1 FROM customer_profile.identity) THEN
        RAISE EXCEPTION 'the salt cannot change while identities exist'
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  DETAIL = 'Every stored identifier hash depends on it.';
    END IF;
    RETURN NEW;
END
$$;
COMMENT ON FUNCTION customer_profile._settings_guard() IS 'Internal trigger: refuses to change the salt once identities exist.';
REVOKE ALL ON FUNCTION customer_profile._settings_guard() FROM PUBLIC;
CREATE TRIGGER settings_guard BEFORE UPDATE ON customer_profile.settings FOR EACH ROW EXECUTE FUNCTION customer_profile._settings_guard();

-- Inserting into the one-row settings table replaces its row, salt included:
-- the only writer of a second row is a restore, whose identities were hashed
-- with the incoming salt.
CREATE FUNCTION customer_profile._settings_replace() RETURNS trigger
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM customer_profile.settings) THEN
        UPDATE customer_profile.settings s
           SET salt = NEW.salt, max_identities_per_profile = NEW.max_identities_per_profile,
               default_phone_region = NEW.default_phone_region;
        RETURN NULL;
    END IF;
    RETURN NEW;
END
$$;
COMMENT ON FUNCTION customer_profile._settings_replace() IS 'Internal trigger: an inserted settings row (from a restored dump) replaces the existing one.';
REVOKE ALL ON FUNCTION customer_profile._settings_replace() FROM PUBLIC;
CREATE TRIGGER settings_replace BEFORE INSERT ON customer_profile.settings FOR EACH ROW EXECUTE FUNCTION customer_profile._settings_replace();

-- The settings but the salt, which never changes through a function (every
-- stored hash depends on it).
CREATE FUNCTION customer_profile.settings_alter(max_identities_per_profile integer DEFAULT NULL::integer, default_phone_region text DEFAULT NULL::text) RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
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
COMMENT ON FUNCTION customer_profile.settings_alter(max_identities_per_profile integer, default_phone_region text) IS 'Changes the per-database identity settings (NULL keeps a value): the cap of identifiers per profile and the region of phone numbers written without a country code. The salt cannot be changed.';
REVOKE ALL ON FUNCTION customer_profile.settings_alter(max_identities_per_profile integer, default_phone_region text) FROM PUBLIC;
GRANT ALL ON FUNCTION customer_profile.settings_alter(max_identities_per_profile integer, default_phone_region text) TO customer_profile_admin;

-- The salt: 32 random bytes from pg_strong_random, via two v4 UUIDs (no
-- pgcrypto needed).
INSERT INTO customer_profile.settings (salt)
SELECT pg_catalog.decode(pg_catalog.replace(pg_catalog.gen_random_uuid()::text, '-', '')
                         || pg_catalog.replace(pg_catalog.gen_random_uuid()::text, '-', ''), 'hex');
