-- Probabilistic identity resolution (issue 17): match rules and their
-- errors, real-time matching in trait_observe and attached tables, the
-- review band (accept, reject for good), guard rails and deduplication,
-- withdrawal, match_run() with progress, match_estimate(), explain and the
-- DOT graph, and who may do what.
\set VERBOSITY terse
DROP EXTENSION customer_profile;
CREATE EXTENSION customer_profile;
SET search_path = public, customer_profile;
SELECT identity_namespace_create('support_id', is_known => true);
SELECT identity_namespace_create('legacy_id', keep_raw => true);

-- Fields as the issue's example needs them, with m and u given (no estimate yet).
CREATE FUNCTION pg_temp.person_fields() RETURNS jsonb LANGUAGE sql AS $$ SELECT '[
  {"trait": "first_name", "levels": [{"exact": true}, {"jaro_winkler": 0.88}, {"soundex": true}],
   "m": [0.7, 0.2, 0.05, 0.05], "u": [0.01, 0.02, 0.03, 0.94]},
  {"trait": "last_name", "levels": [{"exact": true}, {"jaro_winkler": 0.88}, {"soundex": true}],
   "m": [0.7, 0.2, 0.05, 0.05], "u": [0.005, 0.01, 0.02, 0.965]},
  {"trait": "address", "levels": [{"exact": true}, {"token_set": 0.6}],
   "m": [0.6, 0.3, 0.1], "u": [0.001, 0.01, 0.989]},
  {"trait": "dob", "levels": [{"exact": true}, {"date_swapped": true}, {"date_one_digit": true}],
   "m": [0.8, 0.1, 0.05, 0.05], "u": [0.001, 0.001, 0.01, 0.988]}]'::jsonb $$;

-- Errors: each names what is wrong, with its SQLSTATE.
\set VERBOSITY default
SELECT match_rule_create('bad', ARRAY['nope'], pg_temp.person_fields(), '[["dob"]]');
SELECT match_rule_create('bad', ARRAY['crm_id'], '[{"trait": "dob", "levels": [{"fuzzy": 1}]}]', '[["dob"]]');
SELECT match_rule_create('bad', ARRAY['crm_id'], pg_temp.person_fields(), '[["postcode"]]');
SELECT match_rule_create('bad', ARRAY['crm_id'], pg_temp.person_fields(), '[["dob"]]', 0.5, 0.9);
SELECT match_rule_create('bad', ARRAY['crm_id'], pg_temp.person_fields(), '[["dob"]]', deduplicates => ARRAY['email']);
SELECT match_rule_create('bad', ARRAY['crm_id'], NULL, '[["dob"]]');
\set VERBOSITY terse
SELECT match_rule_create('Bad Name', ARRAY['crm_id'], pg_temp.person_fields(), '[["dob"]]');
SELECT match_rule_create('bad', ARRAY['crm_id'], pg_temp.person_fields(), '[["dob"]]', max_candidates => 0);
\set VERBOSITY default
SELECT match_rule_alter('nope', link_threshold => 0.9);
SELECT match_rule_alter('bad', parameters => '{"lambda": 0.5}');
SELECT match_run('nope');
SELECT * FROM match_explain('nope', 'crm_id', '1', 'crm_id', '2');
\set VERBOSITY terse

SELECT match_rule_create('people', ARRAY['crm_id', 'support_id'], pg_temp.person_fields(),
                         '[["soundex(last_name)"], ["dob"], ["first(first_name, 1)", "digits(address)"]]',
                         link_threshold => 0.99, review_threshold => 0.5);
SELECT match_rule_create('people', ARRAY['crm_id'], pg_temp.person_fields(), '[["dob"]]');  -- exists

-- Real time: the CRM's "Jon Smyth" and the support desk's "John Smith" are one person.
SELECT trait_observe('{"crm_id": "c1"}', '{"first_name": "Jon", "last_name": "Smyth",
                     "address": "12 Pinkerton Cct", "dob": "1983-04-01"}', 'crm') AS jon;
SELECT trait_observe('{"support_id": "s9"}', '{"first_name": "John", "last_name": "Smith",
                     "address": "12 Pinkerton Circuit", "dob": "1983-01-04"}', 'support') AS john_is_jon;
SELECT identity_lookup('crm_id', 'c1') = identity_lookup('support_id', 's9') AS one_profile;
SELECT l.source, l.rule, round(l.score::numeric, 4) AS score FROM identity_link l;
SELECT field, value_a, value_b, level, comparison, round(weight::numeric, 3) AS weight,
       round(probability::numeric, 6) AS probability
  FROM match_explain('people', 'crm_id', 'c1', 'support_id', 's9');
SELECT e->'path'->0->>'source' AS source, e->'path'->0->>'rule' AS rule, (e->'path'->0->>'score')::float8 > 0.99 AS scored
  FROM identity_explain('crm_id', 'c1', 'support_id', 's9') e;
-- The merged profile holds both records' traits (latest wins).
SELECT profile_traits(profile_get('crm_id', 'c1'))->>'last_name' AS last_name;
-- A record outside the rule's namespaces is not matched; a different person is not linked.
SELECT trait_observe('{"email": "jon@example.com"}', '{"first_name": "Jon", "last_name": "Smyth",
                     "address": "12 Pinkerton Cct", "dob": "1983-04-01"}', 'web')
       <> identity_lookup('crm_id', 'c1') AS email_record_not_matched;
SELECT trait_observe('{"crm_id": "c2"}', '{"first_name": "Mary", "last_name": "Smith",
                     "address": "7 High St", "dob": "1990-12-30"}', 'crm')
       <> identity_lookup('crm_id', 'c1') AS mary_not_matched;

-- The review band: a pair between the thresholds waits in match_review.
SELECT trait_observe('{"support_id": "s20"}', '{"first_name": "Mary", "last_name": "Smith",
                     "dob": "1990-12-03"}', 'support') <> identity_lookup('crm_id', 'c2') AS not_linked_yet;
SELECT rule, namespace_a, namespace_b, round(probability::numeric, 4) AS probability, reason FROM match_reviews;
-- Accept links them (source match_review).
SELECT match_review_accept('people', identity_a, identity_b) FROM match_reviews;
SELECT identity_lookup('crm_id', 'c2') = identity_lookup('support_id', 's20') AS accepted_linked;
SELECT status, decided_by IS NOT NULL AS decided FROM match_review;
SELECT source, rule FROM identity_link WHERE source = 'match_review';
\set VERBOSITY default
SELECT match_review_accept('people', 1, 999);
\set VERBOSITY terse

