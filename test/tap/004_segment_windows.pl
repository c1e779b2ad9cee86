# Segment windows slide without events: the preloaded worker re-evaluates a
# profile when its scheduled time comes (a trial that ends, a purchase that
# leaves a window), with nobody calling anything, and a consumer LISTENing
# hears the exit.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('windows');
$node->init;
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'customer_profile'
customer_profile.worker_databases = 'postgres'
customer_profile.naptime = 100ms
});
$node->start;
$node->safe_psql('postgres', q{
CREATE EXTENSION customer_profile;
SELECT customer_profile.trait_define('trial_ends_at', 'timestamp', 'latest');
SELECT customer_profile.segment_create('on_trial', 'trial_ends_at > now() AND known');
SELECT customer_profile.segment_create('trial_fan', 'in_segment(''on_trial'')');
});
ok($node->poll_query_until('postgres',
		q{SELECT count(*) = 1 FROM customer_profile.worker_status WHERE state <> 'stopped'}),
	'the worker is running');

# Three people whose trials end 3, 4 and 600 seconds from now.
$node->safe_psql('postgres', q{
SELECT customer_profile.trait_observe(jsonb_build_object('crm_id', 'c' || g),
           jsonb_build_object('trial_ends_at', now() + make_interval(secs => s)), 'crm')
  FROM (VALUES (1, 3), (2, 4), (3, 600)) v(g, s);
});
is($node->safe_psql('postgres', q{SELECT customer_profile.segment_size('on_trial')}), '3',
	'streaming put all three on trial');
is($node->safe_psql('postgres', q{SELECT customer_profile.segment_size('trial_fan')}), '3',
	'and into the segment that refers to it');
is($node->safe_psql('postgres', q{SELECT count(*) FROM customer_profile.segment_schedule}), '3',
	'each is scheduled at the end of the trial');

# A listener that connected before the trials end.
my $listener = $node->background_psql('postgres');
$listener->query_safe('LISTEN customer_profile_segment');

ok($node->poll_query_until('postgres',
		q{SELECT customer_profile.segment_size('on_trial') = 1 AND customer_profile.segment_size('trial_fan') = 1},
		't'),
	'the worker took the two ended trials out of both segments without any call');
is($node->safe_psql('postgres', q{
SELECT string_agg(segment || ':' || change, ',' ORDER BY segment, profile_id)
  FROM customer_profile.segment_outbox WHERE change = 'exit'}),
	'on_trial:exit,on_trial:exit,trial_fan:exit,trial_fan:exit',
	'four exits in the outbox, once each');
is($node->safe_psql('postgres', q{
SELECT count(*) FROM customer_profile.segment_membership WHERE exited_at IS NOT NULL}), '4',
	'history closed for both people in both segments');
is($node->safe_psql('postgres', q{SELECT count(*) FROM customer_profile.segment_schedule}), '1',
	'only the 600-second trial is still scheduled');

my $heard = $listener->query_safe('SELECT 1');
my $exits = () = $heard =~ /"change": "exit"/g;
is($exits, 4, 'the listener heard the four exits');
$listener->quit;

# Queued events wake the worker at commit: with a 60-second nap (and due
# windows checked once a second), each of 8 events spaced 0.3 s apart is
# applied well within a second of being queued. Polling once a second
# would let about half of them wait longer than 0.6 s.
$node->safe_psql('postgres', q{
ALTER SYSTEM SET customer_profile.naptime = '60s';
SELECT pg_reload_conf();
SELECT customer_profile.segment_create('buyers', 'count(purchase) >= 1');
});
sleep(2);    # the worker has picked up the long nap
for my $i (1 .. 8)
{
	$node->safe_psql('postgres', qq{
INSERT INTO customer_profile.event_inbox (identities, event_type, occurred_at, event_id)
VALUES ('{"crm_id": "c1"}', 'purchase', now()::text, 'wake-$i')});
	select(undef, undef, undef, 0.3);
}
ok($node->poll_query_until('postgres',
		q{SELECT count(*) = 8 FROM customer_profile.event WHERE event_id LIKE 'wake-%'}),
	'the 8 queued purchases were applied');
my $slowest = $node->safe_psql('postgres', q{
SELECT round(max(extract(epoch FROM applied_at - received_at))::numeric, 3)
  FROM customer_profile.event WHERE event_id LIKE 'wake-%'});
cmp_ok($slowest, '<', 0.6, "each within 0.6 s of being queued (slowest: $slowest s)");
is($node->safe_psql('postgres', q{SELECT customer_profile.segment_size('buyers')}), '1',
	'and streamed into the segment');

is($node->safe_psql('postgres', q{SELECT last_error FROM customer_profile.worker_status WHERE state <> 'stopped'}),
	'', 'the worker recorded no error');

$node->stop;
done_testing();
