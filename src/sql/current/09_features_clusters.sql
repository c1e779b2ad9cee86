-- Features and clusters: feature vectors per profile, look-alikes (nearest
-- profiles of a segment), and k-means clusters stored as segments.

-- A feature is a number (a value expression, standardized with the mean and
-- standard deviation seen at the last feature_build) or a category (a text
-- trait, one slot per frequent value: one-hot).
CREATE TABLE customer_profile.feature (
    name text NOT NULL,
    kind text NOT NULL,
    expression text NOT NULL,
    mean double precision,
    stddev double precision,
    categories text[],
    first_slot integer,
    defined_at timestamp with time zone DEFAULT now() NOT NULL,
    CONSTRAINT feature_kind_check CHECK ((kind = ANY (ARRAY['number'::text, 'category'::text]))),
    CONSTRAINT feature_name_check CHECK ((name ~ '^[a-z][a-z0-9_]{0,62}$'::text))
);
SELECT pg_catalog.pg_extension_config_dump('customer_profile.feature', '');
ALTER TABLE ONLY customer_profile.feature
    ADD CONSTRAINT feature_pkey PRIMARY KEY (name);
COMMENT ON TABLE customer_profile.feature IS 'Features of the profile vectors: numbers (value expressions, standardized) and categories (text traits, one-hot); statistics and slots from the last feature_build().';
GRANT SELECT ON TABLE customer_profile.feature TO customer_profile_reader;
GRANT SELECT ON TABLE customer_profile.feature TO customer_profile_worker;
REVOKE USAGE ON TYPE customer_profile.feature FROM PUBLIC;

CREATE TABLE customer_profile.cluster_model (
    cluster integer NOT NULL,
    size bigint NOT NULL,
    slots integer[] NOT NULL,
    centroid double precision[] NOT NULL,
    summary jsonb NOT NULL,
    seed bigint NOT NULL,
    built_at timestamp with time zone DEFAULT now() NOT NULL
);
SELECT pg_catalog.pg_extension_config_dump('customer_profile.cluster_model', '');
ALTER TABLE ONLY customer_profile.cluster_model
    ADD CONSTRAINT cluster_model_pkey PRIMARY KEY (cluster);
COMMENT ON TABLE customer_profile.cluster_model IS 'The clusters of the last profile_cluster(): size, centroid (standardized, for assigning new vectors) and summary in original units.';
GRANT SELECT ON TABLE customer_profile.cluster_model TO customer_profile_reader;
GRANT SELECT ON TABLE customer_profile.cluster_model TO customer_profile_worker;
REVOKE USAGE ON TYPE customer_profile.cluster_model FROM PUBLIC;

CREATE TABLE customer_profile.feature_list (
    list_id integer NOT NULL,
    centroid double precision[] NOT NULL,
    size bigint NOT NULL
);
SELECT pg_catalog.pg_extension_config_dump('customer_profile.feature_list', '');
ALTER TABLE ONLY customer_profile.feature_list
    ADD CONSTRAINT feature_list_pkey PRIMARY KEY (list_id);
COMMENT ON TABLE customer_profile.feature_list IS 'The look-alike search''s coarse lists: centroids from k-means over a sample of the vectors (feature_build), and how many vectors each holds.';
GRANT SELECT ON TABLE customer_profile.feature_list TO customer_profile_reader;
GRANT SELECT ON TABLE customer_profile.feature_list TO customer_profile_worker;
REVOKE USAGE ON TYPE customer_profile.feature_list FROM PUBLIC;

CREATE TABLE customer_profile.profile_feature (
    profile_id bigint NOT NULL,
    vector real[] NOT NULL,
    cluster integer,
    list_id integer,
    computed_at timestamp with time zone DEFAULT now() NOT NULL
);
SELECT pg_catalog.pg_extension_config_dump('customer_profile.profile_feature', '');
ALTER TABLE ONLY customer_profile.profile_feature
    ADD CONSTRAINT profile_feature_pkey PRIMARY KEY (profile_id);
