# Sourced by bench/run.sh: the "segments" part. 1,000,000 profiles with
# traits and 10,000,000 events (BENCH_PEOPLE, BENCH_EVENTS):
#   1. segment_refresh() of a mixed predicate (3 trait conditions and "at
#      least 2 purchases in the last 30 days"), right after an ingestion and
#      after VACUUM, vs the SQL a user would write
#      over a jsonb traits table (GIN index) and an events table (btree on
#      profile, type, time), both forms of it; the same people are checked;
#   2. event-to-NOTIFY latency at a steady 1,000 events/s into the inbox
#      with 20 streaming segments.
INGEST_EVENTS=${BENCH_INGEST_EVENTS:-200000}
LATENCY_RUNS=${BENCH_LATENCY_RUNS:-3}
SEG_PREDICATE="country IN ('DE', 'FR', 'NL') AND age >= 30 AND tier IN ('gold', 'platinum') AND count(purchase within 30 days) >= 2"
SEG_WINDOW="(date_trunc('day', now() AT TIME ZONE 'UTC') - interval '29 days') AT TIME ZONE 'UTC'"
SEG_TRAITS_SQL="(p.traits @> '{\"country\": \"DE\"}' OR p.traits @> '{\"country\": \"FR\"}' OR p.traits @> '{\"country\": \"NL\"}')
   AND (p.traits->>'age')::numeric >= 30
   AND (p.traits @> '{\"tier\": \"gold\"}' OR p.traits @> '{\"tier\": \"platinum\"}')"
SEG_SQL_CORRELATED="SELECT p.profile_id FROM plain_profile p WHERE $SEG_TRAITS_SQL
   AND (SELECT count(*) FROM plain_event e WHERE e.profile_id = p.profile_id AND e.event_type = 'purchase'
         AND e.occurred_at >= $SEG_WINDOW) >= 2"
SEG_SQL_JOIN="SELECT p.profile_id FROM plain_profile p
  JOIN (SELECT profile_id FROM plain_event WHERE event_type = 'purchase' AND occurred_at >= $SEG_WINDOW
         GROUP BY profile_id HAVING count(*) >= 2) b USING (profile_id)
 WHERE $SEG_TRAITS_SQL"

