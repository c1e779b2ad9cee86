#!/usr/bin/env bash
# The demo: builds and installs the extension, starts a throwaway cluster,
# loads sample CRM rows and web/app/store events, and prints the stitched
# profiles. Run it with `make demo`.
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
ensure_packages
cd "$PROJECT_ROOT"
echo "== building and installing"
build_and_install
start_cluster
DEMO_OUT=${DEMO_OUT:-$PROJECT_ROOT/demo_out}
mkdir -p "$DEMO_OUT"
psql -q -v ON_ERROR_STOP=1 <<'SQL'
CREATE EXTENSION customer_profile;
\echo '== a CRM table, as a company already has it'
CREATE TABLE public.crm_customers (id int PRIMARY KEY, name text, email text, mobile text);
INSERT INTO public.crm_customers VALUES
    (1001, 'Ann Lee',   'Ann.Lee@Example.com', '(202) 456-1111'),
    (1002, 'Bob Stone', 'bob@stone.org',       NULL),
    (1003, 'Cleo Park', 'cleo@park.io',        '+44 20 7946 0958'),
    (1004, 'Dan Ruiz',  'family@ruiz.net',     NULL),
    (1005, 'Eva Ruiz',  'family@ruiz.net',     NULL);   -- a shared family email
ALTER TABLE public.crm_customers ADD COLUMN loyalty_tier text, ADD COLUMN city text;
UPDATE public.crm_customers SET loyalty_tier = (ARRAY['gold', 'silver', 'bronze', 'gold', 'silver'])[id - 1000],
                                city = (ARRAY['Lyon', 'Boston', 'London', 'Madrid', 'Madrid'])[id - 1000];
\echo '== trait policies: the CRM decides the tier; lifetime value adds up across systems'
SELECT customer_profile.trait_define('tier', 'text', 'source_priority', ARRAY['crm', 'support', 'web']);
SELECT customer_profile.trait_define('ltv', 'number', 'sum');
SELECT customer_profile.trait_define('interests', 'text[]', 'union');
\echo '== the CRM table is attached: its rows are backfilled, and later changes flow in by trigger'
SELECT customer_profile.profile_attach_table('public.crm_customers', 'crm',
         '{"crm_id": "id", "email": "email", "phone": "mobile"}', '{"tier": "loyalty_tier", "city": "city"}');
INSERT INTO public.crm_customers VALUES (1006, 'Fay Wu', 'fay@wu.cn', NULL, 'silver', 'Taipei');
UPDATE public.crm_customers SET loyalty_tier = 'platinum' WHERE id = 1002;
\echo '== web, app and store traffic: anonymous at first, then tied by logins'
CREATE TEMP TABLE traffic (seq int, identities jsonb, source text);
INSERT INTO traffic VALUES
    (1, '{"cookie": "ck-a1"}', 'web'),
    (2, '{"cookie": "ck-a1", "email": "ANN.LEE@example.com"}', 'web'),          -- Ann logs in on the web
    (3, '{"device_id": "IOS-7F3A", "phone": "202-456-1111"}', 'app'),           -- Ann's phone app
    (4, '{"cookie": "ck-b7"}', 'web'),
    (5, '{"cookie": "ck-b7", "device_id": "android-55"}', 'app'),
    (6, '{"device_id": "android-55", "email": "bob@stone.org"}', 'app'),        -- Bob, via his device
    (7, '{"device_id": "00000000-0000-0000-0000-000000000000", "cookie": "ck-z"}', 'app'),  -- zeroed ad id
    (8, '{"crm_id": "1005", "cookie": "ck-eva"}', 'store'),
    (9, '{"cookie": "ck-c3", "email": "null"}', 'web');                        -- a placeholder email