CREATE INDEX profile_feature_cluster_idx ON customer_profile.profile_feature USING btree (cluster);
CREATE INDEX profile_feature_list_idx ON customer_profile.profile_feature USING btree (list_id);
COMMENT ON TABLE customer_profile.profile_feature IS 'Each profile''s feature vector (float4, in feature slot order) and its cluster from profile_cluster(); kept current by feature_refresh() (the worker).';
GRANT SELECT ON TABLE customer_profile.profile_feature TO customer_profile_reader;
GRANT SELECT,INSERT,DELETE,UPDATE ON TABLE customer_profile.profile_feature TO customer_profile_writer;
GRANT SELECT,INSERT,DELETE,UPDATE ON TABLE customer_profile.profile_feature TO customer_profile_worker;
REVOKE USAGE ON TYPE customer_profile.profile_feature FROM PUBLIC;

-- The arguments of _feature_vector() from the feature table, read once per statement.
CREATE FUNCTION customer_profile._feature_layout(OUT expressions text[], OUT means double precision[], OUT stddevs double precision[], OUT category_traits text[], OUT category_values text[]) RETURNS record
    LANGUAGE sql STABLE
    SET search_path TO 'pg_catalog', 'pg_temp'
    BEGIN ATOMIC
 SELECT COALESCE(( SELECT array_agg(f.expression ORDER BY f.first_slot) AS array_agg
            FROM customer_profile.feature f
           WHERE ((f.kind = 'number'::text) AND (f.first_slot IS NOT NULL))), '{}'::text[]) AS "coalesce",
     COALESCE(( SELECT array_agg(COALESCE(f.mean, (0)::double precision) ORDER BY f.first_slot) AS array_agg
            FROM customer_profile.feature f
           WHERE ((f.kind = 'number'::text) AND (f.first_slot IS NOT NULL))), '{}'::double precision[]) AS "coalesce",
     COALESCE(( SELECT array_agg(COALESCE(f.stddev, (0)::double precision) ORDER BY f.first_slot) AS array_agg
            FROM customer_profile.feature f
           WHERE ((f.kind = 'number'::text) AND (f.first_slot IS NOT NULL))), '{}'::double precision[]) AS "coalesce",
     COALESCE(( SELECT array_agg(f.expression ORDER BY f.first_slot, c.n) AS array_agg
            FROM (customer_profile.feature f
              CROSS JOIN LATERAL unnest(f.categories) WITH ORDINALITY c(v, n))
           WHERE ((f.kind = 'category'::text) AND (f.first_slot IS NOT NULL))), '{}'::text[]) AS "coalesce",
     COALESCE(( SELECT array_agg(c.v ORDER BY f.first_slot, c.n) AS array_agg
            FROM (customer_profile.feature f
              CROSS JOIN LATERAL unnest(f.categories) WITH ORDINALITY c(v, n))
           WHERE ((f.kind = 'category'::text) AND (f.first_slot IS NOT NULL))), '{}'::text[]) AS "coalesce";
END;
COMMENT ON FUNCTION customer_profile._feature_layout(OUT expressions text[], OUT means double precision[], OUT stddevs double precision[], OUT category_traits text[], OUT category_values text[]) IS 'Internal: the feature table as _feature_vector() arguments.';
REVOKE ALL ON FUNCTION customer_profile._feature_layout(OUT expressions text[], OUT means double precision[], OUT stddevs double precision[], OUT category_traits text[], OUT category_values text[]) FROM PUBLIC;
GRANT ALL ON FUNCTION customer_profile._feature_layout(OUT expressions text[], OUT means double precision[], OUT stddevs double precision[], OUT category_traits text[], OUT category_values text[]) TO customer_profile_writer;
GRANT ALL ON FUNCTION customer_profile._feature_layout(OUT expressions text[], OUT means double precision[], OUT stddevs double precision[], OUT category_traits text[], OUT category_values text[]) TO customer_profile_worker;

