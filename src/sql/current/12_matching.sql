-- Probabilistic identity resolution: match rules compare the records of
-- identifiers whose values disagree (names, addresses, dates of birth), pick
-- candidates through indexed blocking keys, and link the pairs whose
-- Fellegi-Sunter match probability passes a threshold; the pairs between the
-- two thresholds wait in match_review. See docs/matching.md.

CREATE FUNCTION customer_profile._match_rule_check(fields jsonb, blocking jsonb, link_threshold double precision, review_threshold double precision, parameters jsonb) RETURNS boolean
    LANGUAGE c IMMUTABLE PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'cp_match_rule_check';
COMMENT ON FUNCTION customer_profile._match_rule_check(fields jsonb, blocking jsonb, link_threshold double precision, review_threshold double precision, parameters jsonb) IS 'Internal: true when a match rule parses (fields, blocking keys, thresholds, parameters); raises 22023 naming what is wrong otherwise.';
REVOKE ALL ON FUNCTION customer_profile._match_rule_check(fields jsonb, blocking jsonb, link_threshold double precision, review_threshold double precision, parameters jsonb) FROM PUBLIC;
-- The admin updates a rule's parameters and progress (match_estimate, match_run): the row's check runs as the admin.
GRANT EXECUTE ON FUNCTION customer_profile._match_rule_check(fields jsonb, blocking jsonb, link_threshold double precision, review_threshold double precision, parameters jsonb) TO customer_profile_admin;

CREATE TABLE customer_profile.match_rule (
    rule_id integer NOT NULL,
    name text NOT NULL,
    namespaces text[] NOT NULL,
    fields jsonb NOT NULL,
    blocking jsonb NOT NULL,
    link_threshold double precision NOT NULL,
    review_threshold double precision NOT NULL,
    parameters jsonb,
    deduplicates text[] DEFAULT '{}'::text[] NOT NULL,
    max_candidates integer DEFAULT 200 NOT NULL,
    enabled boolean DEFAULT true NOT NULL,
    estimated_at timestamp with time zone,
    estimate jsonb,
    run_next bigint,
    run_done bigint,
    run_total bigint,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    CONSTRAINT match_rule_name_check CHECK ((name ~ '^[a-z][a-z0-9_]{0,62}$'::text)),
    CONSTRAINT match_rule_namespaces_check CHECK ((cardinality(namespaces) >= 1)),
    CONSTRAINT match_rule_max_candidates_check CHECK (((max_candidates >= 1) AND (max_candidates <= 100000))),
    CONSTRAINT match_rule_valid CHECK (customer_profile._match_rule_check(fields, blocking, link_threshold, review_threshold, parameters))
);
SELECT pg_catalog.pg_extension_config_dump('customer_profile.match_rule', '');
ALTER TABLE customer_profile.match_rule ALTER COLUMN rule_id ADD GENERATED ALWAYS AS IDENTITY (
    SEQUENCE NAME customer_profile.match_rule_rule_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1
);
SELECT pg_catalog.pg_extension_config_dump('customer_profile.match_rule_rule_id_seq', '');
ALTER TABLE ONLY customer_profile.match_rule
    ADD CONSTRAINT match_rule_pkey PRIMARY KEY (rule_id);
ALTER TABLE ONLY customer_profile.match_rule
    ADD CONSTRAINT match_rule_name_key UNIQUE (name);
CREATE TRIGGER match_rule_changed AFTER INSERT OR DELETE OR UPDATE OR TRUNCATE ON customer_profile.match_rule FOR EACH STATEMENT EXECUTE FUNCTION customer_profile._catalog_changed();
COMMENT ON TABLE customer_profile.match_rule IS 'Match rules: whose identifiers are records (namespaces), the fields compared with their levels, the blocking keys, the link and review thresholds (match probabilities), the Fellegi-Sunter parameters (m, u, lambda), and the progress of match_run().';
COMMENT ON COLUMN customer_profile.match_rule.deduplicates IS 'Namespaces whose per-profile cap this rule''s links may exceed: two records of one such namespace found to be one person are duplicates, and linking them is what the rule is for.';
GRANT SELECT ON TABLE customer_profile.match_rule TO customer_profile_reader;
GRANT UPDATE(parameters, estimated_at, estimate, run_next, run_done, run_total) ON TABLE customer_profile.match_rule TO customer_profile_admin;
REVOKE USAGE ON TYPE customer_profile.match_rule FROM PUBLIC;

-- Blocking keys: a record is compared with the records that share one of its
-- keys. Keys are stored as 16 bytes of SHA-256 (no identifying text here,
-- and a fixed size whatever the values).
CREATE TABLE customer_profile.match_key (
    rule_id integer NOT NULL,
    key_no smallint NOT NULL,
    key bytea NOT NULL,
    identity_id bigint NOT NULL
);
SELECT pg_catalog.pg_extension_config_dump('customer_profile.match_key', '');
ALTER TABLE ONLY customer_profile.match_key
    ADD CONSTRAINT match_key_pkey PRIMARY KEY (rule_id, key, identity_id);
