# Sourced by bench/run.sh: the "lookalike" part. BENCH_VECTORS (default
# 1,000,000) profiles x 20 standardized features drawn around 10 planted
# centers:
#   1. k-means (k = 10): the core's _profile_cluster_run (and the whole
#      profile_cluster() with its segments) vs one Lloyd iteration written in
#      SQL with the cube extension (contrib, shipped with Debian's
#      PostgreSQL), scaled to the same number of iterations;
#   2. look-alike search (k = 100): segment_lookalike() and profile_similar()
#      through the search lists vs an exact kNN in SQL with cube's <->, both
#      as a full scan and through a GiST index, with the recall of the lists.
VECTORS=${BENCH_VECTORS:-1000000}

bench_lookalike() {
    local db=bench_lookalike
    echo "== look-alikes: $VECTORS profiles x 20 features"
    psql -q -X -d postgres -c "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db"
    psql -q -X -v ON_ERROR_STOP=1 -v n="$VECTORS" -d $db <<'SQL'
CREATE EXTENSION customer_profile;
CREATE EXTENSION cube;
-- 20 numeric features already standardized (mean 0, standard deviation 1 as declared).
INSERT INTO customer_profile.feature (name, kind, expression, mean, stddev, first_slot)
SELECT format('f%s', lpad(d::text, 2, '0')), 'number', format('f%s', lpad(d::text, 2, '0')), 0, 1, d
  FROM generate_series(1, 20) d;
INSERT INTO customer_profile.unified_profile (profile_id) SELECT g FROM generate_series(1, :n) g;
SELECT setseed(0.42);
-- Profile g belongs to planted group g % 10, centered at 3 on its two dimensions.
INSERT INTO customer_profile.profile_feature (profile_id, vector)
SELECT g, ARRAY(SELECT ((CASE WHEN d / 2 = g % 10 THEN 3 ELSE 0 END) + (random() + random() + random() - 1.5))::real
                  FROM generate_series(0, 19) d)
  FROM generate_series(1, :n) g;
CREATE TABLE plain_vector AS SELECT profile_id, cube(vector::float8[]) AS c FROM customer_profile.profile_feature;
ANALYZE;
SQL
    # About sqrt(n) lists, as feature_build() makes them.
    lk_lists=$(time_sql $db "CREATE TABLE list_centroids AS
SELECT customer_profile._feature_lists_build(greatest(1, least(1024, round(sqrt($VECTORS))::int)), 1,
                                             ARRAY(SELECT generate_series(1, 20))) AS v;
INSERT INTO customer_profile.feature_list (list_id, centroid, size)
SELECT i, c.v[(i - 1) * 20 + 1 : i * 20], (SELECT count(*) FROM customer_profile.profile_feature f WHERE f.list_id = i)
  FROM list_centroids c, generate_series(1, cardinality(c.v) / 20) i")
    lk_gist=$(time_sql $db "CREATE INDEX plain_vector_gist ON plain_vector USING gist (c)")

    echo "== k-means: the core vs one SQL iteration"
    lk_kmeans=$(repeat_sql $db "SELECT cardinality(customer_profile._profile_cluster_run(10, 1, ARRAY(SELECT generate_series(1, 20))))")
    lk_cluster=$(time_sql $db "SELECT count(*) FROM customer_profile.profile_cluster(10, NULL, 1)")
    lk_ari=$(psql -X -At -d $db <<'SQL'
WITH o AS (SELECT profile_id % 10 AS planted, cluster AS found FROM customer_profile.profile_feature),
     pairs AS (SELECT count(*) * (count(*) - 1) / 2.0 AS c FROM o),
     ij AS (SELECT sum(n * (n - 1) / 2.0) AS s FROM (SELECT count(*) AS n FROM o GROUP BY planted, found) x),
     a AS (SELECT sum(n * (n - 1) / 2.0) AS s FROM (SELECT count(*) AS n FROM o GROUP BY planted) x),
     b AS (SELECT sum(n * (n - 1) / 2.0) AS s FROM (SELECT count(*) AS n FROM o GROUP BY found) x)
SELECT round((ij.s - a.s * b.s / pairs.c) / ((a.s + b.s) / 2 - a.s * b.s / pairs.c), 4) FROM pairs, ij, a, b;
SQL
)
    # One Lloyd iteration in SQL from the same start (the core's centroids
    # perturbed): assign each vector to its nearest centroid, then average.
    psql -q -X -v ON_ERROR_STOP=1 -d $db <<'SQL'
CREATE TABLE km_centroid AS
SELECT m.cluster, cube(ARRAY(SELECT c + 0.1 FROM unnest(m.centroid) c)) AS c FROM customer_profile.cluster_model m;
SQL
    lk_sql_iteration=$(time_sql $db "CREATE TEMP TABLE assigned AS
SELECT v.profile_id, n.cluster FROM plain_vector v
 CROSS JOIN LATERAL (SELECT k.cluster FROM km_centroid k ORDER BY k.c <-> v.c LIMIT 1) n;
CREATE TEMP TABLE moved AS
SELECT x.cluster, cube(array_agg(x.m ORDER BY x.d)) AS c FROM (
  SELECT a.cluster, d, avg(cube_ll_coord(v.c, d)) AS m FROM assigned a JOIN plain_vector v USING (profile_id),
         generate_series(1, 20) d GROUP BY a.cluster, d) x
 GROUP BY x.cluster")

    echo "== look-alike search: the lists vs exact kNN with cube"
    psql -q -X -v ON_ERROR_STOP=1 -d $db >/dev/null <<'SQL'
SELECT customer_profile.segment_create('bench_seed', 'in_cluster(1)');
SELECT customer_profile.segment_refresh('bench_seed');
SQL
    lk_lookalike=$(repeat_sql $db "SELECT count(*) FROM customer_profile.segment_lookalike('bench_seed', 100)")
    lk_similar=$(repeat_sql $db "SELECT count(*) FROM customer_profile.profile_similar(12345, 100)")
    local exact="SELECT v.profile_id FROM plain_vector v, plain_vector q WHERE q.profile_id = 12345 AND v.profile_id <> 12345 ORDER BY v.c <-> q.c LIMIT 100"
    lk_exact_scan=$(repeat_sql $db "SET enable_indexscan = off; SET enable_bitmapscan = off; SELECT count(*) FROM ($exact) x")
    lk_exact_gist=$(repeat_sql $db "SELECT count(*) FROM ($exact) x")
    lk_recall=$(psql -X -At -d $db -c "SELECT count(*) FROM customer_profile.profile_similar(12345, 100) s
        WHERE s.similar_profile_id IN ($exact)")
    lk_probed=$(psql -X -At -d $db -c "SELECT format('%s lists of about %s vectors', count(*), round(avg(size))) FROM customer_profile.feature_list")
}

report_lookalike() {
    echo
    echo "Look-alikes and clustering: $VECTORS profiles x 20 features around 10 planted centers; search lists: $lk_probed (built in $lk_lists s; cube's GiST index in $lk_gist s)."
    echo
    echo "| operation | seconds | vs plain SQL |"
    echo "| --- | ---: | ---: |"
    echo "| k-means, k = 10: \`_profile_cluster_run\` (5 greedy k-means++ seedings, the best after 3 iterations run to convergence; in the core; median of $REPEATS) | $lk_kmeans | |"
    echo "| the whole \`profile_cluster(10)\` (plus 10 segments refreshed, summaries; one run) | $lk_cluster | |"
    echo "| one Lloyd iteration in SQL with cube (nearest centroid by \`<->\`, then per-dimension averages; one run) | $lk_sql_iteration | the core's whole run is $(speed "$lk_sql_iteration" "$lk_kmeans") than one SQL iteration |"
    echo "| \`segment_lookalike(seed, 100)\` (seed: a cluster of ~$((VECTORS / 10)) profiles; median of $REPEATS) | $lk_lookalike | |"
    echo "| \`profile_similar(p, 100)\` through the lists (median of $REPEATS) | $lk_similar | |"
    echo "| exact 100 nearest with cube \`<->\`, full scan (median of $REPEATS) | $lk_exact_scan | lists $(speed "$lk_exact_scan" "$lk_similar") |"
    echo "| exact 100 nearest with cube \`<->\`, GiST kNN index (median of $REPEATS) | $lk_exact_gist | lists $(speed "$lk_exact_gist" "$lk_similar") |"
    echo
    echo "Adjusted Rand index of the 10 clusters against the planted groups: $lk_ari. Recall of \`profile_similar\` (lists) against the exact 100 nearest: $lk_recall / 100."
}