CREATE FUNCTION customer_profile._feature_lists_build(lists integer, seed bigint, slots integer[]) RETURNS double precision[]
    LANGUAGE c
    AS 'MODULE_PATHNAME', 'cp_feature_lists_build';
COMMENT ON FUNCTION customer_profile._feature_lists_build(lists integer, seed bigint, slots integer[]) IS 'Internal: trains the search lists on a sample of the vectors and files every vector; returns the centroids.';
REVOKE ALL ON FUNCTION customer_profile._feature_lists_build(lists integer, seed bigint, slots integer[]) FROM PUBLIC;

CREATE FUNCTION customer_profile._feature_vector(profile_id bigint, data customer_profile.profile, behavior bytea, expressions text[], means double precision[], stddevs double precision[], category_traits text[], category_values text[]) RETURNS real[]
    LANGUAGE c STABLE PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'cp_feature_vector';
COMMENT ON FUNCTION customer_profile._feature_vector(profile_id bigint, data customer_profile.profile, behavior bytea, expressions text[], means double precision[], stddevs double precision[], category_traits text[], category_values text[]) IS 'Internal: one profile''s feature vector.';
REVOKE ALL ON FUNCTION customer_profile._feature_vector(profile_id bigint, data customer_profile.profile, behavior bytea, expressions text[], means double precision[], stddevs double precision[], category_traits text[], category_values text[]) FROM PUBLIC;
GRANT ALL ON FUNCTION customer_profile._feature_vector(profile_id bigint, data customer_profile.profile, behavior bytea, expressions text[], means double precision[], stddevs double precision[], category_traits text[], category_values text[]) TO customer_profile_writer;
GRANT ALL ON FUNCTION customer_profile._feature_vector(profile_id bigint, data customer_profile.profile, behavior bytea, expressions text[], means double precision[], stddevs double precision[], category_traits text[], category_values text[]) TO customer_profile_worker;

CREATE FUNCTION customer_profile._nearest_cluster(vector real[], slots integer[], centroids double precision[]) RETURNS integer
    LANGUAGE c IMMUTABLE STRICT PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'cp_nearest_cluster';
COMMENT ON FUNCTION customer_profile._nearest_cluster(vector real[], slots integer[], centroids double precision[]) IS 'Internal: the 1-based number of the centroid nearest to a vector over the given slots.';
REVOKE ALL ON FUNCTION customer_profile._nearest_cluster(vector real[], slots integer[], centroids double precision[]) FROM PUBLIC;
GRANT ALL ON FUNCTION customer_profile._nearest_cluster(vector real[], slots integer[], centroids double precision[]) TO customer_profile_writer;
GRANT ALL ON FUNCTION customer_profile._nearest_cluster(vector real[], slots integer[], centroids double precision[]) TO customer_profile_worker;

CREATE FUNCTION customer_profile._profile_cluster_run(k integer, seed bigint, slots integer[]) RETURNS double precision[]
    LANGUAGE c
    AS 'MODULE_PATHNAME', 'cp_profile_cluster_run';
COMMENT ON FUNCTION customer_profile._profile_cluster_run(k integer, seed bigint, slots integer[]) IS 'Internal: k-means over the stored vectors; writes the clusters, returns the centroids.';
REVOKE ALL ON FUNCTION customer_profile._profile_cluster_run(k integer, seed bigint, slots integer[]) FROM PUBLIC;

CREATE FUNCTION customer_profile._vector_search(query real[], k integer, exclude bigint[]) RETURNS TABLE(profile_id bigint, distance double precision)
    LANGUAGE c STABLE
    AS 'MODULE_PATHNAME', 'cp_vector_search';
