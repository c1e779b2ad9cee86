-- Attaching a partitioned CRM table (issue 13, defect 7): the trigger fires on
-- the partitions the rows are routed to (sub-partitions, partitions created
-- or attached later, rows inserted into a partition directly); rows moved
-- between partitions keep flowing; a partition attached with rows already in
-- it is backfilled on request; overlapping attachments are refused.
\set VERBOSITY terse
DROP EXTENSION customer_profile;
CREATE EXTENSION customer_profile;
SET search_path = public, customer_profile;
CREATE FUNCTION pg_temp.traits_of(crm int) RETURNS jsonb LANGUAGE sql AS
    $$ SELECT customer_profile.profile_traits(customer_profile.profile_get('crm_id', crm::text)) $$;

CREATE TABLE public.crm_parts (id int, region text, email text, tier text) PARTITION BY LIST (region);
CREATE TABLE public.crm_eu PARTITION OF public.crm_parts FOR VALUES IN ('eu');
CREATE TABLE public.crm_us PARTITION OF public.crm_parts FOR VALUES IN ('us') PARTITION BY HASH (id);
CREATE TABLE public.crm_us_0 PARTITION OF public.crm_us FOR VALUES WITH (MODULUS 2, REMAINDER 0);
CREATE TABLE public.crm_us_1 PARTITION OF public.crm_us FOR VALUES WITH (MODULUS 2, REMAINDER 1);
INSERT INTO public.crm_parts VALUES (1, 'eu', 'ann@x.com', 'gold'), (2, 'us', 'bob@y.org', 'silver');
SELECT profile_attach_table('public.crm_parts', 'crm', '{"crm_id": "id", "email": "email"}',
                            '{"tier": "tier"}') AS backfilled;
SELECT id, pg_temp.traits_of(id) FROM public.crm_parts ORDER BY id;

-- Rows inserted later are routed to a partition (or a sub-partition) and flow in.
INSERT INTO public.crm_parts VALUES (3, 'eu', 'cy@x.com', 'bronze'), (4, 'us', 'dee@z.net', 'gold'),
                                    (5, 'us', NULL, 'silver');
SELECT id, pg_temp.traits_of(id) FROM public.crm_parts WHERE id >= 3 ORDER BY id;
SELECT customer_profile.identity_lookup('email', 'dee@z.net') = customer_profile.identity_lookup('crm_id', '4')
       AS email_linked;
-- Straight into a leaf partition.
INSERT INTO public.crm_eu VALUES (6, 'eu', NULL, 'platinum');
SELECT pg_temp.traits_of(6) AS direct_into_partition;

-- UPDATE in place, and an UPDATE that moves the row to another partition.
UPDATE public.crm_parts SET tier = 'platinum' WHERE id = 3;
UPDATE public.crm_parts SET region = 'us', tier = 'diamond' WHERE id = 1;
SELECT id, tableoid::regclass AS partition, pg_temp.traits_of(id) FROM public.crm_parts WHERE id IN (1, 3) ORDER BY id;

-- DELETE withdraws the row's observations.
DELETE FROM public.crm_parts WHERE id = 4;
SELECT pg_temp.traits_of(4) AS after_delete;

-- A partition created later, and one attached later with a row already in it.
CREATE TABLE public.crm_apac PARTITION OF public.crm_parts FOR VALUES IN ('apac');
INSERT INTO public.crm_parts VALUES (7, 'apac', NULL, 'gold');
SELECT pg_temp.traits_of(7) AS created_later;
CREATE TABLE public.crm_latam (LIKE public.crm_parts);
INSERT INTO public.crm_latam VALUES (8, 'latam', NULL, 'silver');
ALTER TABLE public.crm_parts ATTACH PARTITION public.crm_latam FOR VALUES IN ('latam');
INSERT INTO public.crm_parts VALUES (9, 'latam', NULL, 'bronze');
SELECT pg_temp.traits_of(8) AS was_there_before, pg_temp.traits_of(9) AS inserted_after;
SELECT profile_attach_backfill('public.crm_latam') AS backfilled_partition;
SELECT pg_temp.traits_of(8) AS after_backfill;
SELECT profile_attach_backfill('public.crm_parts') AS backfilled_again;   -- idempotent
SELECT id, pg_temp.traits_of(id) FROM public.crm_parts ORDER BY id;

-- Overlaps are refused: one row must not flow twice.
CREATE TABLE public.other (id int);
SELECT q, regress.err(q) FROM (VALUES
    ($$SELECT customer_profile.profile_attach_table('public.crm_eu', 'crm', '{"crm_id": "id"}')$$),
    ($$SELECT customer_profile.profile_attach_table('public.crm_us_1', 'crm', '{"crm_id": "id"}')$$),
    ($$SELECT customer_profile.profile_detach_table('public.crm_eu')$$),
    ($$SELECT customer_profile.profile_attach_backfill('public.other')$$),
    ($$SELECT customer_profile.profile_attach_backfill(NULL)$$)
) AS t(q);

-- Detaching the parent removes the trigger from every partition.
SELECT profile_detach_table('public.crm_parts');
INSERT INTO public.crm_parts VALUES (10, 'eu', NULL, 'gold');
SELECT customer_profile.identity_lookup('crm_id', '10') IS NULL AS not_flowing;
SELECT count(*) AS triggers_left FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
 WHERE c.relname LIKE 'crm\_%' AND t.tgname = 'customer_profile_attached';

-- A partition attached on its own: then its parent is refused, and it flows.
SELECT profile_attach_table('public.crm_eu', 'crm_eu', '{"crm_id": "id"}', '{"tier": "tier"}') AS leaf_backfilled;
SELECT regress.err($$SELECT customer_profile.profile_attach_table('public.crm_parts', 'crm', '{"crm_id": "id"}')$$);
INSERT INTO public.crm_parts VALUES (11, 'eu', NULL, 'silver'), (12, 'us', NULL, 'silver');
SELECT pg_temp.traits_of(11) AS leaf_flows, customer_profile.identity_lookup('crm_id', '12') IS NULL AS sibling_not;
SELECT profile_detach_table('public.crm_eu');
SELECT * FROM customer_profile.identity_check() WHERE count <> 0;
DROP TABLE public.crm_parts, public.other;
