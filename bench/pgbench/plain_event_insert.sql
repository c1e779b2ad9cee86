\set p random(1, :people)
INSERT INTO raw_event (event_id, identities, event_type, occurred_at, properties)
VALUES ('x-' || :client_id || '-' || random(), jsonb_build_object('email', 'p' || :p || '@example.org'), 'page_view', clock_timestamp(), '{"path": "/pricing"}');