# Loads bench_segments: profiles, identities, the plain tables, the events
# (through the inbox, applied by two workers).
load_segments() {
    local file=$GRAPH/segment_events.tsv db=bench_segments
    echo "== segments: $PEOPLE profiles with traits, $EVENTS events"
    psql -q -X -d postgres -c "DROP DATABASE IF EXISTS $db" -c "CREATE DATABASE $db"
    psql -q -X -v ON_ERROR_STOP=1 -v people="$PEOPLE" -d $db <<'SQL'
CREATE EXTENSION customer_profile;
SELECT customer_profile.trait_define('country', 'text', 'latest');
SELECT customer_profile.trait_define('age', 'number', 'latest');
SELECT customer_profile.trait_define('tier', 'text', 'latest');
SELECT customer_profile.trait_define('email_opt_in', 'boolean', 'latest');
SELECT customer_profile.trait_define('ltv', 'number', 'latest');
SELECT customer_profile.event_measure_define('purchase', 'revenue');
SELECT customer_profile.event_partitions_ensure(now() - interval '400 days', now());
-- Profiles set-wise (the trait_observe path is measured in the profiles part).
INSERT INTO customer_profile.unified_profile (profile_id, data)
SELECT g, format('{"traits": {"country": %s, "age": %s, "tier": %s, "email_opt_in": %s, "ltv": %s, "city": %s}}',
         format('{"value": "%s", "source": "crm", "observed_at": "2026-01-01T00:00:00Z"}',
                (ARRAY['DE', 'FR', 'NL', 'BE', 'ES', 'IT', 'US', 'UK', 'PL', 'SE'])[1 + (hashint4(g) & 2147483647) % 10]),
         format('{"value": %s, "source": "crm", "observed_at": "2026-01-01T00:00:00Z"}', 18 + (hashint4(g + 1000000000) & 2147483647) % 60),
         format('{"value": "%s", "source": "crm", "observed_at": "2026-01-01T00:00:00Z"}',
                (ARRAY['bronze', 'silver', 'gold', 'platinum'])[1 + (hashint4(-g) & 2147483647) % 4]),
         format('{"value": %s, "source": "web", "observed_at": "2026-01-01T00:00:00Z"}', (g % 3 <> 0)::text),
         format('{"value": %s, "source": "crm", "observed_at": "2026-01-01T00:00:00Z"}', (g * 37) % 5000),
         format('{"value": "city-%s", "source": "crm", "observed_at": "2026-01-01T00:00:00Z"}', g % 5000)
       )::customer_profile.profile
  FROM generate_series(1, :people) g;
INSERT INTO customer_profile.identity (identity_id, namespace_id, value_hash, raw_value, profile_id)
SELECT g, (SELECT namespace_id FROM customer_profile.namespace WHERE name = 'crm_id'),
       customer_profile.identity_hash('crm_id', 'c' || g), 'c' || g, g
  FROM generate_series(1, :people) g;
SELECT setval('customer_profile.identity_identity_id_seq', :people);
SELECT setval('customer_profile.unified_profile_profile_id_seq', :people);
-- What a user would otherwise have: jsonb traits with a GIN index, events with a btree.
CREATE TABLE plain_profile (profile_id bigint PRIMARY KEY, traits jsonb NOT NULL);
INSERT INTO plain_profile
SELECT profile_id, customer_profile.profile_traits(data) FROM customer_profile.unified_profile;
CREATE INDEX ON plain_profile USING gin (traits jsonb_path_ops);
CREATE TABLE plain_event (profile_id bigint NOT NULL, event_type text NOT NULL, occurred_at timestamptz NOT NULL,
                          properties jsonb);
SQL
    psql -X -q -v ON_ERROR_STOP=1 -d $db -c "COPY (
        SELECT jsonb_build_object('crm_id', 'c' || (1 + (hashint8(g) & 9223372036854775807) % $PEOPLE)),
               CASE WHEN (hashint4(g) & 2147483647) % 20 < 3 THEN 'purchase' ELSE 'page_view' END,
               to_char(now() AT TIME ZONE 'UTC' - ((hashint4(g + 7) & 2147483647) % 300) * interval '1 day'
                       - ((hashint4(g + 13) & 2147483647) % 86400) * interval '1 second', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'),
               CASE WHEN (hashint4(g) & 2147483647) % 20 < 3 THEN jsonb_build_object('revenue', (g % 10000) / 100.0)
                    ELSE jsonb_build_object('path', '/p/' || g % 500) END,
               's-' || g
          FROM generate_series(1, $EVENTS) g) TO STDOUT" >"$file"
    chmod a+r "$file"
    echo "== loading the events: the plain table (COPY) and the profiles (inbox, two workers)"
    psql -q -X -v ON_ERROR_STOP=1 -d $db <<SQL
CREATE TEMP TABLE staged (identities jsonb, event_type text, occurred_at timestamptz, properties jsonb, event_id text);
\\copy staged FROM '$file'
INSERT INTO plain_event SELECT substr(identities->>'crm_id', 2)::bigint, event_type, occurred_at, properties FROM staged;
CREATE INDEX ON plain_event (profile_id, event_type, occurred_at);
SQL
    psql -q -X -At -d $db -c "SELECT customer_profile.worker_start()" -c "SELECT customer_profile.worker_start()" >/dev/null
    psql -q -X -v ON_ERROR_STOP=1 -d $db \
        -c "\\copy customer_profile.event_inbox (identities, event_type, occurred_at, properties, event_id) FROM '$file'"
    until [ "$(psql -X -At -d $db -c 'SELECT NOT EXISTS (SELECT 1 FROM customer_profile.event_inbox)')" = t ]; do
        sleep 2
    done
    psql -q -X -d $db -c "VACUUM ANALYZE"
    seg_loaded=$(psql -X -At -d $db -c "SELECT format('%s profiles, %s events stored, %s dead letters',
        (SELECT count(*) FROM customer_profile.unified_profile), (SELECT count(*) FROM customer_profile.event),
        (SELECT count(*) FROM customer_profile.event_dead_letter))")
}

