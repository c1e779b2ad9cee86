-- Upgrade path: install 1.0, update to the current version, and get the same
-- extension objects as a fresh install.
\set VERBOSITY terse
DROP EXTENSION customer_profile;
CREATE EXTENSION customer_profile VERSION '1.0';
SELECT extversion FROM pg_extension WHERE extname = 'customer_profile';
SELECT to_regtype('customer_profile.profile') IS NULL AS no_profile_type_in_1_0;
SELECT customer_profile.resolve_identity('{"email": "kept@x.com"}') IS NOT NULL AS data_before_update;
ALTER EXTENSION customer_profile UPDATE;
SELECT extversion FROM pg_extension WHERE extname = 'customer_profile';
SELECT customer_profile.identity_lookup('email', 'kept@x.com') IS NOT NULL AS data_kept;
-- Profiles created before 1.2 take events.
SELECT customer_profile.track('{"email": "kept@x.com"}', 'visit', now()) = customer_profile.identity_lookup('email', 'kept@x.com') AS tracks_after_update;
SELECT customer_profile.event_count(customer_profile.identity_lookup('email', 'kept@x.com'), 'visit') AS visits;
CREATE TEMP TABLE updated_objects AS
    SELECT pg_describe_object(classid, objid, 0) AS object FROM pg_depend
     WHERE refclassid = 'pg_extension'::regclass AND deptype = 'e'
       AND refobjid = (SELECT oid FROM pg_extension WHERE extname = 'customer_profile');
DROP EXTENSION customer_profile;
CREATE EXTENSION customer_profile;
CREATE TEMP TABLE fresh_objects AS
    SELECT pg_describe_object(classid, objid, 0) AS object FROM pg_depend
     WHERE refclassid = 'pg_extension'::regclass AND deptype = 'e'
       AND refobjid = (SELECT oid FROM pg_extension WHERE extname = 'customer_profile');
SELECT count(*) > 50 AS many_objects FROM fresh_objects;
(SELECT 'only after update' AS side, object FROM updated_objects EXCEPT SELECT 'only after update', object FROM fresh_objects)
UNION ALL
(SELECT 'only in fresh install', object FROM fresh_objects EXCEPT SELECT 'only in fresh install', object FROM updated_objects);