-- Reject keeps a pair apart for good, and withdraws the rule's link between them.
SELECT match_review_reject('people', i1.identity_id, i2.identity_id) AS withdrew_link
  FROM identity i1, identity i2
 WHERE i1.identity_id = (SELECT identity_id FROM _identity_find('crm_id', 'c1'))
   AND i2.identity_id = (SELECT identity_id FROM _identity_find('support_id', 's9'));
SELECT identity_lookup('crm_id', 'c1') <> identity_lookup('support_id', 's9') AS split_apart;
SELECT count(*) AS rule_links_left FROM identity_link WHERE rule = 'people' AND source = 'match';
-- Observing the same values again does not link them again.
SELECT trait_observe('{"support_id": "s9"}', '{"address": "12 Pinkerton Circuit"}', 'support')
       <> identity_lookup('crm_id', 'c1') AS still_apart;
SELECT profile_traits(profile_get('crm_id', 'c1'))->>'last_name' AS c1_last_name,
       profile_traits(profile_get('support_id', 's9'))->>'last_name' AS s9_last_name;

-- Guard rails: crm_id allows one per profile. Two CRM records of one person
-- are refused (and wait for review, with the reason) ...
SELECT trait_observe('{"crm_id": "c7"}', '{"first_name": "Ann", "last_name": "Lee", "address": "3 Oak Rd",
                     "dob": "1975-05-05"}', 'crm') AS ann;
SELECT trait_observe('{"crm_id": "c8"}', '{"first_name": "Ann", "last_name": "Lee", "address": "3 Oak Rd",
                     "dob": "1975-05-05"}', 'crm') <> identity_lookup('crm_id', 'c7') AS cap_refused;
SELECT rule, detail IS NOT NULL AS has_detail FROM identity_conflict WHERE rule = 'namespace_cap';
SELECT reason FROM match_reviews WHERE reason LIKE '%guard rail%';
-- ... unless the rule deduplicates crm_id: then linking them is what it is for.
SELECT match_rule_create('crm_dedupe', ARRAY['crm_id'], pg_temp.person_fields(), '[["dob"]]',
                         deduplicates => ARRAY['crm_id']);
-- A new rule knows no keys yet: match_run() stores them and matches what is there.
SELECT records, links FROM match_run('crm_dedupe');
SELECT identity_lookup('crm_id', 'c7') = identity_lookup('crm_id', 'c8') AS deduplicated;
SELECT match_rule_drop('crm_dedupe');
SELECT count(*) AS dedupe_links_stay FROM identity_link WHERE rule = 'crm_dedupe';

-- The DOT picture: identifiers, the probabilistic link dashed with its rule, the refusal.
SELECT g LIKE 'graph profile_%' AS dot, g LIKE '%crm_dedupe p=%' AS rule_label, g LIKE '%style=dashed%' AS dashed,
       g LIKE '%refused: profile%' AS refusal
  FROM profile_graph(identity_lookup('crm_id', 'c7')) g;
\set VERBOSITY default
SELECT profile_graph(424242);
\set VERBOSITY terse

-- An attached CRM table is matched as its rows arrive.
CREATE TABLE public.crm_people (id int PRIMARY KEY, first text, last text, street text, born text);
SELECT profile_attach_table('public.crm_people', 'crm_table', '{"legacy_id": "id"}',
       '{"first_name": "first", "last_name": "last", "address": "street", "dob": "born"}') AS backfilled;
SELECT match_rule_create('legacy', ARRAY['legacy_id', 'support_id'], pg_temp.person_fields(), '[["dob"]]');
SELECT trait_observe('{"support_id": "s50"}', '{"first_name": "Pat", "last_name": "Doe", "address": "9 Elm St",
                     "dob": "1960-06-16"}', 'support') AS pat;
INSERT INTO public.crm_people VALUES (1, 'Patrick', 'Doe', '9 Elm Street', '1960-06-16');
SELECT identity_lookup('legacy_id', '1') = identity_lookup('support_id', 's50') AS attached_row_matched;

-- match_run() covers records that were there before the rule, in chunks, with progress.
SELECT match_rule_alter('people', enabled => false);
SELECT trait_observe(jsonb_build_object('support_id', 'late' || g),
                     jsonb_build_object('first_name', 'Zed', 'last_name', 'Quux' || g, 'dob', '2001-02-0' || g),
                     'support') IS NOT NULL AS stored
  FROM generate_series(1, 3) g;
SELECT trait_observe('{"crm_id": "late-crm"}', '{"first_name": "Zed", "last_name": "Quux2", "dob": "2001-02-02"}',
                     'crm') <> identity_lookup('support_id', 'late2') AS not_matched_while_disabled;
SELECT match_rule_create('late', ARRAY['crm_id', 'support_id'], pg_temp.person_fields(), '[["dob"]]');
SELECT records, links, remaining > 0 AS more FROM match_run('late', max_records => 5);
SELECT run_done, run_total FROM match_rules WHERE name = 'late';
SELECT remaining FROM match_run('late');
SELECT run_done = run_total AS complete FROM match_rules WHERE name = 'late';
SELECT identity_lookup('crm_id', 'late-crm') = identity_lookup('support_id', 'late2') AS run_matched;
\set VERBOSITY default
SELECT match_run('late', max_records => 0);
\set VERBOSITY terse

-- match_estimate(): m and u from the data, stored with the rule.
SELECT match_rule_alter('late', enabled => false);
SELECT trait_observe(jsonb_build_object('support_id', 'e' || g || '-' || k),
                     jsonb_build_object('first_name', (ARRAY['Ann', 'Bob', 'Cy', 'Di', 'Ed'])[1 + g % 5] ||
                                                      CASE WHEN k = 2 AND g % 3 = 0 THEN 'x' ELSE '' END,
                                        'last_name', 'Fam' || g,
                                        'address', g || ' Long Road',
                                        'dob', to_char(date '1950-01-01' + g * 37, 'YYYY-MM-DD')),
                     'support') IS NOT NULL AS stored
  FROM generate_series(1, 60) g, generate_series(1, 2) k
 GROUP BY 1;
SELECT random_pairs > 0 AS random_pairs, blocked_pairs > 0 AS blocked, labelled_pairs, converged,
       lambda > 0 AND lambda < 1 AS lambda_ok
  FROM match_estimate('late', 2000);
SELECT estimated_at IS NOT NULL AS estimated, lambda > 0 AS lambda FROM match_rules WHERE name = 'late';
-- Exact agreement weighs more than disagreement in every field.
SELECT f, (r.parameters->'m'->f->>0)::float8 > (r.parameters->'u'->f->>0)::float8 AS exact_favours_match
  FROM match_rule r, generate_series(0, 3) f WHERE r.name = 'late' ORDER BY f;

