-- Trait definitions, observations, merge policies, and recomputation on
-- merge, split, removal and redefinition.
\set VERBOSITY terse
DROP EXTENSION customer_profile;
CREATE EXTENSION customer_profile;
SET search_path = public, customer_profile;
CREATE FUNCTION pg_temp.obs(ids text, traits text, src text, at text) RETURNS bigint LANGUAGE sql AS
    $$ SELECT customer_profile.trait_observe(ids::jsonb, traits::jsonb, src, at::timestamptz) $$;
CREATE FUNCTION pg_temp.traits(ns text, v text) RETURNS jsonb LANGUAGE sql AS
    $$ SELECT customer_profile.profile_traits(customer_profile.profile_get(ns, v)) $$;
CREATE FUNCTION pg_temp.counts() RETURNS text LANGUAGE sql AS $$
    SELECT format('identities=%s observations=%s profiles=%s',
                  (SELECT count(*) FROM customer_profile.identity), (SELECT count(*) FROM customer_profile.trait_observation),
                  (SELECT count(*) FROM customer_profile.unified_profile)) $$;

SELECT trait_define('tier', 'text', 'source_priority', ARRAY['crm', 'support', 'web']);
SELECT trait_define('first_channel', 'text', 'earliest');
SELECT trait_define('max_order', 'number', 'max');
SELECT trait_define('min_price', 'number', 'min');
SELECT trait_define('ltv', 'number', 'sum');
SELECT trait_define('interests', 'text[]', 'union');
SELECT trait_define('signed_up', 'timestamp', 'latest');
SELECT name, type, policy, source_order FROM trait_definition ORDER BY name;

-- latest, even out of order: the newest observation wins whatever arrives last.
SELECT pg_temp.obs('{"crm_id": "1"}', '{"city": "Paris"}', 'web', '2026-03-01') IS NOT NULL AS ok;
SELECT pg_temp.obs('{"crm_id": "1"}', '{"city": "Lyon"}', 'crm', '2026-01-01') IS NOT NULL AS ok;   -- older, other source
SELECT pg_temp.obs('{"crm_id": "1"}', '{"city": "Nice"}', 'web', '2025-12-01') IS NOT NULL AS ok;   -- older, same source
SELECT pg_temp.traits('crm_id', '1') ->> 'city' AS city;
SELECT value, source FROM trait_observation WHERE trait = 'city' ORDER BY source;

-- Each policy.
SELECT pg_temp.obs('{"crm_id": "1"}', '{"tier": "gold", "first_channel": "store", "max_order": 120, "min_price": 9.5, "ltv": 100, "interests": ["golf", "wine"]}', 'crm', '2026-02-01') IS NOT NULL AS ok;
SELECT pg_temp.obs('{"crm_id": "1"}', '{"tier": "platinum", "first_channel": "web", "max_order": 80, "min_price": 4.25, "ltv": 20.5, "interests": "tennis"}', 'web', '2026-04-01') IS NOT NULL AS ok;
SELECT pg_temp.obs('{"crm_id": "1"}', '{"first_channel": "email", "signed_up": "2024-05-06T07:08:09Z"}', 'email', '2025-01-01') IS NOT NULL AS ok;
SELECT trait, value, source, policy FROM profile_explain(profile_get('crm_id', '1')) ORDER BY trait;

-- Merging two profiles merges their traits by the same policies.
SELECT pg_temp.obs('{"cookie": "k1"}', '{"tier": "silver", "max_order": 500, "ltv": 7, "interests": ["golf", "surf"], "city": "Oslo"}', 'support', '2026-05-01') IS NOT NULL AS ok;
SELECT pg_temp.traits('cookie', 'k1') AS visitor_before;
SELECT customer_profile.resolve_identity('{"crm_id": "1", "cookie": "k1"}') = customer_profile.identity_lookup('crm_id', '1') AS merged;
SELECT pg_temp.traits('crm_id', '1') AS after_merge;
-- The merged-away id still finds the profile.
SELECT profile_get(m.merged_profile_id) ->> 'max_order' AS via_old_id FROM customer_profile.merges m;

-- A split recomputes each half from its own identities' observations.
SELECT customer_profile.identity_unlink('crm_id', '1', 'cookie', 'k1') AS carved_out;
SELECT pg_temp.traits('crm_id', '1') AS crm_half;
SELECT pg_temp.traits('cookie', 'k1') AS cookie_half;

-- Removing an identifier withdraws its observations.
-- (an observation is carried by the strongest identifier of its call: here the email alone)
SELECT customer_profile.resolve_identity('{"crm_id": "1", "email": "e@x.com"}') IS NOT NULL AS linked;
SELECT pg_temp.obs('{"email": "e@x.com"}', '{"newsletter": true}', 'email', '2026-06-01') IS NOT NULL AS ok;
SELECT pg_temp.traits('crm_id', '1') ? 'newsletter' AS has_newsletter;
SELECT customer_profile.identity_remove('email', 'e@x.com');
SELECT pg_temp.traits('crm_id', '1') ? 'newsletter' AS still_has_newsletter;

-- Redefining a policy recomputes every profile holding the trait.
SELECT trait_define('max_order', 'number', 'min');
SELECT pg_temp.traits('crm_id', '1') -> 'max_order' AS now_min;

