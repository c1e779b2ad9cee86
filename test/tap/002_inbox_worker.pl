# The inbox worker under crashes: events are applied exactly once when the
# worker is killed with SIGKILL mid-batch (crash recovery of the whole
# server) and when the postmaster itself is killed with SIGKILL mid-batch.
# Also: the worker starts from shared_preload_libraries, reports its status,
# obeys worker_stop() (SIGTERM) without being restarted, and worker_start()
# adds one without a restart.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(usleep);

my $node = PostgreSQL::Test::Cluster->new('worker');
$node->init;
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'customer_profile'
customer_profile.worker_databases = 'postgres'
customer_profile.batch_size = 300
customer_profile.naptime = 50ms
restart_after_crash = on
});
$node->start;
$node->safe_psql('postgres', q{
CREATE EXTENSION customer_profile;
SELECT customer_profile.event_measure_define('buy', 'amount');
});

sub worker_pid
{
	return $node->safe_psql('postgres',
		q{SELECT coalesce(max(pid), 0) FROM pg_stat_activity WHERE backend_type = 'customer_profile worker'});
}

ok($node->poll_query_until('postgres',
		q{SELECT count(*) = 1 FROM customer_profile.worker_status WHERE state <> 'stopped'}),
	'preloaded worker registers itself in worker_status');
ok($node->poll_query_until('postgres',
		q{SELECT last_retention_at IS NOT NULL FROM customer_profile.worker_status WHERE state <> 'stopped'}),
	'the worker runs retention when it starts');
ok($node->safe_psql('postgres', q{SELECT count(*) FROM pg_inherits WHERE inhparent = 'customer_profile.event'::regclass}) >= 2,
	'and creates the partitions of this month and the next');