-- Who may do what.
SET ROLE customer_profile_reader;
SELECT count(*) >= 3 AS reader_sees_rules FROM match_rules;
SELECT match_rule_create('sneaky', ARRAY['crm_id'], pg_temp.person_fields(), '[["dob"]]');
SELECT match_run('late');
SELECT match_review_reject('people', 1, 2);
RESET ROLE;
SET ROLE customer_profile_writer;
SELECT match_run('late');
UPDATE match_rule SET link_threshold = 0.01;
SELECT count(*) >= 0 AS writer_explains FROM match_explain('people', 'crm_id', 'c1', 'support_id', 's9');
-- A writer's trait_observe matches in real time with the writer's own rights.
SELECT trait_observe('{"support_id": "w1"}', '{"first_name": "Patrick", "last_name": "Doe",
                     "address": "9 Elm Street", "dob": "1960-06-16"}', 'support')
       = identity_lookup('support_id', 's50') AS writer_matched;
RESET ROLE;
SET ROLE customer_profile_admin;
SELECT records > 0 AS admin_runs FROM match_run('legacy');
SELECT converged IS NOT NULL AS admin_estimates FROM match_estimate('legacy', 100);
SELECT match_review_reject('legacy', (SELECT identity_id FROM _identity_find('support_id', 'w1')),
                           (SELECT identity_id FROM _identity_find('legacy_id', '1'))) AS admin_rejects;
SELECT identity_lookup('support_id', 'w1') <> identity_lookup('legacy_id', '1') AS apart;
RESET ROLE;

-- Erasure takes the person's blocking keys and reviews along (keys are hashes of their values).
SELECT count(*) > 0 AS keys_before FROM match_key k JOIN identity i USING (identity_id)
 WHERE i.identity_id = (SELECT identity_id FROM _identity_find('crm_id', 'c2'));
SELECT count(*) > 0 AS reviews_before FROM match_review
 WHERE (SELECT identity_id FROM _identity_find('crm_id', 'c2')) IN (identity_a, identity_b);
CREATE TEMP TABLE erased AS SELECT identity_id FROM identity WHERE profile_id = identity_lookup('crm_id', 'c2');
SELECT profile_forget('crm_id', 'c2') IS NOT NULL AS forgotten;
SELECT count(*) AS keys_left FROM match_key WHERE identity_id IN (SELECT identity_id FROM erased);
SELECT count(*) AS reviews_left FROM match_review v
 WHERE v.identity_a IN (SELECT identity_id FROM erased) OR v.identity_b IN (SELECT identity_id FROM erased);

-- Found by review (each failed before its fix).
-- A rejection holds against a third record that matches both sides.
SELECT match_rule_alter('people', enabled => true);
SELECT trait_observe('{"legacy_id": "L1"}', '{"first_name": "John", "last_name": "Smyth", "address": "12 Pinkerton Cct",
                     "dob": "1983-04-01"}', 'legacy') IS NOT NULL AS third;
SELECT match_rule_create('people_legacy', ARRAY['crm_id', 'support_id', 'legacy_id'], pg_temp.person_fields(),
                         '[["soundex(last_name)"], ["dob"]]', review_threshold => 0.5);
SELECT records > 0 AS ran FROM match_run('people_legacy');
SELECT identity_lookup('crm_id', 'c1') <> identity_lookup('support_id', 's9') AS still_apart_after_third;
-- Accepting a rejected pair is refused.
SELECT match_review_accept('people', (SELECT identity_id FROM _identity_find('crm_id', 'c1')),
                           (SELECT identity_id FROM _identity_find('support_id', 's9')));
-- The writer cannot change a decision or forge one.
SET ROLE customer_profile_writer;
UPDATE match_review SET status = 'pending' WHERE status = 'rejected';
INSERT INTO match_review (rule_id, identity_a, identity_b, weight, probability, reason, status)
VALUES ((SELECT rule_id FROM match_rule WHERE name = 'people'), 1, 3, 0, 0, 'forged', 'rejected');
RESET ROLE;
SELECT count(*) AS still_rejected FROM match_review WHERE status = 'rejected' AND rule_id = (SELECT rule_id FROM match_rule WHERE name = 'people');
-- A record observed together with a stronger identifier (its observations land on the email) is still matched.
SELECT trait_observe('{"crm_id": "m1"}', '{"first_name": "Olga", "last_name": "Petrova", "address": "5 Birch Ave",
                     "dob": "1979-09-19"}', 'crm') IS NOT NULL AS olga;
SELECT identity_namespace_alter('support_id', priority => 5);
SELECT trait_observe('{"email": "olga@example.com", "support_id": "m2"}', '{"first_name": "Olga", "last_name": "Petrova",
                     "address": "5 Birch Avenue", "dob": "1979-09-19"}', 'support') = identity_lookup('crm_id', 'm1')
       AS matched_through_email;
-- Second review: a reject needs the rule and both identities (a NULL one named the other twice).
SELECT match_review_reject('people', NULL, (SELECT identity_id FROM _identity_find('crm_id', 'm1')));
-- A reject under a rule whose link does not join the pair says they stay in one profile (it returned false silently).
SELECT match_review_reject('people_legacy', (SELECT identity_id FROM _identity_find('crm_id', 'm1')),
                           (SELECT identity_id FROM _identity_find('support_id', 'm2'))) AS withdrew;
SELECT identity_lookup('crm_id', 'm1') = identity_lookup('support_id', 'm2') AS still_one_profile;
-- Accept links with the probability scored now, not the stored one (it took a forged 0.99999), and reviews are
-- written by a function that scores the pair itself (the writer could insert and edit them).
SELECT trait_observe('{"crm_id": "f1"}', '{"first_name": "Zed", "last_name": "Forge", "address": "1 Anvil Row",
                     "dob": "1950-01-01"}', 'crm') IS NOT NULL AS f1;
SELECT trait_observe('{"support_id": "f2"}', '{"first_name": "Amy", "last_name": "Other", "address": "99 Quay",
                     "dob": "1999-09-09"}', 'support') <> identity_lookup('crm_id', 'f1') AS f2_apart;
-- The writer can neither insert a review itself nor have the queue function take a pair the rule would not queue.
SET ROLE customer_profile_writer;
INSERT INTO match_review (rule_id, identity_a, identity_b, weight, probability, reason)
SELECT (SELECT rule_id FROM match_rule WHERE name = 'people'), least(a, b), greatest(a, b), 30, 0.99999, 'forged'
  FROM (SELECT (SELECT identity_id FROM _identity_find('crm_id', 'f1')) AS a,
               (SELECT identity_id FROM _identity_find('support_id', 'f2')) AS b) x;
