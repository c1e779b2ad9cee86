# A fresh install (the script generated from src/sql/current) and an update
# from the oldest release (1.0 and every script of src/sql/history and
# src/sql/upgrade) end in the same state, compared across two clusters so
# that nothing one path leaves behind reaches the other: what lives outside
# the extension (roles and their attributes, memberships and comments,
# default privileges, what pg_dump --schema-only writes besides CREATE
# EXTENSION; the members themselves are compared by sql/upgrade.sql), the rows
# the install writes (namespaces, settings but the salt), sequence values and
# the tables pg_dump saves with the extension. sql/upgrade.sql compares the
# definitions in one database, with data; this is its complement. The end
# shows that each kind of difference is reported.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $fresh = PostgreSQL::Test::Cluster->new('fresh');
my $updated = PostgreSQL::Test::Cluster->new('updated');
for my $node ($fresh, $updated) {
    $node->init;
    $node->start;
}
$fresh->safe_psql('postgres', 'CREATE EXTENSION customer_profile');
$updated->safe_psql('postgres', q{CREATE EXTENSION customer_profile VERSION '1.0'});
is($updated->safe_psql('postgres', q{
    SELECT string_agg(path, ' ') FROM pg_extension_update_paths('customer_profile')
     WHERE source = '1.0' AND target = (SELECT default_version FROM pg_available_extensions
                                         WHERE name = 'customer_profile')}),
   '1.0--1.1--1.2--1.3--1.4--1.5--1.6', 'the update from 1.0 takes every step');
$updated->safe_psql('postgres', 'ALTER EXTENSION customer_profile UPDATE');

# Everything but the extension's own catalogs: pg_dumpall -g for roles,
# pg_dump -s for the schema and default privileges, queries for the rest.
my $state_query = q{
SELECT 'extension ' || extversion || ' dumps ' ||
       (SELECT string_agg(c::regclass::text || coalesce(' ' || nullif(w, ''), ''), ', ' ORDER BY c::regclass::text)
          FROM unnest(extconfig, extcondition) t(c, w))
  FROM pg_extension WHERE extname = 'customer_profile'
UNION ALL
SELECT 'namespace ' || (to_jsonb(n) - 'created_at')::text FROM customer_profile.namespace n
UNION ALL
SELECT 'settings ' || (to_jsonb(s) - 'salt')::text || ' salt bytes ' || octet_length(s.salt) FROM customer_profile.settings s
UNION ALL
SELECT 'sequence ' || c.oid::regclass::text || ' ' || s.last_value || ' ' || s.is_called
  FROM pg_class c CROSS JOIN LATERAL pg_sequence_last_value(c.oid) v(x)
  CROSS JOIN LATERAL (SELECT coalesce(v.x, 0) AS last_value, v.x IS NOT NULL AS is_called) s
 WHERE c.relkind = 'S' AND c.relnamespace = 'customer_profile'::regnamespace
UNION ALL
SELECT 'role ' || r.rolname || ' ' || concat_ws(' ', r.rolsuper, r.rolinherit, r.rolcreaterole, r.rolcreatedb,
       r.rolcanlogin, r.rolreplication, r.rolbypassrls, r.rolconnlimit, r.rolconfig::text)
       || ' comment ' || coalesce(shobj_description(r.oid, 'pg_authid'), '-')
       || ' member of ' || coalesce((SELECT string_agg(g.rolname, ',' ORDER BY g.rolname) FROM pg_auth_members m
                                      JOIN pg_roles g ON g.oid = m.roleid WHERE m.member = r.oid), '-')
  FROM pg_roles r WHERE r.rolname NOT LIKE 'pg\_%'
UNION ALL
SELECT 'default acl ' || pg_get_userbyid(d.defaclrole) || ' ' || d.defaclnamespace::regnamespace::text || ' '
       || d.defaclobjtype::text || ' ' || d.defaclacl::text
  FROM pg_default_acl d
ORDER BY 1
};

