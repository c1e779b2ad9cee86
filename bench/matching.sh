# Sourced by bench/run.sh: the "matching" part (issue 17).
#
# Quality: person records from bench/person_gen (a published corruption
# model: typos, OCR errors, phonetic variants, nicknames, swapped names and
# day/month, missing values, moved addresses; known truth), at every size and
# duplicate rate of BENCH_MATCH_CONFIGS ("people:rate ..."), each matched
#   - deterministically: the national id as an identifier namespace (what
#     stitching alone does with the same records);
#   - in batch: records stored with the rule disabled, match_estimate(), then
#     match_run();
#   - incrementally: the batch run's parameters, records observed one by one
#     in arrival order through trait_observe;
# pairwise precision, recall and F1 of each against the truth. The same rule
# and thresholds for every configuration.
#
# Speed: BENCH_MATCH_EXISTING records stored set-wise, match_run() over them
# timed, then BENCH_MATCH_NEW new records (duplicates among them) observed by
# 2 pgbench clients: records per second, p50 and p99 per record; against the
# same records matched by a Splink-style SQL prefilter and scoring
# (fuzzystrmatch, pg_trgm) over a plain table with btree indexes.
MATCH_CONFIGS=${BENCH_MATCH_CONFIGS:-"10000:0.2 10000:0.5 50000:0.3"}
MATCH_EXISTING=${BENCH_MATCH_EXISTING:-1000000}
MATCH_NEW=${BENCH_MATCH_NEW:-10000}
MATCH_FIELDS='[
  {"trait": "first_name", "levels": [{"exact": true}, {"swapped_with": "last_name"}, {"jaro_winkler": 0.9}, {"jaro_winkler": 0.75}]},
  {"trait": "last_name", "levels": [{"exact": true}, {"swapped_with": "first_name"}, {"jaro_winkler": 0.92}, {"jaro_winkler": 0.8}]},
  {"trait": "address", "levels": [{"exact": true}, {"token_set": 0.6}, {"token_set": 0.3}]},
  {"trait": "dob", "levels": [{"exact": true}, {"date_swapped": true}, {"date_one_digit": true}, {"damerau_levenshtein": 1}, {"same_year": true}]},
  {"trait": "national_id", "levels": [{"exact": true}, {"damerau_levenshtein": 1}, {"damerau_levenshtein": 2}]}]'
# Blocking keys chosen with match_blocking() at 1,000,000 records (docs/matching.md, "Choosing keys"): a date of
# birth alone or a street number with two letters of a name brought 36 and 80 candidates per record; narrowed
# (the date with an initial or the street number, the number with the street's initials) they bring a few each,
# and together they find as many of the generated true pairs.
MATCH_BLOCKING='[["deletions(national_id)"], ["dob", "first(last_name, 1)"], ["dob", "first(first_name, 1)"],
  ["dob", "digits(address)"], ["soundex(last_name)", "soundex(first_name)", "year(dob)"],
  ["digits(address)", "initials(address)", "first(last_name, 2)", "first(first_name, 1)"]]'
MATCH_LINK=0.99
MATCH_REVIEW=0.5

# Creates database $1 with the extension, the namespaces and the staged records of file $2.
match_db() {
    local db=$1 file=$2
    psql -q -X -d postgres -c "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db"
    psql -q -X -v ON_ERROR_STOP=1 -d "$db" <<SQL
CREATE EXTENSION customer_profile;
SELECT customer_profile.identity_namespace_create('support_id', is_known => true);
SELECT customer_profile.identity_namespace_create('national_id', is_known => true);
CREATE TABLE staged (record_id text, person text, source text, first_name text, last_name text, address text,
                     dob text, national_id text, arrival bigserial);
\\copy staged (record_id, person, source, first_name, last_name, address, dob, national_id) FROM '$file'
ALTER TABLE staged ADD COLUMN ns text, ADD COLUMN traits jsonb;
UPDATE staged SET ns = CASE source WHEN 'crm' THEN 'crm_id' ELSE 'support_id' END,
       traits = jsonb_strip_nulls(jsonb_build_object('first_name', nullif(first_name, ''),
                   'last_name', nullif(last_name, ''), 'address', nullif(address, ''), 'dob', nullif(dob, ''),
                   'national_id', nullif(national_id, '')));
CREATE INDEX ON staged (arrival);
SQL
}

match_rule_sql() {
    echo "SELECT customer_profile.match_rule_create('people', ARRAY['crm_id', 'support_id'], \$f\$$MATCH_FIELDS\$f\$,
          \$b\$$MATCH_BLOCKING\$b\$, $MATCH_LINK, $MATCH_REVIEW)"
}