UPDATE match_review SET reason = 'edited by writer' WHERE status = 'rejected';
SELECT _match_review_queue((SELECT rule_id FROM match_rule WHERE name = 'people'),
                           (SELECT identity_id FROM _identity_find('crm_id', 'f1')),
                           (SELECT identity_id FROM _identity_find('support_id', 'f2')), false) AS queued;
RESET ROLE;
-- A stored probability that is out of date (here written by the owner) is not the link's score.
INSERT INTO match_review (rule_id, identity_a, identity_b, weight, probability, reason)
SELECT (SELECT rule_id FROM match_rule WHERE name = 'people'), least(a, b), greatest(a, b), 30, 0.99999, 'stale'
  FROM (SELECT (SELECT identity_id FROM _identity_find('crm_id', 'f1')) AS a,
               (SELECT identity_id FROM _identity_find('support_id', 'f2')) AS b) x;
SELECT match_review_accept('people', (SELECT identity_id FROM _identity_find('crm_id', 'f1')),
                           (SELECT identity_id FROM _identity_find('support_id', 'f2')));
SELECT l.score < 0.5 AS scored_now FROM identity_link l
 WHERE l.source = 'match_review' AND (SELECT identity_id FROM _identity_find('crm_id', 'f1')) IN (l.identity_a, l.identity_b);
-- A record seen with an identifier in two calls from two sources borrows what the later one observed (lending only
-- the linking source's observations, tried against a shared family email, broke this).
SELECT trait_observe('{"crm_id": "o1"}', '{"first_name": "Oona", "last_name": "Varga", "address": "8 Lime Row",
                     "dob": "1966-02-12"}', 'crm') IS NOT NULL AS oona;
SELECT trait_observe('{"email": "oona@example.com", "support_id": "o2"}', '{"tier": "gold"}', 'support_tickets') IS NOT NULL AS first_call;
SELECT trait_observe('{"email": "oona@example.com", "support_id": "o2"}', '{"first_name": "Oona", "last_name": "Varga",
                     "address": "8 Lime Road", "dob": "1966-02-12"}', 'support') = identity_lookup('crm_id', 'o1')
       AS matched_across_calls;
-- A pending pair that other evidence has since put in one profile leaves match_reviews (it stayed listed).
SELECT trait_observe('{"crm_id": "r1"}', '{"first_name": "Ida", "last_name": "Brownlow", "address": "3 Elm Yard",
                     "dob": "1971-11-02"}', 'crm') IS NOT NULL AS r1;
SELECT trait_observe('{"support_id": "r2"}', '{"first_name": "Ida", "last_name": "Brownlow", "dob": "1971-11-20"}', 'support')
       <> identity_lookup('crm_id', 'r1') AS r2_apart;
SELECT count(*) AS listed_before FROM match_reviews WHERE identity_b = (SELECT identity_id FROM _identity_find('support_id', 'r2'));
SELECT trait_observe('{"crm_id": "r1", "support_id": "r2"}', '{"tier": "gold"}', 'support') = identity_lookup('crm_id', 'r1') AS linked_by_call;
SELECT count(*) AS listed_after FROM match_reviews WHERE identity_b = (SELECT identity_id FROM _identity_find('support_id', 'r2'));
-- A value longer than 1,000 bytes is missing: cut to a prefix, two different ones compared as exact.
SELECT trait_observe('{"crm_id": "long1"}', jsonb_build_object('first_name', repeat('x', 1500) || 'a', 'last_name', repeat('y', 1500) || 'a',
                     'address', repeat('z', 1500) || 'a', 'dob', repeat('9', 1500) || 'a'), 'crm') IS NOT NULL AS long1;
SELECT trait_observe('{"support_id": "long2"}', jsonb_build_object('first_name', repeat('x', 1500) || 'b', 'last_name', repeat('y', 1500) || 'b',
                     'address', repeat('z', 1500) || 'b', 'dob', repeat('9', 1500) || 'b'), 'support')
       <> identity_lookup('crm_id', 'long1') AS long_values_not_linked;
SELECT count(*) FILTER (WHERE value_a IS NULL AND value_b IS NULL) AS missing_fields
  FROM match_explain('people', 'crm_id', 'long1', 'support_id', 'long2') WHERE field <> 'total';
-- The queue function takes only pairs the rule compares: not a record outside its namespaces, not a pair already in
-- one profile, not a refusal no guard rail recorded (the writer queued all three).
SELECT count(match_rule_alter(name, enabled => false)) AS rules_disabled FROM match_rule;
SELECT trait_observe('{"crm_id": "q1"}', '{"first_name": "Quinn", "last_name": "Abara", "address": "4 Fen Lane",
                     "dob": "1988-08-08"}', 'crm') IS NOT NULL AS q1;
SELECT trait_observe('{"support_id": "q2"}', '{"first_name": "Quinn", "last_name": "Abara", "address": "4 Fen Lane",
                     "dob": "1988-08-08"}', 'support') <> identity_lookup('crm_id', 'q1') AS q2_apart;
SELECT match_rule_alter('people', enabled => true);
SET ROLE customer_profile_writer;
SELECT _match_review_queue((SELECT rule_id FROM match_rule WHERE name = 'people'),
                           (SELECT identity_id FROM _identity_find('email', 'oona@example.com')),
                           (SELECT identity_id FROM _identity_find('crm_id', 'f1')), true) AS outside_namespaces,
       _match_review_queue((SELECT rule_id FROM match_rule WHERE name = 'people'),
                           (SELECT identity_id FROM _identity_find('crm_id', 'o1')),
                           (SELECT identity_id FROM _identity_find('support_id', 'o2')), false) AS one_profile,
       _match_review_queue((SELECT rule_id FROM match_rule WHERE name = 'people'),
                           (SELECT identity_id FROM _identity_find('crm_id', 'q1')),
                           (SELECT identity_id FROM _identity_find('support_id', 'q2')), true) AS unrecorded_refusal,
       probability > 0.99 AS would_link
  FROM match_explain('people', 'crm_id', 'q1', 'support_id', 'q2') WHERE field = 'total';
RESET ROLE;
-- Duplicate namespaces are refused.
SELECT match_rule_create('twice', ARRAY['crm_id', 'crm_id'], pg_temp.person_fields(), '[["dob"]]');
-- match_run() over thousands of records in one call (a lock per key exhausted the lock table).
SELECT match_rule_alter(name, enabled => false) FROM match_rule;
SELECT count(trait_observe(jsonb_build_object('support_id', 'bulk' || g),
                           jsonb_build_object('first_name', 'N' || g % 97, 'last_name', 'Bulk' || g % 89,
                                              'address', g || ' Bulk St', 'dob', to_char(date '1940-01-01' + g, 'YYYY-MM-DD')),
                           'support')) AS stored
  FROM generate_series(1, 4000) g;
SELECT records >= 4000 AS all_in_one_call FROM match_run('people_legacy');
-- match_run() of a disabled rule queues its review band (it linked, but queued nothing: reviews 0), and the writer
-- still cannot queue a pair of a disabled rule.
SELECT identity_namespace_create('vendor_id', is_known => true);
SELECT match_rule_create('vendors', ARRAY['vendor_id'], pg_temp.person_fields(),
                         '[["first(first_name, 1)", "soundex(last_name)"]]', review_threshold => 0.5) > 0 AS created;
SELECT match_rule_alter('vendors', enabled => false);
SELECT trait_observe('{"vendor_id": "v1"}', '{"first_name": "Vera", "last_name": "Lund", "address": "7 High St",
                     "dob": "1990-12-30"}', 'crm') IS NOT NULL AS v1;
SELECT trait_observe('{"vendor_id": "v2"}', '{"first_name": "Vera", "last_name": "Lund", "dob": "1990-12-03"}',
                     'support') <> identity_lookup('vendor_id', 'v1') AS v2_apart;
SET ROLE customer_profile_writer;
SELECT _match_review_queue((SELECT rule_id FROM match_rule WHERE name = 'vendors'),
                           (SELECT identity_id FROM _identity_find('vendor_id', 'v1')),
                           (SELECT identity_id FROM _identity_find('vendor_id', 'v2')), false) AS writer_queued_disabled;
SELECT _match_run_review_queue((SELECT rule_id FROM match_rule WHERE name = 'vendors'),
                               (SELECT identity_id FROM _identity_find('vendor_id', 'v1')),
                               (SELECT identity_id FROM _identity_find('vendor_id', 'v2')), false);
RESET ROLE;
SET ROLE customer_profile_admin;
SELECT records, comparisons, links, reviews FROM match_run('vendors');
RESET ROLE;
SELECT rule, namespace_a, namespace_b, round(probability::numeric, 4) AS probability FROM match_reviews
 WHERE rule = 'vendors';

-- deletions(trait): records one typo apart in an identifier share a key, where no other key would pair them.
SELECT identity_namespace_create('tax_id', is_known => true);
SELECT match_rule_create('typos', ARRAY['tax_id'], '[
  {"trait": "tin", "levels": [{"exact": true}, {"damerau_levenshtein": 1}],
   "m": [0.5, 0.49, 0.01], "u": [0.00001, 0.00001, 0.99998]},
  {"trait": "first_name", "levels": [{"exact": true}], "m": [0.9, 0.1], "u": [0.01, 0.99]}]',
                         '[["deletions(tin)"]]') > 0 AS created;
