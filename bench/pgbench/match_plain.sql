-- The Splink-style alternative (bench/matching.sh): one statement per new record finds its
-- candidates through a btree index per blocking key of the rule, scores them with
-- fuzzystrmatch and pg_trgm, stores the record and the pairs above a threshold.
WITH k AS (SELECT nextval('plain_seq') AS n),
     r AS (SELECT s.* FROM new_records s JOIN k ON s.n = k.n),
     cand AS (
        SELECT p.* FROM plain_record p, r WHERE p.national_id = r.national_id AND r.national_id <> ''
        UNION SELECT p.* FROM plain_record p, r WHERE p.dob = r.dob AND p.last1 = left(r.last_name, 1) AND r.dob <> ''
        UNION SELECT p.* FROM plain_record p, r WHERE p.dob = r.dob AND p.first1 = left(r.first_name, 1) AND r.dob <> ''
        UNION SELECT p.* FROM plain_record p, r
               WHERE p.dob = r.dob AND p.digits = regexp_replace(r.address, '\D', '', 'g') AND r.dob <> ''
        UNION SELECT p.* FROM plain_record p, r
               WHERE p.sdx_last = soundex(r.last_name) AND p.sdx_first = soundex(r.first_name) AND p.year = left(r.dob, 4)
        UNION SELECT p.* FROM plain_record p, r
               WHERE p.digits = regexp_replace(r.address, '\D', '', 'g') AND p.initials = initials(r.address)
                 AND p.last2 = left(r.last_name, 2) AND p.first1 = left(r.first_name, 1)),
     scored AS (
        SELECT c.record_id,
               CASE WHEN c.first_name = r.first_name THEN 6 WHEN similarity(c.first_name, r.first_name) > 0.5 THEN 3 ELSE -3 END
             + CASE WHEN c.last_name = r.last_name THEN 8 WHEN levenshtein(c.last_name, r.last_name) <= 2 THEN 4 ELSE -4 END
             + CASE WHEN c.address = r.address THEN 8 WHEN similarity(c.address, r.address) > 0.5 THEN 4 ELSE -2 END
             + CASE WHEN c.dob = r.dob THEN 8 WHEN levenshtein(c.dob, r.dob) <= 1 THEN 4 ELSE -4 END
             + CASE WHEN c.national_id = r.national_id THEN 10 WHEN levenshtein(c.national_id, r.national_id) <= 1 THEN 6 ELSE -6 END AS w
          FROM cand c, r),
     stored AS (
        INSERT INTO plain_record
        SELECT r.record_id, r.first_name, r.last_name, r.address, r.dob, r.national_id, soundex(r.last_name),
               soundex(r.first_name), left(r.dob, 4), left(r.first_name, 1), left(r.last_name, 1), left(r.last_name, 2),
               regexp_replace(r.address, '\D', '', 'g'), initials(r.address) FROM r)
SELECT count(*) FILTER (WHERE w >= 20) AS links FROM scored;
