-- Customer value: revenue and cost to serve from declared value expressions,
-- margin, the most profitable customers (not the highest revenue), RFM.
SET search_path = customer_profile, public;
SELECT event_measure_define('order', 'amount'), event_measure_define('support_call', 'cost');
SELECT value_define('revenue', 'SUM(order.amount)') AS revenue_expression;
SELECT value_define('cost', 'sum(support_call.cost)') AS cost_expression;
SELECT value_define('cost', 'onboarding_cost') AS cost_trait;
SELECT value_define('revenue', 'sum(order.amount)') AS defined_twice_is_one;
SELECT kind, expression, event_type FROM value_measure ORDER BY kind, expression;

-- Big spender with costly support, a steady profitable buyer, a trial user, someone with no value at all.
SELECT track('{"crm_id": "v-big"}', 'order', now() - interval '40 days', '{"amount": 900}', 'v-1') AS big \gset
SELECT track('{"crm_id": "v-big"}', 'order', now() - interval '2 days', '{"amount": 300}', 'v-2') = :big AS ordered;
SELECT track('{"crm_id": "v-big"}', 'support_call', now() - interval '1 day', '{"cost": 1000}', 'v-3') = :big AS called;
SELECT trait_observe('{"crm_id": "v-big"}', '{"onboarding_cost": 150}', 'crm') = :big AS onboarded;
SELECT track('{"crm_id": "v-steady"}', 'order', now() - interval '5 days', '{"amount": 400}', 'v-4') AS steady \gset
SELECT track('{"crm_id": "v-steady"}', 'order', now() - interval '3 days', '{"amount": 400}', 'v-5') = :steady AS ordered;
SELECT track('{"crm_id": "v-steady"}', 'order', now() - interval '1 day', '{"amount": 400}', 'v-6') = :steady AS ordered;
SELECT trait_observe('{"crm_id": "v-trial"}', '{"onboarding_cost": 50}', 'crm') AS trial \gset
SELECT resolve_identity('{"crm_id": "v-nobody"}') AS nobody \gset

SELECT revenue, cost, margin FROM profile_value(:big);
SELECT revenue, cost, margin FROM profile_value(:steady);
SELECT revenue, cost, margin FROM profile_value(:trial);
SELECT count(*) AS unknown_profile_rows FROM profile_value(-1);
-- Highest margin first; the highest revenue is not the most profitable.
SELECT CASE profile_id WHEN :big THEN 'big' WHEN :steady THEN 'steady' WHEN :trial THEN 'trial' END AS who,
       revenue, cost, margin, margin_rank, revenue_rank
  FROM most_profitable_customers WHERE profile_id IN (:big, :steady, :trial, :nobody);

-- RFM over ten buyers with planted recency, frequency and spend: buyer i ordered i times, i*10 each,
-- the last time 11-i days ago; so the scores rise with i.
SELECT count(track(jsonb_build_object('crm_id', 'rfm-' || i), 'order', now() - make_interval(days => 11 - i) - make_interval(hours => n),
                   jsonb_build_object('amount', i * 10), 'rfm-' || i || '-' || n))
  FROM generate_series(1, 10) i, generate_series(1, 10) n WHERE n <= i;
SELECT substr(i.raw_value, 5)::int AS buyer, round(x.recency_days) AS recency_days, x.frequency, x.monetary, x.r, x.f, x.m, x.rfm
  FROM profile_rfm() x JOIN identity i ON i.profile_id = x.profile_id
 WHERE i.raw_value LIKE 'rfm-%' ORDER BY 1;
SELECT count(*) AS scored, min(r) AS min_score, max(r) AS max_score FROM profile_rfm();

-- Bad definitions are refused and change nothing.
SELECT regress.err($$SELECT customer_profile.value_define('profit', 'sum(order.amount)')$$);
SELECT regress.err($$SELECT customer_profile.value_define('revenue', 'sum(order.amount')$$);
SELECT regress.err($$SELECT customer_profile.value_define('revenue', 'count(order where amount > 3)')$$);
SELECT regress.err($$SELECT customer_profile.value_define('revenue', NULL)$$);
SELECT regress.err($$SELECT customer_profile.value_drop('cost', 'sum(refund.amount)')$$);
SELECT value_drop('cost', 'onboarding_cost');
SELECT count(*) AS measures FROM value_measure;
SELECT revenue, cost FROM profile_value(:trial);
DELETE FROM value_measure;
