-- A new visitor's first probe event: enters the "probers" segment, so its
-- NOTIFY can be timed against the moment the event was written.
INSERT INTO customer_profile.event_inbox (identities, event_type, occurred_at, properties, event_id)
VALUES (jsonb_build_object('cookie', 'probe-' || :client_id || '-' || random()), 'probe',
        to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'), '{}',
        'probe-' || :client_id || '-' || random());
