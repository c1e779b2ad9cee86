-- Helpers shared by the regression suites (runs first; see REGRESS in the Makefile).
CREATE SCHEMA regress;
-- Runs a statement and returns 'SQLSTATE: message' instead of failing, so an
-- error and its code can be shown in expected output.
CREATE FUNCTION regress.err(q text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE q;
    RETURN 'no error';
EXCEPTION WHEN OTHERS THEN
    RETURN SQLSTATE || ': ' || SQLERRM;
END $$;
