\set n random(1, :profiles)
INSERT INTO plain_profile (profile_id, traits) VALUES (:n, jsonb_build_object('tier', 'gold', 'visits', :n))
ON CONFLICT (profile_id) DO UPDATE SET traits = plain_profile.traits || EXCLUDED.traits;
