#!/usr/bin/env bash
# Blocking recall of candidate key sets, from generated records and their truth
# (docs/matching.md, "Choosing keys"): for each key, the true pairs that share
# it, and its candidates per record (the mean number of other records sharing
# it); then the true pairs that share at least one key of each key set. The
# keys are computed in SQL with the transforms of the rule's blocking parts
# (soundex from fuzzystrmatch), so that a key set can be judged before a rule
# stores it.
#
# usage: bash bench/blocking_recall.sh [PEOPLE [RATE [SEED]]]   (default 50000 0.3 17: the
#        benchmark's largest quality configuration; 814516 0.2 23: the 1,010,000 records of its speed part)
source "$(dirname "${BASH_SOURCE[0]}")/../scripts/lib.sh"
ensure_packages
cd "$PROJECT_ROOT"
cmake -S . -B build/core >/dev/null
cmake --build build/core -j"$(nproc)" --target person_gen >/dev/null
start_cluster "work_mem = 64MB"
dir=$(mktemp -d /tmp/cp_recall.XXXXXX)
chmod 755 "$dir"
build/core/person_gen "$dir/people.tsv" "${1:-50000}" "${2:-0.3}" "${3:-17}" 2>/dev/null
chmod a+r "$dir/people.tsv"
psql -q -X -v ON_ERROR_STOP=1 <<SQL
CREATE EXTENSION fuzzystrmatch;
CREATE TABLE rec (record_id text, person text, source text, first_name text, last_name text, address text,
                  dob text, national_id text, id bigserial);
\\copy rec (record_id, person, source, first_name, last_name, address, dob, national_id) FROM '$dir/people.tsv'
SQL
rm -rf "$dir"
psql -q -X -v ON_ERROR_STOP=1 <<'SQL'
-- Values as records store them (lower case), then each key's value per record; NULL: a part is missing.
CREATE TABLE v AS
SELECT id, person, nullif(lower(first_name), '') f, nullif(lower(last_name), '') l, nullif(lower(address), '') a,
       nullif(regexp_replace(address, '\D', '', 'g'), '') d, nullif(dob, '') dob, nullif(national_id, '') nid FROM rec;
CREATE FUNCTION initials(t text) RETURNS text LANGUAGE sql IMMUTABLE AS $$ SELECT regexp_replace(t, '(\S)\S*\s*', '\1', 'g') $$;
CREATE TABLE k (name text, id bigint, key text);
INSERT INTO k SELECT 'deletions(national_id)', id, nid FROM v WHERE nid IS NOT NULL;
INSERT INTO k SELECT 'deletions(national_id)', id, left(nid, g - 1) || substr(nid, g + 1)
  FROM v, generate_series(1, length(nid)) g WHERE length(nid) > 1;
INSERT INTO k SELECT 'dob', id, dob FROM v WHERE dob IS NOT NULL;
INSERT INTO k SELECT 'dob, first(last_name, 1)', id, dob || left(l, 1) FROM v WHERE dob || l IS NOT NULL;
INSERT INTO k SELECT 'dob, first(first_name, 1)', id, dob || left(f, 1) FROM v WHERE dob || f IS NOT NULL;
INSERT INTO k SELECT 'dob, digits(address)', id, dob || '|' || d FROM v WHERE dob || d IS NOT NULL;
INSERT INTO k SELECT 'soundex(last_name), first(first_name, 1), year(dob)', id, soundex(l) || left(f, 1) || left(dob, 4)
  FROM v WHERE l || f || dob IS NOT NULL;
INSERT INTO k SELECT 'soundex(last_name), soundex(first_name), year(dob)', id, soundex(l) || soundex(f) || left(dob, 4)
  FROM v WHERE l || f || dob IS NOT NULL;
INSERT INTO k SELECT 'digits(address), first(last_name, 2), first(first_name, 1)', id, d || '|' || left(l, 2) || left(f, 1)
  FROM v WHERE d || l || f IS NOT NULL;
INSERT INTO k SELECT 'digits(address), first(last_name, 2), first(first_name, 1), first(dob, 3)', id,
       d || '|' || left(l, 2) || left(f, 1) || left(dob, 3) FROM v WHERE d || l || f || dob IS NOT NULL;
INSERT INTO k SELECT 'digits(address), initials(address), first(last_name, 2), first(first_name, 1)', id,
       d || '|' || initials(a) || '|' || left(l, 2) || left(f, 1) FROM v WHERE d || a || l || f IS NOT NULL;
CREATE INDEX ON k (name, key);
CREATE TABLE truth AS SELECT a.id a, b.id b FROM v a JOIN v b ON a.person = b.person AND a.id < b.id;
CREATE TABLE shared AS
SELECT DISTINCT x.name, t.a, t.b FROM truth t JOIN k x ON x.id = t.a JOIN k y ON y.id = t.b AND y.name = x.name AND y.key = x.key;
\echo
SELECT g.name AS key, (SELECT count(*) FROM shared s WHERE s.name = g.name) AS true_pairs_sharing_it,
       round(sum(g.n * (g.n - 1))::numeric / (SELECT count(*) FROM v), 1) AS candidates_per_record
  FROM (SELECT name, key, count(DISTINCT id) n FROM k GROUP BY 1, 2) g GROUP BY g.name ORDER BY 1;
SELECT s.label AS key_set, (SELECT count(*) FROM (SELECT DISTINCT a, b FROM shared WHERE name = ANY(s.keys)) x) AS true_pairs_sharing_a_key,
       (SELECT count(*) FROM truth) AS true_pairs
  FROM (VALUES
    ('first benchmark rule', ARRAY['deletions(national_id)', 'dob', 'soundex(last_name), first(first_name, 1), year(dob)',
                                   'digits(address), first(last_name, 2), first(first_name, 1)']),
    ('narrowed first (dob by last initial, street by decade)',
     ARRAY['deletions(national_id)', 'dob, first(last_name, 1)', 'soundex(last_name), first(first_name, 1), year(dob)',
           'digits(address), first(last_name, 2), first(first_name, 1), first(dob, 3)']),
    ('benchmark rule', ARRAY['deletions(national_id)', 'dob, first(last_name, 1)', 'dob, first(first_name, 1)',
                             'dob, digits(address)', 'soundex(last_name), soundex(first_name), year(dob)',
                             'digits(address), initials(address), first(last_name, 2), first(first_name, 1)'])) s(label, keys);
SQL