CREATE INDEX match_key_identity_idx ON customer_profile.match_key USING btree (identity_id, rule_id);
COMMENT ON TABLE customer_profile.match_key IS 'Blocking keys of every record per match rule (hashed; key_no: the key''s position in the rule): the index through which a new record finds its candidates.';
GRANT SELECT,INSERT,DELETE ON TABLE customer_profile.match_key TO customer_profile_writer;
REVOKE USAGE ON TYPE customer_profile.match_key FROM PUBLIC;

CREATE TABLE customer_profile.match_review (
    rule_id integer NOT NULL,
    identity_a bigint NOT NULL,
    identity_b bigint NOT NULL,
    weight double precision NOT NULL,
    probability double precision NOT NULL,
    status text DEFAULT 'pending'::text NOT NULL,
    reason text NOT NULL,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    decided_at timestamp with time zone,
    decided_by name,
    CONSTRAINT match_review_check CHECK ((identity_a < identity_b)),
    CONSTRAINT match_review_status_check CHECK ((status = ANY (ARRAY['pending'::text, 'accepted'::text, 'rejected'::text])))
);
SELECT pg_catalog.pg_extension_config_dump('customer_profile.match_review', '');
ALTER TABLE ONLY customer_profile.match_review
    ADD CONSTRAINT match_review_pkey PRIMARY KEY (rule_id, identity_a, identity_b);
CREATE INDEX match_review_a_idx ON customer_profile.match_review USING btree (identity_a);
CREATE INDEX match_review_b_idx ON customer_profile.match_review USING btree (identity_b);
-- The pairs kept apart for good, which every link checks: few, so that the
-- check is an index probe per identity of the profile even before the
-- first ANALYZE of a freshly loaded database (see resolve_identity.cpp).
CREATE INDEX match_review_rejected_idx ON customer_profile.match_review USING btree (identity_a, identity_b) WHERE (status = 'rejected'::text);
CREATE INDEX match_review_pending_idx ON customer_profile.match_review USING btree (rule_id, probability DESC) WHERE (status = 'pending'::text);
COMMENT ON TABLE customer_profile.match_review IS 'Pairs of records a match rule could not decide (probability between its thresholds, or a link a guard rail refused): accepted pairs are linked, rejected pairs are never linked by the rule again.';
GRANT SELECT ON TABLE customer_profile.match_review TO customer_profile_reader;
-- The writer's trait_observe queues pairs through _match_review_queue(),
-- which scores them itself and writes as the table's owner; only the admin's
-- review functions decide. No write grant: the writer could forge a pair's
-- probability or rewrite a decided one.
GRANT SELECT ON TABLE customer_profile.match_review TO customer_profile_writer;
REVOKE USAGE ON TYPE customer_profile.match_review FROM PUBLIC;

CREATE FUNCTION customer_profile.match_rule_create(name text, namespaces text[], fields jsonb, blocking jsonb, link_threshold double precision DEFAULT 0.99, review_threshold double precision DEFAULT 0.8, deduplicates text[] DEFAULT '{}'::text[], max_candidates integer DEFAULT 200) RETURNS integer
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
DECLARE
    unknown text;
    created integer;
BEGIN
    IF name IS NULL OR namespaces IS NULL OR fields IS NULL OR blocking IS NULL OR link_threshold IS NULL
       OR review_threshold IS NULL OR deduplicates IS NULL OR max_candidates IS NULL THEN
        RAISE EXCEPTION 'match_rule_create arguments must not be NULL' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    SELECT x INTO unknown FROM unnest(namespaces || deduplicates) x
     WHERE NOT EXISTS (SELECT 1 FROM customer_profile.namespace n WHERE n.name = x) LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'unknown namespace "%"', unknown USING ERRCODE = 'undefined_object';
    END IF;
    SELECT x INTO unknown FROM unnest(namespaces) x GROUP BY x HAVING count(*) > 1 LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'namespace "%" is named twice', unknown USING ERRCODE = 'invalid_parameter_value';
    END IF;
    SELECT x INTO unknown FROM unnest(deduplicates) x WHERE x <> ALL (namespaces) LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'namespace "%" is deduplicated but holds no records of the rule', unknown
              USING ERRCODE = 'invalid_parameter_value', HINT = 'Name it in namespaces too.';
    END IF;
    IF EXISTS (SELECT 1 FROM customer_profile.match_rule r WHERE r.name = match_rule_create.name) THEN
        RAISE EXCEPTION 'match rule "%" exists', name USING ERRCODE = 'duplicate_object';
    END IF;
    INSERT INTO customer_profile.match_rule (name, namespaces, fields, blocking, link_threshold, review_threshold,
                                             deduplicates, max_candidates)
    VALUES (name, namespaces, fields, blocking, link_threshold, review_threshold, deduplicates, max_candidates)
    RETURNING rule_id INTO created;
    RETURN created;
