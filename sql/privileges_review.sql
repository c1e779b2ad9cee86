-- What the review of the least-privilege model found (issue 14), each
-- refused now: unbounded partition creation, pinning an extension table's
-- row type, the worker reading raw identifiers, a raw unique violation.
SET search_path = customer_profile, public;
SELECT regress.err($$SELECT customer_profile.event_partitions_ensure('5000-01-01', '5019-01-01')$$) AS far_future;
SELECT regress.err($$SELECT customer_profile.event_partitions_ensure('1000-01-01', '1019-01-01')$$) AS far_past;
SELECT has_column_privilege('customer_profile_worker', 'customer_profile.identity', 'raw_value', 'SELECT') AS worker_reads_raw,
       has_column_privilege('customer_profile_worker', 'customer_profile.identity', 'value_hash', 'SELECT') AS worker_reads_hash;
SELECT count(*) AS row_types_usable_by_public
  FROM pg_type t JOIN pg_class c ON c.oid = t.typrelid
 WHERE c.relnamespace = 'customer_profile'::regnamespace AND has_type_privilege('public', t.oid, 'USAGE');
CREATE ROLE regress_pinner LOGIN IN ROLE customer_profile_reader;
CREATE SCHEMA regress_pin AUTHORIZATION regress_pinner;
GRANT USAGE ON SCHEMA regress TO regress_pinner;
SET ROLE regress_pinner;
SELECT regress.err($$CREATE TABLE regress_pin.pin (x customer_profile.settings)$$) AS pin_settings;
SELECT regress.err($$CREATE TABLE regress_pin.pin (x customer_profile.identity)$$) AS pin_identity;
RESET ROLE;
DROP SCHEMA regress_pin CASCADE;
REVOKE USAGE ON SCHEMA regress FROM regress_pinner;
DROP ROLE regress_pinner;
-- Attaching twice through the internal function: a clear error.
CREATE TABLE public.attach_twice (id int PRIMARY KEY, email text);
SELECT _attached_table_insert('public.attach_twice', 'crm', '{"email": "email"}', '{}');
SELECT regress.err($$SELECT customer_profile._attached_table_insert('public.attach_twice', 'crm', '{"email": "email"}', '{}')$$) AS again;
DELETE FROM attached_table WHERE table_oid = 'public.attach_twice'::regclass;
DROP TABLE public.attach_twice;
