-- Custom namespaces, their rules, and validation errors.
\set VERBOSITY terse
DROP EXTENSION customer_profile;
CREATE EXTENSION customer_profile;
SELECT name, normalizer, is_known, priority, max_per_profile, keep_raw FROM customer_profile.namespace ORDER BY priority DESC;
SELECT customer_profile.identity_namespace_create('loyalty_card', normalizer => 'lowercase', is_known => true,
                                                  priority => 90, max_per_profile => 2, keep_raw => true,
                                                  blocked_patterns => ARRAY['^test-']) > 5 AS created;
-- Usable at once in this session (the cache was invalidated by the insert).
SELECT customer_profile.resolve_identity('{"loyalty_card": "LC-1", "crm_id": "9"}') IS NOT NULL AS resolved;
SELECT namespace, value FROM customer_profile.identities ORDER BY namespace;
SELECT customer_profile.resolve_identity('{"loyalty_card": "test-card"}') AS blocked_by_pattern;

SELECT q, regress.err(q) FROM (VALUES
    ($$SELECT customer_profile.identity_namespace_create('loyalty_card')$$),
    ($$SELECT customer_profile.identity_namespace_create('Bad Name')$$),
    ($$SELECT customer_profile.identity_namespace_create(NULL)$$),
    ($$SELECT customer_profile.identity_namespace_create('x1', normalizer => 'soundex')$$),
    ($$SELECT customer_profile.identity_namespace_create('x2', max_per_profile => 0)$$),
    ($$SELECT customer_profile.identity_namespace_create('x3', blocked_patterns => ARRAY['(unclosed'])$$),
    ($$SELECT customer_profile.identity_namespace_create('x4', blocked_patterns => ARRAY['(a)\1'])$$),
    ($$SELECT customer_profile.identity_namespace_create('x5', blocked_patterns => ARRAY['^ok', NULL])$$),
    ($$SELECT customer_profile.identity_namespace_alter('nope', priority => 1)$$),
    ($$SELECT customer_profile.identity_namespace_alter('email', max_per_profile => -1)$$)
) AS t(q);
SELECT count(*) AS namespaces FROM customer_profile.namespace;

-- Changing a rule takes effect immediately.
SELECT customer_profile.identity_namespace_alter('loyalty_card', blocked_values => ARRAY['lc-2']);
SELECT customer_profile.resolve_identity('{"loyalty_card": "LC-2"}') AS now_blocked;

-- A namespace in use cannot be deleted; an unused one can.
SELECT regress.err($$DELETE FROM customer_profile.namespace WHERE name = 'loyalty_card'$$);
SELECT customer_profile.identity_namespace_create('unused_ns') > 0 AS created;
DELETE FROM customer_profile.namespace WHERE name = 'unused_ns';
SELECT count(*) AS namespaces FROM customer_profile.namespace;
