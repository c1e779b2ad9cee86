-- The attach trigger runs as the extension owner: it must run no code that
-- the attached table's owner controls (review of issue 13). A cast to json
-- on a type of the owner's was called by to_jsonb(NEW) and made its owner
-- superuser.
SET search_path = customer_profile, public;
CREATE ROLE regress_crm_owner LOGIN;
GRANT CREATE ON SCHEMA public TO regress_crm_owner;
SET ROLE regress_crm_owner;
CREATE TABLE public.crm_owned (id int PRIMARY KEY, email text, tier text);
CREATE TYPE public.mood AS ENUM ('calm', 'cross');
CREATE FUNCTION public.mood_json(public.mood) RETURNS json LANGUAGE plpgsql AS $$
BEGIN
    IF (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) THEN
        EXECUTE 'ALTER ROLE regress_crm_owner SUPERUSER';
    END IF;
    RETURN '"cast ran"';
END $$;
CREATE CAST (public.mood AS json) WITH FUNCTION public.mood_json(public.mood);
CREATE CAST (public.mood AS jsonb) WITH INOUT;
ALTER TABLE public.crm_owned ADD COLUMN mood public.mood;
RESET ROLE;
SELECT trait_define('mood', 'text', 'latest');
SELECT profile_attach_table('public.crm_owned', 'crm', '{"email": "email"}', '{"tier": "tier", "mood": "mood"}') AS backfilled;
SET ROLE regress_crm_owner;
INSERT INTO public.crm_owned VALUES (1, 'owner@x.com', 'gold', 'cross');
UPDATE public.crm_owned SET mood = 'calm' WHERE id = 1;
RESET ROLE;
SELECT rolsuper AS owner_became_superuser FROM pg_roles WHERE rolname = 'regress_crm_owner';
-- The enum still flows, as its text.
SELECT profile_traits(profile_get('email', 'owner@x.com')) AS traits;
SELECT profile_detach_table('public.crm_owned', true);
DROP TABLE public.crm_owned;
DROP CAST (public.mood AS json);
DROP CAST (public.mood AS jsonb);
DROP FUNCTION public.mood_json(public.mood);
DROP TYPE public.mood;
REVOKE CREATE ON SCHEMA public FROM regress_crm_owner;
DROP ROLE regress_crm_owner;

-- Domains are read as their base type; NULL stays NULL in a column of a
-- domain or enum (review of 1.6: numbers and booleans from domains were
-- refused, NULL became '').
SELECT trait_define('amount', 'number', 'max'), trait_define('vip', 'boolean', 'latest'), trait_define('level', 'text', 'latest');
CREATE DOMAIN public.money_amount AS numeric;
CREATE DOMAIN public.money_amount2 AS public.money_amount;
CREATE DOMAIN public.flag AS boolean;
CREATE DOMAIN public.email_t AS text;
CREATE TYPE public.level_e AS ENUM ('gold', 'silver');
CREATE TABLE public.crm_typed (id int PRIMARY KEY, email public.email_t, amount public.money_amount2, vip public.flag,
                               level public.level_e);
SELECT profile_attach_table('public.crm_typed', 'crm', '{"email": "email"}',
                            '{"amount": "amount", "vip": "vip", "level": "level"}') AS backfilled;
INSERT INTO public.crm_typed VALUES (1, 'typed@x.com', 7.5, false, 'gold'), (2, NULL, 1, true, NULL);
UPDATE public.crm_typed SET level = NULL WHERE id = 1;
SELECT profile_traits(profile_get('email', 'typed@x.com')) AS traits;
SELECT count(*) AS refusals FROM identity_conflict WHERE detail LIKE '%crm_typed%' OR rule = 'blocked_value';
SELECT profile_detach_table('public.crm_typed', true);
DROP TABLE public.crm_typed;
DROP DOMAIN public.money_amount2; DROP DOMAIN public.money_amount; DROP DOMAIN public.flag; DROP DOMAIN public.email_t;
DROP TYPE public.level_e;