# Inbox events per second the two workers apply: INGEST_EVENTS page views and
# purchases of existing profiles, queued at once, timed until the inbox is
# empty. Prints the rate.
ingest_rate() {
    local db=$1 tag=$2 start end
    # The hand-written tables get the same events first (not timed, and not
    # competing with the workers for the cores), so that the comparisons
    # below see the same data.
    psql -q -X -v ON_ERROR_STOP=1 -d $db -c "INSERT INTO plain_event
        SELECT 1 + (hashint8(g) & 9223372036854775807) % $PEOPLE, CASE WHEN g % 5 = 0 THEN 'purchase' ELSE 'page_view' END,
               now() - (g % 86400) * interval '1 second',
               CASE WHEN g % 5 = 0 THEN jsonb_build_object('revenue', g % 100) ELSE '{}'::jsonb END
          FROM generate_series(1, $INGEST_EVENTS) g"
    psql -q -X -v ON_ERROR_STOP=1 -d $db -c "INSERT INTO customer_profile.event_inbox (identities, event_type, occurred_at, properties, event_id)
        SELECT jsonb_build_object('crm_id', 'c' || (1 + (hashint8(g) & 9223372036854775807) % $PEOPLE)),
               CASE WHEN g % 5 = 0 THEN 'purchase' ELSE 'page_view' END, now() - (g % 86400) * interval '1 second',
               CASE WHEN g % 5 = 0 THEN jsonb_build_object('revenue', g % 100) ELSE '{}'::jsonb END, '$tag-' || g
          FROM generate_series(1, $INGEST_EVENTS) g"
    start=$(now)
    until [ "$(psql -X -At -d $db -c 'SELECT NOT EXISTS (SELECT 1 FROM customer_profile.event_inbox)')" = t ]; do
        sleep 0.2
    done
    end=$(now)
    awk -v a="$start" -v b="$end" -v n="$INGEST_EVENTS" 'BEGIN { printf "%.0f", n / (b - a) }'
}