COMMENT ON FUNCTION customer_profile._vector_search(query real[], k integer, exclude bigint[]) IS 'Internal: the k stored vectors nearest to a query, reading the nearest lists only.';
REVOKE ALL ON FUNCTION customer_profile._vector_search(query real[], k integer, exclude bigint[]) FROM PUBLIC;
GRANT ALL ON FUNCTION customer_profile._vector_search(query real[], k integer, exclude bigint[]) TO customer_profile_reader;

-- Statistics, slots and every vector from scratch. Numbers take slots first
-- (in name order), then each category's values (up to 20 most frequent).
CREATE FUNCTION customer_profile.feature_build() RETURNS bigint
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
DECLARE
    f record;
    slot integer := 1;
    n bigint;
    lists integer;
    all_slots integer[];
    centroids float8[];
BEGIN
    IF NOT EXISTS (SELECT 1 FROM customer_profile.feature) THEN
        RAISE EXCEPTION 'no feature is defined' USING ERRCODE = 'object_not_in_prerequisite_state',
            HINT = 'Declare some with feature_define().';
    END IF;
    LOCK TABLE customer_profile.feature IN EXCLUSIVE MODE;
    -- Standardization: mean and population standard deviation of each number, in one pass.
    WITH e AS (SELECT array_agg(x.expression ORDER BY x.name) AS expressions, array_agg(x.name ORDER BY x.name) AS names
                 FROM customer_profile.feature x WHERE x.kind = 'number'),
    stats AS (
        SELECT e.names[t.i::int] AS name, avg(t.v) AS mean, stddev_pop(t.v) AS stddev
          FROM customer_profile.unified_profile u CROSS JOIN e
         CROSS JOIN LATERAL unnest(customer_profile._operand_values(u.profile_id, u.data, u.behavior, e.expressions))
               WITH ORDINALITY AS t(v, i)
         GROUP BY 1)
    UPDATE customer_profile.feature x SET mean = s.mean, stddev = s.stddev FROM stats s WHERE x.name = s.name;
    FOR f IN SELECT x.name, x.kind, x.expression FROM customer_profile.feature x ORDER BY x.kind DESC, x.name LOOP
        IF f.kind = 'number' THEN
            UPDATE customer_profile.feature x SET first_slot = slot WHERE x.name = f.name;
            slot := slot + 1;
        ELSE
            UPDATE customer_profile.feature x
               SET categories = coalesce((SELECT array_agg(c.v ORDER BY c.count DESC, c.v)
                                            FROM (SELECT t.v, count(*) AS count
                                                    FROM (SELECT customer_profile.profile_trait_text(u.data, f.expression) AS v
                                                            FROM customer_profile.unified_profile u) t
                                                   WHERE t.v IS NOT NULL
                                                   GROUP BY t.v ORDER BY 2 DESC, 1 LIMIT 20) c), '{}'),
                   first_slot = slot
             WHERE x.name = f.name
            RETURNING slot + cardinality(x.categories) INTO slot;
        END IF;
    END LOOP;
    -- A new layout: old vectors and clusters mean nothing in it.
    DELETE FROM customer_profile.profile_feature;
    DELETE FROM customer_profile.cluster_model;
    INSERT INTO customer_profile.profile_feature (profile_id, vector)
    SELECT u.profile_id,
           customer_profile._feature_vector(u.profile_id, u.data, u.behavior, l.expressions, l.means, l.stddevs,
                                            l.category_traits, l.category_values)
      FROM customer_profile.unified_profile u CROSS JOIN customer_profile._feature_layout() l;
    GET DIAGNOSTICS n = ROW_COUNT;
    -- The search lists: about sqrt(n) of them, so a search reads a few
    -- thousand vectors instead of all.
    SELECT array_agg(g ORDER BY g) INTO all_slots FROM generate_series(1, slot - 1) g;
    lists := greatest(1, least(1024, round(sqrt(n))::int));
    centroids := customer_profile._feature_lists_build(lists, 1, all_slots);
    DELETE FROM customer_profile.feature_list;
    INSERT INTO customer_profile.feature_list (list_id, centroid, size)
    SELECT i, centroids[(i - 1) * (slot - 1) + 1 : i * (slot - 1)],
           (SELECT count(*) FROM customer_profile.profile_feature pf WHERE pf.list_id = i)
      FROM generate_series(1, cardinality(centroids) / greatest(slot - 1, 1)) i;
    RETURN n;
