-- Attached tables and the rights of the role attaching them (issue 14,
-- defect 2). The attach trigger runs as the extension's owner, so what flows
-- into profiles must be what the attaching role may read: it must be allowed
-- to create the trigger (own the table, or hold TRIGGER) and to SELECT every
-- mapped column, and the mapping cannot be rewritten behind the functions'
-- back. In 1.5 an admin rewrote attached_table to map a column it could not
-- read (an ssn) and the trigger copied it into profiles.
\set VERBOSITY terse
SET client_min_messages = warning;
DROP ROLE IF EXISTS regress_ap_admin, regress_ap_crm;
RESET client_min_messages;
CREATE ROLE regress_ap_admin LOGIN IN ROLE customer_profile_admin;
CREATE ROLE regress_ap_crm LOGIN;
CREATE SCHEMA ap_crm AUTHORIZATION regress_ap_crm;
GRANT USAGE ON SCHEMA regress TO regress_ap_admin, regress_ap_crm;
SET SESSION AUTHORIZATION regress_ap_crm;
CREATE TABLE ap_crm.customers (id int PRIMARY KEY, email text, tier text, ssn text);
INSERT INTO ap_crm.customers VALUES (9101, 'ap1@x.com', 'gold', '078-05-1120');
CREATE TABLE ap_crm.secret (id int PRIMARY KEY, email text);
GRANT USAGE ON SCHEMA ap_crm TO regress_ap_admin;
-- The admin may attach customers (TRIGGER) and read all but the ssn.
GRANT TRIGGER, SELECT (id, email, tier) ON ap_crm.customers TO regress_ap_admin;
-- It may read secret, but not create a trigger on it.
GRANT SELECT ON ap_crm.secret TO regress_ap_admin;
RESET SESSION AUTHORIZATION;
SELECT customer_profile.trait_define('ap_tier', 'text'), customer_profile.trait_define('ap_ssn', 'text');

SET SESSION AUTHORIZATION regress_ap_admin;
-- A column it may not read: refused, nothing recorded, no trigger.
SELECT regress.err($$SELECT customer_profile.profile_attach_table('ap_crm.customers', 'crm', '{"crm_id": "id"}',
                                                                  '{"ap_tier": "tier", "ap_ssn": "ssn"}')$$) AS ssn_mapped;
SELECT regress.err($$SELECT customer_profile.profile_attach_table('ap_crm.customers', 'crm', '{"crm_id": "ssn"}')$$)
       AS ssn_as_identifier;
-- The same through the internal function behind it.
SELECT regress.err($$SELECT customer_profile._attached_table_insert('ap_crm.customers', 'crm', '{"crm_id": "id"}',
                                                                    '{"ap_ssn": "ssn"}')$$) AS internal_insert;
-- A table it may read but not create triggers on.
SELECT regress.err($$SELECT customer_profile.profile_attach_table('ap_crm.secret', 'crm', '{"crm_id": "id"}')$$)
       AS no_trigger_privilege;
SELECT count(*) AS attachments FROM customer_profile.attached_table;
-- The readable columns attach; the backfill reads them as the admin.
SELECT customer_profile.profile_attach_table('ap_crm.customers', 'crm', '{"crm_id": "id", "email": "email"}',
                                             '{"ap_tier": "tier"}') AS backfilled;
SELECT table_oid, source, identity_columns, trait_columns, attached_by FROM customer_profile.attached_table;
-- Defect 2: rewriting the mapping is refused, as every direct write of a catalog.
SELECT regress.err($$UPDATE customer_profile.attached_table SET trait_columns = '{"ap_tier": "tier", "ap_ssn": "ssn"}'$$)
       AS rewrite_mapping;
SELECT regress.err($$INSERT INTO customer_profile.attached_table (table_oid, source, identity_columns, trait_columns, attached_by)
                     VALUES ('ap_crm.secret', 'x', '{"crm_id": "id"}', '{}', 'regress_ap_admin')$$) AS insert_mapping;
SELECT regress.err($$DELETE FROM customer_profile.attached_table$$) AS delete_mapping;
-- Forgetting the attachment while its trigger is there (only the table's
-- owner may drop it).
SELECT regress.err($$SELECT customer_profile._attached_table_forget('ap_crm.customers')$$) AS forget_with_trigger;
SELECT regress.err($$SELECT customer_profile.profile_detach_table('ap_crm.customers')$$) AS detach_not_owner;
RESET SESSION AUTHORIZATION;