bench_segments() {
    local db=bench_segments
    load_segments
    echo "== ingestion with no segment and with 100 streaming segments ($INGEST_EVENTS events each)"
    seg_ingest_none=$(ingest_rate $db none)
    echo "   $seg_ingest_none events/s with no segment"
    echo "== segment_refresh() vs hand-written SQL"
    psql -q -X -v ON_ERROR_STOP=1 -d $db -c "SELECT customer_profile.segment_create('mixed', \$p\$$SEG_PREDICATE\$p\$)" >/dev/null
    seg_first=$(time_sql $db "SELECT customer_profile.segment_refresh('mixed')")
    # Right after the ingestion: its 200,000 updates left dead index entries
    # and a GIN pending list that every index scan reads. Then as autovacuum
    # leaves the table, which VACUUM does here at once (for every table, the
    # hand-written ones too).
    seg_refresh_dirty=$(repeat_sql $db "SELECT customer_profile.segment_refresh('mixed')")
    psql -q -X -d $db -c "VACUUM ANALYZE"
    seg_refresh=$(repeat_sql $db "SELECT customer_profile.segment_refresh('mixed')")
    seg_refresh_serial=$(repeat_sql $db "SET max_parallel_workers_per_gather = 0; SELECT customer_profile.segment_refresh('mixed')")
    # Without the GIN index (a GIN index is only read by bitmap scans): every profile, as before 1.6.
    seg_refresh_scan=$(repeat_sql $db "SET enable_bitmapscan = off; SELECT customer_profile.segment_refresh('mixed')")
    # The index rebuilt from the data, as the hand-written GIN index was
    # (created after its rows): what the load's updates left in it.
    psql -q -X -d $db -c "REINDEX INDEX customer_profile.unified_profile_index_keys_idx"
    seg_refresh_reindexed=$(repeat_sql $db "SELECT customer_profile.segment_refresh('mixed')")
    seg_sql_correlated=$(repeat_sql $db "SELECT count(*) FROM ($SEG_SQL_CORRELATED) q")
    seg_sql_join=$(repeat_sql $db "SELECT count(*) FROM ($SEG_SQL_JOIN) q")
    echo "   refresh $seg_refresh s (before VACUUM $seg_refresh_dirty, serial $seg_refresh_serial, without the index $seg_refresh_scan), hand-written SQL $seg_sql_correlated / $seg_sql_join s"
    seg_same=$(psql -X -At -d $db -c "SELECT format('%s members; hand-written SQL finds the same people: %s / %s',
        customer_profile.segment_size('mixed'),
        (SELECT array_agg(m ORDER BY m) FROM customer_profile.segment_members('mixed') m)
          IS NOT DISTINCT FROM (SELECT array_agg(profile_id ORDER BY profile_id) FROM ($SEG_SQL_CORRELATED) q),
        (SELECT array_agg(m ORDER BY m) FROM customer_profile.segment_members('mixed') m)
          IS NOT DISTINCT FROM (SELECT array_agg(profile_id ORDER BY profile_id) FROM ($SEG_SQL_JOIN) q))")

    # 100 segments reading what every event changes: traits, purchases, page views.
    psql -q -X -v ON_ERROR_STOP=1 -d $db >/dev/null <<'SQL'
SET customer_profile.segment_build_inline_limit = 0;  -- queued: the builds are not what is measured
-- (Each holds about 1% of the people or fewer, so that the first refresh
-- writes little and the second measures evaluation.)
SELECT customer_profile.segment_create('hundred_' || n, CASE n % 4
           WHEN 0 THEN format('count(purchase within %s days) >= %s', 30 + n % 60, 3 + n % 3)
           WHEN 1 THEN format('count(page_view within %s days) >= %s AND age >= %s', 30 + n % 30, 8 + n % 5, 18 + n % 40)
           WHEN 2 THEN format('sum(purchase.revenue within %s days) > %s', 7 + n % 80, 200 + 10 * n)
           ELSE format('last_seen(page_view) > now() - %s days AND country IN (''DE'', ''FR'')', 1 + n % 3) END)
  FROM generate_series(1, 100) n;
-- Active with their windows counted as scheduled: the first refresh then
-- enters members without scheduling every profile once per segment.
UPDATE customer_profile.segment SET state = 'active', build_next = NULL, build_done = NULL, build_total = NULL,
                                    build_retry = NULL, windows_scheduled_for = updated_at WHERE name LIKE 'hundred\_%';
SQL
    echo "== re-evaluating the 100 segments over every profile in one pass, and one by one"
    # The first pass enters every member; ingestion is then measured with the
    # memberships in place (streaming keeps them, it does not build them).
    seg_refresh_all_first=$(time_sql $db "SELECT count(*) FROM customer_profile.segment_refresh_all()")
    seg_hundred_members=$(psql -X -At -d $db -c "SELECT count(*) FROM customer_profile.segment_membership m JOIN customer_profile.segment s USING (segment_id) WHERE s.name LIKE 'hundred\_%' AND m.exited_at IS NULL")
    psql -q -X -d $db -c "VACUUM ANALYZE customer_profile.segment_membership"
    seg_ingest_hundred=$(ingest_rate $db hundred)
    echo "   $seg_ingest_hundred events/s with 100 segments"
    seg_refresh_all=$(time_sql $db "SELECT count(*) FROM customer_profile.segment_refresh_all()")
    seg_refresh_each=$(time_sql $db "SELECT count(*) FROM (SELECT customer_profile.segment_refresh(name) FROM customer_profile.segment WHERE name LIKE 'hundred\_%') x")
    echo "   first pass $seg_refresh_all_first s ($seg_hundred_members memberships), one pass $seg_refresh_all s, one by one $seg_refresh_each s"
    psql -q -X -d $db -c "SELECT customer_profile.segment_drop(name) FROM customer_profile.segment WHERE name LIKE 'hundred\_%'" >/dev/null
    echo "== event-to-NOTIFY latency: 1,000 events/s for ${LATENCY_SECONDS}s with 20 streaming segments"
    psql -q -X -v ON_ERROR_STOP=1 -d $db >/dev/null <<'SQL'
-- Built at once, before the traffic: a queued build is not what is measured.
SET customer_profile.segment_build_inline_limit = 100000000;
SELECT customer_profile.segment_create('probers', 'count(probe) >= 1');
SELECT customer_profile.segment_create('browsers_' || n, format('count(page_view within %s days) >= %s', 7 * n, n + 1))
  FROM generate_series(1, 6) n;
SELECT customer_profile.segment_create('buyers_' || n, format('count(purchase within %s days) >= %s', 30 * n, n))
  FROM generate_series(1, 4) n;
SELECT customer_profile.segment_create('spenders_' || n, format('sum(purchase.revenue within 90 days) > %s', 50 * n))
  FROM generate_series(1, 3) n;
SELECT customer_profile.segment_create('recent_' || n, format('last_seen() > now() - %s days', n))
  FROM generate_series(1, 3) n;
SELECT customer_profile.segment_create('de_browsers', 'country = ''DE'' AND count(page_view within 30 days) >= 3');
SELECT customer_profile.segment_create('vip_browsers', 'in_segment(''mixed'') AND last_seen(page_view) > now() - 1 day');
SQL
    seg_count=$(psql -X -At -d $db -c "SELECT count(*) FROM customer_profile.segment")
    # LATENCY_RUNS runs, the first right after the loads above (autovacuum and
    # checkpoints at work); each counts only the probes it heard.
    seg_latency=""
    for run in $(seq "$LATENCY_RUNS"); do
        local heard=$GRAPH/heard_$run.tsv
        build/core/notify_listen "host=$PGHOST port=$PGPORT user=$PGUSER dbname=$db" $((LATENCY_SECONDS + 10)) "$heard" &
        local listener=$!
        sleep 1
        pgbench -n -f bench/pgbench/segment_traffic.sql@49 -f bench/pgbench/segment_probe.sql@1 -D people="$PEOPLE" \
            -c 2 -j 2 -R 1000 -T "$LATENCY_SECONDS" $db >/dev/null 2>&1
        wait $listener
        chmod a+r "$heard"
        seg_latency="$seg_latency
  * run $run: $(psql -X -q -At -d $db <<SQL
CREATE TEMP TABLE heard (profile_id bigint, segment text, change text, at double precision);
\\copy heard FROM '$heard'
SELECT format('%s probes notified, p50 %s ms, p99 %s ms, max %s ms; %s notifications in all', count(*),
       round(percentile_cont(0.5) WITHIN GROUP (ORDER BY ms)::numeric, 1),
       round(percentile_cont(0.99) WITHIN GROUP (ORDER BY ms)::numeric, 1), round(max(ms)::numeric, 1),
       (SELECT count(*) FROM heard))
  FROM (SELECT (h.at - extract(epoch FROM e.occurred_at)) * 1000 AS ms
          FROM heard h JOIN customer_profile.identity i ON i.profile_id = h.profile_id
          JOIN customer_profile.event e ON e.identity_id = i.identity_id AND e.event_type = 'probe'
         WHERE h.segment = 'probers' AND h.change = 'enter') l;
SQL
)"
    done
    psql -q -X -d $db -c "SELECT customer_profile.worker_stop()" >/dev/null
}


