# Durability of the identity graph across a clean restart and a crash
# (kill -9 of a backend in the middle of an open resolution), and proof
# that C++ exceptions raised inside the extension never crash the server.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('main');
$node->init;
# Test clusters default to stopping after a crash; we want to watch recovery.
$node->append_conf('postgresql.conf', 'restart_after_crash = on');
$node->start;
$node->safe_psql('postgres', 'CREATE EXTENSION customer_profile');

my $ann = $node->safe_psql('postgres',
	q{SELECT customer_profile.resolve_identity('{"crm_id": "1", "email": "ann@x.com", "cookie": "c1"}')});
my $hash_before = $node->safe_psql('postgres',
	q{SELECT encode(customer_profile.identity_hash('email', 'ann@x.com'), 'hex')});

# Every kind of C++ failure becomes an ERROR; the postmaster never restarts.
my $start_time = $node->safe_psql('postgres', 'SELECT pg_postmaster_start_time()');
for my $kind (qw(core std bad_alloc unknown postgres serialization cancel))
{
	my ($ret, $stdout, $stderr) = $node->psql('postgres',
		"SELECT customer_profile._boundary_selftest('$kind')");
	is($ret, 3, "selftest $kind fails as an SQL error");
	like($stderr, qr/ERROR:/, "selftest $kind reports ERROR");
}
is($node->safe_psql('postgres', 'SELECT pg_postmaster_start_time()'),
	$start_time, 'no crash recovery after C++ exceptions');
unlike(slurp_file($node->logfile), qr/terminated by signal/, 'no backend died');

# Clean restart: salt, hashes and profiles persist.
$node->restart;
is($node->safe_psql('postgres',
		q{SELECT encode(customer_profile.identity_hash('email', 'ann@x.com'), 'hex')}),
	$hash_before, 'salted hash is stable across restart');
is($node->safe_psql('postgres', q{SELECT customer_profile.identity_lookup('cookie', 'c1')}),
	$ann, 'lookup after restart');

# Crash in the middle of an uncommitted merge: SIGKILL of the backend makes
# the postmaster reinitialize every process and replay WAL. Afterwards the
# committed state is intact and the uncommitted merge left no trace.
$node->safe_psql('postgres', q{SELECT customer_profile.resolve_identity('{"cookie": "c2", "device_id": "d2"}')});
my $visitor = $node->safe_psql('postgres', q{SELECT customer_profile.identity_lookup('cookie', 'c2')});
my $open = $node->background_psql('postgres', on_error_stop => 0);
my $pid = $open->query_safe('SELECT pg_backend_pid()');
$open->query_safe('BEGIN');
is($open->query_safe(q{SELECT customer_profile.resolve_identity('{"email": "ann@x.com", "cookie": "c2"}')}),
	$ann, 'inside the transaction the visitor merged into ann');
$open->query_safe(q{SELECT customer_profile.resolve_identity('{"email": "new@x.com", "device_id": "d9"}')});
kill 'KILL', $pid;
$open->quit;
$node->poll_query_until('postgres', 'SELECT 1', '1') or die 'server did not come back after the crash';
like(slurp_file($node->logfile), qr/terminated by signal 9/, 'the postmaster went through crash recovery');
is($node->safe_psql('postgres', q{SELECT customer_profile.identity_lookup('email', 'new@x.com') IS NULL}),
	't', 'uncommitted identity is gone after crash recovery');
is($node->safe_psql('postgres', q{SELECT customer_profile.identity_lookup('cookie', 'c2')}),
	$visitor, 'uncommitted merge is gone after crash recovery');
is($node->safe_psql('postgres',
		q{SELECT count(*) FROM customer_profile.identity_check() WHERE count <> 0}),
	'0', 'identity graph consistent after crash recovery');

# The work can continue: the same merge now commits.
$node->safe_psql('postgres', q{SELECT customer_profile.resolve_identity('{"email": "ann@x.com", "device_id": "d1"}')});
is($node->safe_psql('postgres', q{SELECT customer_profile.identity_lookup('device_id', 'd1')}),
	$ann, 'resolution works after recovery');

$node->stop;
done_testing();
