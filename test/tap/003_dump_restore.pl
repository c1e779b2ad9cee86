# pg_dump and pg_restore of a database using the extension: the salt (so
# every stored hash still matches), settings, built-in namespaces as changed
# and new ones, identities, traits, events with their partitions and indexes,
# event ids (deduplication) and queued inbox rows all come back, and the
# restore itself reports no error.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('dump');
$node->init;
$node->start;
$node->safe_psql('postgres', q{
CREATE EXTENSION customer_profile;
UPDATE customer_profile.settings SET default_phone_region = 'DE';
SELECT customer_profile.identity_namespace_alter('cookie', priority => 5);
SELECT customer_profile.identity_namespace_create('loyalty_card', is_known => true, priority => 90);
SELECT customer_profile.event_measure_define('purchase', 'revenue');
SELECT customer_profile.resolve_identity('{"email": "ann@x.com", "loyalty_card": "L-1", "phone": "030 1234567"}', 'crm');
SELECT customer_profile.trait_observe('{"email": "ann@x.com"}', '{"tier": "gold"}', 'crm');
SELECT customer_profile.track('{"email": "ann@x.com"}', 'purchase', now() - interval '40 days', '{"revenue": 5}', 'o-1');
SELECT customer_profile.track('{"loyalty_card": "L-1"}', 'purchase', now(), '{"revenue": 7}', 'o-2');
INSERT INTO customer_profile.event_inbox (identities, event_type, occurred_at)
VALUES ('{"cookie": "queued"}', 'visit', to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'));
CREATE DATABASE restored;
});
my $dump = $node->basedir . '/db.dump';
$node->command_ok([ 'pg_dump', '-Fc', '-d', $node->connstr('postgres'), '-f', $dump ], 'pg_dump succeeds');
my ($ret, $out, $err) = $node->psql('postgres', 'SELECT 1');    # keep the node warm
my $restore_ok = $node->command_ok([ 'pg_restore', '--exit-on-error', '-d', $node->connstr('restored'), $dump ],
	'pg_restore succeeds without a single error');

my $q = sub { $node->safe_psql('restored', shift) };
is($q->(q{SELECT customer_profile.identity_lookup('email', 'ann@x.com') = customer_profile.identity_lookup('loyalty_card', 'L-1')}),
	't', 'restored hashes match (the salt came back)');
is($q->(q{SELECT customer_profile.identity_lookup('phone', '+49 30 1234567') IS NOT NULL}),
	't', 'phone numbers still normalize with the restored default region');
is($q->(q{SELECT priority FROM customer_profile.namespace WHERE name = 'cookie'}), '5', 'a changed built-in namespace keeps its change');
is($q->(q{SELECT priority FROM customer_profile.namespace WHERE name = 'loyalty_card'}), '90', 'a created namespace is restored');
is($q->(q{SELECT customer_profile.identity_namespace_create('store_card') >
          (SELECT max(namespace_id) FROM customer_profile.namespace WHERE name <> 'store_card')}),
	't', 'a namespace created after the restore gets a new id');
is($q->(q{SET search_path = customer_profile, public; SELECT profile_get('email', 'ann@x.com') ->> 'tier'}), 'gold', 'traits restored');
is($q->(q{SELECT event_count || ' ' || (totals->>'revenue') FROM customer_profile.profile_behavior(customer_profile.identity_lookup('email', 'ann@x.com'))}),
	'2 12', 'behavior restored');
is($q->(q{SELECT customer_profile.track('{"email": "ann@x.com"}', 'purchase', now(), '{"revenue": 7}', 'o-2') IS NOT NULL
          AND customer_profile.event_count(customer_profile.identity_lookup('email', 'ann@x.com'), 'purchase') = 2}),
	't', 'restored event ids still deduplicate');
is($q->(q{SELECT count(*) FROM pg_indexes WHERE schemaname = 'customer_profile' AND tablename LIKE 'event_2%'}),
	$q->(q{SELECT count(*) FROM pg_inherits WHERE inhparent = 'customer_profile.event'::regclass}),
	'every restored event partition has its index');
is($q->(q{SELECT applied FROM customer_profile.event_inbox_drain(10)}), '1', 'queued inbox rows restored and applied');
($ret, $out, $err) = $node->psql('restored', q{UPDATE customer_profile.settings SET salt = '\x00112233445566778899aabbccddeeff'});
like($err, qr/salt cannot change/, 'the salt guard still refuses a direct change after the restore');

$node->stop;
done_testing();
