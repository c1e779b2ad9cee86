-- Attaching an existing CRM table: backfill, triggers for INSERT/UPDATE/DELETE
-- in the same transaction, safe quoting, detach.
\set VERBOSITY terse
DROP EXTENSION customer_profile;
CREATE EXTENSION customer_profile;
SET search_path = public, customer_profile;
CREATE FUNCTION pg_temp.traits_of(crm int) RETURNS jsonb LANGUAGE sql AS
    $$ SELECT customer_profile.profile_traits(customer_profile.profile_get('crm_id', crm::text)) $$;

-- A table name and columns with spaces and capitals.
CREATE TABLE public."CRM Customers" ("Customer ID" int PRIMARY KEY, "E-mail" text, mobile text,
                                     "Loyalty Tier" text, city text, spend numeric);
INSERT INTO public."CRM Customers" VALUES
    (1, 'Ann@X.com', '(202) 456-1111', 'gold', 'Lyon', 120.5),
    (2, 'bob@y.org', NULL, 'silver', NULL, 0),
    (3, '', NULL, NULL, 'Oslo', NULL);   -- an empty email is a blocked placeholder, not an error
SELECT trait_define('spend', 'number', 'sum');

SELECT profile_attach_table('public."CRM Customers"', 'crm',
                            '{"crm_id": "Customer ID", "email": "E-mail", "phone": "mobile"}',
                            '{"tier": "Loyalty Tier", "city": "city", "spend": "spend"}', 2) AS backfilled;
SELECT "Customer ID", pg_temp.traits_of("Customer ID") FROM public."CRM Customers" ORDER BY 1;
SELECT customer_profile.identity_lookup('email', 'ann@x.com') = customer_profile.identity_lookup('crm_id', '1') AS email_linked,
       customer_profile.identity_lookup('phone', '+12024561111') = customer_profile.identity_lookup('crm_id', '1') AS phone_linked;

-- INSERT flows in, in the same transaction (a rollback undoes both).
BEGIN;
INSERT INTO public."CRM Customers" VALUES (4, 'dee@z.net', NULL, 'bronze', 'Rome', 10);
SELECT pg_temp.traits_of(4) AS inside;
ROLLBACK;
SELECT customer_profile.identity_lookup('crm_id', '4') IS NULL AS rolled_back;
INSERT INTO public."CRM Customers" VALUES (4, 'dee@z.net', NULL, 'bronze', 'Rome', 10);
SELECT pg_temp.traits_of(4) AS after_insert;

-- UPDATE of a trait column; UPDATE of an identity column moves the observations.
UPDATE public."CRM Customers" SET "Loyalty Tier" = 'platinum', spend = 200 WHERE "Customer ID" = 1;
SELECT pg_temp.traits_of(1) AS after_update;
UPDATE public."CRM Customers" SET "E-mail" = 'bob@new.org' WHERE "Customer ID" = 2;
SELECT customer_profile.identity_lookup('email', 'bob@new.org') = customer_profile.identity_lookup('crm_id', '2') AS new_email_linked,
       pg_temp.traits_of(2) AS traits_kept;

-- DELETE withdraws the row's observations (the identities stay, as history).
DELETE FROM public."CRM Customers" WHERE "Customer ID" = 4;
SELECT pg_temp.traits_of(4) AS after_delete, customer_profile.identity_lookup('crm_id', '4') IS NOT NULL AS identity_kept;
SELECT count(*) AS observations_left_for_4 FROM trait_observation o JOIN identity i USING (identity_id)
 WHERE i.profile_id = customer_profile.identity_lookup('crm_id', '4');

-- Errors.
CREATE TABLE public.t2 (id int, "Name" text);
SELECT q, regress.err(q) FROM (VALUES
    ($$SELECT customer_profile.profile_attach_table('public."CRM Customers"', 'crm', '{"crm_id": "Customer ID"}')$$),
    ($$SELECT customer_profile.profile_attach_table('public.nope', 'crm', '{"crm_id": "id"}')$$),
    ($$SELECT customer_profile.profile_attach_table('public.t2', 'crm', '{"crm_id": "ID"}')$$),
    ($$SELECT customer_profile.profile_attach_table('public.t2', 'crm', '{"loyalty": "id"}')$$),
    ($$SELECT customer_profile.profile_attach_table('public.t2', 'crm', '{}')$$),
    ($$SELECT customer_profile.profile_attach_table('public.t2', 'crm', '{"crm_id": 1}')$$),
    ($$SELECT customer_profile.profile_attach_table('public.t2', 'crm', '{"crm_id": "id"}', '[]')$$),
    ($$SELECT customer_profile.profile_attach_table('public.t2', '', '{"crm_id": "id"}')$$),
    ($$SELECT customer_profile.profile_attach_table(NULL, 'crm', '{"crm_id": "id"}')$$),
    ($$SELECT customer_profile.profile_attach_table('public.t2', 'crm', NULL)$$),
    ($$SELECT customer_profile.profile_detach_table('public.t2')$$)
) AS t(q);
SELECT count(*) AS attached FROM customer_profile.attached_table;

-- Detach: the trigger goes, later rows no longer flow in.
SELECT profile_detach_table('public."CRM Customers"');
INSERT INTO public."CRM Customers" VALUES (5, 'eve@x.com', NULL, 'gold', NULL, 1);
SELECT customer_profile.identity_lookup('crm_id', '5') IS NULL AS not_flowing;
SELECT count(*) AS triggers FROM pg_trigger WHERE tgrelid = 'public."CRM Customers"'::regclass AND NOT tgisinternal;
SELECT * FROM customer_profile.identity_check() WHERE count <> 0;
DROP TABLE public."CRM Customers", public.t2;