SELECT seq, source, customer_profile.resolve_identity(identities, source) AS profile_id FROM traffic ORDER BY seq;
\echo '== traits observed by other systems (a web visit, an e-shop, the support desk)'
SELECT customer_profile.trait_observe('{"cookie": "ck-a1"}', '{"tier": "silver", "interests": ["running"], "ltv": 40}', 'web');
SELECT customer_profile.trait_observe('{"email": "ann.lee@example.com"}', '{"ltv": 125.5, "interests": "yoga"}', 'shop');
SELECT customer_profile.trait_observe('{"device_id": "android-55"}', '{"city": "Cambridge", "ltv": 12}', 'support');
\echo '== stitched profiles'
SELECT p.profile_id, p.is_known,
       string_agg(i.namespace || '=' || coalesce(i.value, left(i.value_hash, 8) || '…'), ', ' ORDER BY i.namespace) AS identifiers
  FROM customer_profile.profiles p JOIN customer_profile.identities i USING (profile_id)
 GROUP BY 1, 2 ORDER BY 1;
\echo '== merged traits, one typed column per declared trait (profiles_wide) plus the rest as jsonb'
SELECT w.profile_id, w.tier, w.ltv, w.interests, p.traits ->> 'city' AS city
  FROM customer_profile.profiles_wide w JOIN customer_profile.profiles p USING (profile_id)
 WHERE p.traits <> '{}' ORDER BY w.profile_id;
\echo '== where did Ann''s values come from?'
SELECT trait, value, source, policy FROM customer_profile.profile_explain(customer_profile.profile_get('crm_id', '1001'));
\echo '== why is cookie ck-a1 the same person as crm_id 1001?'
SELECT jsonb_pretty(customer_profile.identity_explain('crm_id', '1001', 'cookie', 'ck-a1') - 'path');
SELECT s->>'step' AS step, s->'from'->>'namespace' AS from_ns, s->'to'->>'namespace' AS to_ns, s->>'source' AS source
  FROM jsonb_array_elements(customer_profile.identity_explain('crm_id', '1001', 'cookie', 'ck-a1')->'path') s;
