-- customer_profile 1.0 -> 1.1: the profile type (issue 3, first slice).
\echo Use "ALTER EXTENSION customer_profile UPDATE TO '1.1'" to load this file. \quit

CREATE TYPE customer_profile.profile;

CREATE FUNCTION customer_profile.profile_in(cstring) RETURNS customer_profile.profile
    AS 'MODULE_PATHNAME', 'cp_profile_in' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION customer_profile.profile_out(customer_profile.profile) RETURNS cstring
    AS 'MODULE_PATHNAME', 'cp_profile_out' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION customer_profile.profile_recv(internal) RETURNS customer_profile.profile
    AS 'MODULE_PATHNAME', 'cp_profile_recv' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION customer_profile.profile_send(customer_profile.profile) RETURNS bytea
    AS 'MODULE_PATHNAME', 'cp_profile_send' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE TYPE customer_profile.profile (
    INPUT = customer_profile.profile_in,
    OUTPUT = customer_profile.profile_out,
    RECEIVE = customer_profile.profile_recv,
    SEND = customer_profile.profile_send,
    INTERNALLENGTH = VARIABLE,
    STORAGE = extended
);
COMMENT ON TYPE customer_profile.profile IS
    'A unified profile: merged traits, each with value, source and observation time. Text form: {"traits": {"name": {"value": ..., "type": ..., "source": ..., "observed_at": ...}}}; compact versioned binary form.';
COMMENT ON FUNCTION customer_profile.profile_in(cstring) IS 'Text input of profile (JSON).';
COMMENT ON FUNCTION customer_profile.profile_out(customer_profile.profile) IS 'Text output of profile (canonical JSON).';
COMMENT ON FUNCTION customer_profile.profile_recv(internal) IS 'Binary input of profile, validated like text input.';
COMMENT ON FUNCTION customer_profile.profile_send(customer_profile.profile) IS 'Binary output of profile (format version byte first).';

CREATE FUNCTION customer_profile.profile_trait_value(p customer_profile.profile, trait text) RETURNS jsonb
    AS 'MODULE_PATHNAME', 'cp_profile_trait_value' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION customer_profile.profile_trait_value(customer_profile.profile, text) IS
    'A trait''s value as jsonb (timestamps as ISO strings), NULL when absent; the -> operator.';
CREATE FUNCTION customer_profile.profile_trait_text(p customer_profile.profile, trait text) RETURNS text
    AS 'MODULE_PATHNAME', 'cp_profile_trait_text' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION customer_profile.profile_trait_text(customer_profile.profile, text) IS
    'A trait''s value as text, NULL when absent or null; the ->> operator.';
CREATE FUNCTION customer_profile.profile_has_trait(p customer_profile.profile, trait text) RETURNS boolean
    AS 'MODULE_PATHNAME', 'cp_profile_has_trait' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION customer_profile.profile_has_trait(customer_profile.profile, text) IS
    'Whether the profile holds the trait; the ? operator.';
CREATE FUNCTION customer_profile.profile_traits(p customer_profile.profile) RETURNS jsonb
    AS 'MODULE_PATHNAME', 'cp_profile_traits' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION customer_profile.profile_traits(customer_profile.profile) IS
    'Every trait''s value as one jsonb object {"trait": value}.';

CREATE OPERATOR customer_profile.-> (
    LEFTARG = customer_profile.profile, RIGHTARG = text, FUNCTION = customer_profile.profile_trait_value);
COMMENT ON OPERATOR customer_profile.-> (customer_profile.profile, text) IS 'trait value as jsonb';
CREATE OPERATOR customer_profile.->> (
    LEFTARG = customer_profile.profile, RIGHTARG = text, FUNCTION = customer_profile.profile_trait_text);
COMMENT ON OPERATOR customer_profile.->> (customer_profile.profile, text) IS 'trait value as text';
CREATE OPERATOR customer_profile.? (
    LEFTARG = customer_profile.profile, RIGHTARG = text, FUNCTION = customer_profile.profile_has_trait);
COMMENT ON OPERATOR customer_profile.? (customer_profile.profile, text) IS 'does the profile hold this trait?';
