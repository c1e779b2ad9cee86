#!/usr/bin/env bash
# `make bench`: identity-stitching benchmarks in one run on one throwaway
# cluster. Prints a table of medians and ratios and writes bench/out/results.md.
#
# Environment: BENCH_IDENTITIES (default 1000000), BENCH_SAMPLE (100000, for the
# plain-SQL loop), BENCH_REPEATS (3), BENCH_SECONDS (10, per pgbench run),
# BENCH_PARTS (graph resolve profiles events segments lookalike matching), BENCH_EVENTS,
# BENCH_PEOPLE, BENCH_VECTORS, BENCH_MATCH_* (see bench/events.sh, bench/segments.sh,
# bench/lookalike.sh and bench/matching.sh).
source "$(dirname "${BASH_SOURCE[0]}")/../scripts/lib.sh"
ensure_packages postgresql-15-pgrouting
cd "$PROJECT_ROOT"
N=${BENCH_IDENTITIES:-1000000}
SAMPLE=${BENCH_SAMPLE:-100000}
REPEATS=${BENCH_REPEATS:-3}
SECONDS_PER_RUN=${BENCH_SECONDS:-10}
OUT=bench/out
mkdir -p "$OUT"
chmod 755 "$OUT"

echo "== building and installing"
cmake -S . -B build/core >/dev/null
cmake --build build/core -j"$(nproc)" >/dev/null
build_and_install
start_cluster "shared_buffers = 1GB
work_mem = 64MB
maintenance_work_mem = 512MB
max_wal_size = 8GB
checkpoint_timeout = 30min"

GRAPH=$(mktemp -d /tmp/cp_graph.XXXXXX)
chmod 755 "$GRAPH"
mkdir -p "$GRAPH/full" "$GRAPH/sample"
build/core/graph_gen "$GRAPH/full" "$N" 42
build/core/graph_gen "$GRAPH/sample" "$SAMPLE" 7
chmod -R a+rX "$GRAPH"