-- A rebuild from a scrambled state (everyone in one profile, traits lost)
-- splits the profiles again and recomputes their traits.
SELECT customer_profile.resolve_identity('{"crm_id": "1", "device_id": "d1"}') IS NOT NULL AS ok;
SELECT pg_temp.obs('{"device_id": "d1"}', '{"os": "ios"}', 'app', '2026-07-01') IS NOT NULL AS ok;
CREATE TEMP TABLE before_rebuild AS SELECT profile_traits(data) AS t FROM unified_profile;
UPDATE customer_profile.identity SET profile_id = (SELECT min(profile_id) FROM customer_profile.unified_profile);
DELETE FROM customer_profile.unified_profile WHERE profile_id > (SELECT min(profile_id) FROM customer_profile.unified_profile);
UPDATE customer_profile.unified_profile SET data = '{}';
SELECT components, identities_moved FROM identity_rebuild();
SELECT (SELECT array_agg(t::text ORDER BY t::text) FROM before_rebuild) =
       (SELECT array_agg(profile_traits(data)::text ORDER BY profile_traits(data)::text) FROM unified_profile) AS same_traits;

-- The profiles view carries traits for BI tools.
SELECT is_known, identity_count, traits FROM customer_profile.profiles ORDER BY identity_count DESC, traits::text;
SELECT profile_get('crm_id', 'nobody') IS NULL AS unknown_identifier, profile_get(999999) IS NULL AS unknown_id;

-- Bad input: clear errors, nothing written.
SELECT pg_temp.counts() AS before;
SELECT q, regress.err(q) FROM (VALUES
    ($$SELECT customer_profile.trait_observe('{"crm_id": "1"}', '{"ltv": "a lot"}', 'crm')$$),
    ($$SELECT customer_profile.trait_observe('{"crm_id": "new"}', '{"ltv": 1, "signed_up": "last week"}', 'crm')$$),
    ($$SELECT customer_profile.trait_observe('{"crm_id": "new"}', '{"interests": [1, 2]}', 'crm')$$),
    ($$SELECT customer_profile.trait_observe('{"crm_id": "new"}', '[1]', 'crm')$$),
    ($$SELECT customer_profile.trait_observe('{"crm_id": "new"}', '{}', 'crm')$$),
    ($$SELECT customer_profile.trait_observe('{"crm_id": "new"}', '{"x": {"nested": 1}}', 'crm')$$),
    ($$SELECT customer_profile.trait_observe('{"crm_id": "new"}', jsonb_build_object('note', repeat('x', 70000)), 'crm')$$),
    ($$SELECT customer_profile.trait_observe('{"crm_id": "new"}', jsonb_build_object(repeat('n', 64), 1), 'crm')$$),
    ($$SELECT customer_profile.trait_observe('{"crm_id": "new"}', '{"a": 1}', '')$$),
    ($$SELECT customer_profile.trait_observe('{"crm_id": "new"}', '{"a": 1}', NULL)$$),
    ($$SELECT customer_profile.trait_observe('{"crm_id": "new"}', '{"a": 1}', 'crm', 'infinity')$$),
    ($$SELECT customer_profile.trait_observe('{"nope": "new"}', '{"a": 1}', 'crm')$$),
    ($$SELECT customer_profile.trait_define('x', 'decimal')$$),
    ($$SELECT customer_profile.trait_define('x', 'text', 'average')$$),
    ($$SELECT customer_profile.trait_define('x', 'text', 'sum')$$),
    ($$SELECT customer_profile.trait_define('x', 'boolean', 'max')$$),
    ($$SELECT customer_profile.trait_define('x', 'text', 'source_priority')$$),
    ($$SELECT customer_profile.trait_define('x', 'text', 'latest', ARRAY['crm'])$$),
    ($$SELECT customer_profile.trait_define('city', 'number')$$),
    ($$SELECT customer_profile.trait_define(NULL, 'text')$$)
) AS t(q);
SELECT pg_temp.counts() AS after_bad_input;
SELECT * FROM customer_profile.identity_check() WHERE count <> 0;

-- The wide view: one typed column per declared trait, regenerated by trait_define.
SELECT attname, format_type(atttypid, atttypmod) FROM pg_attribute
 WHERE attrelid = 'customer_profile.profiles_wide'::regclass AND attnum > 0 ORDER BY attnum;
SELECT tier, ltv, max_order, interests, signed_up FROM customer_profile.profiles_wide ORDER BY ltv;
SELECT trait_define('Favourite Colour', 'text');
SELECT count("Favourite Colour") AS quoted_column_works FROM customer_profile.profiles_wide;
SELECT sum(ltv) AS bi_query FROM customer_profile.profiles_wide WHERE tier IN ('gold', 'silver');

-- A shared email does not carry another person's traits: the observation
-- belongs to the call's strongest identifier (crm_id 2), kept in its own profile.
SELECT pg_temp.obs('{"crm_id": "2", "email": "shared@x.com"}', '{"tier": "gold"}', 'crm', '2026-08-01') IS NOT NULL AS ok;
SELECT pg_temp.obs('{"crm_id": "3", "email": "shared@x.com"}', '{"tier": "bronze"}', 'crm', '2026-08-02') AS answered \gset
SELECT :answered = customer_profile.identity_lookup('crm_id', '3') AS answered_with_crm_3;
SELECT pg_temp.traits('crm_id', '2') ->> 'tier' AS crm_2_tier, pg_temp.traits('crm_id', '3') ->> 'tier' AS crm_3_tier;
