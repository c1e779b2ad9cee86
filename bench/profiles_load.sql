-- 1M profiles x 10 traits from 3 sources, loaded set-wise (the trait_observe
-- path is measured separately); and the same data as a plain identity table
-- joined to a jsonb table, the way a user would otherwise model it.
\set ON_ERROR_STOP on
CREATE EXTENSION customer_profile;
INSERT INTO customer_profile.unified_profile (profile_id, data)
SELECT g, format('{"traits": {%s}}', string_agg(format('"t%s": {"value": %s, "source": "%s", "observed_at": "2026-01-%sT00:00:00Z"}',
                   k, CASE WHEN k % 2 = 0 THEN to_json(g * k)::text ELSE to_json('v' || (g * k) % 97)::text END,
                   (ARRAY['crm', 'web', 'support'])[1 + k % 3], lpad((1 + k)::text, 2, '0')), ', ')
                   || ', "tier": {"value": "gold", "source": "crm", "observed_at": "2026-01-01T00:00:00Z"}')::customer_profile.profile
  FROM generate_series(1, :profiles) g, generate_series(1, 9) k
 GROUP BY g;
INSERT INTO customer_profile.identity (identity_id, namespace_id, value_hash, raw_value, profile_id)
SELECT g, (SELECT namespace_id FROM customer_profile.namespace WHERE name = 'crm_id'),
       customer_profile.identity_hash('crm_id', 'c' || g), 'c' || g, g
  FROM generate_series(1, :profiles) g;
SELECT setval('customer_profile.identity_identity_id_seq', :profiles);
SELECT setval('customer_profile.unified_profile_profile_id_seq', :profiles);
CREATE TABLE plain_identity (namespace text, value text, profile_id bigint NOT NULL, PRIMARY KEY (namespace, value));
CREATE TABLE plain_profile (profile_id bigint PRIMARY KEY, traits jsonb NOT NULL);
INSERT INTO plain_identity SELECT 'crm_id', 'c' || g, g FROM generate_series(1, :profiles) g;
INSERT INTO plain_profile SELECT profile_id, customer_profile.profile_traits(data) FROM customer_profile.unified_profile;
VACUUM ANALYZE;