SELECT trait_observe('{"tax_id": "t1"}', '{"tin": "482577532", "first_name": "Ines"}', 'crm') IS NOT NULL AS t1;
SELECT trait_observe('{"tax_id": "t2"}', '{"tin": "482575732", "first_name": "Ines"}', 'support')
       = identity_lookup('tax_id', 't1') AS swapped_digits_linked,
       trait_observe('{"tax_id": "t3"}', '{"tin": "48257753", "first_name": "Ines"}', 'support')
       = identity_lookup('tax_id', 't1') AS dropped_digit_linked,
       trait_observe('{"tax_id": "t4"}', '{"tin": "4825775321", "first_name": "Ines"}', 'support')
       = identity_lookup('tax_id', 't1') AS extra_digit_linked,
       trait_observe('{"tax_id": "t5"}', '{"tin": "482999932", "first_name": "Ines"}', 'support')
       <> identity_lookup('tax_id', 't1') AS far_apart;
-- The value and its eight distinct one-digit deletions (deleting either 7 gives "48257532").
SELECT count(*) AS t1_keys FROM match_key
 WHERE identity_id = (SELECT identity_id FROM _identity_find('tax_id', 't1'))
   AND rule_id = (SELECT rule_id FROM match_rule WHERE name = 'typos');
SELECT random_pairs > 0 AS random_pairs, blocked_pairs > 0 AS blocked_pairs FROM match_estimate('typos', 100);
-- A decided pair of records the rule does not cover (two CRM records under a tax_id rule) is no label of its.
SELECT match_review_reject('typos', (SELECT identity_id FROM _identity_find('crm_id', 'c1')),
                           (SELECT identity_id FROM _identity_find('crm_id', 'c7'))) AS withdrew;
SELECT labelled_pairs FROM match_estimate('typos', 100);
-- A placeholder that 1,001 records carry (over the 1,000 a group may have): its groups are left out of the estimate
-- (its pair join grows with their square times the pieces: a minute for 3,000 such records), of the pairs counted and
-- of the pairs sampled alike. Counting its pairs but sampling none made lambda the sample's share of matches (0.5).
SELECT identity_namespace_create('vat_id', is_known => true) > 0 AS created;
SELECT match_rule_create('placeholders', ARRAY['vat_id'], '[
  {"trait": "vat", "levels": [{"exact": true}, {"damerau_levenshtein": 1}]},
  {"trait": "first_name", "levels": [{"exact": true}]}, {"trait": "city", "levels": [{"exact": true}]}]',
                         '[["deletions(vat)"]]') > 0 AS created;
SELECT match_rule_alter('placeholders', enabled => false);
-- 150 people twice (the second with two digits swapped), then the placeholders.
SELECT count(trait_observe(jsonb_build_object('vat_id', 'v' || g || '-' || copy),
                           jsonb_build_object('vat', CASE copy WHEN 1 THEN v ELSE substr(v, 1, 3) || substr(v, 5, 1)
                                                      || substr(v, 4, 1) || substr(v, 6) END,
                                              'first_name', 'n' || g, 'city', 'c' || g), 'crm')) AS people
  FROM generate_series(1, 150) g, generate_series(1, 2) copy, LATERAL (SELECT (100000000 + g * 5021)::text AS v) x;
SELECT count(trait_observe(jsonb_build_object('vat_id', 'ph' || g),
                           jsonb_build_object('vat', '000000000', 'first_name', 'p' || g, 'city', 'x' || g), 'crm'))
       AS placeholders
  FROM generate_series(1, 1001) g;
-- 150 matches among 845,650 pairs: lambda about 0.00018.
SELECT random_pairs > 0 AS random_pairs, blocked_pairs >= 100 AS blocked_pairs, lambda BETWEEN 0.00005 AND 0.001 AS lambda
  FROM match_estimate('placeholders', 200);
