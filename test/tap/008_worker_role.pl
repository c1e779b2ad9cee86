# The inbox worker runs as a role of its own (issue 14, defect 1). In 1.5 it
# ran as the bootstrap superuser, and the admin, who held TRIGGER on every
# table of the extension, put a trigger of its own on event_key that the
# worker fired as superuser: ALTER ROLE ... SUPERUSER succeeded. Now the admin
# cannot create the trigger, and a trigger that a superuser puts there runs
# as customer_profile.worker_role (customer_profile_worker), which is no
# superuser. A worker_role that does not exist, or is a superuser, is refused:
# the worker applies nothing and says so once in the log.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('worker_role');
$node->init;
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'customer_profile'
customer_profile.worker_databases = 'postgres'
customer_profile.naptime = 50ms
});
$node->start;
my $superuser = $node->safe_psql('postgres', 'SELECT current_user');
$node->safe_psql('postgres', q{
CREATE EXTENSION customer_profile;
CREATE ROLE cp_admin LOGIN IN ROLE customer_profile_admin;
CREATE SCHEMA admin_schema AUTHORIZATION cp_admin;
-- What a trigger on the extension's tables sees when the worker fires it.
CREATE TABLE public.worker_seen (who text, is_super boolean, escalated boolean);
GRANT INSERT ON public.worker_seen TO customer_profile_worker;
});

ok($node->poll_query_until('postgres',
		q{SELECT count(*) = 1 FROM customer_profile.worker_status WHERE state <> 'stopped'}),
	'the worker starts');

# The issue's attack, as the admin: refused.
my ($ret, $out, $err) = $node->psql('postgres', q{
CREATE FUNCTION admin_schema.esc() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN
  IF (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) THEN EXECUTE 'ALTER ROLE cp_admin SUPERUSER'; END IF;
  RETURN NULL; END $$;
CREATE TRIGGER zz AFTER INSERT ON customer_profile.event_key FOR EACH STATEMENT EXECUTE FUNCTION admin_schema.esc();
}, extra_params => [ '-U', 'cp_admin', '-v', 'ON_ERROR_STOP=1' ]);
isnt($ret, 0, 'the admin cannot create a trigger on event_key');
like($err, qr/permission denied for table event_key/, 'refused for lack of TRIGGER');
is($node->safe_psql('postgres', q{SELECT count(*) FROM pg_trigger WHERE tgrelid = 'customer_profile.event_key'::regclass}),
	'0', 'no trigger left behind');

# The same trigger put there by a superuser runs as the worker's role.
$node->safe_psql('postgres', q{
CREATE FUNCTION public.record_worker() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    super boolean := (SELECT rolsuper FROM pg_catalog.pg_roles WHERE rolname = current_user);
    escalated boolean := false;
BEGIN
    IF super THEN
        EXECUTE 'ALTER ROLE cp_admin SUPERUSER';
        escalated := true;
    END IF;
    INSERT INTO public.worker_seen VALUES (current_user, super, escalated);
    RETURN NULL;
END $$;
CREATE TRIGGER record_worker AFTER INSERT ON customer_profile.event_key
    FOR EACH STATEMENT EXECUTE FUNCTION public.record_worker();
});

sub queue
{
	my ($email) = @_;
	$node->safe_psql('postgres', qq{
INSERT INTO customer_profile.event_inbox (identities, event_type, occurred_at)
VALUES ('{"email": "$email"}', 'visit', to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'))});
}

queue('first@x.com');
ok($node->poll_query_until('postgres', 'SELECT count(*) > 0 FROM public.worker_seen'),
	'the worker applied the event and fired the trigger');
is($node->safe_psql('postgres', 'SELECT who || \'/\' || is_super || \'/\' || escalated FROM public.worker_seen'),
	'customer_profile_worker/false/false', 'the trigger ran as customer_profile_worker, not as a superuser');
is($node->safe_psql('postgres', q{SELECT rolsuper FROM pg_roles WHERE rolname = 'cp_admin'}), 'f',
	'the admin is no superuser');
is($node->safe_psql('postgres', q{
SELECT usename = current_user FROM pg_stat_activity WHERE backend_type = 'customer_profile worker'}), 't',
	'the worker connects as the bootstrap superuser (PostgreSQL 15 needs a role that may log in)');

# Sub: the number of lines of the server log matching a pattern.
sub log_lines
{
	my ($pattern) = @_;
	return scalar(grep { /$pattern/ } split(/\n/, slurp_file($node->logfile)));
}

# A role that does not exist: nothing is applied, logged once.
$node->safe_psql('postgres', q{ALTER SYSTEM SET customer_profile.worker_role = 'no_such_role'; SELECT pg_reload_conf()});
sleep 1;
queue('second@x.com');
my $missing = qr/role "no_such_role" of customer_profile.worker_role does not exist/;
my $waited = 0;
while (log_lines($missing) == 0 && $waited++ < 60) { sleep 1; }
cmp_ok(log_lines($missing), '>=', 1, 'a missing worker role is logged');
sleep 12;    # the worker looks again every 10 s
is(log_lines($missing), 1, 'and logged once');
is($node->safe_psql('postgres', 'SELECT count(*) FROM customer_profile.event_inbox'), '1',
	'nothing is applied meanwhile');

# A superuser: refused the same way.
$node->safe_psql('postgres', qq{ALTER SYSTEM SET customer_profile.worker_role = '$superuser'; SELECT pg_reload_conf()});
my $super = qr/role "\Q$superuser\E" of customer_profile.worker_role is a superuser/;
$waited = 0;
while (log_lines($super) == 0 && $waited++ < 60) { sleep 1; }
is(log_lines($super), 1, 'a superuser as worker role is refused and logged');
is($node->safe_psql('postgres', 'SELECT count(*) FROM customer_profile.event_inbox'), '1',
	'still nothing applied');

# A role of one's own, granted the worker's role: it works as that role.
$node->safe_psql('postgres', q{
CREATE ROLE etl_worker NOLOGIN IN ROLE customer_profile_worker;
ALTER SYSTEM SET customer_profile.worker_role = 'etl_worker';
SELECT pg_reload_conf()});
ok($node->poll_query_until('postgres', 'SELECT count(*) = 0 FROM customer_profile.event_inbox'),
	'with a usable role the worker applies the queued event');
is($node->safe_psql('postgres', q{SELECT string_agg(DISTINCT who, ',') FROM public.worker_seen WHERE who <> 'customer_profile_worker'}),
	'etl_worker', 'as the configured role');

$node->safe_psql('postgres', q{ALTER SYSTEM RESET customer_profile.worker_role; SELECT pg_reload_conf()});
$node->stop;
done_testing();
