# Feature vectors stay current without any call: the preloaded worker runs
# feature_refresh() every customer_profile.feature_refresh_interval, so a
# customer who changes gets a new vector, moves to the nearest cluster and
# into its auto_cluster segment, and a new customer gets a vector.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('features');
$node->init;
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'customer_profile'
customer_profile.worker_databases = 'postgres'
customer_profile.naptime = 100ms
customer_profile.feature_refresh_interval = 1s
});
$node->start;
$node->safe_psql('postgres', q{
CREATE EXTENSION customer_profile;
SELECT customer_profile.feature_define('ltv', 'ltv');
SELECT customer_profile.trait_observe(jsonb_build_object('crm_id', 'low' || g), jsonb_build_object('ltv', 10 + g), 'crm')
  FROM generate_series(1, 10) g;
SELECT customer_profile.trait_observe(jsonb_build_object('crm_id', 'high' || g), jsonb_build_object('ltv', 1000 + g), 'crm')
  FROM generate_series(1, 10) g;
SELECT customer_profile.feature_build();
SELECT count(*) FROM customer_profile.profile_cluster(2);
});
my $high = $node->safe_psql('postgres', q{
SELECT f.cluster FROM customer_profile.profile_feature f
 WHERE f.profile_id = customer_profile.identity_lookup('crm_id', 'high1')});
my $low = $node->safe_psql('postgres', q{
SELECT f.cluster FROM customer_profile.profile_feature f
 WHERE f.profile_id = customer_profile.identity_lookup('crm_id', 'low1')});
isnt($high, $low, 'two clusters, high and low spenders apart');

$node->safe_psql('postgres', q{
SELECT customer_profile.trait_observe('{"crm_id": "low1"}', '{"ltv": 1005}', 'crm', now() + interval '1 second');
SELECT customer_profile.trait_observe('{"crm_id": "newcomer"}', '{"ltv": 1003}', 'crm');
});
ok($node->poll_query_until('postgres', qq{
SELECT f.cluster = $high FROM customer_profile.profile_feature f
 WHERE f.profile_id = customer_profile.identity_lookup('crm_id', 'low1')}, 't'),
	'the worker moved the changed customer to the high cluster');
ok($node->poll_query_until('postgres', qq{
SELECT f.cluster = $high FROM customer_profile.profile_feature f
 WHERE f.profile_id = customer_profile.identity_lookup('crm_id', 'newcomer')}, 't'),
	'and gave the newcomer a vector in that cluster');
is($node->safe_psql('postgres', qq{
SELECT customer_profile.profile_segment(customer_profile.identity_lookup('crm_id', 'low1'), 'auto_cluster_$high')}),
	't', 'the changed customer is in the segment of its new cluster');
is($node->safe_psql('postgres', qq{
SELECT string_agg(change, ',' ORDER BY change) FROM customer_profile.segment_outbox
 WHERE profile_id = customer_profile.identity_lookup('crm_id', 'low1') AND changed_at > now() - interval '1 minute'
   AND segment IN ('auto_cluster_1', 'auto_cluster_2')}),
	'enter,enter,exit', 'announced: entered its first cluster, left it, entered the new one');

$node->stop;
done_testing();
