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
\echo '== every CRM row resolved (crm_id, email, phone)'
SELECT id, customer_profile.resolve_identity(
           jsonb_strip_nulls(jsonb_build_object('crm_id', id::text, 'email', email, 'phone', mobile)), 'crm') AS profile_id
  FROM public.crm_customers ORDER BY id;
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
\echo '== stitched profiles'
SELECT p.profile_id, p.is_known, p.identity_count,
       string_agg(i.namespace || '=' || coalesce(i.value, left(i.value_hash, 8) || '…'), ', ' ORDER BY i.namespace) AS identifiers
  FROM customer_profile.profiles p JOIN customer_profile.identities i USING (profile_id)
 GROUP BY 1, 2, 3 ORDER BY 1;
\echo '== why is cookie ck-a1 the same person as crm_id 1001?'
SELECT jsonb_pretty(customer_profile.identity_explain('crm_id', '1001', 'cookie', 'ck-a1') - 'path');
SELECT s->>'step' AS step, s->'from'->>'namespace' AS from_ns, s->'to'->>'namespace' AS to_ns, s->>'source' AS source
  FROM jsonb_array_elements(customer_profile.identity_explain('crm_id', '1001', 'cookie', 'ck-a1')->'path') s;
\echo '== merges (downstream systems remap these ids)'
SELECT merged_profile_id, into_profile_id, current_profile_id, cause, source FROM customer_profile.merges;
\echo '== guard rails at work (the family email stays with one Ruiz; placeholders are refused)'
SELECT * FROM customer_profile.identity_guard_stats ORDER BY rule, namespace;
\echo '== graph consistency'
SELECT * FROM customer_profile.identity_check();
SQL
echo "== demo finished; the cluster is stopped and removed"
