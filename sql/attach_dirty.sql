-- Dirty CRM rows (issue 13, defect 15): a malformed identifier in an attached
-- table never fails the host's write or the backfill. It is refused and
-- recorded in identity_conflict (rule invalid_identifier, with its reason);
-- the row's other identifiers and traits still flow. Direct calls still raise.
\set VERBOSITY terse
DROP EXTENSION customer_profile;
CREATE EXTENSION customer_profile;
SET search_path = public, customer_profile;
CREATE FUNCTION pg_temp.traits_of(crm int) RETURNS jsonb LANGUAGE sql AS
    $$ SELECT customer_profile.profile_traits(customer_profile.profile_get('crm_id', crm::text)) $$;
CREATE FUNCTION pg_temp.refusals() RETURNS TABLE (rule text, namespace text, crm_id text, detail text, source text)
    LANGUAGE sql AS $$
    SELECT c.rule, n.name,
           (SELECT string_agg(i.raw_value, ',') FROM customer_profile.identity i JOIN customer_profile.namespace m
                USING (namespace_id) WHERE m.name = 'crm_id' AND i.profile_id = c.kept_profile_id),
           c.detail, c.source
      FROM customer_profile.identity_conflict c LEFT JOIN customer_profile.namespace n USING (namespace_id)
     ORDER BY c.conflict_id $$;

-- The backfill meets dirty rows: none of them stops it.
CREATE TABLE public.crm (id int PRIMARY KEY, email text, phone text, tier text);
INSERT INTO public.crm VALUES
    (1, 'ann@x.com', NULL, 'gold'),
    (2, 'john..smith@example.com', '+1 202 456 1111', 'silver'),
    (3, 'no-at-sign.example.com', '12', 'bronze'),
    (4, '', NULL, 'gold');                       -- a blocked placeholder, as before
SELECT profile_attach_table('public.crm', 'crm', '{"crm_id": "id", "email": "email", "phone": "phone"}',
                            '{"tier": "tier"}') AS backfilled;
SELECT id, pg_temp.traits_of(id) FROM public.crm ORDER BY id;
SELECT customer_profile.identity_lookup('phone', '+12024561111') = customer_profile.identity_lookup('crm_id', '2')
       AS phone_still_linked;
SELECT * FROM pg_temp.refusals();

-- The trigger path: the company's own write succeeds.
INSERT INTO public.crm VALUES (5, 'john..smith@example.com', NULL, 'platinum');
SELECT count(*) AS crm_rows FROM public.crm;
SELECT pg_temp.traits_of(5) AS dirty_row_traits;
SELECT * FROM pg_temp.refusals() WHERE crm_id = '5';
-- UPDATE and DELETE of a dirty row work too; fixing the email links it.
UPDATE public.crm SET tier = 'diamond' WHERE id = 2;
SELECT pg_temp.traits_of(2) AS updated;
UPDATE public.crm SET email = 'john.smith@example.com' WHERE id = 2;
SELECT customer_profile.identity_lookup('email', 'john.smith@example.com') = customer_profile.identity_lookup('crm_id', '2')
       AS fixed_email_linked, pg_temp.traits_of(2) AS traits_kept;
DELETE FROM public.crm WHERE id = 3;
SELECT pg_temp.traits_of(3) AS after_delete;

-- A row whose every identifier is malformed ties to no one: refused, the write succeeds.
CREATE TABLE public.leads (email text, phone text, tier text);
SELECT profile_attach_table('public.leads', 'web_form', '{"email": "email", "phone": "phone"}', '{"tier": "tier"}');
INSERT INTO public.leads VALUES ('a@@b.com', 'call me', 'gold');
SELECT count(*) AS lead_rows FROM public.leads;
SELECT rule, namespace, crm_id, detail, source FROM pg_temp.refusals() WHERE source = 'web_form';

-- A trait value that does not fit its definition is left out the same way;
-- the row's other traits still flow.
SELECT trait_define('signed_up', 'timestamp');
CREATE TABLE public.signups (id int, signed_up text, tier text);
INSERT INTO public.signups VALUES (20, '2025-12-24T18:00:00Z', 'gold'), (21, 'yesterday', 'silver');
SELECT profile_attach_table('public.signups', 'signup_form', '{"crm_id": "id"}',
                            '{"signed_up": "signed_up", "tier": "tier"}') AS backfilled;
INSERT INTO public.signups VALUES (22, 'soon', NULL);
SELECT id, pg_temp.traits_of(id) FROM public.signups ORDER BY id;
SELECT rule, namespace, crm_id, detail FROM pg_temp.refusals() WHERE source = 'signup_form';
SELECT rule, namespace, refusals FROM customer_profile.identity_guard_stats ORDER BY 1, 2;

-- The direct calls are the caller's own input: they still raise.
SELECT q, regress.err(q) FROM (VALUES
    ($$SELECT customer_profile.resolve_identity('{"email": "john..smith@example.com"}')$$),
    ($$SELECT customer_profile.trait_observe('{"crm_id": "9", "email": "john..smith@example.com"}', '{"tier": "x"}', 'crm')$$),
    ($$SELECT customer_profile.track('{"email": "john..smith@example.com"}', 'visit', now())$$)
) AS t(q);

-- Erasure takes the person's refusals along.
SELECT customer_profile.identity_lookup('crm_id', '5') AS p5 \gset
SELECT count(*) AS refusals_of_5 FROM customer_profile.identity_conflict WHERE kept_profile_id = :p5;
SELECT profile_forget('crm_id', '5') > 0 AS forgotten;
SELECT count(*) AS refusals_of_5 FROM customer_profile.identity_conflict WHERE kept_profile_id = :p5;
SELECT count(*) AS refusals_left FROM customer_profile.identity_conflict WHERE rule = 'invalid_identifier';

SELECT profile_detach_table('public.crm', withdraw_observations => true);
SELECT profile_detach_table('public.leads', withdraw_observations => true);
SELECT profile_detach_table('public.signups', withdraw_observations => true);
SELECT * FROM customer_profile.identity_check() WHERE count <> 0;
DROP TABLE public.crm, public.leads, public.signups;