END
$$;
COMMENT ON FUNCTION customer_profile.feature_build() IS 'Computes the features'' statistics and slots and every profile''s vector from scratch (clears the clusters); returns how many vectors.';
REVOKE ALL ON FUNCTION customer_profile.feature_build() FROM PUBLIC;
GRANT ALL ON FUNCTION customer_profile.feature_build() TO customer_profile_admin;

CREATE FUNCTION customer_profile.feature_define(name text, expression text, kind text DEFAULT 'number'::text) RETURNS text
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $_$
DECLARE
    normalized text;
BEGIN
    IF name IS NULL OR name !~ '^[a-z][a-z0-9_]{0,62}$' THEN
        RAISE EXCEPTION 'invalid feature name %', coalesce(quote_literal(left(name, 64)), 'NULL')
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Use 1-63 lower-case letters, digits and underscores, starting with a letter.';
    END IF;
    IF expression IS NULL OR kind IS NULL THEN
        RAISE EXCEPTION 'expression and kind must not be NULL' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF kind = 'number' THEN
        normalized := (customer_profile._operand_describe(expression)).normalized;
    ELSIF kind = 'category' THEN
        IF length(expression) NOT BETWEEN 1 AND 63 THEN
            RAISE EXCEPTION 'a category feature names a text trait (1 to 63 bytes)' USING ERRCODE = 'invalid_parameter_value';
        END IF;
        normalized := expression;
    ELSE
        RAISE EXCEPTION 'kind must be ''number'' or ''category''' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    INSERT INTO customer_profile.feature AS f (name, kind, expression)
    VALUES (feature_define.name, feature_define.kind, normalized)
    ON CONFLICT ON CONSTRAINT feature_pkey DO UPDATE
       SET kind = excluded.kind, expression = excluded.expression, mean = NULL, stddev = NULL, categories = NULL,
           first_slot = NULL;
    RETURN normalized;
END
$_$;
COMMENT ON FUNCTION customer_profile.feature_define(name text, expression text, kind text) IS 'Declares (or redeclares) a feature: a number (a value expression such as ltv or count(purchase within 90 days)) or a category (a text trait, one-hot); takes effect at the next feature_build().';
REVOKE ALL ON FUNCTION customer_profile.feature_define(name text, expression text, kind text) FROM PUBLIC;
GRANT ALL ON FUNCTION customer_profile.feature_define(name text, expression text, kind text) TO customer_profile_admin;

CREATE FUNCTION customer_profile.feature_drop(name text) RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
BEGIN
    DELETE FROM customer_profile.feature f WHERE f.name = feature_drop.name;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'unknown feature %', coalesce(quote_literal(left(name, 64)), 'NULL')
            USING ERRCODE = 'undefined_object';
    END IF;
END
$$;
COMMENT ON FUNCTION customer_profile.feature_drop(name text) IS 'Removes a feature (takes effect at the next feature_build()).';
REVOKE ALL ON FUNCTION customer_profile.feature_drop(name text) FROM PUBLIC;
GRANT ALL ON FUNCTION customer_profile.feature_drop(name text) TO customer_profile_admin;

-- The vectors of profiles changed since they were computed, or new, and the
-- rows of deleted profiles; a changed vector moves to its nearest cluster
-- and the segments that read in_cluster() follow (what the worker runs).
CREATE FUNCTION customer_profile.feature_refresh(max_profiles integer DEFAULT 10000) RETURNS integer
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
DECLARE
    stale bigint[];
    moved bigint[];
    centroids float8[];
    chosen integer[];
    list_centroids float8[];
    all_slots integer[];
