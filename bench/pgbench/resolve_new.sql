\set n random(1, 100000000)
SELECT customer_profile.resolve_identity(jsonb_build_object('email', 'u' || :n || '@example.org', 'cookie', 'c-' || :n), 'bench');
