-- A user-supplied LIKE pattern cannot hold a backend (issue 14, defect 4):
-- evaluation polls for interrupts, so statement_timeout stops a hostile
-- pattern over a 64 kB text trait within a second (it ran 10-15 s per
-- profile before, and the timeout fired only after).
SET search_path = customer_profile, public;
SELECT trait_define('bio', 'text', 'latest');
SELECT trait_observe('{"email": "long@x.com"}', jsonb_build_object('bio', repeat('a', 65536)), 'crm') AS p \gset
-- The common hostile forms are linear: many %, a long literal.
SELECT segment_matches(:p, ('bio LIKE ''' || repeat('a%', 5000) || 'b''')::segment_predicate) AS many_runs,
       segment_matches(:p, ('bio ILIKE ''%' || repeat('a', 30000) || 'b%''')::segment_predicate) AS long_literal;
-- A piece with _ is tried at each position (64 k x 30 k steps): the timeout stops it.
CREATE FUNCTION regress.canceled_within(q text, budget interval) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    started timestamptz := clock_timestamp();
BEGIN
    EXECUTE q;
    RETURN 'finished';
EXCEPTION WHEN query_canceled THEN
    RETURN CASE WHEN clock_timestamp() - started < budget THEN 'canceled in time' ELSE 'canceled late' END;
END $$;
SET statement_timeout = '300ms';
SELECT regress.canceled_within(format('SELECT customer_profile.segment_matches(%s, %L::customer_profile.segment_predicate)',
                                      :p, 'bio LIKE ''%' || repeat('a', 30000) || '_b%'''), '1 s') AS with_wildcard;
RESET statement_timeout;
