# A database named in customer_profile.worker_databases that does not exist
# yet: the server logs it once (no FATAL every restart delay), waits with a
# growing interval, and starts the database's worker once it is created.
# The other databases' workers are not disturbed.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

# Each database is named twice: it gets one launcher and one worker.
my $node = PostgreSQL::Test::Cluster->new('missing_database');
$node->init;
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'customer_profile'
customer_profile.worker_databases = 'postgres, later_db, postgres, later_db'
customer_profile.naptime = 50ms
restart_after_crash = on
});
$node->start;
$node->safe_psql('postgres', 'CREATE EXTENSION customer_profile');

# Lines of the server log about later_db.
sub log_lines
{
	my ($pattern) = @_;
	return scalar(grep { /$pattern/ } split(/\n/, slurp_file($node->logfile)));
}

ok($node->poll_query_until('postgres',
		q{SELECT count(*) = 1 FROM customer_profile.worker_status WHERE state <> 'stopped'}),
	'the worker of the database that exists starts');

my $missing = qr/database "later_db".*does not exist/;
my $waited = 0;
while (log_lines($missing) == 0 && $waited++ < 60) { sleep 1; }
cmp_ok(log_lines($missing), '>=', 1, 'the missing database is logged');
# Longer than two restart delays (5 s) of a worker that fails to connect.
sleep 12;
is(log_lines($missing), 1, 'the missing database is logged once');
is(log_lines(qr/FATAL.*later_db/), 0, 'no FATAL about it');
is($node->safe_psql('postgres',
		q{SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'customer_profile launcher' AND datname IS NULL}),
	'1', 'a launcher without a database connection waits for it, visible in pg_stat_activity');

$node->safe_psql('postgres', 'CREATE DATABASE later_db');
$node->safe_psql('later_db', 'CREATE EXTENSION customer_profile');
ok($node->poll_query_until('later_db',
		q{SELECT count(*) = 1 FROM customer_profile.worker_status WHERE state <> 'stopped'}),
	'the worker starts once the database exists');
$node->safe_psql('later_db', q{
INSERT INTO customer_profile.event_inbox (identities, event_type, occurred_at)
VALUES ('{"email": "late@x.com"}', 'visit', to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'))});
ok($node->poll_query_until('later_db',
		q{SELECT customer_profile.event_count(customer_profile.identity_lookup('email', 'late@x.com'), 'visit') = 1}),
	'and applies its events');
is($node->safe_psql('postgres',
		q{SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'customer_profile launcher'}),
	'0', 'the launcher is gone');
is(log_lines(qr/FATAL.*later_db/), 0, 'still no FATAL about it');
is($node->safe_psql('postgres',
		q{SELECT count(*) FROM customer_profile.worker_status WHERE state <> 'stopped'}),
	'1', 'the first database keeps its one worker');

# A crash restart (SIGKILL of a worker) brings back exactly one worker per
# database, and no launcher: both workers are dynamic, the launchers are done.
my $pid = $node->safe_psql('later_db',
	q{SELECT pid FROM pg_stat_activity WHERE backend_type = 'customer_profile worker' AND datname = 'later_db'});
kill 'KILL', $pid;
for my $db ('postgres', 'later_db')
{
	ok($node->poll_query_until($db,
			"SELECT count(*) = 1 FROM pg_stat_activity WHERE backend_type = 'customer_profile worker' AND datname = '$db' AND pid <> $pid"),
		"after a crash restart, $db has its worker again");
}
sleep 6;    # longer than the restart delay
is($node->safe_psql('postgres',
		q{SELECT string_agg(coalesce(datname, '-') || ' ' || backend_type, ', ' ORDER BY datname) FROM pg_stat_activity WHERE backend_type LIKE 'customer_profile%'}),
	'later_db customer_profile worker, postgres customer_profile worker', 'one worker each, no launcher');
is(log_lines(qr/launcher.*exited with exit code 1/), 0, 'no launcher failed');

$node->stop;
done_testing();
