\set n random(1, :profiles)
SELECT customer_profile.trait_observe(jsonb_build_object('crm_id', 'c' || :n), jsonb_build_object('tier', 'gold', 'visits', :n), 'web');
