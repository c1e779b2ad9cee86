-- The profile type: a unified profile's merged traits as a value, in a
-- compact versioned binary form and a JSON text form, read with the ->, ->>
-- and ? operators.

CREATE TYPE customer_profile.profile;

CREATE FUNCTION customer_profile.profile_in(cstring) RETURNS customer_profile.profile
    LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'cp_profile_in';
COMMENT ON FUNCTION customer_profile.profile_in(cstring) IS 'Text input of profile (JSON).';
REVOKE ALL ON FUNCTION customer_profile.profile_in(cstring) FROM PUBLIC;
GRANT ALL ON FUNCTION customer_profile.profile_in(cstring) TO customer_profile_reader;

CREATE FUNCTION customer_profile.profile_out(customer_profile.profile) RETURNS cstring
    LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'cp_profile_out';
COMMENT ON FUNCTION customer_profile.profile_out(customer_profile.profile) IS 'Text output of profile (canonical JSON).';
REVOKE ALL ON FUNCTION customer_profile.profile_out(customer_profile.profile) FROM PUBLIC;
GRANT ALL ON FUNCTION customer_profile.profile_out(customer_profile.profile) TO customer_profile_reader;

CREATE FUNCTION customer_profile.profile_recv(internal) RETURNS customer_profile.profile
    LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'cp_profile_recv';
COMMENT ON FUNCTION customer_profile.profile_recv(internal) IS 'Binary input of profile, validated like text input.';
REVOKE ALL ON FUNCTION customer_profile.profile_recv(internal) FROM PUBLIC;
GRANT ALL ON FUNCTION customer_profile.profile_recv(internal) TO customer_profile_reader;

CREATE FUNCTION customer_profile.profile_send(customer_profile.profile) RETURNS bytea
    LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'cp_profile_send';
COMMENT ON FUNCTION customer_profile.profile_send(customer_profile.profile) IS 'Binary output of profile (format version byte first).';
REVOKE ALL ON FUNCTION customer_profile.profile_send(customer_profile.profile) FROM PUBLIC;
GRANT ALL ON FUNCTION customer_profile.profile_send(customer_profile.profile) TO customer_profile_reader;

CREATE TYPE customer_profile.profile (
    INTERNALLENGTH = variable,
    INPUT = customer_profile.profile_in,
    OUTPUT = customer_profile.profile_out,
    RECEIVE = customer_profile.profile_recv,
    SEND = customer_profile.profile_send,
    ALIGNMENT = int4,
    STORAGE = extended
);
COMMENT ON TYPE customer_profile.profile IS 'A unified profile: merged traits, each with value, source and observation time. Text form: {"traits": {"name": {"value": ..., "type": ..., "source": ..., "observed_at": ...}}}; compact versioned binary form.';
REVOKE ALL ON TYPE customer_profile.profile FROM PUBLIC;
GRANT ALL ON TYPE customer_profile.profile TO customer_profile_reader;

CREATE FUNCTION customer_profile.profile_from_binary(bytea) RETURNS customer_profile.profile
    LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'cp_profile_from_binary';
COMMENT ON FUNCTION customer_profile.profile_from_binary(bytea) IS 'The profile whose binary form (profile_send) is given, validated like text input.';
REVOKE ALL ON FUNCTION customer_profile.profile_from_binary(bytea) FROM PUBLIC;
GRANT ALL ON FUNCTION customer_profile.profile_from_binary(bytea) TO customer_profile_reader;

CREATE FUNCTION customer_profile.profile_has_trait(p customer_profile.profile, trait text) RETURNS boolean
    LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'cp_profile_has_trait';
COMMENT ON FUNCTION customer_profile.profile_has_trait(p customer_profile.profile, trait text) IS 'Whether the profile holds the trait; the ? operator.';
REVOKE ALL ON FUNCTION customer_profile.profile_has_trait(p customer_profile.profile, trait text) FROM PUBLIC;
GRANT ALL ON FUNCTION customer_profile.profile_has_trait(p customer_profile.profile, trait text) TO customer_profile_reader;

CREATE FUNCTION customer_profile.profile_trait_text(p customer_profile.profile, trait text) RETURNS text
    LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'cp_profile_trait_text';
COMMENT ON FUNCTION customer_profile.profile_trait_text(p customer_profile.profile, trait text) IS 'A trait''s value as text, NULL when absent or null; the ->> operator.';
REVOKE ALL ON FUNCTION customer_profile.profile_trait_text(p customer_profile.profile, trait text) FROM PUBLIC;
GRANT ALL ON FUNCTION customer_profile.profile_trait_text(p customer_profile.profile, trait text) TO customer_profile_reader;

CREATE FUNCTION customer_profile.profile_trait_value(p customer_profile.profile, trait text) RETURNS jsonb
    LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'cp_profile_trait_value';
COMMENT ON FUNCTION customer_profile.profile_trait_value(p customer_profile.profile, trait text) IS 'A trait''s value as jsonb (timestamps as ISO strings), NULL when absent; the -> operator.';
REVOKE ALL ON FUNCTION customer_profile.profile_trait_value(p customer_profile.profile, trait text) FROM PUBLIC;
GRANT ALL ON FUNCTION customer_profile.profile_trait_value(p customer_profile.profile, trait text) TO customer_profile_reader;

CREATE FUNCTION customer_profile.profile_traits(p customer_profile.profile) RETURNS jsonb
    LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'cp_profile_traits';
COMMENT ON FUNCTION customer_profile.profile_traits(p customer_profile.profile) IS 'Every trait''s value as one jsonb object {"trait": value}.';
REVOKE ALL ON FUNCTION customer_profile.profile_traits(p customer_profile.profile) FROM PUBLIC;
GRANT ALL ON FUNCTION customer_profile.profile_traits(p customer_profile.profile) TO customer_profile_reader;

CREATE OPERATOR customer_profile.-> (
    FUNCTION = customer_profile.profile_trait_value,
    LEFTARG = customer_profile.profile,
    RIGHTARG = text
);
COMMENT ON OPERATOR customer_profile.-> (customer_profile.profile, text) IS 'trait value as jsonb';

CREATE OPERATOR customer_profile.->> (
    FUNCTION = customer_profile.profile_trait_text,
    LEFTARG = customer_profile.profile,
    RIGHTARG = text
);
COMMENT ON OPERATOR customer_profile.->> (customer_profile.profile, text) IS 'trait value as text';

CREATE OPERATOR customer_profile.? (
    FUNCTION = customer_profile.profile_has_trait,
    LEFTARG = customer_profile.profile,
    RIGHTARG = text
);
COMMENT ON OPERATOR customer_profile.? (customer_profile.profile, text) IS 'does the profile hold this trait?';
