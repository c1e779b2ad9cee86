-- The segment_predicate type: parsing, normalized output, errors with their
-- column and SQLSTATE, the binary form, and the creation-time type check.
SET search_path = customer_profile, public;
SELECT 'tier=''gold'' and ltv between 100 and 500'::segment_predicate;
SELECT 'email ilike ''%.edu'' or not has(phone)'::segment_predicate;
SELECT 'last_seen() > now() - 7 days and known'::segment_predicate;
SELECT 'count(purchase within 30 days) >= 2 and sum(purchase.revenue within 90 days) > 100'::segment_predicate;
SELECT 'count(email_open where campaign = ''spring'' within 14 days) > 0'::segment_predicate;
SELECT '(a = 1 or b = 2) and not (c in (1, 2) or in_segment(''vip''))'::segment_predicate;
-- Normalized text reads back to the same value.
SELECT p::text::segment_predicate::text = p::text AS stable
  FROM (VALUES ('x IS NOT NULL AND "Odd Name" NOT LIKE ''a\%%''')) v(t), LATERAL (SELECT t::segment_predicate AS p) s;

-- Errors: position and what was expected.
SELECT regress.err($$SELECT 'count(x) >= '::customer_profile.segment_predicate$$);
SELECT regress.err($$SELECT 'tier ''gold'''::customer_profile.segment_predicate$$);
SELECT regress.err($$SELECT 'a = 1 b = 2'::customer_profile.segment_predicate$$);
SELECT regress.err($$SELECT 'count(purchase within 60844 days) > 2'::customer_profile.segment_predicate$$);
SELECT regress.err($$SELECT ('in_segment(''' || repeat('x', 1100) || ''')')::customer_profile.segment_predicate$$);
SELECT regress.err($$SELECT 'a ~ 1'::customer_profile.segment_predicate$$);
SELECT regress.err($$SELECT 'sum(purchase within 3 days) > 1'::customer_profile.segment_predicate$$);
SELECT regress.err($$SELECT ''::customer_profile.segment_predicate$$);
SELECT regress.err($$SELECT repeat('(', 100)::customer_profile.segment_predicate$$);
SELECT regress.err(format('SELECT %L::customer_profile.segment_predicate', repeat('a = 1 OR ', 3000) || 'a = 1'));

-- Binary form: version byte first; COPY BINARY round trip through recv.
SELECT substr(segment_predicate_send('a = 1'), 1, 1) AS version_byte;
CREATE TEMP TABLE predicates_in (id int, p segment_predicate);
INSERT INTO predicates_in VALUES (1, 'tier = ''gold'''), (2, 'count(e where k IN (1, 2) within 3 hours) BETWEEN 1 AND 9'),
    (3, 'signup_at > timestamp ''2026-01-01T00:00:00Z'' AND NOT anonymous');
CREATE TEMP TABLE predicates_out (id int, p segment_predicate);
DO $$
DECLARE path text := current_setting('data_directory') || '/customer_profile_predicates.bin';
BEGIN
    EXECUTE format('COPY predicates_in TO %L (FORMAT binary)', path);
    EXECUTE format('COPY predicates_out FROM %L (FORMAT binary)', path);
END $$;
SELECT i.id, i.p::text = o.p::text AS same_text, segment_predicate_send(i.p) = segment_predicate_send(o.p) AS same_bytes
  FROM predicates_in i JOIN predicates_out o USING (id) ORDER BY id;

-- Type check against declared traits and measures.
SELECT trait_define('ltv', 'number', 'max');
SELECT event_measure_define('purchase', 'revenue');
SELECT segment_predicate_check('ltv > 100 AND undeclared = ''x'' AND sum(purchase.revenue within 30 days) > 1');
SELECT regress.err($$SELECT customer_profile.segment_predicate_check('ltv = ''high''')$$);
SELECT regress.err($$SELECT customer_profile.segment_predicate_check('sum(purchase.discount) > 1')$$);
SELECT regress.err($$SELECT customer_profile.segment_predicate_check('count(purchase) > ''many''')$$);
