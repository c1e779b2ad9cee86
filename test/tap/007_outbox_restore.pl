# The outbox across pg_dump/pg_restore. A consumer's bookmark is a snapshot
# (transaction ids), and transaction ids mean something only in the cluster
# that handed them out. Restored into another cluster (here one whose
# transaction counter is far behind the old one, so every new transaction
# id would look "already delivered" to an old snapshot), each consumer must
# receive every change its old snapshot had not delivered, and every change
# made after the restore; a consumer restored into the same cluster goes on
# exactly where it was.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $old = PostgreSQL::Test::Cluster->new('outbox_old');
$old->init;
$old->start;
# Push the old cluster's transaction ids well past the new cluster's.
my $burn = $old->basedir . '/burn.sql';
open(my $fh, '>', $burn) or die "cannot write $burn";
print $fh "SELECT pg_current_xact_id();\n" for 1 .. 3000;
close($fh);
$old->command_ok([ 'psql', '-X', '-q', '-o', '/dev/null', '-d', $old->connstr('postgres'), '-f', $burn ],
	'the old cluster uses 3000 transaction ids');

my $sql = sub { my ($node, $db, $q) = @_; return $node->safe_psql($db, $q); };
$sql->($old, 'postgres', q{
CREATE EXTENSION customer_profile;
SELECT customer_profile.segment_create('visitors', 'count(visit) >= 1');
});
# One change per transaction: p1 .. p5.
$sql->($old, 'postgres', qq{SELECT customer_profile.track('{"email": "p$_\@x.com"}', 'visit', now())}) for 1 .. 3;
# 'crm' handles p1-p3 and has started its next batch; 'mid' handles p1, p2
# of its first batch.
$sql->($old, 'postgres', q{
SELECT count(*) FROM customer_profile.segment_outbox_read('crm');
SELECT customer_profile.segment_outbox_ack('crm', 3);
SELECT count(*) FROM customer_profile.segment_outbox_read('crm');
});
$sql->($old, 'postgres', qq{SELECT customer_profile.track('{"email": "p$_\@x.com"}', 'visit', now())}) for 4 .. 5;
$sql->($old, 'postgres', q{
SELECT count(*) FROM customer_profile.segment_outbox_read('mid', 2);
SELECT customer_profile.segment_outbox_ack('mid', 2);
});

my $who = q{SELECT string_agg('p' || g, ',' ORDER BY r.outbox_position)
              FROM customer_profile.segment_outbox_read('%s') r
              JOIN generate_series(1, 9) g
                ON customer_profile.identity_lookup('email', 'p' || g || '@x.com') = r.profile_id};
my $read_ack = sub {
	my ($node, $db, $consumer) = @_;
	my $got = $sql->($node, $db, sprintf($who, $consumer));
	$sql->($node, $db, qq{SELECT customer_profile.segment_outbox_ack('$consumer', max(outbox_position))
	                        FROM customer_profile.segment_outbox_read('$consumer')});
	return $got;
};

my $dump = $old->basedir . '/outbox.dump';
$old->command_ok([ 'pg_dump', '-Fc', '-d', $old->connstr('postgres'), '-f', $dump ], 'pg_dump succeeds');

# Restored into another database of the same cluster: same transaction ids.
$sql->($old, 'postgres', 'CREATE DATABASE same_cluster');
$old->command_ok([ 'pg_restore', '--exit-on-error', '-d', $old->connstr('same_cluster'), $dump ],
	'pg_restore into the same cluster succeeds');
$sql->($old, 'same_cluster', q{SELECT customer_profile.track('{"email": "p6@x.com"}', 'visit', now())});
is($read_ack->($old, 'same_cluster', 'crm'), 'p4,p5,p6', 'same cluster: crm goes on where it was');
is($read_ack->($old, 'same_cluster', 'mid'), 'p3,p4,p5', 'same cluster: mid finishes its batch after its acknowledged position');
is($read_ack->($old, 'same_cluster', 'mid'), 'p6', 'same cluster: then mid reads what committed since');

# Restored into a new cluster, whose transaction ids are far below the old ones.
my $new = PostgreSQL::Test::Cluster->new('outbox_new');
$new->init;
$new->start;
$new->command_ok([ 'pg_restore', '--exit-on-error', '-d', $new->connstr('postgres'), $dump ],
	'pg_restore into another cluster succeeds');
isnt($sql->($new, 'postgres', 'SELECT customer_profile._cluster_id()'),
	$sql->($old, 'postgres', 'SELECT customer_profile._cluster_id()'), 'the clusters differ');
ok($sql->($new, 'postgres', q{SELECT pg_current_xact_id() < min(xact_id) FROM customer_profile.segment_outbox}) eq 't',
	'new transaction ids are below every restored one');
$sql->($new, 'postgres', q{SELECT customer_profile.track('{"email": "p6@x.com"}', 'visit', now())});
is($read_ack->($new, 'postgres', 'crm'), 'p4,p5,p6', 'new cluster: crm gets what it had not handled and the new change');
is($read_ack->($new, 'postgres', 'mid'), 'p3,p4,p5,p6', 'new cluster: mid gets everything after its acknowledged position');
is($read_ack->($new, 'postgres', 'fresh'), 'p1,p2,p3,p4,p5,p6', 'new cluster: a new consumer reads the whole history');
$sql->($new, 'postgres', q{SELECT customer_profile.track('{"email": "p7@x.com"}', 'visit', now())});
is($read_ack->($new, 'postgres', 'crm'), 'p7', 'new cluster: crm then reads by snapshots of this cluster');
is($read_ack->($new, 'postgres', 'crm') // '', '', 'and nothing comes twice');

$new->stop;
$old->stop;
done_testing();