\echo '== merges (downstream systems remap these ids)'
SELECT merged_profile_id, into_profile_id, current_profile_id, cause, source FROM customer_profile.merges;
\echo '== guard rails at work (the family email stays with one Ruiz; placeholders are refused)'
SELECT * FROM customer_profile.identity_guard_stats ORDER BY rule, namespace;
\echo '== behavior: a purchase tracked synchronously, web events queued in the inbox and applied by a worker'
SELECT customer_profile.event_measure_define('purchase', 'revenue');
SELECT customer_profile.track('{"crm_id": "1001"}', 'purchase', now() - interval '12 days', '{"revenue": 89.90}', 'order-77');
SELECT customer_profile.track('{"crm_id": "1001"}', 'purchase', now() - interval '12 days', '{"revenue": 89.90}', 'order-77') AS redelivered_same_profile;
INSERT INTO customer_profile.event_inbox (identities, event_type, occurred_at, properties, event_id)
SELECT '{"cookie": "ck-a1"}'::jsonb, 'page_view', to_char((now() - g * interval '1 day') AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SSOF'), jsonb_build_object('path', '/shoes/' || g), 'pv-' || g
  FROM generate_series(1, 5) g
UNION ALL SELECT '{"cookie": "ck-b7"}'::jsonb, 'purchase', 'last week', '{"revenue": 10}'::jsonb, 'bad-time';
SELECT customer_profile.worker_start() > 0 AS worker_started;
SELECT pg_sleep(1.5);
SELECT state, events_applied, dead_lettered FROM customer_profile.worker_status;
SELECT event_id, sqlstate, reason FROM customer_profile.event_dead_letter;
SELECT event_type, event_count, totals, active_days FROM customer_profile.profile_behavior(customer_profile.identity_lookup('crm_id', '1001'));
SELECT customer_profile.event_count(p, 'page_view', '3 days') AS page_views_3d,
       customer_profile.event_sum(p, 'purchase', 'revenue', '30 days') AS revenue_30d
  FROM customer_profile.identity_lookup('crm_id', '1001') p;
SELECT customer_profile.worker_stop() AS workers_stopped;
\echo '== segments: audiences written as predicates, evaluated on traits and behavior'
SELECT customer_profile.segment_create('big_spenders', 'ltv > 100 AND known', 'Known customers worth more than 100');
SELECT customer_profile.segment_create('recent_browsers', 'count(page_view within 7 days) >= 3');
SELECT customer_profile.segment_create('hot_leads', 'in_segment(''recent_browsers'') AND NOT in_segment(''big_spenders'')');
SELECT name, predicate FROM customer_profile.segments ORDER BY name;
SELECT s.name, r.entered, r.exited FROM customer_profile.segments s, customer_profile.segment_refresh(s.name) r ORDER BY s.name;
SELECT array_agg(s ORDER BY s) AS ann_is_in FROM customer_profile.profile_segment(customer_profile.identity_lookup('crm_id', '1001')) s;
SELECT segment, profile_id, change FROM customer_profile.segment_outbox_read('demo_mailer') ORDER BY outbox_position;
SELECT equivalent_sql FROM customer_profile.segment_explain('hot_leads');
\echo '== probabilistic matching: the CRM''s "Jon Smyth" and the support desk''s "John Smith" are one person'
SELECT customer_profile.identity_namespace_create('support_id', is_known => true) > 0 AS support_namespace;
SELECT customer_profile.match_rule_create('people', ARRAY['crm_id', 'support_id'],
  '[{"trait": "first_name", "levels": [{"exact": true}, {"jaro_winkler": 0.88}, {"soundex": true}], "m": [0.7, 0.2, 0.05, 0.05], "u": [0.01, 0.02, 0.03, 0.94]},
    {"trait": "last_name", "levels": [{"exact": true}, {"jaro_winkler": 0.88}, {"soundex": true}], "m": [0.7, 0.2, 0.05, 0.05], "u": [0.005, 0.01, 0.02, 0.965]},
    {"trait": "street", "levels": [{"exact": true}, {"token_set": 0.6}], "m": [0.6, 0.3, 0.1], "u": [0.001, 0.01, 0.989]},
    {"trait": "dob", "levels": [{"exact": true}, {"date_swapped": true}], "m": [0.8, 0.15, 0.05], "u": [0.001, 0.001, 0.998]}]',
  '[["soundex(last_name)"], ["dob"]]') > 0 AS rule;
SELECT customer_profile.trait_observe('{"crm_id": "2001"}', '{"first_name": "Jon", "last_name": "Smyth", "street": "12 Pinkerton Cct", "dob": "1983-04-01"}', 'crm') AS crm_profile;
SELECT customer_profile.trait_observe('{"support_id": "T-88", "email": "j.smith@example.com"}', '{"first_name": "John", "last_name": "Smith", "street": "12 Pinkerton Circuit", "dob": "1983-01-04"}', 'support') AS support_profile;
SELECT field, value_a, value_b, comparison, round(weight::numeric, 2) AS weight, round(probability::numeric, 5) AS probability
  FROM customer_profile.match_explain('people', 'crm_id', '2001', 'support_id', 'T-88');
\echo '== graph consistency'
SELECT * FROM customer_profile.identity_check();
SQL
# The matched person's identity graph as Graphviz DOT, drawn when Graphviz is installed.
psql -q -X -At -c "SELECT customer_profile.profile_graph(customer_profile.identity_lookup('crm_id', '2001'))" >"$DEMO_OUT/profile_graph.dot"
if command -v dot >/dev/null 2>&1; then
    dot -Tsvg "$DEMO_OUT/profile_graph.dot" -o "$DEMO_OUT/profile_graph.svg"
    echo "== the identity graph of crm_id 2001: $DEMO_OUT/profile_graph.svg (DOT: $DEMO_OUT/profile_graph.dot)"
else
    echo "== the identity graph of crm_id 2001 as DOT (install graphviz to draw it): $DEMO_OUT/profile_graph.dot"
fi
echo "== demo finished; the cluster is stopped and removed"