BEGIN
    IF max_profiles IS NULL OR max_profiles < 1 THEN
        RAISE EXCEPTION 'max_profiles must be at least 1' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF NOT EXISTS (SELECT 1 FROM customer_profile.feature WHERE first_slot IS NOT NULL) THEN
        RETURN 0;
    END IF;
    DELETE FROM customer_profile.profile_feature f
     WHERE NOT EXISTS (SELECT 1 FROM customer_profile.unified_profile u WHERE u.profile_id = f.profile_id);
    SELECT array_agg(x.profile_id) INTO stale FROM (
        SELECT u.profile_id FROM customer_profile.unified_profile u
          LEFT JOIN customer_profile.profile_feature f USING (profile_id)
         WHERE f.profile_id IS NULL OR f.computed_at < u.updated_at
         ORDER BY u.profile_id LIMIT max_profiles) x;
    IF stale IS NULL THEN
        RETURN 0;
    END IF;
    SELECT array_agg(m.centroid ORDER BY m.cluster, m.n), min(m.slots) INTO centroids, chosen FROM (
        SELECT m.cluster, c.v AS centroid, c.n, m.slots
          FROM customer_profile.cluster_model m, unnest(m.centroid) WITH ORDINALITY AS c(v, n)) m;
    SELECT array_agg(c.v ORDER BY l.list_id, c.n) INTO list_centroids
      FROM customer_profile.feature_list l, unnest(l.centroid) WITH ORDINALITY AS c(v, n);
    SELECT array_agg(g ORDER BY g) INTO all_slots
      FROM generate_series(1, (SELECT cardinality(l.centroid) FROM customer_profile.feature_list l LIMIT 1)) g;
    WITH fresh AS (
        SELECT u.profile_id,
               customer_profile._feature_vector(u.profile_id, u.data, u.behavior, l.expressions, l.means, l.stddevs,
                                                l.category_traits, l.category_values) AS vector
          FROM customer_profile.unified_profile u CROSS JOIN customer_profile._feature_layout() l
         WHERE u.profile_id = ANY (stale)),
    written AS (
        INSERT INTO customer_profile.profile_feature AS f (profile_id, vector, cluster, list_id, computed_at)
        SELECT x.profile_id, x.vector, customer_profile._nearest_cluster(x.vector, chosen, centroids),
               customer_profile._nearest_cluster(x.vector, all_slots, list_centroids), now()
          FROM fresh x
        ON CONFLICT ON CONSTRAINT profile_feature_pkey DO UPDATE
           SET vector = excluded.vector, cluster = excluded.cluster, list_id = excluded.list_id,
               computed_at = excluded.computed_at
        RETURNING f.profile_id, f.cluster)
    SELECT array_agg(w.profile_id) INTO moved FROM written w;
    PERFORM customer_profile._segment_stream(moved, 'cluster');
    RETURN cardinality(stale);
END
$$;
COMMENT ON FUNCTION customer_profile.feature_refresh(max_profiles integer) IS 'Recomputes the vectors of new and changed profiles (and their nearest cluster), up to max_profiles; returns how many.';
REVOKE ALL ON FUNCTION customer_profile.feature_refresh(max_profiles integer) FROM PUBLIC;
GRANT ALL ON FUNCTION customer_profile.feature_refresh(max_profiles integer) TO customer_profile_writer;
GRANT ALL ON FUNCTION customer_profile.feature_refresh(max_profiles integer) TO customer_profile_worker;

CREATE FUNCTION customer_profile.profile_cluster(k integer, features text[] DEFAULT NULL::text[], seed bigint DEFAULT 1) RETURNS TABLE(cluster integer, size bigint, summary jsonb)
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $_$
DECLARE
    chosen integer[];
    centroids float8[];
    width integer;
    i integer;
    unknown text;
