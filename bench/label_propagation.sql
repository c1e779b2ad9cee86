-- The warehouse way to stitch identities: iterative label propagation in
-- plain SQL, one UPDATE per round until no label changes.
DO $$
DECLARE
    changed bigint;
    rounds int := 0;
BEGIN
    LOOP
        UPDATE lp_label l SET label = m.label
          FROM (SELECT e.a AS id, min(n.label) AS label
                  FROM lp_edge e JOIN lp_label n ON n.id = e.b
                 GROUP BY e.a) m
         WHERE l.id = m.id AND m.label < l.label;
        GET DIAGNOSTICS changed = ROW_COUNT;
        rounds := rounds + 1;
        EXIT WHEN changed = 0;
    END LOOP;
    RAISE NOTICE 'label propagation converged after % rounds', rounds;
END
$$;