-- How selective the key is: 1,301 records; the placeholder's value and its one deletion ("00000000") are groups of
-- 1,001. Against the groups computed here from the values themselves (each value and its one-character deletions).
SELECT key_no, key, records, largest_group, round(candidates_per_record::numeric, 2) AS candidates_per_record
  FROM match_blocking('placeholders');
WITH v AS (SELECT o.identity_id, o.value #>> '{}' AS vat FROM trait_observation o
             JOIN identity i USING (identity_id) JOIN namespace n USING (namespace_id)
            WHERE n.name = 'vat_id' AND o.trait = 'vat'),
     k AS (SELECT identity_id, vat AS k FROM v
           UNION SELECT identity_id, overlay(vat PLACING '' FROM p FOR 1) FROM v, generate_series(1, length(vat)) p),
     g AS (SELECT count(*) AS n FROM k GROUP BY k)
SELECT round((sum(n * (n - 1)) / (SELECT count(DISTINCT identity_id) FROM k))::numeric, 2) AS reference
  FROM g;
-- With 999 placeholders their group is kept, and sampled at random: the sample's first pairs by identifier were the
-- placeholders' and the people's never (lambda 0.00089 with 100,000 pairs, 0.44 with 200). The group gives each of its
-- 498,501 pairs with probability 20 / 998 (10,129 here, each standing for 49.9), the people's groups all theirs (193):
-- the estimate is no longer nearly all placeholder pairs (lambda was 0.0003 to 0.001 against 0.000178).
SELECT count(identity_remove('vat_id', 'ph' || g)) AS removed FROM generate_series(1000, 1001) g;
SELECT 150.0 / (1299 * 1298 / 2) AS true_lambda;
SELECT blocked_pairs, lambda BETWEEN 0.00016 AND 0.0002 AS lambda FROM match_estimate('placeholders', 100000);
-- The same again: the same blocked pairs (in their hashes' order), another random u sample; lambda within 1 %.
CREATE TEMP TABLE first_estimate AS SELECT (parameters->>'lambda')::float8 AS lambda FROM match_rule
 WHERE name = 'placeholders';
SELECT blocked_pairs, abs(lambda / (SELECT lambda FROM first_estimate) - 1) < 0.01 AS same_lambda
  FROM match_estimate('placeholders', 100000);
-- Many groups just under the limit: ten placeholders of 999 records each (498,501 pairs each, twice: the value and
-- its deletions of a zero) were all paired and sorted, and were nearly the whole sample (lambda out of this range);
-- now each group gives a share of its pairs. The deletion shared by all ten is one group of 9,990, left out.
SELECT count(identity_remove('vat_id', 'ph' || g)) AS removed FROM generate_series(1, 999) g;
SELECT count(trait_observe(jsonb_build_object('vat_id', 'ph' || p || '-' || g),
                           jsonb_build_object('vat', '00000000' || p, 'first_name', 'p' || g, 'city', 'x' || g), 'crm'))
       AS placeholders
  FROM generate_series(1, 999) g, generate_series(0, 9) p;
SELECT 150.0 / (10290.0 * 10289 / 2) AS true_lambda;
SET statement_timeout = '60s';
SELECT blocked_pairs, lambda BETWEEN 0.0000026 AND 0.0000031 AS lambda FROM match_estimate('placeholders', 100000);
RESET statement_timeout;
SELECT estimate->'groups_left_out' AS groups_left_out FROM match_rule WHERE name = 'placeholders';
SELECT count(*) AS typos_keys, sum(records) AS typos_records FROM match_blocking('typos');
-- A rule no record has keys of yet: its keys with zeros.
SELECT match_rule_create('unused', ARRAY['vat_id'], '[{"trait": "vat", "levels": [{"exact": true}]}]',
                         '[["vat"], ["first(vat, 3)"]]') > 0 AS created;
SELECT * FROM match_blocking('unused');
SELECT match_rule_drop('unused');
SELECT match_rule_drop('placeholders');
SELECT * FROM match_blocking('placeholders');
SELECT * FROM match_blocking(NULL);
-- Every matching function refuses a NULL argument with 22004 (third review:
-- match_explain gave 22023, match_review_accept, match_rule_alter and
-- match_rule_drop 42704).
CREATE FUNCTION pg_temp.sqlstate_of(statement text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE statement;
    RETURN 'no error';
EXCEPTION WHEN OTHERS THEN
    RETURN SQLSTATE;
END
$$;
SELECT statement, pg_temp.sqlstate_of('SELECT * FROM customer_profile.' || statement) AS sqlstate
  FROM (VALUES ('match_rule_create(NULL, ARRAY[''crm_id''], ''[]'', ''[]'')'),
               ('match_rule_alter(NULL, enabled => true)'),
               ('match_rule_drop(NULL)'),
               ('match_blocking(NULL)'),
               ('match_run(NULL)'),
               ('match_estimate(NULL)'),
               ('match_estimate(''typos'', NULL)'),
               ('match_explain(NULL, ''crm_id'', ''m1'', ''crm_id'', ''m2'')'),
               ('match_explain(''people'', ''crm_id'', NULL, ''crm_id'', ''m2'')'),
               ('_match_explain_ids(NULL, 1, 2)'),
               ('_match_explain_ids(''people'', 1, NULL)'),
               ('match_review_accept(NULL, 1, 2)'),
               ('match_review_accept(''people'', NULL, 2)'),
               ('match_review_reject(''people'', 1, NULL)')) v(statement);
-- sample_pairs from 10 to 1,000,000: the sample lives outside work_mem, about 250 bytes a pair (sixth review: 2.7 GB
-- at 10,000,000).
SELECT regress.err('SELECT customer_profile.match_estimate(''typos'', 9)') AS too_few,
       regress.err('SELECT customer_profile.match_estimate(''typos'', 1000001)') AS too_many;
SET ROLE customer_profile_writer;
SELECT * FROM match_blocking('typos');
RESET ROLE;
SELECT count(identity_remove('vat_id', 'v' || g || '-' || copy)) AS removed
  FROM generate_series(1, 150) g, generate_series(1, 2) copy;
SELECT count(identity_remove('vat_id', 'ph' || g)) AS removed FROM generate_series(1, 999) g;
\set VERBOSITY default
SELECT match_rule_create('bad', ARRAY['tax_id'], '[{"trait": "tin", "levels": [{"exact": true}]},
                         {"trait": "first_name", "levels": [{"exact": true}]}]',
                         '[["deletions(tin)", "deletions(first_name)"]]');
\set VERBOSITY terse

-- Stale keys: a record's keys made from values another identifier lent it (observed on the strongest identifier of
-- the call) are stored again without them once the lender is removed or unlinked (they stayed).
SELECT trait_observe('{"email": "lend1@example.com", "tax_id": "t8"}', '{"tin": "777123456", "first_name": "Lena"}',
                     'web') IS NOT NULL AS lent1,
       trait_observe('{"email": "lend2@example.com", "tax_id": "t9"}', '{"tin": "777654321", "first_name": "Lena"}',
                     'web') IS NOT NULL AS lent2;