# Observes every staged record in arrival order, committing every 100 records
# (as an application would); with "det" the national id is also an identifier.
match_observe() {
    local db=$1 mode=$2 identities="jsonb_build_object(r.ns, r.record_id)"
    [ "$mode" = det ] && identities="jsonb_strip_nulls(jsonb_build_object(r.ns, r.record_id, 'national_id', nullif(r.national_id, '')))"
    psql -q -X -v ON_ERROR_STOP=1 -d "$db" -c "DO \$\$ DECLARE r record; i bigint := 0; BEGIN
        FOR r IN SELECT * FROM staged ORDER BY arrival LOOP
            PERFORM customer_profile.trait_observe($identities, r.traits, r.source);
            i := i + 1;
            IF i % 100 = 0 THEN COMMIT; END IF;
        END LOOP; END \$\$"
}

# Pairwise precision, recall and F1 against the truth: "precision recall f1".
match_quality() {
    psql -X -At -F ' ' -d "$1" <<'SQL'
WITH r AS (SELECT s.person, customer_profile.identity_lookup(s.ns, s.record_id) AS profile FROM staged s),
     tp AS (SELECT coalesce(sum(n * (n - 1) / 2), 0)::float8 AS v FROM (SELECT count(*) n FROM r GROUP BY person, profile) x),
     pred AS (SELECT coalesce(sum(n * (n - 1) / 2), 0)::float8 AS v FROM (SELECT count(*) n FROM r GROUP BY profile) x),
     truth AS (SELECT coalesce(sum(n * (n - 1) / 2), 0)::float8 AS v FROM (SELECT count(*) n FROM r GROUP BY person) x)
SELECT round((tp.v / nullif(pred.v, 0))::numeric, 4), round((tp.v / nullif(truth.v, 0))::numeric, 4),
       round((2 * tp.v / nullif(pred.v + truth.v, 0))::numeric, 4)
  FROM tp, pred, truth
SQL
}

