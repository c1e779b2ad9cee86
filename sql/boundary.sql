-- The C++/PostgreSQL boundary: every kind of C++ failure becomes an ERROR
-- with a SQLSTATE, and the backend survives to run the next statement.
\set VERBOSITY terse
SET client_min_messages = warning;

SELECT customer_profile._boundary_selftest('none');
SELECT kind, regress.err(format('SELECT customer_profile._boundary_selftest(%L)', kind))
  FROM unnest(ARRAY['core', 'std', 'bad_alloc', 'unknown', 'postgres', 'serialization']) AS kind;

-- Outside any subtransaction: the error reaches the client, detail and hint intact.
\set VERBOSITY default
SELECT customer_profile._boundary_selftest('core');
SELECT customer_profile._boundary_selftest('postgres');
-- A cancel raised by the core keeps its SQLSTATE (plpgsql cannot trap 57014).
\set VERBOSITY sqlstate
SELECT customer_profile._boundary_selftest('cancel');
\set VERBOSITY terse
SELECT customer_profile._boundary_selftest('cancel');
-- Same session, same backend: nothing crashed.
SELECT customer_profile._boundary_selftest('none') AS still_alive;