SELECT count(*) FILTER (WHERE o.identity_id = t.identity_id) AS observed_on_record, count(*) AS observed
  FROM trait_observation o, _identity_find('tax_id', 't8') t
 WHERE o.identity_id IN (t.identity_id, (SELECT identity_id FROM _identity_find('email', 'lend1@example.com')));
SELECT k.identity_id = t8.identity_id AS record, count(*) AS keys
  FROM match_key k, _identity_find('tax_id', 't8') t8, _identity_find('tax_id', 't9') t9
 WHERE k.identity_id IN (t8.identity_id, t9.identity_id) GROUP BY 1 ORDER BY 1;
SELECT identity_remove('email', 'lend1@example.com') AS carved;
SELECT identity_unlink('email', 'lend2@example.com', 'tax_id', 't9') AS carved;
SELECT count(*) AS keys_left FROM match_key k
 WHERE k.identity_id IN ((SELECT identity_id FROM _identity_find('tax_id', 't8')),
                         (SELECT identity_id FROM _identity_find('tax_id', 't9')));
-- The same when an attached row that lent the values is deleted (its observations went, the keys stayed).
CREATE TABLE public.crm_tins (id int PRIMARY KEY, email text, tax text, tin text, first text);
SELECT profile_attach_table('public.crm_tins', 'crm_tins', '{"email": "email", "tax_id": "tax"}',
       '{"tin": "tin", "first_name": "first"}') AS backfilled;
INSERT INTO public.crm_tins VALUES (1, 'tins1@example.com', 'tx1', '999888777', 'Ida'), (2, NULL, 'tx2', '999888666', 'Ivo');
SELECT t.tax, count(k.*) AS keys FROM (VALUES ('tx1'), ('tx2')) t(tax)
  LEFT JOIN match_key k ON k.identity_id = (SELECT identity_id FROM _identity_find('tax_id', t.tax))
 GROUP BY 1 ORDER BY 1;
DELETE FROM public.crm_tins;
SELECT count(*) AS keys_left FROM match_key k
 WHERE k.identity_id IN ((SELECT identity_id FROM _identity_find('tax_id', 'tx1')),
                         (SELECT identity_id FROM _identity_find('tax_id', 'tx2')));
SELECT profile_detach_table('public.crm_tins');
DROP TABLE public.crm_tins;

SELECT profile_detach_table('public.crm_people');
DROP TABLE public.crm_people;

-- Values are read straight from trait_observation's primary key: each is what
-- value #>> '{}' gives of the latest observation (any source), numbers,
-- booleans and arrays as text, a latest JSON null missing (compared here
-- with that expression over the stored rows).
SELECT match_rule_create('json_values', ARRAY['crm_id'], '[
  {"trait": "v_num", "levels": [{"exact": true}]}, {"trait": "v_bool", "levels": [{"exact": true}]},
  {"trait": "v_list", "levels": [{"exact": true}]}, {"trait": "v_latest", "levels": [{"exact": true}]},
  {"trait": "v_null", "levels": [{"exact": true}]}]', '[["v_num"], ["v_latest"]]') > 0 AS created;
SELECT trait_observe('{"crm_id": "jv1"}', '{"v_num": 1.50, "v_bool": true, "v_list": ["a", "b c"],
                     "v_latest": "old", "v_null": "set"}', 'crm') IS NOT NULL AS jv1;
SELECT trait_observe('{"crm_id": "jv1"}', '{"v_latest": "new", "v_null": null}', 'web') IS NOT NULL AS jv1_later;
SELECT trait_observe('{"crm_id": "jv2"}', '{"v_num": 2, "v_latest": "new"}', 'crm') IS NOT NULL AS jv2,
       trait_observe('{"crm_id": "jv3"}', '{"v_num": 2}', 'crm') IS NOT NULL AS jv3;
SELECT e.field, e.value_a, s.value AS stored, e.value_a IS NOT DISTINCT FROM s.value AS same
  FROM match_explain('json_values', 'crm_id', 'jv1', 'crm_id', 'jv2') e
  LEFT JOIN (SELECT DISTINCT ON (o.trait) o.trait, o.value #>> '{}' AS value
               FROM trait_observation o, _identity_find('crm_id', 'jv1') f
              WHERE o.identity_id = f.identity_id ORDER BY o.trait, o.observed_at DESC, o.recorded_at DESC) s
    ON s.trait = e.field
 WHERE e.field <> 'total' ORDER BY e.field;
-- A record's keys follow its values: a changed value's old key goes, the other stays.
CREATE FUNCTION pg_temp.shared_keys(a text, b text) RETURNS bigint LANGUAGE sql AS $$
    SELECT count(*) FROM customer_profile.match_key x JOIN customer_profile.match_key y USING (rule_id, key)
     WHERE x.identity_id = (SELECT identity_id FROM customer_profile._identity_find('crm_id', a))
       AND y.identity_id = (SELECT identity_id FROM customer_profile._identity_find('crm_id', b))
$$;
SELECT pg_temp.shared_keys('jv2', 'jv3') AS with_jv3, pg_temp.shared_keys('jv2', 'jv1') AS with_jv1;
SELECT trait_observe('{"crm_id": "jv2"}', '{"v_num": 1.5}', 'crm') IS NOT NULL AS jv2_changed;
SELECT pg_temp.shared_keys('jv2', 'jv3') AS with_jv3, pg_temp.shared_keys('jv2', 'jv1') AS with_jv1,
       (SELECT count(*) FROM match_key k, _identity_find('crm_id', 'jv2') f WHERE k.identity_id = f.identity_id) AS keys;
-- The direct reads serve only a caller who may select every row of
-- trait_observation; any other reads through a statement, under its grants
-- and policies (fourth review: a role without SELECT got every value back
-- from _match_explain_ids, one under a restrictive policy the hidden ones).
SELECT (SELECT identity_id FROM _identity_find('crm_id', 'jv1')) AS jv1_id,
       (SELECT identity_id FROM _identity_find('crm_id', 'jv2')) AS jv2_id \gset
