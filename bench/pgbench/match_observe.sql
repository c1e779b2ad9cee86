-- One new person record observed (bench/matching.sh): real-time matching in trait_observe.
WITH k AS (SELECT nextval('new_seq') AS n)
SELECT customer_profile.trait_observe(jsonb_build_object(s.ns, s.record_id), s.traits, s.source)
  FROM new_records s JOIN k ON s.n = k.n;
