-- Every value a profile can hold stays readable and dumpable (issue 13,
-- defect 5), and a PostgreSQL error raised while validating an inbox event
-- is rolled back in a subtransaction, not swallowed (defect 11).
-- A fresh extension: the suites share one database, and the checks below
-- cover every profile.
DROP EXTENSION customer_profile CASCADE;
CREATE EXTENSION customer_profile;
SET search_path = customer_profile, public;
SELECT trait_define('lifetime', 'number', 'sum');
SELECT trait_define('peak', 'number', 'max');
SELECT trait_define('peak2', 'number', 'max');
SELECT trait_observe('{"email": "big@x.com"}', '{"lifetime": 1e18, "peak": 1.7e308}', 'crm') AS big \gset
-- A sum trait refuses a value whose sums could overflow; nothing is stored.
SELECT regress.err($$SELECT customer_profile.trait_observe('{"email": "big@x.com"}', '{"lifetime": 1.7e308}', 'web')$$) AS huge_sum;
SELECT regress.err($$SELECT customer_profile.trait_observe('{"email": "big@x.com"}', '{"lifetime": -2e18}', 'web')$$) AS huge_negative;
SELECT regress.err($$SELECT customer_profile.trait_observe('{"email": "inf@x.com"}', '{"lifetime": 1.7e308}', 'crm')$$) AS first_source;
SELECT regress.err($$SELECT customer_profile.trait_observe('{"email": "inf@x.com"}', '{"lifetime": 1.7e308}', 'web')$$) AS second_source;
SELECT count(*) AS observations FROM trait_observation o JOIN identity i USING (identity_id) WHERE i.profile_id = :big;
-- Larger numbers are kept by other policies; the profile reads back.
SELECT trait_observe('{"email": "big@x.com"}', '{"peak": 1.7e308, "peak2": 1.7e308}', 'web') = :big AS same;
SELECT profile_get(:big)::text IS NOT NULL AS readable,
       (profile_traits(profile_get(:big))->>'peak')::float8 = 1.7e308 AS peak,
       (profile_traits(profile_get(:big))->>'lifetime')::float8 AS lifetime;
SELECT count(*) AS every_profile_prints FROM unified_profile WHERE data::text IS NOT NULL;
-- A number that does not fit a float8 at all.
SELECT regress.err($$SELECT customer_profile.trait_observe('{"email": "big@x.com"}', '{"peak": 1e400}', 'web')$$) AS beyond_float8;
-- Value expressions add up in numeric: two traits near the float8 maximum.
SELECT value_define('revenue', 'peak');
SELECT value_define('revenue', 'peak2');
SELECT revenue > 3e308 AS revenue_beyond_float8, margin = revenue AS margin FROM customer_value WHERE profile_id = :big;
SELECT count(*) AS ranked FROM most_profitable_customers;
SELECT value_drop('revenue', 'peak');
SELECT value_drop('revenue', 'peak2');

-- A measure of 1e400 is refused by PostgreSQL's numeric-to-float8
-- conversion (22003). In the inbox that event is dead-lettered in a
-- subtransaction and the rest of the batch is applied.
SELECT event_measure_define('payment', 'amount');
INSERT INTO event_inbox (identities, event_type, occurred_at, properties, event_id) VALUES
    ('{"email": "big@x.com"}', 'payment', now()::text, '{"amount": 5}', 'pay-1'),
    ('{"email": "big@x.com"}', 'payment', now()::text, '{"amount": 1e400}', 'pay-2'),
    ('{"email": "big@x.com"}', 'payment', now()::text, '{"amount": 7}', 'pay-3');
SELECT taken, applied, dead_lettered FROM event_inbox_drain(10);
SELECT event_id, sqlstate FROM event_dead_letter WHERE event_id LIKE 'pay-%' ORDER BY event_id;
SELECT event_count, totals FROM profile_behavior(:big) WHERE event_type = 'payment';
SELECT left(regress.err($$SELECT customer_profile.track('{"email": "big@x.com"}', 'payment', now(), '{"amount": 1e400}', 'pay-4')$$), 8) AS track_refuses;
