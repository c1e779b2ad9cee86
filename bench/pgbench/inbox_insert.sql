\set p random(1, :people)
INSERT INTO customer_profile.event_inbox (identities, event_type, occurred_at, properties, event_id)
VALUES (jsonb_build_object('email', 'p' || :p || '@example.org'), 'page_view',
        to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'), '{"path": "/"}',
        'lat-' || :client_id || '-' || random());
