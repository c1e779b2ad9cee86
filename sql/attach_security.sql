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
