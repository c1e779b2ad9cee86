-- customer_profile 1.4 -> 1.5: trust (issue 6): consent() in segment
-- predicates, erasure, least-privilege roles.
\echo Use "ALTER EXTENSION customer_profile UPDATE TO '1.5'" to load this file. \quit

-- A consent statement re-evaluates, for that person, the segments whose
-- predicates read consent(purpose) for that purpose.
CREATE OR REPLACE FUNCTION customer_profile.consent_set(identities jsonb, purpose text, granted boolean, source text,
                                                        observed_at timestamptz DEFAULT now())
    RETURNS bigint
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    pid bigint;
    carrier bigint;
BEGIN
    IF purpose IS NULL OR purpose !~ '^[a-z][a-z0-9_]{0,62}$' THEN
        RAISE EXCEPTION 'invalid consent purpose %', coalesce(quote_literal(purpose), 'NULL')
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Use 1-63 lower-case letters, digits and underscores, starting with a letter (e.g. email_marketing).';
    END IF;
    IF granted IS NULL OR source IS NULL OR observed_at IS NULL THEN
        RAISE EXCEPTION 'granted, source and observed_at are required' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF length(source) NOT BETWEEN 1 AND 200 THEN
        RAISE EXCEPTION 'a source of 1 to 200 characters is required' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    pid := customer_profile.resolve_identity(identities, consent_set.source);
    IF pid IS NULL THEN
        RAISE EXCEPTION 'no usable identifier in %', identities USING ERRCODE = 'invalid_parameter_value';
    END IF;
    -- The statement is kept on the first of the given identifiers (by namespace) that is stored.
    SELECT i.identity_id INTO carrier
      FROM jsonb_each_text(identities) e
      JOIN customer_profile.identity i ON i.value_hash = customer_profile.identity_hash(e.key, e.value)
     WHERE i.profile_id = pid
     ORDER BY e.key LIMIT 1;
    INSERT INTO customer_profile.consent (identity_id, purpose, granted, source, observed_at)
    VALUES (carrier, consent_set.purpose, consent_set.granted, consent_set.source, consent_set.observed_at);
    PERFORM customer_profile._segment_stream(ARRAY[pid], 'consent:' || consent_set.purpose);
    RETURN pid;
END
$$;