now() { date +%s.%N; }
# Wall time of one psql command, in seconds.
time_sql() {
    local db=$1 sql=$2 start end
    start=$(now)
    psql -q -X -v ON_ERROR_STOP=1 -d "$db" -c "$sql" >/dev/null
    end=$(now)
    awk -v a="$start" -v b="$end" 'BEGIN { printf "%.3f", b - a }'
}
median() { tr ' ' '\n' | sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
# "2.5x faster" or "1.4x slower": how the second time compares with the first.
speed() { awk -v base="$1" -v t="$2" 'BEGIN { if (t <= base) printf "%.1fx faster", base / t; else printf "%.1fx slower", t / base }'; }
repeat_sql() {
    local db=$1 sql=$2 times=()
    for _ in $(seq "$REPEATS"); do times+=("$(time_sql "$db" "$sql")"); done
    echo "${times[*]}" | median
}

# Loads a generated graph into a fresh database with the extension and a
# pgRouting edge table over the same links.
load_graph() {
    local db=$1 dir=$2
    psql -q -X -v ON_ERROR_STOP=1 -d postgres -c "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db"
    psql -q -X -v ON_ERROR_STOP=1 -d "$db" <<SQL
CREATE EXTENSION customer_profile;
CREATE EXTENSION pgrouting CASCADE;
\copy customer_profile.identity (identity_id, namespace_id, value_hash, profile_id) FROM '$dir/identities.tsv'
\copy customer_profile.identity_link (identity_a, identity_b) FROM '$dir/links.tsv'
INSERT INTO customer_profile.unified_profile (profile_id) SELECT identity_id FROM customer_profile.identity;
SELECT setval('customer_profile.identity_identity_id_seq', (SELECT max(identity_id) FROM customer_profile.identity));
SELECT setval('customer_profile.unified_profile_profile_id_seq', (SELECT max(profile_id) FROM customer_profile.unified_profile));
CREATE TABLE bench_edges AS
    SELECT row_number() OVER () AS id, identity_a AS source, identity_b AS target,
           1.0::float8 AS cost, 1.0::float8 AS reverse_cost
      FROM customer_profile.identity_link;
VACUUM ANALYZE;
SQL
}

# Plain-SQL label propagation (bench/label_propagation.sql) over a copy of
# the links; prints its wall time. Preparing the copy is not timed.
sql_loop() {
    local db=$1 start end
    psql -q -X -v ON_ERROR_STOP=1 -d "$db" >/dev/null <<'SQL'
DROP TABLE IF EXISTS lp_label, lp_edge;
CREATE UNLOGGED TABLE lp_label AS SELECT identity_id AS id, identity_id AS label FROM customer_profile.identity;
ALTER TABLE lp_label ADD PRIMARY KEY (id);
CREATE UNLOGGED TABLE lp_edge AS
    SELECT identity_a AS a, identity_b AS b FROM customer_profile.identity_link
    UNION ALL SELECT identity_b, identity_a FROM customer_profile.identity_link;
CREATE INDEX ON lp_edge (a);
VACUUM ANALYZE lp_label, lp_edge;
SQL
    start=$(now)
    psql -q -X -v ON_ERROR_STOP=1 -d "$db" -f bench/label_propagation.sql >/dev/null 2>&1
    end=$(now)
    awk -v a="$start" -v b="$end" 'BEGIN { printf "%.3f", b - a }'
}
LOOP_AGREES="SELECT count(DISTINCT label) = (SELECT count(DISTINCT component_id) FROM customer_profile.identity_components()) FROM lp_label"

COMPONENTS="SELECT count(*) FROM customer_profile.identity_components()"
PGR="SELECT count(*) FROM pgr_connectedComponents('SELECT id, source, target, cost, reverse_cost FROM bench_edges')"

PARTS=" ${BENCH_PARTS:-graph resolve profiles events segments lookalike matching} "
has() { [[ "$PARTS" == *" $1 "* ]]; }
declare -A TPS RUNS PTPS PRUNS
if has graph; then
echo "== loading $N identities"
load_graph bench_full "$GRAPH/full"
echo "== identity_components() vs pgr_connectedComponents on $N identities"
full_components=$(repeat_sql bench_full "$COMPONENTS")
full_pgr=$(repeat_sql bench_full "$PGR")
if [ "${BENCH_SQL_FULL:-1}" = 1 ]; then
    echo "== plain-SQL label propagation on $N identities (minutes)"
    full_sql_loop=$(sql_loop bench_full)
    full_sql_agrees=$(psql -X -At -d bench_full -c "$LOOP_AGREES")
else
    full_sql_loop=skipped
    full_sql_agrees=n/a
fi
echo "== identity_rebuild() on $N identities, every identity starting in its own profile"
full_rebuild=$(time_sql bench_full "SELECT * FROM customer_profile.identity_rebuild()")
check=$(psql -X -At -d bench_full -c "SELECT sum(count) FROM customer_profile.identity_check()")
same=$(psql -X -At -d bench_full -c "SELECT (SELECT count(DISTINCT profile_id) FROM customer_profile.identity) = (SELECT count(DISTINCT component_id) FROM customer_profile.identity_components())")
full_counts=$(psql -X -At -d bench_full -c "SELECT format('%s identities, %s links, %s profiles after rebuild', (SELECT count(*) FROM customer_profile.identity), (SELECT count(*) FROM customer_profile.identity_link), (SELECT count(*) FROM customer_profile.unified_profile))")
echo "== identity_rebuild() again after 1% churn (1% of links withdrawn, 1% new random links)"
psql -q -X -v ON_ERROR_STOP=1 -d bench_full <<SQL
SELECT setseed(0.5);
DELETE FROM customer_profile.identity_link WHERE random() < 0.01;
INSERT INTO customer_profile.identity_link (identity_a, identity_b, source)
SELECT least(a, b), greatest(a, b), 'bench'
  FROM (SELECT 1 + (random() * ($N - 1))::bigint AS a, 1 + (random() * ($N - 1))::bigint AS b
          FROM generate_series(1, $N / 100)) s
 WHERE a <> b
ON CONFLICT DO NOTHING;
SQL
churn_rebuild=$(time_sql bench_full "SELECT * FROM customer_profile.identity_rebuild()")
churn_check=$(psql -X -At -d bench_full -c "SELECT sum(count) FROM customer_profile.identity_check()")

echo "== $SAMPLE-identity sample: the same three, plus plain-SQL label propagation"
load_graph bench_sample "$GRAPH/sample"
sample_components=$(repeat_sql bench_sample "$COMPONENTS")
sample_pgr=$(repeat_sql bench_sample "$PGR")
sample_sql_loop=$(sql_loop bench_sample)
sql_agrees=$(psql -X -At -d bench_sample -c "$LOOP_AGREES")

fi
if has resolve; then
echo "== resolve_identity() vs INSERT ... ON CONFLICT (pgbench, ${SECONDS_PER_RUN}s per run)"
psql -q -X -v ON_ERROR_STOP=1 -d postgres -c "DROP DATABASE IF EXISTS bench_resolve" -c "CREATE DATABASE bench_resolve"
psql -q -X -v ON_ERROR_STOP=1 -d bench_resolve <<'SQL'
CREATE EXTENSION customer_profile;
CREATE TABLE plain_identity (namespace text, value text, first_seen timestamptz NOT NULL DEFAULT now(),
                             PRIMARY KEY (namespace, value));
SELECT count(customer_profile.resolve_identity(jsonb_build_object('email', 'u' || n || '@example.org', 'cookie', 'c-' || n)))
  FROM generate_series(1, 20000) n;
INSERT INTO plain_identity (namespace, value)
SELECT ns, v FROM generate_series(1, 20000) n,
     LATERAL (VALUES ('email', 'u' || n || '@example.org'), ('cookie', 'c-' || n)) AS x(ns, v);
VACUUM ANALYZE;
SQL
tps() {
    pgbench -n -f "bench/pgbench/$1.sql" -c "$2" -j "$2" -T "$SECONDS_PER_RUN" bench_resolve 2>/dev/null |
        sed -n 's/^tps = \([0-9]*\).*/\1/p'
}
for _ in $(seq "$REPEATS"); do
    for clients in 1 2; do
        for kind in new returning; do
            # Interleaved so both sides see the same machine conditions.
            RUNS[resolve_${kind}_$clients]+=" $(tps "resolve_$kind" "$clients")"
            RUNS[plain_${kind}_$clients]+=" $(tps "plain_$kind" "$clients")"
        done
    done
done
for key in "${!RUNS[@]}"; do TPS[$key]=$(echo ${RUNS[$key]} | median); done

# Profiles: lookups and observations against a plain identity+jsonb model.
fi
if has profiles; then
    PROFILES=${BENCH_PROFILES:-1000000}
    echo "== loading $PROFILES profiles x 10 traits (3 sources)"
    psql -q -X -d postgres -c "DROP DATABASE IF EXISTS bench_profiles" -c "CREATE DATABASE bench_profiles"
    psql -q -X -v profiles="$PROFILES" -d bench_profiles -f bench/profiles_load.sql >/dev/null
    ptps() {
        pgbench -n -f "bench/pgbench/$1.sql" -D profiles="$PROFILES" -c "$2" -j "$2" -T "$SECONDS_PER_RUN" bench_profiles 2>/dev/null |
            sed -n 's/^tps = \([0-9]*\).*/\1/p'
    }
    echo "== profile_get vs plain join, trait_observe vs plain upsert (pgbench)"
    for _ in $(seq "$REPEATS"); do
        for clients in 1 2; do
            for kind in profile_get plain_get trait_observe plain_upsert; do
                PRUNS[${kind}_$clients]+=" $(ptps "$kind" "$clients")"
            done
        done
    done
    for key in "${!PRUNS[@]}"; do PTPS[$key]=$(echo ${PRUNS[$key]} | median); done
    profile_bytes=$(psql -X -At -d bench_profiles -c "SELECT round(avg(pg_column_size(data))) || ' bytes vs ' || (SELECT round(avg(pg_column_size(traits))) FROM plain_profile) || ' bytes as jsonb' FROM customer_profile.unified_profile")
fi

if has events || has segments; then
    source bench/events.sh
fi
if has events; then bench_events; fi
if has segments; then
    source bench/segments.sh
    bench_segments
fi
if has lookalike; then
    source bench/lookalike.sh
    bench_lookalike
fi
if has matching; then
    source bench/matching.sh
    bench_matching
fi

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.1fx", a / b; else print "n/a" }'; }
pct() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.0f%%", 100 * a / b; else print "n/a" }'; }
{
echo "### Benchmarks ($(date -u +%Y-%m-%d), $(nproc) cores, PostgreSQL $(psql -X -At -c 'SHOW server_version' | cut -d' ' -f1))"
echo
if has graph; then
echo "Graph: $full_counts. Medians of $REPEATS runs (wall time, one psql call each)."
echo
echo "| operation | $N identities | ratio |"
echo "| --- | ---: | ---: |"
echo "| \`identity_components()\` (in-memory union-find, components returned) | ${full_components} s | 1.0x |"
echo "| pgRouting \`pgr_connectedComponents\` over the same links | ${full_pgr} s | $(ratio "$full_pgr" "$full_components") slower |"
echo "| plain-SQL label propagation (UPDATE until nothing changes; one run) | ${full_sql_loop} s | $(ratio "$full_sql_loop" "$full_components") slower |"
echo "| \`identity_rebuild()\` from scratch: every identity alone, ~77% of rows rewritten (one run) | ${full_rebuild} s | $(ratio "$full_rebuild" "$full_pgr") pgRouting's compute time |"
echo "| \`identity_rebuild()\` after 1% link churn (one run) | ${churn_rebuild} s | $(ratio "$churn_rebuild" "$full_pgr") pgRouting's compute time |"
echo
echo "The SQL loop found the same components: $full_sql_agrees."
echo
echo "Rebuild check: identity_check() problems = $check after the first rebuild (profiles equal components: $same), $churn_check after the second."
echo
echo "| operation | $SAMPLE-identity sample | ratio |"
echo "| --- | ---: | ---: |"
echo "| \`identity_components()\` | ${sample_components} s | 1.0x |"
echo "| pgRouting \`pgr_connectedComponents\` | ${sample_pgr} s | $(ratio "$sample_pgr" "$sample_components") slower |"
echo "| plain-SQL label propagation (UPDATE until nothing changes; one run) | ${sample_sql_loop} s | $(ratio "$sample_sql_loop" "$sample_components") slower |"
echo
echo "SQL loop found the same components: $sql_agrees."
echo
fi
if has resolve; then
echo "| calls per second (pgbench, median of $REPEATS interleaved ${SECONDS_PER_RUN} s runs) | clients | \`resolve_identity()\` | plain \`INSERT ... ON CONFLICT\` | resolve / plain |"
echo "| --- | ---: | ---: | ---: | ---: |"
for kind in new returning; do
    for clients in 1 2; do
        echo "| $kind identifiers (email + cookie) | $clients | ${TPS[resolve_${kind}_$clients]} | ${TPS[plain_${kind}_$clients]} | $(pct "${TPS[resolve_${kind}_$clients]}" "${TPS[plain_${kind}_$clients]}") |"
    done
done
fi
if has profiles; then
echo
echo "Profiles: $PROFILES with 10 traits each from 3 sources; stored size per profile: $profile_bytes."
echo
echo "| per second (pgbench, median of $REPEATS interleaved ${SECONDS_PER_RUN} s runs) | clients | customer_profile | plain identity table + jsonb | customer_profile / plain |"
echo "| --- | ---: | ---: | ---: | ---: |"
for clients in 1 2; do
    echo "| read one trait by identifier: \`profile_get(ns, value)\` vs join | $clients | ${PTPS[profile_get_$clients]} | ${PTPS[plain_get_$clients]} | $(pct "${PTPS[profile_get_$clients]}" "${PTPS[plain_get_$clients]}") |"
done
for clients in 1 2; do
    echo "| observe 2 traits: \`trait_observe\` vs \`INSERT ... ON CONFLICT DO UPDATE\` of jsonb | $clients | ${PTPS[trait_observe_$clients]} | ${PTPS[plain_upsert_$clients]} | $(pct "${PTPS[trait_observe_$clients]}" "${PTPS[plain_upsert_$clients]}") |"
done
fi
if has events; then report_events; fi
if has segments; then report_segments; fi
if has lookalike; then report_lookalike; fi
if has matching; then report_matching; fi
} | tee "$OUT/results.md"
rm -rf "$GRAPH"
