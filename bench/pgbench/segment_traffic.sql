\set p random(1, :people)
INSERT INTO customer_profile.event_inbox (identities, event_type, occurred_at, properties, event_id)
VALUES (jsonb_build_object('crm_id', 'c' || :p), 'page_view',
        to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'), '{"path": "/"}',
        'traffic-' || :client_id || '-' || random());
