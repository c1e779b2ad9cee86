-- Roles: what each kind of user of the extension may do. Roles belong to the
-- cluster, not to the database or the extension: they are created when
-- missing (a second database reuses them) and stay after DROP EXTENSION.
-- They cannot log in; grant them to login roles. Every object's grants are
-- next to its definition, in the other files; docs/security.md explains the
-- model.
DO $roles$
DECLARE
    r text;
BEGIN
    FOREACH r IN ARRAY ARRAY['customer_profile_reader', 'customer_profile_writer', 'customer_profile_admin',
                             'customer_profile_worker'] LOOP
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
-- The worker's own role: what the inbox workers run as
-- (customer_profile.worker_role; they connect as the bootstrap superuser and
-- switch, src/pg/worker/worker.cpp). It cannot log in, is a member of no other role,
-- and holds exactly what the worker's work needs.
COMMENT ON ROLE customer_profile_worker IS
    'customer_profile: what the inbox workers run as (customer_profile.worker_role); nothing else should be granted it.';
GRANT customer_profile_reader TO customer_profile_writer;
GRANT customer_profile_writer TO customer_profile_admin;
