# Views that users build on profiles_wide (what dbt or a BI tool creates)
# survive pg_dump and pg_restore --exit-on-error, in custom and plain
# format, and keep working: in 1.5 the restore failed on them ("column
# profiles_wide.tier does not exist": the extension member was dumped as
# nothing and recreated with the columns of a fresh install), and without
# --exit-on-error the views were silently lost.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('views');
$node->init;
$node->start;
$node->safe_psql('postgres', q{
CREATE EXTENSION customer_profile;
SELECT customer_profile.trait_define('tier', 'text');
SELECT customer_profile.trait_define('ltv', 'number', 'sum');
SELECT customer_profile.trait_define('interests', 'text[]', 'union');
SELECT customer_profile.trait_observe('{"email": "ann@x.com"}', '{"tier": "gold", "ltv": 10, "interests": ["yoga"]}', 'crm');
SELECT customer_profile.trait_observe('{"email": "bob@x.com"}', '{"tier": "silver", "ltv": 3}', 'crm');
CREATE ROLE bi_reader NOLOGIN IN ROLE customer_profile_reader;
CREATE SCHEMA bi;
GRANT USAGE ON SCHEMA bi TO bi_reader;
CREATE VIEW bi.gold AS SELECT profile_id, tier, ltv, interests FROM customer_profile.profiles_wide WHERE tier = 'gold';
CREATE VIEW bi.totals AS SELECT tier, count(*) AS people, sum(ltv) AS ltv FROM bi.gold GROUP BY tier;
GRANT SELECT ON bi.gold, bi.totals TO bi_reader;
COMMENT ON VIEW bi.gold IS 'dbt model: gold customers';
CREATE DATABASE restored;
CREATE DATABASE restored_plain;
});
my $dump = $node->basedir . '/views.dump';
my $plain = $node->basedir . '/views.sql';
$node->command_ok([ 'pg_dump', '-Fc', '-d', $node->connstr('postgres'), '-f', $dump ], 'pg_dump (custom format)');
$node->command_ok([ 'pg_dump', '-Fp', '-d', $node->connstr('postgres'), '-f', $plain ], 'pg_dump (plain format)');
$node->command_ok([ 'pg_restore', '--exit-on-error', '-d', $node->connstr('restored'), $dump ],
	'pg_restore --exit-on-error succeeds with views on profiles_wide');
$node->command_ok([ 'psql', '-X', '-q', '-v', 'ON_ERROR_STOP=1', '-d', $node->connstr('restored_plain'), '-f', $plain ],
	'a plain dump replays with ON_ERROR_STOP');

for my $db ('restored', 'restored_plain')
{
	my $q = sub { $node->safe_psql($db, shift) };
	is($q->(q{SELECT tier || ' ' || ltv || ' ' || interests::text FROM bi.gold}), 'gold 10 {yoga}', "$db: the dbt view reads the restored profiles");
	is($q->(q{SELECT string_agg(attname || ' ' || format_type(atttypid, atttypmod), ', ' ORDER BY attnum) FROM pg_attribute
	           WHERE attrelid = 'customer_profile.profiles_wide'::regclass AND attnum > 0}),
		'profile_id bigint, tier text, ltv double precision, interests text[]', "$db: profiles_wide has its typed columns");
	is($q->(q{SET ROLE bi_reader; SELECT people || ' ' || ltv FROM bi.totals}), '1 10', "$db: grants on the views are restored");
	is($q->(q{SELECT obj_description('bi.gold'::regclass, 'pg_class')}), 'dbt model: gold customers', "$db: comments are restored");
	is($q->(q{SELECT count(*) FROM pg_depend WHERE objid = 'customer_profile.profiles_wide'::regclass AND deptype = 'x'}),
		'1', "$db: the restored profiles_wide goes with the extension again");
	# Trait definitions keep working after the restore, and keep the views.
	$q->(q{SELECT customer_profile.trait_define('signed_up', 'timestamp')});
	$q->(q{SELECT customer_profile.trait_define('ltv', 'number', 'max')});
	is($q->(q{SELECT tier || ' ' || ltv FROM bi.gold}), 'gold 10', "$db: trait_define after the restore keeps the views");
}

# The restored database dumps and restores again.
my $again = $node->basedir . '/again.dump';
$node->command_ok([ 'pg_dump', '-Fc', '-d', $node->connstr('restored'), '-f', $again ], 'the restored database dumps');
$node->safe_psql('postgres', 'CREATE DATABASE restored_again');
$node->command_ok([ 'pg_restore', '--exit-on-error', '-d', $node->connstr('restored_again'), $again ],
	'and restores again');
is($node->safe_psql('restored_again', q{SELECT tier || ' ' || ltv FROM bi.gold}), 'gold 10', 'the views work after a second restore');
$node->safe_psql('restored_again', q{DROP SCHEMA bi CASCADE; DROP EXTENSION customer_profile});
is($node->safe_psql('restored_again', q{SELECT to_regclass('customer_profile.profiles_wide') IS NULL}), 't',
	'DROP EXTENSION drops the restored profiles_wide');

$node->stop;
done_testing();