report_segments() {
    local best_sql
    best_sql=$(awk -v a="$seg_sql_correlated" -v b="$seg_sql_join" 'BEGIN { print (a < b ? a : b) }')
    echo
    echo "Segments: $seg_loaded. Predicate: \`$SEG_PREDICATE\`; $seg_same."
    echo
    echo "| one pass over every profile (median of $REPEATS runs) | seconds | vs the faster hand-written SQL |"
    echo "| --- | ---: | ---: |"
    echo "| \`segment_refresh('mixed')\`, first run (every member enters: history, outbox; every profile's next window change scheduled) | $seg_first | $(speed "$best_sql" "$seg_first") |"
    echo "| \`segment_refresh('mixed')\` right after the ingestion above (its updates' dead index entries and the GIN pending list not yet vacuumed) | $seg_refresh_dirty | $(speed "$best_sql" "$seg_refresh_dirty") |"
    echo "| \`segment_refresh('mixed')\` after \`VACUUM ANALYZE\` (the GIN index over trait and behavior keys picks the candidates, nothing changed) | $seg_refresh | $(speed "$best_sql" "$seg_refresh") |"
    echo "| the same with \`max_parallel_workers_per_gather = 0\` | $seg_refresh_serial | $(speed "$best_sql" "$seg_refresh_serial") |"
    echo "| the same after \`REINDEX\` of the index (built from the data, as the hand-written GIN index was) | $seg_refresh_reindexed | $(speed "$best_sql" "$seg_refresh_reindexed") |"
    echo "| the same without the index (\`enable_bitmapscan = off\`: every profile, parallel scan with \`@@\`, as 1.5) | $seg_refresh_scan | $(speed "$best_sql" "$seg_refresh_scan") |"
    echo "| hand-written SQL: jsonb traits (GIN) + correlated count over events (btree profile, type, time) | $seg_sql_correlated | |"
    echo "| hand-written SQL: jsonb traits (GIN) joined to purchases grouped by profile | $seg_sql_join | |"
    echo
    echo "Ingestion through the inbox (2 workers, $INGEST_EVENTS events of existing profiles queued at once): $seg_ingest_none events/s with no segment, $seg_ingest_hundred events/s with 100 streaming segments, their members entered first ($(awk -v a="$seg_ingest_none" -v b="$seg_ingest_hundred" 'BEGIN { printf "%.0f%%", 100 * b / a }') of the rate). Re-evaluating the 100 segments ($seg_hundred_members memberships) over every profile, nothing changed: $seg_refresh_all s in one pass (\`segment_refresh_all()\`, which also re-evaluates the other segments; the first one, which entered every member, took $seg_refresh_all_first s), $seg_refresh_each s with one \`segment_refresh\` per segment ($(speed "$seg_refresh_each" "$seg_refresh_all"))."
    echo
    echo "Event-to-NOTIFY latency at a steady 1,000 events/s into the inbox for ${LATENCY_SECONDS} s with $seg_count streaming segments (2 workers; 2% of events are a new visitor's first probe, timed from the moment the event was written to the moment a LISTENing client received its \"enter probers\"), $LATENCY_RUNS runs, the first right after the loads:$seg_latency"
}