BEGIN
    IF k IS NULL OR k NOT BETWEEN 1 AND 1000 THEN
        RAISE EXCEPTION 'k must be between 1 and 1000' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF seed IS NULL THEN
        RAISE EXCEPTION 'seed must not be NULL' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF NOT EXISTS (SELECT 1 FROM customer_profile.profile_feature) THEN
        RAISE EXCEPTION 'no feature vectors' USING ERRCODE = 'object_not_in_prerequisite_state',
            HINT = 'Declare features with feature_define() and run feature_build().';
    END IF;
    SELECT min(n.x) INTO unknown FROM unnest(features) n(x)
     WHERE NOT EXISTS (SELECT 1 FROM customer_profile.feature f WHERE f.name = n.x AND f.first_slot IS NOT NULL);
    IF unknown IS NOT NULL THEN
        RAISE EXCEPTION 'unknown or unbuilt feature %', quote_literal(left(unknown, 64)) USING ERRCODE = 'undefined_object';
    END IF;
    -- The slots of the chosen features (all by default).
    SELECT array_agg(s ORDER BY s) INTO chosen FROM (
        SELECT generate_series(f.first_slot,
                               f.first_slot + CASE f.kind WHEN 'number' THEN 1 ELSE cardinality(f.categories) END - 1) AS s
          FROM customer_profile.feature f
         WHERE f.first_slot IS NOT NULL AND (features IS NULL OR f.name = ANY (features))) x;
    IF chosen IS NULL THEN
        RAISE EXCEPTION 'the chosen features have no slot (a category with no value?)' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    width := cardinality(chosen);
    centroids := customer_profile._profile_cluster_run(k, seed, chosen);
    DELETE FROM customer_profile.cluster_model;
    FOR i IN 1..k LOOP
        INSERT INTO customer_profile.cluster_model (cluster, size, slots, centroid, summary, seed)
        SELECT i, (SELECT count(*) FROM customer_profile.profile_feature p WHERE p.cluster = i), chosen,
               centroids[(i - 1) * width + 1 : i * width],
               -- In original units: a number's mean, a category's share of each value.
               (SELECT jsonb_object_agg(f.name,
                         CASE f.kind
                           WHEN 'number' THEN to_jsonb(round((coalesce(f.mean, 0)
                                  + coalesce(f.stddev, 0) * centroids[(i - 1) * width + array_position(chosen, f.first_slot)])::numeric, 4))
                           ELSE (SELECT jsonb_object_agg(c.v, round(centroids[(i - 1) * width + array_position(chosen, f.first_slot + c.n::int - 1)]::numeric, 4))
                                   FROM unnest(f.categories) WITH ORDINALITY AS c(v, n))
                         END ORDER BY f.name)
                  FROM customer_profile.feature f
                 WHERE f.first_slot = ANY (chosen)),
               seed;
    END LOOP;
    -- One segment per cluster; those of a previous, larger k go.
    FOR i IN 1..k LOOP
        IF EXISTS (SELECT 1 FROM customer_profile.segment s WHERE s.name = 'auto_cluster_' || i) THEN
            PERFORM customer_profile.segment_alter('auto_cluster_' || i, 'in_cluster(' || i || ')');
        ELSE
            PERFORM customer_profile.segment_create('auto_cluster_' || i, 'in_cluster(' || i || ')',
                                                    'Made by profile_cluster()');
        END IF;
        PERFORM customer_profile.segment_refresh('auto_cluster_' || i);
    END LOOP;
    FOR i IN SELECT substr(s.name, 14)::int FROM customer_profile.segment s
              WHERE s.name ~ '^auto_cluster_[0-9]+$' AND substr(s.name, 14)::int > k LOOP
        PERFORM customer_profile.segment_drop('auto_cluster_' || i);
    END LOOP;
    RETURN QUERY SELECT m.cluster, m.size, m.summary FROM customer_profile.cluster_model m ORDER BY m.cluster;