END
$$;
COMMENT ON FUNCTION customer_profile.match_rule_create(name text, namespaces text[], fields jsonb, blocking jsonb, link_threshold double precision, review_threshold double precision, deduplicates text[], max_candidates integer) IS 'Creates a match rule: the identifiers of namespaces are records; fields compare traits by levels; blocking keys pick candidates; pairs at or above link_threshold (match probability) link, those at or above review_threshold wait in match_review. match_run() matches the records already there, match_estimate() estimates m and u.';
REVOKE ALL ON FUNCTION customer_profile.match_rule_create(name text, namespaces text[], fields jsonb, blocking jsonb, link_threshold double precision, review_threshold double precision, deduplicates text[], max_candidates integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION customer_profile.match_rule_create(name text, namespaces text[], fields jsonb, blocking jsonb, link_threshold double precision, review_threshold double precision, deduplicates text[], max_candidates integer) TO customer_profile_admin;

CREATE FUNCTION customer_profile.match_rule_alter(name text, link_threshold double precision DEFAULT NULL::double precision, review_threshold double precision DEFAULT NULL::double precision, enabled boolean DEFAULT NULL::boolean, parameters jsonb DEFAULT NULL::jsonb, max_candidates integer DEFAULT NULL::integer) RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
BEGIN
    IF name IS NULL THEN
        RAISE EXCEPTION 'the rule must not be NULL' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    UPDATE customer_profile.match_rule r
       SET link_threshold = coalesce(match_rule_alter.link_threshold, r.link_threshold),
           review_threshold = coalesce(match_rule_alter.review_threshold, r.review_threshold),
           enabled = coalesce(match_rule_alter.enabled, r.enabled),
           parameters = coalesce(match_rule_alter.parameters, r.parameters),
           max_candidates = coalesce(match_rule_alter.max_candidates, r.max_candidates)
     WHERE r.name = match_rule_alter.name;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'unknown match rule "%"', name USING ERRCODE = 'undefined_object';
    END IF;
END
$$;
COMMENT ON FUNCTION customer_profile.match_rule_alter(name text, link_threshold double precision, review_threshold double precision, enabled boolean, parameters jsonb, max_candidates integer) IS 'Changes a match rule''s thresholds, whether it matches arriving records, its parameters ({"lambda", "m", "u"}) or its candidate limit; NULL keeps a setting. Links already made stay.';
REVOKE ALL ON FUNCTION customer_profile.match_rule_alter(name text, link_threshold double precision, review_threshold double precision, enabled boolean, parameters jsonb, max_candidates integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION customer_profile.match_rule_alter(name text, link_threshold double precision, review_threshold double precision, enabled boolean, parameters jsonb, max_candidates integer) TO customer_profile_admin;

CREATE FUNCTION customer_profile.match_rule_drop(name text) RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
DECLARE
    dropped integer;
BEGIN
    IF name IS NULL THEN
        RAISE EXCEPTION 'the rule must not be NULL' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    DELETE FROM customer_profile.match_rule r WHERE r.name = match_rule_drop.name RETURNING r.rule_id INTO dropped;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'unknown match rule "%"', name USING ERRCODE = 'undefined_object';
    END IF;
    DELETE FROM customer_profile.match_key k WHERE k.rule_id = dropped;
    DELETE FROM customer_profile.match_review v WHERE v.rule_id = dropped;
END
$$;
COMMENT ON FUNCTION customer_profile.match_rule_drop(name text) IS 'Drops a match rule with its blocking keys and reviews. The links it made stay (they are identity links; identity_unlink withdraws one).';
REVOKE ALL ON FUNCTION customer_profile.match_rule_drop(name text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION customer_profile.match_rule_drop(name text) TO customer_profile_admin;

CREATE FUNCTION customer_profile.match_blocking(name text) RETURNS TABLE(key_no integer, key jsonb, records bigint, distinct_keys bigint, candidates_per_record double precision, largest_group bigint)
    LANGUAGE plpgsql STABLE
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
DECLARE
    chosen customer_profile.match_rule;
BEGIN
    IF name IS NULL THEN
        RAISE EXCEPTION 'the rule must not be NULL' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    SELECT * INTO chosen FROM customer_profile.match_rule r WHERE r.name = match_blocking.name;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'unknown match rule "%"', name USING ERRCODE = 'undefined_object';
    END IF;
    -- A record in a group of n shares the key with n - 1 others: summed over
    -- the groups and divided by the records, the mean (an upper bound where a
    -- deletions() key gives a pair several shared keys).
    RETURN QUERY
    SELECT (b.ord - 1)::integer, b.parts, coalesce(s.records, 0), coalesce(s.groups, 0), coalesce(s.pairs / s.records, 0),
           coalesce(s.largest, 0)
      FROM jsonb_array_elements(chosen.blocking) WITH ORDINALITY AS b(parts, ord)
      LEFT JOIN (SELECT g.key_no, count(*) AS groups, sum(g.n * (g.n - 1))::float8 AS pairs, max(g.n) AS largest,
                        (SELECT count(DISTINCT k.identity_id) FROM customer_profile.match_key k
                          WHERE k.rule_id = chosen.rule_id AND k.key_no = g.key_no) AS records
                   FROM (SELECT k.key_no, count(*) AS n FROM customer_profile.match_key k
                          WHERE k.rule_id = chosen.rule_id GROUP BY k.key_no, k.key) g
                  GROUP BY g.key_no) s ON s.key_no = b.ord - 1
     ORDER BY 1;
END
$$;
COMMENT ON FUNCTION customer_profile.match_blocking(name text) IS 'How selective a rule''s blocking keys are, from the keys stored: per key its parts, the records that have it, its distinct values, the mean number of records a record shares it with (the candidates it brings, before max_candidates) and the largest group. Reads all of match_key for the rule.';
REVOKE ALL ON FUNCTION customer_profile.match_blocking(name text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION customer_profile.match_blocking(name text) TO customer_profile_admin;

CREATE FUNCTION customer_profile._match_identity(identity_id bigint) RETURNS integer
    LANGUAGE c STRICT
    AS 'MODULE_PATHNAME', 'cp_match_identity';
COMMENT ON FUNCTION customer_profile._match_identity(identity_id bigint) IS 'Internal: matches one record under every enabled rule that covers its namespace (as trait_observe does); returns the links made.';
REVOKE ALL ON FUNCTION customer_profile._match_identity(identity_id bigint) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION customer_profile._match_identity(identity_id bigint) TO customer_profile_writer;

CREATE FUNCTION customer_profile._match_rekey(identity_ids bigint[]) RETURNS integer
    LANGUAGE c
    AS 'MODULE_PATHNAME', 'cp_match_rekey';
COMMENT ON FUNCTION customer_profile._match_rekey(identity_ids bigint[]) IS 'Internal: stores the blocking keys of these records again under every rule that covers them, without matching (identity_remove and identity_unlink call it for the identifiers a removed or unlinked identifier lent values to); returns the records re-keyed.';
REVOKE ALL ON FUNCTION customer_profile._match_rekey(identity_ids bigint[]) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION customer_profile._match_rekey(identity_ids bigint[]) TO customer_profile_admin;

CREATE FUNCTION customer_profile.match_run(name text, max_records integer DEFAULT NULL::integer, OUT records bigint, OUT comparisons bigint, OUT links bigint, OUT reviews bigint, OUT remaining bigint) RETURNS record
    LANGUAGE c
    AS 'MODULE_PATHNAME', 'cp_match_run';
COMMENT ON FUNCTION customer_profile.match_run(name text, max_records integer, OUT records bigint, OUT comparisons bigint, OUT links bigint, OUT reviews bigint, OUT remaining bigint) IS 'Matches the records already stored under a rule, in identifier order: all of them, or max_records per call (calls resume where the last committed one stopped; match_rules shows the progress). Returns what this call did and how many records remain.';
REVOKE ALL ON FUNCTION customer_profile.match_run(name text, max_records integer, OUT records bigint, OUT comparisons bigint, OUT links bigint, OUT reviews bigint, OUT remaining bigint) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION customer_profile.match_run(name text, max_records integer, OUT records bigint, OUT comparisons bigint, OUT links bigint, OUT reviews bigint, OUT remaining bigint) TO customer_profile_admin;

CREATE FUNCTION customer_profile.match_estimate(name text, sample_pairs integer DEFAULT 100000, OUT random_pairs bigint, OUT blocked_pairs bigint, OUT labelled_pairs bigint, OUT iterations integer, OUT converged boolean, OUT lambda double precision) RETURNS record
    LANGUAGE c
    AS 'MODULE_PATHNAME', 'cp_match_estimate';
COMMENT ON FUNCTION customer_profile.match_estimate(name text, sample_pairs integer, OUT random_pairs bigint, OUT blocked_pairs bigint, OUT labelled_pairs bigint, OUT iterations integer, OUT converged boolean, OUT lambda double precision) IS 'Estimates a rule''s parameters without labels: u from random pairs of records, m and lambda by expectation-maximisation over blocked pairs (up to sample_pairs of each), reviewed pairs as labels; stores them with the rule.';
REVOKE ALL ON FUNCTION customer_profile.match_estimate(name text, sample_pairs integer, OUT random_pairs bigint, OUT blocked_pairs bigint, OUT labelled_pairs bigint, OUT iterations integer, OUT converged boolean, OUT lambda double precision) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION customer_profile.match_estimate(name text, sample_pairs integer, OUT random_pairs bigint, OUT blocked_pairs bigint, OUT labelled_pairs bigint, OUT iterations integer, OUT converged boolean, OUT lambda double precision) TO customer_profile_admin;

CREATE FUNCTION customer_profile._match_explain_ids(rule text, identity_a bigint, identity_b bigint) RETURNS TABLE(field text, value_a text, value_b text, level integer, comparison text, weight double precision, probability double precision)
    LANGUAGE c STABLE
    AS 'MODULE_PATHNAME', 'cp_match_explain_ids';
COMMENT ON FUNCTION customer_profile._match_explain_ids(rule text, identity_a bigint, identity_b bigint) IS 'Internal: match_explain on identity ids.';
REVOKE ALL ON FUNCTION customer_profile._match_explain_ids(rule text, identity_a bigint, identity_b bigint) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION customer_profile._match_explain_ids(rule text, identity_a bigint, identity_b bigint) TO customer_profile_writer;

CREATE FUNCTION customer_profile.match_explain(rule text, namespace_a text, identifier_a text, namespace_b text, identifier_b text) RETURNS TABLE(field text, value_a text, value_b text, level integer, comparison text, weight double precision, probability double precision)
    LANGUAGE plpgsql STABLE
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
DECLARE
    a record;
    b record;
BEGIN
    IF rule IS NULL OR namespace_a IS NULL OR identifier_a IS NULL OR namespace_b IS NULL OR identifier_b IS NULL THEN
        RAISE EXCEPTION 'the rule and both identifiers must not be NULL' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    a := customer_profile._identity_find(namespace_a, identifier_a);
    b := customer_profile._identity_find(namespace_b, identifier_b);
    IF a.identity_id IS NULL OR b.identity_id IS NULL THEN
        RAISE EXCEPTION '% identifier is not known', CASE WHEN a.identity_id IS NULL THEN 'the first' ELSE 'the second' END
              USING ERRCODE = 'undefined_object';
    END IF;
    RETURN QUERY SELECT * FROM customer_profile._match_explain_ids(rule, a.identity_id, b.identity_id);
END
$$;
COMMENT ON FUNCTION customer_profile.match_explain(rule text, namespace_a text, identifier_a text, namespace_b text, identifier_b text) IS 'How a rule scores two records: per field the two values, the comparison level and its weight (log2 m/u; 0 when a value is missing), then a row "total" with the summed weight, the match probability and the decision (link, review or none).';
REVOKE ALL ON FUNCTION customer_profile.match_explain(rule text, namespace_a text, identifier_a text, namespace_b text, identifier_b text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION customer_profile.match_explain(rule text, namespace_a text, identifier_a text, namespace_b text, identifier_b text) TO customer_profile_writer;

CREATE FUNCTION customer_profile._match_link(rule text, identity_a bigint, identity_b bigint, score double precision, source text) RETURNS text
    LANGUAGE c STRICT
    AS 'MODULE_PATHNAME', 'cp_match_link';
COMMENT ON FUNCTION customer_profile._match_link(rule text, identity_a bigint, identity_b bigint, score double precision, source text) IS 'Internal: links two records under the guard rails (a rule''s deduplicated namespaces uncapped); returns linked, already or refused.';
REVOKE ALL ON FUNCTION customer_profile._match_link(rule text, identity_a bigint, identity_b bigint, score double precision, source text) FROM PUBLIC;

-- Reviews are written only by this function, not by a caller's own INSERT: the writer's process can neither forge a
-- pending pair's probability or reason nor touch a decided one. No grant: it is reached through the two doors below,
-- C functions that score the pair as their caller (with the values the caller may read, as its own matching did) and
-- then run this as the owner of match_review. enabled_only: the writer's door takes an enabled rule only (a
-- disabled rule matches nothing as records arrive); match_run() runs a rule whether or not it is enabled (a batch
-- load keeps it disabled until it is estimated), and its review band must be queued too.
CREATE FUNCTION customer_profile._match_review_store(rule_id integer, identity_a bigint, identity_b bigint, refused boolean, enabled_only boolean, weight double precision, probability double precision) RETURNS boolean
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
DECLARE
    r record;
    w double precision := weight;
    p double precision := probability;
    why text;
BEGIN
    SELECT m.name, m.namespaces, m.link_threshold, m.review_threshold INTO r FROM customer_profile.match_rule m
     WHERE m.rule_id = _match_review_store.rule_id AND (m.enabled OR NOT coalesce(enabled_only, true));
    IF NOT FOUND OR identity_a IS NULL OR identity_b IS NULL OR identity_a = identity_b THEN
        RETURN false;
    END IF;
    -- Only pairs the rule compares: both in its namespaces, still in two profiles; a refusal only with the guard
    -- rail's record of it, written by this transaction's link attempt.
    IF (SELECT count(DISTINCT i.profile_id) FROM customer_profile.identity i
          JOIN customer_profile.namespace n ON n.namespace_id = i.namespace_id
         WHERE i.identity_id IN (identity_a, identity_b) AND n.name = ANY (r.namespaces)) <> 2 THEN
        RETURN false;
    END IF;
    IF refused AND NOT EXISTS (
        SELECT 1 FROM customer_profile.identity_conflict c
         WHERE c.occurred_at = now() AND c.source = 'match'
           AND (c.refused_identity_id IN (identity_a, identity_b)
                OR c.refused_profile_id IN (SELECT i.profile_id FROM customer_profile.identity i
                                             WHERE i.identity_id IN (identity_a, identity_b)))) THEN
        RETURN false;
    END IF;
    IF p IS NULL OR p < r.review_threshold OR (p >= r.link_threshold) IS DISTINCT FROM coalesce(refused, false) THEN
        RETURN false;  -- not what the rule would queue
    END IF;
    why := CASE WHEN refused
                THEN format('probability %s passes the link threshold, but a guard rail refused the link (see identity_conflict)',
                            round(p::numeric, 4))
                ELSE format('probability %s is between the thresholds', round(p::numeric, 4)) END;
    INSERT INTO customer_profile.match_review AS v (rule_id, identity_a, identity_b, weight, probability, reason)
    VALUES (_match_review_store.rule_id, least(identity_a, identity_b), greatest(identity_a, identity_b), w, p, why)
    ON CONFLICT ON CONSTRAINT match_review_pkey DO UPDATE SET weight = EXCLUDED.weight,
        probability = EXCLUDED.probability, reason = EXCLUDED.reason WHERE v.status = 'pending';
    RETURN FOUND;
END
$$;
COMMENT ON FUNCTION customer_profile._match_review_store(rule_id integer, identity_a bigint, identity_b bigint, refused boolean, enabled_only boolean, weight double precision, probability double precision) IS 'Internal: queues a pair for review (or refreshes a pending one) with the weight and probability its door scored; refused marks a link a guard rail refused; enabled_only refuses a disabled rule. Returns whether a row was written. Reached through _match_review_queue and _match_run_review_queue.';
REVOKE ALL ON FUNCTION customer_profile._match_review_store(rule_id integer, identity_a bigint, identity_b bigint, refused boolean, enabled_only boolean, weight double precision, probability double precision) FROM PUBLIC;

CREATE FUNCTION customer_profile._match_review_queue(rule_id integer, identity_a bigint, identity_b bigint, refused boolean) RETURNS boolean
    LANGUAGE c STRICT
    AS 'MODULE_PATHNAME', 'cp_match_review_queue';
COMMENT ON FUNCTION customer_profile._match_review_queue(rule_id integer, identity_a bigint, identity_b bigint, refused boolean) IS 'Internal: the writer''s trait_observe queues a pair of an enabled rule for review, scored with the values the caller may read, stored as the owner of match_review (see _match_review_store). Returns whether a row was written.';
REVOKE ALL ON FUNCTION customer_profile._match_review_queue(rule_id integer, identity_a bigint, identity_b bigint, refused boolean) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION customer_profile._match_review_queue(rule_id integer, identity_a bigint, identity_b bigint, refused boolean) TO customer_profile_writer;

CREATE FUNCTION customer_profile._match_run_review_queue(rule_id integer, identity_a bigint, identity_b bigint, refused boolean) RETURNS boolean
    LANGUAGE c STRICT
    AS 'MODULE_PATHNAME', 'cp_match_run_review_queue';
COMMENT ON FUNCTION customer_profile._match_run_review_queue(rule_id integer, identity_a bigint, identity_b bigint, refused boolean) IS 'Internal: the admin''s match_run() queues a pair for review, enabled rule or not, scored with the values the caller may read, stored as the owner of match_review (see _match_review_store). Returns whether a row was written.';
REVOKE ALL ON FUNCTION customer_profile._match_run_review_queue(rule_id integer, identity_a bigint, identity_b bigint, refused boolean) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION customer_profile._match_run_review_queue(rule_id integer, identity_a bigint, identity_b bigint, refused boolean) TO customer_profile_admin;

CREATE FUNCTION customer_profile.match_review_accept(rule text, identity_a bigint, identity_b bigint) RETURNS text
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
DECLARE
    v record;
    outcome text;
    score double precision;
BEGIN
    IF rule IS NULL OR identity_a IS NULL OR identity_b IS NULL THEN
        RAISE EXCEPTION 'the rule and both identities must not be NULL' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    SELECT m.* INTO v FROM customer_profile.match_review m JOIN customer_profile.match_rule r USING (rule_id)
     WHERE r.name = match_review_accept.rule AND m.identity_a = least(match_review_accept.identity_a, match_review_accept.identity_b)
       AND m.identity_b = greatest(match_review_accept.identity_a, match_review_accept.identity_b)
       FOR UPDATE OF m;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'no review of this pair under rule "%"', rule USING ERRCODE = 'undefined_object';
    END IF;
    IF v.status = 'rejected' THEN
        RAISE EXCEPTION 'the pair was rejected under rule "%"', rule USING ERRCODE = 'object_not_in_prerequisite_state',
              DETAIL = format('Rejected by %s at %s; a rejection is final.', v.decided_by, v.decided_at);
    END IF;
    -- The link's score is the pair's probability scored now, not the stored one (a writer's process records reviews).
    SELECT x.probability INTO score FROM customer_profile._match_explain_ids(rule, v.identity_a, v.identity_b) x
     WHERE x.field = 'total';
    outcome := customer_profile._match_link(rule, v.identity_a, v.identity_b, coalesce(score, v.probability), 'match_review');
    UPDATE customer_profile.match_review m SET status = 'accepted', decided_at = now(), decided_by = session_user,
           reason = CASE WHEN outcome = 'refused' THEN m.reason || '; accepted but refused by a guard rail'
                         WHEN outcome = 'kept_apart' THEN m.reason || '; accepted but it would join a rejected pair'
                         ELSE m.reason END
     WHERE m.rule_id = v.rule_id AND m.identity_a = v.identity_a AND m.identity_b = v.identity_b;
    RETURN outcome;
END
$$;
COMMENT ON FUNCTION customer_profile.match_review_accept(rule text, identity_a bigint, identity_b bigint) IS 'Accepts a reviewed pair: the two records are linked (source match_review, under the guard rails); returns linked, already, refused (a guard rail) or kept_apart (it would join a rejected pair); a rejected pair cannot be accepted (55000). The pair counts as a match in the next match_estimate().';
REVOKE ALL ON FUNCTION customer_profile.match_review_accept(rule text, identity_a bigint, identity_b bigint) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION customer_profile.match_review_accept(rule text, identity_a bigint, identity_b bigint) TO customer_profile_admin;

CREATE FUNCTION customer_profile.match_review_reject(rule text, identity_a bigint, identity_b bigint) RETURNS boolean
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
DECLARE
    rid integer;
    lo bigint := least(identity_a, identity_b);
    hi bigint := greatest(identity_a, identity_b);
    rname text := rule;
    holder bigint;
    unlinked boolean := false;
BEGIN
    IF rule IS NULL OR identity_a IS NULL OR identity_b IS NULL THEN
        RAISE EXCEPTION 'the rule and both identities must not be NULL' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    SELECT r.rule_id INTO rid FROM customer_profile.match_rule r WHERE r.name = rname;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'unknown match rule "%"', rule USING ERRCODE = 'undefined_object';
    END IF;
    IF lo = hi OR NOT EXISTS (SELECT 1 FROM customer_profile.identity i WHERE i.identity_id = lo)
       OR NOT EXISTS (SELECT 1 FROM customer_profile.identity i WHERE i.identity_id = hi) THEN
        RAISE EXCEPTION 'identities % and % are not two known identifiers', lo, hi USING ERRCODE = 'undefined_object';
    END IF;
    INSERT INTO customer_profile.match_review AS m (rule_id, identity_a, identity_b, weight, probability, status, reason,
                                                    decided_at, decided_by)
    VALUES (rid, lo, hi, 0, 0, 'rejected', 'rejected without review', now(), session_user)
    ON CONFLICT ON CONSTRAINT match_review_pkey DO UPDATE SET status = 'rejected', decided_at = now(), decided_by = session_user;
    -- A link this rule (or its review) made between the two is withdrawn: the profile splits like after identity_unlink.
    -- The profile is locked, then its holding of the identity checked again (a merge may have moved it meanwhile).
    LOOP
        SELECT i.profile_id INTO holder FROM customer_profile.identity i WHERE i.identity_id = lo;
        PERFORM 1 FROM customer_profile.unified_profile u WHERE u.profile_id = holder FOR UPDATE;
        EXIT WHEN EXISTS (SELECT 1 FROM customer_profile.identity i WHERE i.identity_id = lo AND i.profile_id = holder);
    END LOOP;
    DELETE FROM customer_profile.identity_link l
     WHERE l.identity_a = lo AND l.identity_b = hi AND l.rule = rname;
    IF FOUND THEN
        PERFORM customer_profile._identity_split(holder, 'match_review_reject');
        unlinked := true;
    END IF;
    -- Other links (another rule's, a chain through a third record, a deterministic one) may still join the two: the
    -- rejection then only holds against new links, and the caller is told which links to withdraw.
    IF (SELECT i.profile_id FROM customer_profile.identity i WHERE i.identity_id = lo)
       = (SELECT i.profile_id FROM customer_profile.identity i WHERE i.identity_id = hi) THEN
        RAISE WARNING 'the rejected pair is still in one profile through other links'
            USING DETAIL = format('Identities %s and %s.', lo, hi),
                  HINT = 'identity_explain() shows the path between them; identity_unlink() withdraws a link on it.';
    END IF;
    RETURN unlinked;
END
$$;
COMMENT ON FUNCTION customer_profile.match_review_reject(rule text, identity_a bigint, identity_b bigint) IS 'Keeps two records apart for good under a rule: the pair is marked rejected (the rule never links it again, and it counts as a non-match in match_estimate()), and a link the rule made between them is withdrawn, splitting the profile; returns whether a link was withdrawn.';
REVOKE ALL ON FUNCTION customer_profile.match_review_reject(rule text, identity_a bigint, identity_b bigint) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION customer_profile.match_review_reject(rule text, identity_a bigint, identity_b bigint) TO customer_profile_admin;

CREATE VIEW customer_profile.match_rules AS
 SELECT r.name,
    r.namespaces,
    r.enabled,
    jsonb_array_length(r.fields) AS fields,
    jsonb_array_length(r.blocking) AS blocking_keys,
    r.link_threshold,
    r.review_threshold,
    r.deduplicates,
    (r.parameters ->> 'lambda'::text)::double precision AS lambda,
    r.estimated_at,
    r.run_done,
    r.run_total,
    (SELECT count(*) FROM customer_profile.match_review v
       JOIN customer_profile.identity ia ON ia.identity_id = v.identity_a
       JOIN customer_profile.identity ib ON ib.identity_id = v.identity_b
      WHERE v.rule_id = r.rule_id AND v.status = 'pending'::text AND ia.profile_id <> ib.profile_id) AS pending_reviews,
    (SELECT count(*) FROM customer_profile.identity_link l WHERE l.rule = r.name) AS links
   FROM customer_profile.match_rule r;
COMMENT ON VIEW customer_profile.match_rules IS 'Match rules with their thresholds, estimated share of matches, match_run() progress (run_done of run_total records), pending reviews and links made.';
GRANT SELECT ON TABLE customer_profile.match_rules TO customer_profile_reader;
REVOKE USAGE ON TYPE customer_profile.match_rules FROM PUBLIC;
COMMENT ON COLUMN customer_profile.match_rules.name IS 'The rule''s name.';
COMMENT ON COLUMN customer_profile.match_rules.namespaces IS 'The namespaces whose identifiers are the rule''s records.';
COMMENT ON COLUMN customer_profile.match_rules.enabled IS 'Whether arriving records are matched (trait_observe, attached tables).';
COMMENT ON COLUMN customer_profile.match_rules.fields IS 'How many fields the rule compares.';
COMMENT ON COLUMN customer_profile.match_rules.blocking_keys IS 'How many blocking keys pick the candidates (OR-ed).';
COMMENT ON COLUMN customer_profile.match_rules.link_threshold IS 'Match probability at or above which two records link.';
COMMENT ON COLUMN customer_profile.match_rules.review_threshold IS 'Match probability at or above which a pair waits for review.';
COMMENT ON COLUMN customer_profile.match_rules.deduplicates IS 'Namespaces whose per-profile cap the rule''s links may exceed.';
COMMENT ON COLUMN customer_profile.match_rules.lambda IS 'The estimated share of matches among compared pairs (NULL before match_estimate()).';
COMMENT ON COLUMN customer_profile.match_rules.estimated_at IS 'When match_estimate() last stored parameters.';
COMMENT ON COLUMN customer_profile.match_rules.run_done IS 'match_run(): records matched so far in the current (or last) run.';
COMMENT ON COLUMN customer_profile.match_rules.run_total IS 'match_run(): records of the rule when the last call ended.';
COMMENT ON COLUMN customer_profile.match_rules.pending_reviews IS 'Pairs waiting in match_reviews.';
COMMENT ON COLUMN customer_profile.match_rules.links IS 'Identity links the rule (or its review) made that still exist.';

CREATE VIEW customer_profile.match_reviews AS
 SELECT r.name AS rule,
    v.identity_a,
    na.name AS namespace_a,
    ia.profile_id AS profile_a,
    v.identity_b,
    nb.name AS namespace_b,
    ib.profile_id AS profile_b,
    v.probability,
    v.weight,
    v.reason,
    v.created_at
   FROM customer_profile.match_review v
     JOIN customer_profile.match_rule r USING (rule_id)
     JOIN customer_profile.identity ia ON ia.identity_id = v.identity_a
     JOIN customer_profile.namespace na ON na.namespace_id = ia.namespace_id
     JOIN customer_profile.identity ib ON ib.identity_id = v.identity_b
     JOIN customer_profile.namespace nb ON nb.namespace_id = ib.namespace_id
  WHERE v.status = 'pending'::text AND ia.profile_id <> ib.profile_id;
COMMENT ON VIEW customer_profile.match_reviews IS 'Pairs waiting for a decision (match_review_accept, match_review_reject), most likely first when ordered by probability; match_explain() shows why. A pending pair already in one profile (linked since by other evidence) is not listed.';
GRANT SELECT ON TABLE customer_profile.match_reviews TO customer_profile_reader;
REVOKE USAGE ON TYPE customer_profile.match_reviews FROM PUBLIC;
COMMENT ON COLUMN customer_profile.match_reviews.rule IS 'The rule that scored the pair.';
COMMENT ON COLUMN customer_profile.match_reviews.identity_a IS 'The first record''s identity id (the lower).';
COMMENT ON COLUMN customer_profile.match_reviews.namespace_a IS 'Its namespace.';
COMMENT ON COLUMN customer_profile.match_reviews.profile_a IS 'Its profile now.';
COMMENT ON COLUMN customer_profile.match_reviews.identity_b IS 'The second record''s identity id.';
COMMENT ON COLUMN customer_profile.match_reviews.namespace_b IS 'Its namespace.';
COMMENT ON COLUMN customer_profile.match_reviews.profile_b IS 'Its profile now.';
COMMENT ON COLUMN customer_profile.match_reviews.probability IS 'The pair''s match probability when it was scored.';
COMMENT ON COLUMN customer_profile.match_reviews.weight IS 'The pair''s total match weight (log2 of the likelihood ratio).';
COMMENT ON COLUMN customer_profile.match_reviews.reason IS 'Why the pair waits: between the thresholds, or a guard rail refused its link.';
COMMENT ON COLUMN customer_profile.match_reviews.created_at IS 'When the pair was first queued.';

CREATE FUNCTION customer_profile.profile_graph(profile_id bigint) RETURNS text
    LANGUAGE c STABLE STRICT
    AS 'MODULE_PATHNAME', 'cp_profile_graph';
COMMENT ON FUNCTION customer_profile.profile_graph(profile_id bigint) IS 'The profile''s identity graph as Graphviz DOT: identifiers (coloured by namespace, raw values only where kept), links labelled by source, rule, score and time (probabilistic links dashed), and the links guard rails refused (red, dotted). Render with dot -Tsvg.';
REVOKE ALL ON FUNCTION customer_profile.profile_graph(profile_id bigint) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION customer_profile.profile_graph(profile_id bigint) TO customer_profile_writer;
