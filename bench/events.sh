# Sourced by bench/run.sh: the "events" part. 10,000,000 events over
# 1,000,000 people (BENCH_EVENTS, BENCH_PEOPLE), from one generated file:
#   1. raw COPY into an indexed events table (the ceiling);
#   2. COPY into the inbox with two workers running, until all is applied;
#   3. track() calls per second at 1 and 2 clients vs a plain INSERT;
#   4. inbox-to-applied latency at a steady 1,000 events/s.
EVENTS=${BENCH_EVENTS:-10000000}
PEOPLE=${BENCH_PEOPLE:-1000000}
LATENCY_SECONDS=${BENCH_LATENCY_SECONDS:-30}

seconds_since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }

bench_events() {
    local file=$GRAPH/events.tsv
    echo "== generating $EVENTS events over $PEOPLE people"
    psql -q -X -d postgres -c "DROP DATABASE IF EXISTS bench_events" -c "CREATE DATABASE bench_events"
    psql -X -q -v ON_ERROR_STOP=1 -d bench_events -c "COPY (
        SELECT jsonb_build_object('email', 'p' || (1 + (g::bigint * 7919) % $PEOPLE) || '@example.org'),
               CASE WHEN g % 20 < 3 THEN 'purchase' WHEN g % 20 = 3 THEN 'signup' ELSE 'page_view' END,
               to_char(now() AT TIME ZONE 'UTC' - (g % 300) * interval '1 day' - (g % 86400) * interval '1 second',
                       'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'),
               CASE WHEN g % 20 < 3 THEN jsonb_build_object('revenue', (g % 10000) / 100.0)
                    ELSE jsonb_build_object('path', '/p/' || g % 500) END,
               'e-' || g
          FROM generate_series(1, $EVENTS) g) TO STDOUT" >"$file"
    chmod a+r "$file"
    psql -q -X -v ON_ERROR_STOP=1 -d bench_events <<'SQL'
CREATE EXTENSION customer_profile;
SELECT customer_profile.event_measure_define('purchase', 'revenue');
SELECT customer_profile.event_partitions_ensure(now() - interval '400 days', now());
-- The ceiling: what an application would otherwise COPY into.
CREATE TABLE raw_event (identities jsonb, event_type text, occurred_at timestamptz, properties jsonb,
                        event_id text PRIMARY KEY);