bench_matching() {
    local file people rate records start end params
    MATCH_ROWS=()
    for config in $MATCH_CONFIGS; do
        people=${config%%:*}
        rate=${config##*:}
        file=$GRAPH/people_${people}_${rate}.tsv
        build/core/person_gen "$file" "$people" "$rate" 17 2>/dev/null
        chmod a+r "$file"
        records=$(wc -l <"$file")
        echo "== matching quality: $people people, duplicate rate $rate ($records records)"
        # The national id as an identifier: what deterministic stitching finds.
        match_db m_det "$file"
        match_observe m_det det
        local det batch incr
        det=$(match_quality m_det)
        # Batch: stored first, then estimated and matched.
        match_db m_batch "$file"
        psql -q -X -v ON_ERROR_STOP=1 -d m_batch -c "$(match_rule_sql)" \
            -c "SELECT customer_profile.match_rule_alter('people', enabled => false)" >/dev/null
        match_observe m_batch rec
        local estimate
        estimate=$(psql -X -At -d m_batch -c "SELECT format('%s random, %s blocked pairs, %s iterations, lambda %s',
                    random_pairs, blocked_pairs, iterations, round(lambda::numeric, 5)) FROM customer_profile.match_estimate('people', 200000)")
        start=$(now)
        local run
        run=$(psql -X -At -d m_batch -c "SELECT format('%s records, %s comparisons, %s links, %s reviews',
               records, comparisons, links, reviews) FROM customer_profile.match_run('people')")
        end=$(now)
        local batch_s
        batch_s=$(awk -v a="$start" -v b="$end" 'BEGIN { printf "%.1f", b - a }')
        batch=$(match_quality m_batch)
        params=$(psql -X -At -d m_batch -c "SELECT parameters FROM customer_profile.match_rule WHERE name = 'people'")
        # Incremental: the same parameters, records one by one in arrival order.
        match_db m_incr "$file"
        psql -q -X -v ON_ERROR_STOP=1 -d m_incr -c "$(match_rule_sql)" \
            -c "SELECT customer_profile.match_rule_alter('people', parameters => \$p\$$params\$p\$)" >/dev/null
        start=$(now)
        match_observe m_incr rec
        end=$(now)
        local incr_rate
        incr_rate=$(awk -v a="$start" -v b="$end" -v n="$records" 'BEGIN { printf "%.0f", n / (b - a) }')
        incr=$(match_quality m_incr)
        echo "   deterministic $det | batch $batch ($run, ${batch_s} s) | incremental $incr ($incr_rate records/s)"
        MATCH_ROWS+=("$people|$rate|$records|$det|$batch|$incr|$estimate|$run|$batch_s|$incr_rate")
    done
    bench_matching_speed
}

bench_matching_speed() {
    local file=$GRAPH/people_speed.tsv people total start end db=m_speed
    # About 1.25 records per person at a duplicate rate of 0.2: enough people for EXISTING + NEW records.
    people=$(( (MATCH_EXISTING + MATCH_NEW) * 100 / 124 ))
    build/core/person_gen "$file" "$people" 0.2 23 2>/dev/null
    chmod a+r "$file"
    total=$(wc -l <"$file")
    echo "== matching speed: $MATCH_EXISTING existing records, $MATCH_NEW new ones ($total generated)"
    match_db $db "$file"
    # The existing records set-wise: identifiers, observations, profiles (their merged
    # traits are not needed for matching).
    psql -q -X -v ON_ERROR_STOP=1 -d $db <<SQL
DELETE FROM staged WHERE arrival > $MATCH_EXISTING + $MATCH_NEW;
INSERT INTO customer_profile.unified_profile (profile_id) SELECT arrival FROM staged WHERE arrival <= $MATCH_EXISTING;
INSERT INTO customer_profile.identity (identity_id, namespace_id, value_hash, profile_id)
SELECT s.arrival, n.namespace_id, customer_profile.identity_hash(s.ns, s.record_id), s.arrival
  FROM staged s JOIN customer_profile.namespace n ON n.name = s.ns WHERE s.arrival <= $MATCH_EXISTING;
INSERT INTO customer_profile.trait_observation (identity_id, trait, source, value_type, value, observed_at)
SELECT s.arrival, t.key, s.source, 'text', t.value, now()
  FROM staged s, jsonb_each(s.traits) t WHERE s.arrival <= $MATCH_EXISTING;
SELECT setval('customer_profile.identity_identity_id_seq', $MATCH_EXISTING);
SELECT setval('customer_profile.unified_profile_profile_id_seq', $MATCH_EXISTING);
CREATE TABLE new_records AS SELECT row_number() OVER (ORDER BY arrival) AS n, * FROM staged WHERE arrival > $MATCH_EXISTING;
CREATE UNIQUE INDEX ON new_records (n);
CREATE SEQUENCE new_seq;
VACUUM ANALYZE;
SQL
    psql -q -X -v ON_ERROR_STOP=1 -d $db -c "$(match_rule_sql)" \
        -c "SELECT customer_profile.match_rule_alter('people', enabled => false)" >/dev/null
    speed_estimate=$(psql -X -At -d $db -c "SELECT format('%s s', round(extract(epoch FROM clock_timestamp() - now())::numeric, 1)) FROM customer_profile.match_estimate('people', 200000)")
    start=$(now)
    speed_run=$(psql -X -At -d $db -c "SELECT format('%s records, %s comparisons (%s per record), %s links, %s reviews',
                 records, comparisons, round(comparisons::numeric / greatest(records, 1), 1), links, reviews)
                 FROM customer_profile.match_run('people')")
    end=$(now)
    speed_run_s=$(awk -v a="$start" -v b="$end" 'BEGIN { printf "%.0f", b - a }')
    psql -q -X -d $db -c "SELECT customer_profile.match_rule_alter('people', enabled => true)" -c "VACUUM ANALYZE" >/dev/null
    # New records, two clients: every latency logged.
    local logdir
    logdir=$(mktemp -d /tmp/cp_match.XXXXXX)
    chmod 777 "$logdir"
    start=$(now)
    (cd "$logdir" && pgbench -n -f "$PROJECT_ROOT/bench/pgbench/match_observe.sql" -c 2 -j 2 -t $((MATCH_NEW / 2)) -l $db >/dev/null 2>&1)
    end=$(now)
    speed_rate=$(awk -v a="$start" -v b="$end" -v n="$MATCH_NEW" 'BEGIN { printf "%.0f", n / (b - a) }')
    speed_lat=$(cat "$logdir"/pgbench_log.* | awk '{ print $3 / 1000 }' | sort -g |
        awk '{ v[NR] = $1 } END { printf "%.1f %.1f", v[int(NR * 0.5)], v[int(NR * 0.99)] }')
    speed_new=$(psql -X -At -d $db -c "SELECT format('%s of %s new records linked', count(*) FILTER (WHERE i.profile_id <= $MATCH_EXISTING), count(*))
                FROM new_records r JOIN customer_profile.identity i ON i.identity_id = (SELECT identity_id FROM customer_profile._identity_find(r.ns, r.record_id))")
    rm -rf "$logdir"
    # The Splink-style alternative: a plain table, btree indexes per blocking rule, one SQL
    # statement per new record that finds its candidates and scores them.
    psql -q -X -v ON_ERROR_STOP=1 -d $db <<'SQL'
CREATE EXTENSION IF NOT EXISTS fuzzystrmatch;
CREATE EXTENSION IF NOT EXISTS pg_trgm;
-- The blocking keys of the rule (MATCH_BLOCKING) as columns, a btree index per key.
CREATE FUNCTION initials(t text) RETURNS text LANGUAGE sql IMMUTABLE AS $$ SELECT regexp_replace(lower(t), '(\S)\S*\s*', '\1', 'g') $$;
CREATE TABLE plain_record AS
SELECT record_id, first_name, last_name, address, dob, national_id, soundex(last_name) AS sdx_last,
       soundex(first_name) AS sdx_first, left(dob, 4) AS year, left(first_name, 1) AS first1,
       left(last_name, 1) AS last1, left(last_name, 2) AS last2, regexp_replace(address, '\D', '', 'g') AS digits,
       initials(address) AS initials
  FROM staged WHERE arrival <= (SELECT min(arrival) - 1 FROM new_records);
CREATE INDEX ON plain_record (national_id);
CREATE INDEX ON plain_record (dob, last1);
CREATE INDEX ON plain_record (dob, first1);
CREATE INDEX ON plain_record (dob, digits);
CREATE INDEX ON plain_record (sdx_last, sdx_first, year);
CREATE INDEX ON plain_record (digits, initials, last2, first1);
CREATE SEQUENCE plain_seq;
VACUUM ANALYZE plain_record;
SQL
    logdir=$(mktemp -d /tmp/cp_match.XXXXXX)
    chmod 777 "$logdir"
    start=$(now)
    (cd "$logdir" && pgbench -n -f "$PROJECT_ROOT/bench/pgbench/match_plain.sql" -c 2 -j 2 -t $((MATCH_NEW / 2)) -l $db >/dev/null 2>&1)
    end=$(now)
    plain_rate=$(awk -v a="$start" -v b="$end" -v n="$MATCH_NEW" 'BEGIN { printf "%.0f", n / (b - a) }')
    plain_lat=$(cat "$logdir"/pgbench_log.* | awk '{ print $3 / 1000 }' | sort -g |
        awk '{ v[NR] = $1 } END { printf "%.1f %.1f", v[int(NR * 0.5)], v[int(NR * 0.99)] }')
    rm -rf "$logdir"
    echo "   match_run: $speed_run in ${speed_run_s} s; new records: $speed_rate/s, p50/p99 $speed_lat ms ($speed_new); plain SQL: $plain_rate/s, p50/p99 $plain_lat ms"
}

report_matching() {
    echo
    echo "Matching quality (pairwise, against the generator's truth; rule and thresholds the same for every configuration: \`bench/matching.sh\`)."
    echo
    echo "| people | duplicate rate | records | deterministic P / R / F1 | batch P / R / F1 | incremental P / R / F1 | F1 incremental - batch |"
    echo "| ---: | ---: | ---: | --- | --- | --- | ---: |"
    local row
    for row in "${MATCH_ROWS[@]}"; do
        IFS='|' read -r people rate records det batch incr estimate run batch_s incr_rate <<<"$row"
        local f1b f1i
        f1b=$(echo "$batch" | cut -d' ' -f3)
        f1i=$(echo "$incr" | cut -d' ' -f3)
        echo "| $people | $rate | $records | $(echo "$det" | tr ' ' '/') | $(echo "$batch" | tr ' ' '/') | $(echo "$incr" | tr ' ' '/') | $(awk -v a="$f1i" -v b="$f1b" 'BEGIN { printf "%+.4f", a - b }') |"
    done
    echo
    for row in "${MATCH_ROWS[@]}"; do
        IFS='|' read -r people rate records det batch incr estimate run batch_s incr_rate <<<"$row"
        echo "- $people people at $rate: estimate $estimate; match_run $run in $batch_s s; incremental $incr_rate records/s (one session)."
    done
    echo
    echo "Matching speed: $MATCH_EXISTING existing records; match_estimate $speed_estimate; \`match_run()\` over them: $speed_run in $speed_run_s s."
    echo
    echo "| $MATCH_NEW new records, 2 clients (pgbench) | records/s | p50 ms | p99 ms |"
    echo "| --- | ---: | ---: | ---: |"
    echo "| \`trait_observe\` with real-time matching ($speed_new) | $speed_rate | ${speed_lat% *} | ${speed_lat#* } |"
    echo "| Splink-style SQL: btree prefilter per blocking rule, fuzzystrmatch/pg_trgm scoring, insert | $plain_rate | ${plain_lat% *} | ${plain_lat#* } |"
}
