-- customer_profile 1.2 -> 1.3: segments (issue 5), first slice: the
-- segment_predicate type.
\echo Use "ALTER EXTENSION customer_profile UPDATE TO '1.3'" to load this file. \quit

CREATE TYPE customer_profile.segment_predicate;

CREATE FUNCTION customer_profile.segment_predicate_in(cstring) RETURNS customer_profile.segment_predicate
    AS 'MODULE_PATHNAME', 'cp_segment_predicate_in' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION customer_profile.segment_predicate_out(customer_profile.segment_predicate) RETURNS cstring
    AS 'MODULE_PATHNAME', 'cp_segment_predicate_out' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION customer_profile.segment_predicate_recv(internal) RETURNS customer_profile.segment_predicate
    AS 'MODULE_PATHNAME', 'cp_segment_predicate_recv' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION customer_profile.segment_predicate_send(customer_profile.segment_predicate) RETURNS bytea
    AS 'MODULE_PATHNAME', 'cp_segment_predicate_send' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE TYPE customer_profile.segment_predicate (
    INPUT = customer_profile.segment_predicate_in,
    OUTPUT = customer_profile.segment_predicate_out,
    RECEIVE = customer_profile.segment_predicate_recv,
    SEND = customer_profile.segment_predicate_send,
    INTERNALLENGTH = VARIABLE,
    STORAGE = extended
);
COMMENT ON TYPE customer_profile.segment_predicate IS
    'A segment predicate parsed and compiled once: text in, normalized text out, compact binary form stored.';

CREATE FUNCTION customer_profile.segment_predicate_check(predicate customer_profile.segment_predicate)
    RETURNS boolean
    AS 'MODULE_PATHNAME', 'cp_segment_predicate_check' LANGUAGE C STABLE STRICT;
COMMENT ON FUNCTION customer_profile.segment_predicate_check(customer_profile.segment_predicate) IS
    'True when the predicate fits the declared trait types and event measures; otherwise a 22023 type error.';
