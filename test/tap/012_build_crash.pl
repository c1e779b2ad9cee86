# Crash in the middle of a worker build: after an immediate stop and a
# restart, the worker resumes the build from build_next and ends with the
# members a reference query finds, each entry announced once.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('buildcrash');
$node->init;
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'customer_profile'
customer_profile.worker_databases = 'postgres'
customer_profile.naptime = 100ms
customer_profile.batch_size = 1
});
$node->start;
$node->safe_psql('postgres', q{
CREATE EXTENSION customer_profile;
SELECT customer_profile.trait_define('plan', 'text', 'latest');
CREATE TABLE people AS SELECT g, CASE WHEN g % 3 = 0 THEN 'pro' ELSE 'free' END AS plan FROM generate_series(1, 2000) g;
SELECT count(customer_profile.trait_observe(jsonb_build_object('crm_id', 'c' || g),
                                            jsonb_build_object('plan', plan), 'crm')) FROM people;
});
ok($node->poll_query_until('postgres',
		q{SELECT count(*) = 1 FROM customer_profile.worker_status WHERE state <> 'stopped'}), 'worker running');
$node->safe_psql('postgres', q{
SET customer_profile.segment_build_inline_limit = 100;
SELECT customer_profile.segment_create('pro', 'plan = ''pro''') > 0;
});
ok($node->poll_query_until('postgres',
		q{SELECT build_done > 200 FROM customer_profile.segment WHERE name = 'pro'}), 'build under way');
my $mid = $node->safe_psql('postgres', q{SELECT state || ' ' || build_done FROM customer_profile.segment WHERE name = 'pro'});
note "before crash: $mid";
$node->stop('immediate');
$node->start;
ok($node->poll_query_until('postgres',
		q{SELECT state = 'active' FROM customer_profile.segments WHERE name = 'pro'}), 'build completed after restart');
is($node->safe_psql('postgres', q{
SELECT array(SELECT customer_profile.segment_members('pro'))
     = array(SELECT customer_profile.identity_lookup('crm_id', 'c' || g) FROM people WHERE plan = 'pro' ORDER BY 1)}),
	't', 'members right');
is($node->safe_psql('postgres', q{
SELECT count(*) || ' ' || count(DISTINCT profile_id) FROM customer_profile.segment_outbox WHERE segment = 'pro' AND change = 'enter'}),
	'666 666', 'each entry announced once');
$node->stop;
done_testing();
