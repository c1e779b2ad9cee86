-- Value: customer value (revenue less cost to serve) from declared measures,
-- RFM scores, and the BI views over them.

CREATE TABLE customer_profile.value_measure (
    kind text NOT NULL,
    expression text NOT NULL,
    event_type text,
    defined_at timestamp with time zone DEFAULT now() NOT NULL,
    CONSTRAINT value_measure_kind_check CHECK ((kind = ANY (ARRAY['revenue'::text, 'cost'::text])))
);
SELECT pg_catalog.pg_extension_config_dump('customer_profile.value_measure', '');
ALTER TABLE ONLY customer_profile.value_measure
    ADD CONSTRAINT value_measure_pkey PRIMARY KEY (kind, expression);
COMMENT ON TABLE customer_profile.value_measure IS 'What makes up a customer''s revenue and cost to serve: value expressions summed per kind (value_define).';
GRANT SELECT ON TABLE customer_profile.value_measure TO customer_profile_reader;
REVOKE USAGE ON TYPE customer_profile.value_measure FROM PUBLIC;

-- RFM: recency (days since the latest event of a revenue event type),
-- frequency (how many such events), monetary (revenue), each scored 1-5 by
-- quintile over the customers with at least one such event (5 = most recent,
-- most frequent, highest revenue; ties split by profile id).
CREATE FUNCTION customer_profile.profile_rfm() RETURNS TABLE(profile_id bigint, recency_days double precision, frequency double precision, monetary numeric, r smallint, f smallint, m smallint, rfm text)
    LANGUAGE sql STABLE
    SET search_path TO 'pg_catalog', 'pg_temp'
    BEGIN ATOMIC
 WITH types AS (
          SELECT DISTINCT v.event_type
            FROM customer_profile.value_measure v
           WHERE ((v.kind = 'revenue'::text) AND (v.event_type IS NOT NULL))
         ), e AS (
          SELECT ((COALESCE(array_agg((('last_seen("'::text || replace(t.event_type, '"'::text, '""'::text)) || '")'::text) ORDER BY t.event_type), '{}'::text[]) || COALESCE(array_agg((('count("'::text || replace(t.event_type, '"'::text, '""'::text)) || '")'::text) ORDER BY t.event_type), '{}'::text[])) || COALESCE(( SELECT array_agg(v.expression ORDER BY v.expression) AS array_agg
                    FROM customer_profile.value_measure v
                   WHERE (v.kind = 'revenue'::text)), '{}'::text[])) AS expressions,
             count(*) AS types
            FROM types t
         ), facts AS (
          SELECT u.profile_id,
             min(x.v) FILTER (WHERE (x.i <= e.types)) AS recency_days,
             sum(x.v) FILTER (WHERE ((x.i > e.types) AND (x.i <= (2 * e.types)))) AS frequency,
             (COALESCE(sum(x.v) FILTER (WHERE (x.i > (2 * e.types))), (0)::double precision))::numeric AS monetary
            FROM ((customer_profile.unified_profile u
              CROSS JOIN e)
              CROSS JOIN LATERAL unnest(customer_profile._operand_values(u.profile_id, u.data, u.behavior, e.expressions)) WITH ORDINALITY x(v, i))
           GROUP BY u.profile_id
         ), scored AS (
          SELECT f.profile_id,
             f.recency_days,
             f.frequency,
             f.monetary,
             (ntile(5) OVER (ORDER BY f.recency_days DESC, f.profile_id))::smallint AS r,
             (ntile(5) OVER (ORDER BY f.frequency, f.profile_id))::smallint AS f,
             (ntile(5) OVER (ORDER BY f.monetary, f.profile_id))::smallint AS m
            FROM facts f
           WHERE (f.frequency > (0)::double precision)
         )
  SELECT s.profile_id,
     s.recency_days,
     s.frequency,
     s.monetary,
     s.r,
     s.f,
     s.m,
     (((s.r)::text || (s.f)::text) || (s.m)::text)
    FROM scored s
   ORDER BY s.profile_id;
END;
COMMENT ON FUNCTION customer_profile.profile_rfm() IS 'Recency, frequency and monetary value of every customer with a revenue event, scored 1-5 by quintile (5 is best), computed in one pass.';
REVOKE ALL ON FUNCTION customer_profile.profile_rfm() FROM PUBLIC;
GRANT ALL ON FUNCTION customer_profile.profile_rfm() TO customer_profile_reader;

-- Revenue and cost add up in numeric: a sum of float8 values near the
-- float8 maximum (number traits hold any finite float8) overflowed with 22003
-- and made the whole view unreadable.
CREATE VIEW customer_profile.customer_value AS
 WITH m AS (
         SELECT COALESCE(array_agg(v.expression ORDER BY v.expression) FILTER (WHERE (v.kind = 'revenue'::text)), '{}'::text[]) AS r,
            COALESCE(array_agg(v.expression ORDER BY v.expression) FILTER (WHERE (v.kind = 'cost'::text)), '{}'::text[]) AS c
           FROM customer_profile.value_measure v
        )
 SELECT u.profile_id,
    x.revenue,
    x.cost,
    (x.revenue - x.cost) AS margin
   FROM ((customer_profile.unified_profile u
     CROSS JOIN m)
     CROSS JOIN LATERAL ( SELECT COALESCE(sum((t.v)::numeric) FILTER (WHERE (t.i <= cardinality(m.r))), (0)::numeric) AS revenue,
            COALESCE(sum((t.v)::numeric) FILTER (WHERE (t.i > cardinality(m.r))), (0)::numeric) AS cost
           FROM unnest(customer_profile._operand_values(u.profile_id, u.data, u.behavior, (m.r || m.c))) WITH ORDINALITY t(v, i)) x);
