# The reference is complete and BI tools see descriptions (issue 15).
#
# Fails when a public function (schema customer_profile, name not starting
# with "_"), a view, a type, a setting (a GUC customer_profile.*, with the
# library preloaded so that postmaster settings exist too) or a column of the
# settings table has no entry in docs/: its name, as a code span, in a
# Markdown heading or in the first cell of a row of a reference table, e.g.
#     ## `profiles_wide`
#     | function | returns | what it does |
#     | --- | --- | --- |
#     | `resolve_identity(identities jsonb, source text DEFAULT NULL)` | ...
# And fails when a public function, a view, any column of a view, a type or an
# operator has no COMMENT: JDBC, ODBC and \df+ show them. profiles_wide exists
# once a trait is declared, so one is.
#
# scripts/lib.sh (run_tap) copies docs/ next to the copy of test/tap it runs;
# run by hand, the test reads the docs/ of the checkout it lives in.
use strict;
use warnings;
use File::Basename qw(dirname);
use File::Spec;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $docs = defined $ENV{TESTDIR} && -d "$ENV{TESTDIR}/docs"
  ? "$ENV{TESTDIR}/docs"
  : File::Spec->rel2abs(dirname(__FILE__) . '/../../docs');
ok(-d $docs, "docs/ found at $docs");

# Every name given an entry: code spans in headings, and in the first cell of
# the rows of reference tables: tables whose first header cell names what
# they list (function, view, table, setting, column, type, operator; several
# joined by "/"). Other tables (the grants in security.md, say) name
# functions without documenting them, and give nothing.
my %entry;
my %kinds = map { $_ => 1 } qw(function functions operator operators view views table tables setting settings
  column columns type types);
opendir(my $dh, $docs) or die "cannot open $docs: $!";
my @pages = sort grep { /\.md$/ } readdir($dh);
closedir($dh);
ok(scalar(@pages) > 0, 'docs/ holds Markdown pages');
for my $page (@pages)
{
	open(my $fh, '<', "$docs/$page") or die "cannot read $docs/$page: $!";
	my ($in_code, $in_table, $reference) = (0, 0, 0);
	while (my $line = <$fh>)
	{
		if ($line =~ /^\s*```/) { $in_code = !$in_code; next; }
		next if $in_code;
		my $text;
		if ($line =~ /^\|((?:[^|\\]|\\.)*)\|/)
		{
			my $cell = $1;
			if (!$in_table)
			{
				# The header row.
				$in_table = 1;
				(my $head = lc $cell) =~ s/`//g;
				$head =~ s/\(.*//;
				my @words = grep { $_ ne '' } map { s/^\s+|\s+$//gr } split m{/}, $head;
				$reference = @words && !grep { !$kinds{$_} } @words;
				next;
			}
			$text = $cell if $reference;
		}
		else
		{
			$in_table = 0;
			$text = $line if $line =~ /^#{1,6}\s/;
		}
		next unless defined $text;
		while ($text =~ /`([^`]+)`/g)
		{
			# `name(args)`, `name`, `profile -> text`: the leading identifier.
			my $span = $1;
			$entry{$1} = $page if $span =~ /^\s*([A-Za-z_][A-Za-z0-9_.]*)/;
		}
	}
	close($fh);
}

my $node = PostgreSQL::Test::Cluster->new('documentation');
$node->init;
$node->append_conf('postgresql.conf', "shared_preload_libraries = 'customer_profile'\n");
$node->start;
$node->safe_psql('postgres', q{
CREATE EXTENSION customer_profile;
SELECT customer_profile.trait_define('tier', 'text');
});
my $list = sub {
	my $out = $node->safe_psql('postgres', shift);
	return grep { $_ ne '' } split /\n/, $out;
};
my $missing_docs = sub {
	my @names = @_;
	my %seen;
	return join(', ', grep { !$seen{$_}++ && !exists $entry{$_} } @names);
};

my @functions = $list->(q{
SELECT DISTINCT p.proname FROM pg_proc p
 WHERE p.pronamespace = 'customer_profile'::regnamespace AND p.proname !~ '^_' ORDER BY 1});
ok(scalar(@functions) > 50, 'public functions found');
is($missing_docs->(@functions), '', 'every public function has an entry in docs/');

my @views = $list->(q{
SELECT c.relname FROM pg_class c
 WHERE c.relnamespace = 'customer_profile'::regnamespace AND c.relkind IN ('v', 'm') ORDER BY 1});
ok((grep { $_ eq 'profiles_wide' } @views), 'profiles_wide is among the views');
is($missing_docs->(@views), '', 'every view has an entry in docs/');

my @types = $list->(q{
SELECT t.typname FROM pg_type t
 WHERE t.typnamespace = 'customer_profile'::regnamespace AND t.typtype = 'b' AND t.typname !~ '^_' ORDER BY 1});
is($missing_docs->(@types), '', 'every type has an entry in docs/');

my @settings = $list->(q{SELECT name FROM pg_settings WHERE name LIKE 'customer_profile.%' ORDER BY 1});
ok((grep { $_ eq 'customer_profile.worker_databases' } @settings), 'the postmaster settings are defined (preloaded)');
is($missing_docs->(@settings), '', 'every setting (GUC) has an entry in docs/');

my @settings_columns = $list->(q{
SELECT a.attname FROM pg_attribute a
 WHERE a.attrelid = 'customer_profile.settings'::regclass AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum});
ok(scalar(@settings_columns) >= 3, 'the settings table has columns');
is($missing_docs->(@settings_columns), '', 'every column of the settings table has an entry in docs/');

# COMMENTs.
is(join(', ', $list->(q{
SELECT p.oid::regprocedure FROM pg_proc p
 WHERE p.pronamespace = 'customer_profile'::regnamespace AND p.proname !~ '^_'
   AND obj_description(p.oid, 'pg_proc') IS NULL ORDER BY 1})), '', 'every public function has a COMMENT');
is(join(', ', $list->(q{
SELECT c.relname FROM pg_class c
 WHERE c.relnamespace = 'customer_profile'::regnamespace AND c.relkind IN ('v', 'm')
   AND obj_description(c.oid, 'pg_class') IS NULL ORDER BY 1})), '', 'every view has a COMMENT');
is(join(', ', $list->(q{
SELECT c.relname || '.' || a.attname FROM pg_class c
  JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
 WHERE c.relnamespace = 'customer_profile'::regnamespace AND c.relkind IN ('v', 'm')
   AND col_description(c.oid, a.attnum) IS NULL ORDER BY c.relname, a.attnum})), '',
	'every column of every view has a COMMENT');
is(join(', ', $list->(q{
SELECT t.typname FROM pg_type t
 WHERE t.typnamespace = 'customer_profile'::regnamespace AND t.typtype = 'b' AND t.typname !~ '^_'
   AND obj_description(t.oid, 'pg_type') IS NULL ORDER BY 1})), '', 'every type has a COMMENT');
is(join(', ', $list->(q{
SELECT o.oid::regoperator FROM pg_operator o
 WHERE o.oprnamespace = 'customer_profile'::regnamespace
   AND obj_description(o.oid, 'pg_operator') IS NULL ORDER BY 1})), '', 'every operator has a COMMENT');

$node->stop;
done_testing();