sub state_of {
    my ($node) = @_;
    my %state;
    $state{rows} = $node->safe_psql('postgres', $state_query);
    # The bootstrap superuser's password line and pg_dump's warnings about row
    # types' initial privileges are the same on both sides and not compared.
    my ($out, $err);
    IPC::Run::run([ 'pg_dump', '--schema-only', '-d', $node->connstr('postgres') ], '>', \$out, '2>', \$err)
        or die "pg_dump failed: $err";
    $out =~ s/^\\(un)?restrict .*$//mg;   # a random key per dump
    $state{schema} = $out;
    IPC::Run::run([ 'pg_dumpall', '--globals-only', '--no-role-passwords', '-d', $node->connstr('postgres') ],
                  '>', \$out, '2>', \$err) or die "pg_dumpall failed: $err";
    $out =~ s/^\\(un)?restrict .*$//mg;
    $state{globals} = $out;
    return \%state;
}

sub differences {
    my ($a, $b) = @_;
    my @found;
    for my $part (sort keys %$a) {
        next if $a->{$part} eq $b->{$part};
        my %left = map { $_ => 1 } split /\n/, $a->{$part};
        my %right = map { $_ => 1 } split /\n/, $b->{$part};
        push @found, map { "$part, fresh only: $_" } grep { !$right{$_} } sort keys %left;
        push @found, map { "$part, updated only: $_" } grep { !$left{$_} } sort keys %right;
    }
    return @found;
}

my $fresh_state = state_of($fresh);
my $updated_state = state_of($updated);
like($fresh_state->{rows}, qr/^namespace .*"cookie"/m, 'the install rows are compared');
like($fresh_state->{rows}, qr/^role customer_profile_worker .* member of -$/m, 'the roles are compared');
like($fresh_state->{schema}, qr/CREATE EXTENSION IF NOT EXISTS customer_profile/, 'the schema is compared');
like($fresh_state->{globals}, qr/CREATE ROLE customer_profile_reader;/, 'the globals are compared')
    or diag($fresh_state->{globals});
my @differences = differences($fresh_state, $updated_state);
is(join("\n", @differences), '', 'a fresh install and an update from 1.0 end in the same state');

# Each kind of difference is reported: drift on the updated side, which a
# comparison within one database cannot see (a role's state outlives
# DROP EXTENSION), and the rows.
$updated->safe_psql('postgres', q{
GRANT customer_profile_reader TO customer_profile_worker;
ALTER ROLE customer_profile_worker BYPASSRLS;
COMMENT ON ROLE customer_profile_admin IS 'drift';
ALTER DEFAULT PRIVILEGES IN SCHEMA customer_profile GRANT SELECT ON TABLES TO customer_profile_reader;
UPDATE customer_profile.namespace SET priority = 21 WHERE name = 'cookie';
UPDATE customer_profile.settings SET max_identities_per_profile = 499;
SELECT setval('customer_profile.namespace_namespace_id_seq', 50);
});
@differences = differences($fresh_state, state_of($updated));
my @expected = (
    qr/^globals, updated only: COMMENT ON ROLE customer_profile_admin IS 'drift';/,
    qr/^globals, updated only: .*customer_profile_worker .*BYPASSRLS/,
    qr/^globals, updated only: GRANT customer_profile_reader TO customer_profile_worker/,
    qr/^rows, updated only: default acl postgres customer_profile r/,
    qr/^rows, updated only: namespace .*"priority": 21/,
    qr/^rows, updated only: role customer_profile_admin .* comment drift/,
    qr/^rows, updated only: role customer_profile_worker .*member of customer_profile_reader/,
    qr/^rows, updated only: sequence customer_profile\.namespace_namespace_id_seq 50 /,
    qr/^rows, updated only: settings .*"max_identities_per_profile": 499/,
    qr/^schema, updated only: ALTER DEFAULT PRIVILEGES .* IN SCHEMA customer_profile GRANT SELECT ON TABLES/,
);
for my $pattern (@expected) {
    ok((grep { $_ =~ $pattern } @differences), "reported: $pattern")
        or diag(join("\n", @differences));
}

$fresh->stop;
$updated->stop;
done_testing();
