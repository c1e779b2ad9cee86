\set n random(1, 20000)
INSERT INTO plain_identity (namespace, value) VALUES ('email', 'u' || :n || '@example.org'), ('cookie', 'c-' || :n) ON CONFLICT DO NOTHING;