CREATE ROLE cp_match_noread;
GRANT USAGE ON SCHEMA customer_profile TO cp_match_noread;
GRANT EXECUTE ON FUNCTION _match_explain_ids(text, bigint, bigint) TO cp_match_noread;
GRANT SELECT ON identity, match_rule, identity_link, trait_definition TO cp_match_noread;
SET ROLE cp_match_noread;
SELECT field, value_a FROM _match_explain_ids('json_values', :jv1_id, :jv2_id) WHERE field = 'v_latest';
RESET ROLE;
CREATE ROLE cp_match_policy IN ROLE customer_profile_writer;
ALTER TABLE trait_observation ENABLE ROW LEVEL SECURITY;
CREATE POLICY cp_match_all ON trait_observation USING (true);
CREATE POLICY cp_match_no_web ON trait_observation AS RESTRICTIVE FOR SELECT TO cp_match_policy USING (source <> 'web');
SET ROLE cp_match_policy;
SELECT field, value_a FROM match_explain('json_values', 'crm_id', 'jv1', 'crm_id', 'jv2')
 WHERE field IN ('v_latest', 'v_null') ORDER BY 1;
RESET ROLE;
SELECT field, value_a FROM match_explain('json_values', 'crm_id', 'jv1', 'crm_id', 'jv2')
 WHERE field IN ('v_latest', 'v_null') ORDER BY 1;
DROP POLICY cp_match_no_web ON trait_observation;
DROP POLICY cp_match_all ON trait_observation;
ALTER TABLE trait_observation DISABLE ROW LEVEL SECURITY;
DROP OWNED BY cp_match_noread;
DROP ROLE cp_match_noread;
DROP ROLE cp_match_policy;
SELECT match_rule_drop('json_values');
-- Fifth review, D1: two sources observed in one transaction tie on observed_at and recorded_at. The first source by
-- name is read, by the direct reads and by the statement alike (the statement took whichever row it met first: the
-- later source's date of birth, probability 0.075 against 0.986). The superuser with row security enabled on the table
-- reads through the statement and sees every row.
SELECT match_rule_create('ties', ARRAY['crm_id', 'support_id'], '[
  {"trait": "tie_name", "levels": [{"exact": true}, {"jaro_winkler": 0.88}], "m": [0.8, 0.1, 0.1], "u": [0.01, 0.02, 0.97]},
  {"trait": "tie_dob", "levels": [{"exact": true}], "m": [0.9, 0.1], "u": [0.01, 0.99]}]',
                         '[["tie_dob"]]', link_threshold => 0.999, review_threshold => 0.5) > 0 AS created;
SELECT trait_observe('{"crm_id": "tx2"}', '{"tie_name": "xavier", "tie_dob": "1960-01-01"}', 'crm') IS NOT NULL AS tx2;
BEGIN;
SELECT trait_observe('{"crm_id": "tx1"}', '{"tie_name": "xavier", "tie_dob": "1960-01-02"}', 'web') IS NOT NULL AS web;
SELECT trait_observe('{"crm_id": "tx1"}', '{"tie_dob": "1960-01-01"}', 'crm') IS NOT NULL AS crm;
COMMIT;
CREATE TEMP TABLE tie_reads AS
SELECT 'direct' AS path, field, value_a, round(probability::numeric, 3) AS probability
  FROM match_explain('ties', 'crm_id', 'tx1', 'crm_id', 'tx2');
ALTER TABLE trait_observation ENABLE ROW LEVEL SECURITY;
INSERT INTO tie_reads SELECT 'statement', field, value_a, round(probability::numeric, 3)
  FROM match_explain('ties', 'crm_id', 'tx1', 'crm_id', 'tx2');
ALTER TABLE trait_observation DISABLE ROW LEVEL SECURITY;
SELECT * FROM tie_reads ORDER BY field, path;
-- Fifth review, D2: a pair queued for review is scored with the values its caller may read. It was scored again as
-- the owner, so a writer whom a policy keeps from the web's observations found in match_reviews a probability computed
-- from a hidden web value (0.086, the owner's score with "zzzzzz", where the writer's own was 0.986).
SELECT trait_observe('{"crm_id": "hid_a"}', '{"tie_name": "alice", "tie_dob": "1980-02-02"}', 'crm', '2024-01-01') IS NOT NULL AS crm,
       trait_observe('{"crm_id": "hid_a"}', '{"tie_name": "zzzzzz"}', 'web', '2024-06-01') IS NOT NULL AS web;
CREATE ROLE cp_match_policy IN ROLE customer_profile_writer;
ALTER TABLE trait_observation ENABLE ROW LEVEL SECURITY;
CREATE POLICY cp_match_all ON trait_observation USING (true);
CREATE POLICY cp_match_no_web ON trait_observation AS RESTRICTIVE FOR SELECT TO cp_match_policy USING (source <> 'web');
SET ROLE cp_match_policy;
SELECT trait_observe('{"support_id": "hid_b"}', '{"tie_name": "alice", "tie_dob": "1980-02-02"}', 'support',
                     '2024-07-01') IS NOT NULL AS observed;
SELECT field, value_a, round(probability::numeric, 3) AS probability
  FROM match_explain('ties', 'crm_id', 'hid_a', 'support_id', 'hid_b') WHERE field IN ('tie_name', 'total') ORDER BY 1;
SELECT round(v.probability::numeric, 3) AS reviewed_probability, v.reason
  FROM match_reviews v, _identity_find('support_id', 'hid_b') b
 WHERE v.rule = 'ties' AND b.identity_id IN (v.identity_a, v.identity_b);
RESET ROLE;
SELECT field, value_a, round(probability::numeric, 3) AS probability
  FROM match_explain('ties', 'crm_id', 'hid_a', 'support_id', 'hid_b') WHERE field IN ('tie_name', 'total') ORDER BY 1;
DROP POLICY cp_match_no_web ON trait_observation;
DROP POLICY cp_match_all ON trait_observation;
ALTER TABLE trait_observation DISABLE ROW LEVEL SECURITY;
DROP ROLE cp_match_policy;
SELECT match_rule_drop('ties');
-- initials(): a street number narrowed by the street's initials; an abbreviated street type shares the key.
SELECT match_rule_create('streets', ARRAY['crm_id'], '[{"trait": "st_address", "levels": [{"token_set": 0.5}]}]',
                         '[["digits(st_address)", "initials(st_address)"]]') > 0 AS created;
SELECT trait_observe(jsonb_build_object('crm_id', 'st' || g), jsonb_build_object('st_address', a), 'crm') IS NOT NULL AS observed
  FROM (VALUES (1, '12 Pinkerton Circuit'), (2, '12  pinkerton CCT'), (3, '12 Barker Circuit')) v(g, a);
SELECT records, distinct_keys, largest_group FROM match_blocking('streets');
SELECT match_rule_drop('streets');
