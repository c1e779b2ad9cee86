# A segment over a population larger than
# customer_profile.segment_build_inline_limit is built by the preloaded
# worker: segment_create returns at once with the segment building, the
# worker evaluates the profiles batch by batch as customer_profile_worker,
# and the segment ends active with the members a reference query finds, each
# entry announced once.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('build');
$node->init;
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'customer_profile'
customer_profile.worker_databases = 'postgres'
customer_profile.naptime = 100ms
customer_profile.batch_size = 50
});
$node->start;
$node->safe_psql('postgres', q{
CREATE EXTENSION customer_profile;
SELECT customer_profile.trait_define('plan', 'text', 'latest');
CREATE TABLE people AS SELECT g, CASE WHEN g % 3 = 0 THEN 'pro' ELSE 'free' END AS plan FROM generate_series(1, 3000) g;
SELECT count(customer_profile.trait_observe(jsonb_build_object('crm_id', 'c' || g),
                                            jsonb_build_object('plan', plan), 'crm')) FROM people;
});
ok($node->poll_query_until('postgres',
		q{SELECT count(*) = 1 FROM customer_profile.worker_status WHERE state <> 'stopped'}),
	'the worker is running');

my $created = $node->safe_psql('postgres', q{
SET customer_profile.segment_build_inline_limit = 100;
BEGIN;
SELECT customer_profile.segment_create('pro', 'plan = ''pro''') > 0;
SELECT state FROM customer_profile.segments WHERE name = 'pro';
COMMIT;
});
is($created, "t\nbuilding", 'segment_create queued the build');

ok($node->poll_query_until('postgres',
		q{SELECT state = 'active' FROM customer_profile.segments WHERE name = 'pro'}),
	'the worker completed the build');
is($node->safe_psql('postgres', q{
SELECT array(SELECT customer_profile.segment_members('pro'))
     = array(SELECT customer_profile.identity_lookup('crm_id', 'c' || g) FROM people WHERE plan = 'pro' ORDER BY 1)}),
	't', 'the members are the 1,000 pro people');
is($node->safe_psql('postgres', q{
SELECT count(*) || ' ' || count(DISTINCT profile_id) FROM customer_profile.segment_outbox WHERE segment = 'pro' AND change = 'enter'}),
	'1000 1000', 'each entry announced once');
cmp_ok($node->safe_psql('postgres', q{
SELECT count(DISTINCT xact_id) FROM customer_profile.segment_outbox WHERE segment = 'pro'}),
	'>=', 30, 'in batches of 50 profiles (customer_profile.batch_size), one transaction each');
is($node->safe_psql('postgres', q{SELECT last_error FROM customer_profile.worker_status WHERE state <> 'stopped'}),
	'', 'the worker recorded no error');

$node->stop;
done_testing();
