\set n random(1, :profiles)
SELECT p.traits ->> 'tier' FROM plain_identity i JOIN plain_profile p USING (profile_id)
 WHERE i.namespace = 'crm_id' AND i.value = 'c' || :n;