CREATE INDEX ON raw_event ((identities->>'email'), occurred_at);
SQL
    echo "== raw COPY into an indexed events table"
    local t0
    t0=$(now)
    psql -q -X -v ON_ERROR_STOP=1 -d bench_events -c "\\copy raw_event FROM '$file'"
    ev_raw_seconds=$(seconds_since "$t0")

    echo "== COPY into the inbox, two workers applying"
    psql -q -X -At -d bench_events -c "SELECT customer_profile.worker_start()" -c "SELECT customer_profile.worker_start()" >/dev/null
    t0=$(now)
    psql -q -X -v ON_ERROR_STOP=1 -d bench_events \
        -c "\\copy customer_profile.event_inbox (identities, event_type, occurred_at, properties, event_id) FROM '$file'"
    ev_copy_seconds=$(seconds_since "$t0")
    until [ "$(psql -X -At -d bench_events -c 'SELECT NOT EXISTS (SELECT 1 FROM customer_profile.event_inbox)')" = t ]; do
        sleep 1
    done
    ev_total_seconds=$(seconds_since "$t0")
    ev_check=$(psql -X -At -d bench_events -c "SELECT format('%s events stored, %s dead letters, %s profiles, %s events of the raw table missing from the summaries',
        (SELECT count(*) FROM customer_profile.event), (SELECT count(*) FROM customer_profile.event_dead_letter),
        (SELECT count(*) FROM customer_profile.unified_profile),
        $EVENTS - (SELECT sum(event_count) FROM customer_profile.unified_profile p, customer_profile.profile_behavior(p.profile_id)))")
    psql -q -X -d bench_events -c "VACUUM ANALYZE"

    echo "== track() vs plain INSERT (pgbench, ${SECONDS_PER_RUN}s per run)"
    evtps() {
        pgbench -n -f "bench/pgbench/$1.sql" -D people="$PEOPLE" -c "$2" -j "$2" -T "$SECONDS_PER_RUN" bench_events 2>/dev/null |
            sed -n 's/^tps = \([0-9]*\).*/\1/p'
    }
    declare -gA EVRUNS EVTPS
    for _ in $(seq "$REPEATS"); do
        for clients in 1 2; do
            EVRUNS[track_$clients]+=" $(evtps track "$clients")"
            EVRUNS[plain_$clients]+=" $(evtps plain_event_insert "$clients")"
        done
    done
    for key in "${!EVRUNS[@]}"; do EVTPS[$key]=$(echo ${EVRUNS[$key]} | median); done

    echo "== latency at a steady 1,000 events/s into the inbox for ${LATENCY_SECONDS}s"
    pgbench -n -f bench/pgbench/inbox_insert.sql -D people="$PEOPLE" -c 2 -j 2 -R 1000 -T "$LATENCY_SECONDS" bench_events >/dev/null 2>&1
    until [ "$(psql -X -At -d bench_events -c 'SELECT NOT EXISTS (SELECT 1 FROM customer_profile.event_inbox)')" = t ]; do
        sleep 0.5
    done
    ev_latency=$(psql -X -At -d bench_events -c "SELECT format('%s events, p50 %s ms, p99 %s ms, max %s ms', count(*),
        round(percentile_cont(0.5) WITHIN GROUP (ORDER BY ms)::numeric, 1),
        round(percentile_cont(0.99) WITHIN GROUP (ORDER BY ms)::numeric, 1), round(max(ms)::numeric, 1))
        FROM (SELECT extract(epoch FROM applied_at - received_at) * 1000 AS ms FROM customer_profile.event
               WHERE event_id LIKE 'lat-%') l")
    psql -q -X -d bench_events -c "SELECT customer_profile.worker_stop()" >/dev/null
}

report_events() {
    local raw_rate e2e_rate copy_rate
    raw_rate=$(awk -v n="$EVENTS" -v s="$ev_raw_seconds" 'BEGIN { printf "%.0f", n / s }')
    copy_rate=$(awk -v n="$EVENTS" -v s="$ev_copy_seconds" 'BEGIN { printf "%.0f", n / s }')
    e2e_rate=$(awk -v n="$EVENTS" -v s="$ev_total_seconds" 'BEGIN { printf "%.0f", n / s }')
    echo
    echo "Events: $EVENTS over $PEOPLE people (15% purchases with revenue), one generated file; $ev_check."
    echo
    echo "| ingestion of $EVENTS events | seconds | events/s | vs raw COPY |"
    echo "| --- | ---: | ---: | ---: |"
    echo "| raw \`COPY\` into an indexed events table (primary key + (email, time) index) | $ev_raw_seconds | $raw_rate | 100% |"
    echo "| \`COPY\` into \`event_inbox\` (workers running meanwhile) | $ev_copy_seconds | $copy_rate | $(pct "$copy_rate" "$raw_rate") |"
    echo "| end to end: \`COPY\` start until 2 workers applied everything (people resolved, events stored, summaries updated) | $ev_total_seconds | $e2e_rate | $(pct "$e2e_rate" "$raw_rate") |"
    echo
    echo "| per second (pgbench, median of $REPEATS interleaved ${SECONDS_PER_RUN} s runs) | clients | \`track()\` | plain \`INSERT\` into the raw table | track / plain |"
    echo "| --- | ---: | ---: | ---: | ---: |"
    for clients in 1 2; do
        echo "| one event of a known person | $clients | ${EVTPS[track_$clients]} | ${EVTPS[plain_$clients]} | $(pct "${EVTPS[track_$clients]}" "${EVTPS[plain_$clients]}") |"
    done
    echo
    echo "Inbox-to-applied latency at a steady 1,000 events/s for ${LATENCY_SECONDS} s (2 workers, naptime 200 ms; applied_at is taken when the event row is written, just before its batch commits): $ev_latency."
}