END
$_$;
COMMENT ON FUNCTION customer_profile.profile_cluster(k integer, features text[], seed bigint) IS 'k-means (k-means++ seeding from a fixed seed) over the feature vectors (all features, or the named ones); stores the clusters as segments auto_cluster_1..k and returns each cluster''s size and centroid in original units.';
REVOKE ALL ON FUNCTION customer_profile.profile_cluster(k integer, features text[], seed bigint) FROM PUBLIC;
GRANT ALL ON FUNCTION customer_profile.profile_cluster(k integer, features text[], seed bigint) TO customer_profile_admin;

CREATE FUNCTION customer_profile.profile_similar(profile_id bigint, k integer) RETURNS TABLE(similar_profile_id bigint, score double precision)
    LANGUAGE plpgsql STABLE
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
DECLARE
    live bigint;
    query real[];
BEGIN
    IF k IS NULL OR k NOT BETWEEN 1 AND 100000 THEN
        RAISE EXCEPTION 'k must be between 1 and 100000' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    live := customer_profile.profile_resolve(profile_similar.profile_id);
    SELECT f.vector INTO query FROM customer_profile.profile_feature f WHERE f.profile_id = live;
    IF query IS NULL THEN
        RETURN;  -- unknown profile, or no vector yet
    END IF;
    RETURN QUERY SELECT s.profile_id, 1 / (1 + s.distance)
                   FROM customer_profile._vector_search(query, k, ARRAY[live]) s
                  ORDER BY s.distance, s.profile_id;
END
$$;
COMMENT ON FUNCTION customer_profile.profile_similar(profile_id bigint, k integer) IS 'The k profiles whose feature vectors are nearest to this one''s (score 1 / (1 + distance)); none for an unknown profile or one without a vector.';
REVOKE ALL ON FUNCTION customer_profile.profile_similar(profile_id bigint, k integer) FROM PUBLIC;
GRANT ALL ON FUNCTION customer_profile.profile_similar(profile_id bigint, k integer) TO customer_profile_reader;

-- Look-alikes: the profiles outside a seed segment nearest to the seed's
-- centroid (the mean of its members' standardized vectors); score 1 / (1 +
-- Euclidean distance). The search reads only the lists nearest to the
-- centroid (see _vector_search), not every profile.
CREATE FUNCTION customer_profile.segment_lookalike(seed_segment text, k integer) RETURNS TABLE(profile_id bigint, score double precision)
    LANGUAGE plpgsql STABLE
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
DECLARE
    seed bigint[];
    centroid real[];
BEGIN
    IF k IS NULL OR k NOT BETWEEN 1 AND 100000 THEN
        RAISE EXCEPTION 'k must be between 1 and 100000' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    seed := ARRAY(SELECT customer_profile.segment_members(seed_segment));  -- 42704 for an unknown segment
    SELECT array_agg(x.mean ORDER BY x.i) INTO centroid FROM (
        SELECT t.i, avg(t.v)::real AS mean
          FROM customer_profile.profile_feature f, unnest(f.vector) WITH ORDINALITY AS t(v, i)
         WHERE f.profile_id = ANY (seed)
         GROUP BY t.i) x;
    IF centroid IS NULL THEN
        RAISE EXCEPTION 'segment % has no member with a feature vector', quote_literal(left(seed_segment, 64))
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  HINT = 'Refresh the segment, and build the features (feature_build).';
    END IF;
    RETURN QUERY SELECT s.profile_id, 1 / (1 + s.distance)
                   FROM customer_profile._vector_search(centroid, k, seed) s
                  ORDER BY s.distance, s.profile_id;
END
$$;
COMMENT ON FUNCTION customer_profile.segment_lookalike(seed_segment text, k integer) IS 'The k profiles outside a segment most similar to it: nearest to the mean of its members'' feature vectors (score 1 / (1 + distance)), found through the search lists.';
REVOKE ALL ON FUNCTION customer_profile.segment_lookalike(seed_segment text, k integer) FROM PUBLIC;
GRANT ALL ON FUNCTION customer_profile.segment_lookalike(seed_segment text, k integer) TO customer_profile_reader;