-- Rows flow, without the ssn.
SET SESSION AUTHORIZATION regress_ap_crm;
INSERT INTO ap_crm.customers VALUES (9102, 'ap2@x.com', 'silver', '219-09-9999');
RESET SESSION AUTHORIZATION;
SELECT id, customer_profile.profile_traits(customer_profile.profile_get('crm_id', id::text)) AS traits
  FROM ap_crm.customers ORDER BY id;

-- The owner takes SELECT on tier back: its values no longer flow, and a
-- write that would carry them is refused (the attaching role may not read
-- them any more). Granted again, rows flow.
SET SESSION AUTHORIZATION regress_ap_crm;
REVOKE SELECT (tier) ON ap_crm.customers FROM regress_ap_admin;
SELECT regress.err($$INSERT INTO ap_crm.customers VALUES (9103, 'ap3@x.com', 'bronze', NULL)$$) AS after_revoke;
RESET SESSION AUTHORIZATION;
SELECT customer_profile.identity_lookup('crm_id', '9103') IS NULL AS nothing_flowed;
SET SESSION AUTHORIZATION regress_ap_crm;
GRANT SELECT (tier) ON ap_crm.customers TO regress_ap_admin;
INSERT INTO ap_crm.customers VALUES (9103, 'ap3@x.com', 'bronze', NULL);
RESET SESSION AUTHORIZATION;
SELECT customer_profile.profile_traits(customer_profile.profile_get('crm_id', '9103')) AS after_grant;

-- The owner of the table detaches it (through the admin's function).
GRANT customer_profile_admin TO regress_ap_crm;
SET SESSION AUTHORIZATION regress_ap_crm;
SELECT customer_profile.profile_detach_table('ap_crm.customers', true);
RESET SESSION AUTHORIZATION;
SELECT count(*) AS attachments, (SELECT count(*) FROM pg_trigger WHERE tgrelid = 'ap_crm.customers'::regclass) AS triggers
  FROM customer_profile.attached_table;

-- The attaching role is dropped: the table's rows are refused, not read for
-- nobody (the attachment names its role, so a dump restored where that role
-- is missing keeps it, refusing rows until the role exists).
CREATE ROLE regress_ap_gone IN ROLE customer_profile_admin;
SET SESSION AUTHORIZATION regress_ap_crm;
CREATE TABLE ap_crm.leads (id int PRIMARY KEY, email text);
GRANT USAGE ON SCHEMA ap_crm TO regress_ap_gone;
GRANT TRIGGER, SELECT ON ap_crm.leads TO regress_ap_gone;
RESET SESSION AUTHORIZATION;
SET ROLE regress_ap_gone;
SELECT customer_profile.profile_attach_table('ap_crm.leads', 'leads', '{"crm_id": "id"}') AS backfilled;
RESET ROLE;
SET SESSION AUTHORIZATION regress_ap_crm;
REVOKE ALL ON ap_crm.leads FROM regress_ap_gone;
REVOKE ALL ON SCHEMA ap_crm FROM regress_ap_gone;
RESET SESSION AUTHORIZATION;
DROP ROLE regress_ap_gone;
SET SESSION AUTHORIZATION regress_ap_crm;
SELECT regress.err($$INSERT INTO ap_crm.leads VALUES (9104, 'ap4@x.com')$$) AS after_drop_role;
RESET SESSION AUTHORIZATION;
SELECT customer_profile.profile_detach_table('ap_crm.leads');

-- Settings: the admin reads and changes them but the salt.
SET SESSION AUTHORIZATION regress_ap_admin;
SELECT max_identities_per_profile, default_phone_region FROM customer_profile.settings;
SELECT regress.err($$SELECT salt FROM customer_profile.settings$$) AS salt;
SELECT regress.err($$UPDATE customer_profile.settings SET max_identities_per_profile = 7$$) AS direct_update;
SELECT customer_profile.settings_alter(max_identities_per_profile => 7);
SELECT regress.err($$SELECT customer_profile.settings_alter(default_phone_region => 'XX')$$) AS bad_region;
SELECT regress.err($$SELECT customer_profile.settings_alter(max_identities_per_profile => 0)$$) AS bad_cap;
SELECT max_identities_per_profile, default_phone_region FROM customer_profile.settings;
SELECT customer_profile.settings_alter(500);
RESET SESSION AUTHORIZATION;

DROP SCHEMA ap_crm CASCADE;
DELETE FROM customer_profile.trait_definition WHERE name IN ('ap_tier', 'ap_ssn');
SELECT customer_profile.profiles_wide_refresh();
REVOKE USAGE ON SCHEMA regress FROM regress_ap_admin, regress_ap_crm;
DROP ROLE regress_ap_admin, regress_ap_crm;