# 24,000 events of 2,000 people, each event id sent once more for one in
# six, plus 50 malformed rows. The reference is computed from the same rows.
$node->safe_psql('postgres', q{
CREATE TABLE staged AS
SELECT jsonb_build_object('email', 'p' || (g % 2000) || '@x.com') AS identities, 'buy'::text AS event_type,
       to_char((now() - (g % 1000) * interval '1 minute') AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"') AS occurred_at,
       jsonb_build_object('amount', g % 97) AS properties, 'e-' || g AS event_id
  FROM generate_series(1, 24000) g;
INSERT INTO staged SELECT * FROM staged WHERE right(event_id, 1) IN ('3', '9') AND random() < 0.6;
INSERT INTO staged SELECT identities, event_type, 'not a time', properties, 'bad-' || event_id FROM staged LIMIT 50;
CREATE TABLE reference AS
SELECT identities->>'email' AS email, count(*) AS n, sum((properties->>'amount')::numeric) AS total
  FROM (SELECT DISTINCT ON (event_id) * FROM staged WHERE occurred_at <> 'not a time') s GROUP BY 1;
});
my $distinct = $node->safe_psql('postgres',
	q{SELECT count(DISTINCT event_id) FROM staged WHERE occurred_at <> 'not a time'});
is($distinct, '24000', 'reference holds 24,000 distinct events');

# Crash 1: SIGKILL the worker while it applies a batch.
$node->safe_psql('postgres', q{
INSERT INTO customer_profile.event_inbox (identities, event_type, occurred_at, properties, event_id)
SELECT * FROM staged ORDER BY random();
});
ok($node->poll_query_until('postgres',
		q{SELECT events_applied > 0 FROM customer_profile.worker_state ORDER BY started_at DESC LIMIT 1}),
	'worker is applying events');
my $pid = worker_pid();
ok($pid > 0, 'worker visible in pg_stat_activity');
my $remaining_before = $node->safe_psql('postgres', 'SELECT count(*) FROM customer_profile.event_inbox');
kill 'KILL', $pid;
ok($node->poll_query_until('postgres', "SELECT coalesce(max(pid), 0) NOT IN (0, $pid) FROM pg_stat_activity WHERE backend_type = 'customer_profile worker'"),
	'worker restarted after the crash');
cmp_ok($remaining_before, '>', 0, "killed with $remaining_before events still queued");

# Crash 2: SIGKILL the postmaster while the restarted worker applies a batch.
my $pid2 = worker_pid();
ok($node->poll_query_until('postgres',
		"SELECT events_applied > 0 FROM customer_profile.worker_state WHERE pid = $pid2"),
	'restarted worker resumes applying');
my $remaining_mid = $node->safe_psql('postgres', 'SELECT count(*) FROM customer_profile.event_inbox');
note("postmaster killed with $remaining_mid events still queued");
$node->kill9;
# Orphaned children leave once they notice the postmaster is gone.
my $started = 0;
for (1 .. 60)
{
	# A failed start reads the stale postmaster.pid; forget it before retrying.
	$node->{_pid} = undef;
	$started = $node->start(fail_ok => 1);
	last if $started;
	usleep(500_000);
}
ok($started, 'server starts again after SIGKILL of the postmaster');

ok($node->poll_query_until('postgres', 'SELECT count(*) = 0 FROM customer_profile.event_inbox'),
	'inbox drained after both crashes');
is($node->safe_psql('postgres', q{SELECT count(*) FROM customer_profile.event WHERE event_type = 'buy'}),
	$distinct, 'every event stored exactly once');
is($node->safe_psql('postgres', q{
SELECT count(*) FROM reference r
 WHERE customer_profile.event_count(customer_profile.identity_lookup('email', r.email), 'buy') <> r.n
    OR customer_profile.event_sum(customer_profile.identity_lookup('email', r.email), 'buy', 'amount') <> r.total}),
	'0', 'each profile counts and sums exactly what the inbox held');
is($node->safe_psql('postgres', q{SELECT count(*) FROM customer_profile.event_dead_letter WHERE reason LIKE 'malformed occurred_at%'}),
	'50', 'malformed rows are dead letters, with their reason');

# worker_stop(): SIGTERM, prompt exit, no restart.
is($node->safe_psql('postgres', 'SELECT customer_profile.worker_stop()'), '1', 'worker_stop signals the worker');
ok($node->poll_query_until('postgres',
		q{SELECT count(*) = 0 FROM pg_stat_activity WHERE backend_type = 'customer_profile worker'}),
	'worker exits on SIGTERM');
sleep 6;    # longer than the restart delay
is(worker_pid(), '0', 'a stopped worker is not restarted');
is($node->safe_psql('postgres', q{SELECT count(*) FROM customer_profile.worker_status WHERE state <> 'stopped'}),
	'0', 'worker_status shows it stopped');

# worker_start(): a worker without a restart, which then applies new events.
my $new_pid = $node->safe_psql('postgres', 'SELECT customer_profile.worker_start()');
cmp_ok($new_pid, '>', 0, 'worker_start returns the pid');
$node->safe_psql('postgres', q{
INSERT INTO customer_profile.event_inbox (identities, event_type, occurred_at)
VALUES ('{"email": "late@x.com"}', 'visit', to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'))});
ok($node->poll_query_until('postgres',
		q{SELECT customer_profile.event_count(customer_profile.identity_lookup('email', 'late@x.com'), 'visit') = 1}),
	'the started worker applies new events');
ok($node->poll_query_until('postgres',
		q{SELECT heartbeat_at > now() - interval '5 seconds' AND inbox_lag IS NULL FROM customer_profile.worker_status WHERE state <> 'stopped'}),
	'worker_status shows a recent heartbeat and an empty inbox');

# An error that fails the whole batch transaction (here a serialization
# failure injected by a trigger on the event table) does not stop the worker:
# it records the error, retries the batch from the inbox, and applies it
# exactly once when the cause is gone.
$node->safe_psql('postgres', q{
CREATE TABLE allow_boom (ok boolean);
-- The worker runs as customer_profile_worker (not a superuser): a trigger put
-- on the extension's tables runs with that role's rights, so it is granted
-- what this one reads.
GRANT SELECT ON allow_boom TO customer_profile_worker;
-- The extension's statements run with search_path = pg_catalog, pg_temp, so a
-- trigger on its tables names its own objects with their schema.
CREATE FUNCTION refuse_boom() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.event_type = 'boom' AND NOT EXISTS (SELECT 1 FROM public.allow_boom) THEN
        RAISE EXCEPTION 'injected batch failure' USING ERRCODE = 'serialization_failure';
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER refuse_boom BEFORE INSERT ON customer_profile.event FOR EACH ROW EXECUTE FUNCTION refuse_boom();
INSERT INTO customer_profile.event_inbox (identities, event_type, occurred_at, event_id)
SELECT '{"email": "boom@x.com"}', t, to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'), t || '-1'
  FROM unnest(ARRAY['visit', 'boom']) t});
ok($node->poll_query_until('postgres',
		q{SELECT last_error LIKE '%injected batch failure%' FROM customer_profile.worker_status WHERE state <> 'stopped'}),
	'a failed batch is recorded in worker_status.last_error');
is(worker_pid(), $new_pid, 'the worker survives a failed batch');
is($node->safe_psql('postgres', 'SELECT count(*) FROM customer_profile.event_inbox'), '2',
	'the failed batch is back in the inbox');
$node->safe_psql('postgres', 'INSERT INTO allow_boom VALUES (true)');
ok($node->poll_query_until('postgres', 'SELECT count(*) = 0 FROM customer_profile.event_inbox'),
	'the batch is applied once the cause is gone');
is($node->safe_psql('postgres', q{
SELECT customer_profile.event_count(p, 'boom') || '/' || customer_profile.event_count(p, 'visit')
  FROM customer_profile.identity_lookup('email', 'boom@x.com') p}), '1/1', 'each event of the retried batch applied once');

# worker_stop() during a statement that would run for minutes (a trigger
# someone put on an extension table): the statement is cancelled, the batch
# goes back to the inbox, the worker exits at once and is not restarted.
$node->safe_psql('postgres', q{
CREATE FUNCTION slow_event() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.event_type = 'slow' THEN PERFORM pg_sleep(300); END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER slow_event BEFORE INSERT ON customer_profile.event FOR EACH ROW EXECUTE FUNCTION slow_event();
INSERT INTO customer_profile.event_inbox (identities, event_type, occurred_at, event_id)
VALUES ('{"email": "slow@x.com"}', 'slow', to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'), 'slow-1')});
ok($node->poll_query_until('postgres',
		q{SELECT count(*) = 1 FROM pg_stat_activity WHERE backend_type = 'customer_profile worker' AND wait_event = 'PgSleep'}),
	'the worker is inside the slow statement');
my $stop_started = time;
is($node->safe_psql('postgres', 'SELECT customer_profile.worker_stop()'), '1', 'worker_stop signals the busy worker');
ok($node->poll_query_until('postgres',
		q{SELECT count(*) = 0 FROM pg_stat_activity WHERE backend_type = 'customer_profile worker'}),
	'the busy worker exits');
cmp_ok(time - $stop_started, '<', 30, 'within seconds, not after its 300 s statement');
sleep 6;    # longer than the restart delay
is(worker_pid(), '0', 'a worker stopped mid-statement is not restarted');
is($node->safe_psql('postgres', q{SELECT count(*) FROM customer_profile.event_inbox WHERE event_id = 'slow-1'}), '1',
	'its batch is back in the inbox');
$node->safe_psql('postgres', 'DROP TRIGGER slow_event ON customer_profile.event');

# Two workers: each keeps its row in worker_status (the second one's
# registration once deleted the first's), and a reader, who cannot see other
# users' pg_stat_activity details, sees them running too.
my @pids = map { $node->safe_psql('postgres', 'SELECT customer_profile.worker_start()') } 1 .. 2;
ok($node->poll_query_until('postgres',
		"SELECT count(*) = 2 FROM customer_profile.worker_state WHERE pid IN ($pids[0], $pids[1])"),
	'both workers registered');
is($node->safe_psql('postgres', q{SELECT string_agg(pid::text, ',' ORDER BY pid) FROM customer_profile.worker_status WHERE state <> 'stopped'}),
	join(',', sort { $a <=> $b } @pids), 'worker_status shows both workers');
$node->safe_psql('postgres', q{CREATE ROLE status_reader LOGIN IN ROLE customer_profile_reader});
is($node->safe_psql('postgres', q{SELECT count(*) FROM customer_profile.worker_status WHERE state <> 'stopped'},
		extra_params => ['-U', 'status_reader']),
	'2', 'a reader sees both workers running');
# Both apply a burst, each event once.
$node->safe_psql('postgres', q{
INSERT INTO customer_profile.event_inbox (identities, event_type, occurred_at, event_id)
SELECT jsonb_build_object('email', 'lane' || (g % 300) || '@x.com'), 'lane_visit',
       to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'), 'lane-' || g
  FROM generate_series(1, 6000) g});
ok($node->poll_query_until('postgres', 'SELECT count(*) = 0 FROM customer_profile.event_inbox'),
	'two workers drain the burst');
is($node->safe_psql('postgres', q{
SELECT sum(customer_profile.event_count(customer_profile.identity_lookup('email', 'lane' || g || '@x.com'), 'lane_visit'))
  FROM generate_series(0, 299) g}), '6000', 'every event of the burst applied once');

$node->stop;
done_testing();
