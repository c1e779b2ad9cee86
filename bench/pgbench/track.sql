\set p random(1, :people)
SELECT customer_profile.track(jsonb_build_object('email', 'p' || :p || '@example.org'), 'page_view', clock_timestamp(), '{"path": "/pricing"}');
