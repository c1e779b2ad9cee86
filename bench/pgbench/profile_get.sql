\set n random(1, :profiles)
SELECT customer_profile.profile_trait_text(customer_profile.profile_get('crm_id', 'c' || :n), 'tier');