COMMENT ON VIEW customer_profile.customer_value IS 'Per profile: revenue and cost to serve (the sums of the value_measure expressions) and margin.';
COMMENT ON COLUMN customer_profile.customer_value.profile_id IS 'The profile.';
COMMENT ON COLUMN customer_profile.customer_value.revenue IS 'Sum of the revenue value expressions (value_define(''revenue'', ...)).';
COMMENT ON COLUMN customer_profile.customer_value.cost IS 'Sum of the cost-to-serve value expressions (value_define(''cost'', ...)).';
COMMENT ON COLUMN customer_profile.customer_value.margin IS 'revenue minus cost.';
GRANT SELECT ON TABLE customer_profile.customer_value TO customer_profile_reader;
REVOKE USAGE ON TYPE customer_profile.customer_value FROM PUBLIC;

CREATE FUNCTION customer_profile.profile_value(profile_id bigint) RETURNS TABLE(revenue numeric, cost numeric, margin numeric)
    LANGUAGE sql STABLE STRICT
    SET search_path TO 'pg_catalog', 'pg_temp'
    BEGIN ATOMIC
 SELECT v.revenue,
     v.cost,
     v.margin
    FROM customer_profile.customer_value v
   WHERE (v.profile_id = customer_profile.profile_resolve(profile_value.profile_id));
END;
COMMENT ON FUNCTION customer_profile.profile_value(profile_id bigint) IS 'A customer''s revenue, cost to serve and margin (following merges); no row for an unknown profile.';
REVOKE ALL ON FUNCTION customer_profile.profile_value(profile_id bigint) FROM PUBLIC;
GRANT ALL ON FUNCTION customer_profile.profile_value(profile_id bigint) TO customer_profile_reader;

CREATE FUNCTION customer_profile.value_define(kind text, expression text) RETURNS text
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
DECLARE
    d record;
BEGIN
    IF kind IS NULL OR kind NOT IN ('revenue', 'cost') THEN
        RAISE EXCEPTION 'kind must be ''revenue'' or ''cost''' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF expression IS NULL THEN
        RAISE EXCEPTION 'expression must not be NULL' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    d := customer_profile._operand_describe(expression);
    INSERT INTO customer_profile.value_measure AS m (kind, expression, event_type)
    VALUES (value_define.kind, d.normalized, d.event_type)
    ON CONFLICT ON CONSTRAINT value_measure_pkey DO NOTHING;
    RETURN d.normalized;
END
$$;
COMMENT ON FUNCTION customer_profile.value_define(kind text, expression text) IS 'Adds a value expression to a customer''s revenue or cost to serve (e.g. sum(purchase.amount), sum(support_ticket.cost), a number trait); returns it normalized.';
REVOKE ALL ON FUNCTION customer_profile.value_define(kind text, expression text) FROM PUBLIC;
GRANT ALL ON FUNCTION customer_profile.value_define(kind text, expression text) TO customer_profile_admin;

CREATE FUNCTION customer_profile.value_drop(kind text, expression text) RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
BEGIN
    IF kind IS NULL OR expression IS NULL THEN
        RAISE EXCEPTION 'kind and expression must not be NULL' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    DELETE FROM customer_profile.value_measure m
     WHERE m.kind = value_drop.kind
       AND m.expression = (customer_profile._operand_describe(value_drop.expression)).normalized;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'no % measure %', value_drop.kind, quote_literal(left(value_drop.expression, 64))
            USING ERRCODE = 'undefined_object';
    END IF;
END
$$;
COMMENT ON FUNCTION customer_profile.value_drop(kind text, expression text) IS 'Removes a value expression from revenue or cost.';
REVOKE ALL ON FUNCTION customer_profile.value_drop(kind text, expression text) FROM PUBLIC;
GRANT ALL ON FUNCTION customer_profile.value_drop(kind text, expression text) TO customer_profile_admin;

CREATE VIEW customer_profile.most_profitable_customers AS
 SELECT v.profile_id,
    v.revenue,
    v.cost,
    v.margin,
    rank() OVER (ORDER BY v.margin DESC) AS margin_rank,
    rank() OVER (ORDER BY v.revenue DESC) AS revenue_rank
   FROM customer_profile.customer_value v
  WHERE ((v.revenue <> (0)::numeric) OR (v.cost <> (0)::numeric))
  ORDER BY v.margin DESC, v.profile_id;
COMMENT ON VIEW customer_profile.most_profitable_customers IS 'Customers by margin (revenue minus cost to serve), with their rank by revenue alongside.';
COMMENT ON COLUMN customer_profile.most_profitable_customers.profile_id IS 'The profile (customers with any revenue or cost).';
COMMENT ON COLUMN customer_profile.most_profitable_customers.revenue IS 'Sum of the revenue value expressions.';
COMMENT ON COLUMN customer_profile.most_profitable_customers.cost IS 'Sum of the cost-to-serve value expressions.';
COMMENT ON COLUMN customer_profile.most_profitable_customers.margin IS 'revenue minus cost; the view is ordered by it, highest first.';
COMMENT ON COLUMN customer_profile.most_profitable_customers.margin_rank IS 'Rank by margin, 1 for the highest (ties share a rank).';
COMMENT ON COLUMN customer_profile.most_profitable_customers.revenue_rank IS 'Rank by revenue, 1 for the highest (ties share a rank).';
GRANT SELECT ON TABLE customer_profile.most_profitable_customers TO customer_profile_reader;
REVOKE USAGE ON TYPE customer_profile.most_profitable_customers FROM PUBLIC;
