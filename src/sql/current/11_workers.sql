-- Workers: the background workers (one per database) that drain the inbox,
-- slide windows and refresh features; their state and status.

CREATE TABLE customer_profile.worker_state (
    pid integer NOT NULL,
    started_at timestamp with time zone DEFAULT now() NOT NULL,
    state text NOT NULL,
    heartbeat_at timestamp with time zone DEFAULT now() NOT NULL,
    batch_size integer NOT NULL,
    batches bigint DEFAULT 0 NOT NULL,
    events_applied bigint DEFAULT 0 NOT NULL,
    dead_lettered bigint DEFAULT 0 NOT NULL,
    last_error text,
    last_error_at timestamp with time zone,
    last_retention_at timestamp with time zone
);
ALTER TABLE ONLY customer_profile.worker_state
    ADD CONSTRAINT worker_state_pkey PRIMARY KEY (pid);
COMMENT ON TABLE customer_profile.worker_state IS 'Progress of each inbox worker of this database, written by the worker itself (see worker_status).';
GRANT SELECT ON TABLE customer_profile.worker_state TO customer_profile_reader;
GRANT SELECT,INSERT,DELETE,UPDATE ON TABLE customer_profile.worker_state TO customer_profile_worker;
REVOKE USAGE ON TYPE customer_profile.worker_state FROM PUBLIC;

CREATE FUNCTION customer_profile.worker_start() RETURNS integer
    LANGUAGE c
    AS 'MODULE_PATHNAME', 'cp_worker_start';
COMMENT ON FUNCTION customer_profile.worker_start() IS 'Starts one more inbox worker for the current database (until worker_stop() or a server restart); returns its pid.';
REVOKE ALL ON FUNCTION customer_profile.worker_start() FROM PUBLIC;

CREATE FUNCTION customer_profile.worker_stop() RETURNS integer
    LANGUAGE plpgsql
    SET search_path TO 'pg_catalog', 'pg_temp'
    AS $$
DECLARE
    w record;
    signalled integer := 0;
BEGIN
    -- A loop, not a WHERE clause: the planner may evaluate quals in any
    -- order, and pg_terminate_backend() must only see workers.
    FOR w IN SELECT a.pid FROM pg_stat_activity a
              WHERE a.backend_type = 'customer_profile worker' AND a.datname = current_database()
    LOOP
        IF pg_terminate_backend(w.pid) THEN
            signalled := signalled + 1;
        END IF;
    END LOOP;
    RETURN signalled;
END
$$;
COMMENT ON FUNCTION customer_profile.worker_stop() IS 'Asks every inbox worker of the current database to exit: a statement it runs is cancelled (its batch goes back to the inbox); returns how many were signalled.';
REVOKE ALL ON FUNCTION customer_profile.worker_stop() FROM PUBLIC;

CREATE FUNCTION customer_profile._worker_pids() RETURNS integer[]
    LANGUAGE c STABLE
    AS 'MODULE_PATHNAME', 'cp_worker_pids';
COMMENT ON FUNCTION customer_profile._worker_pids() IS 'Internal: the pids of this database''s customer_profile workers (for worker_status, whatever the reader may see of pg_stat_activity).';
REVOKE ALL ON FUNCTION customer_profile._worker_pids() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION customer_profile._worker_pids() TO customer_profile_reader;

CREATE VIEW customer_profile.worker_status AS
 SELECT w.pid,
        CASE
            WHEN (a.pid IS NULL) THEN 'stopped'::text
            ELSE w.state
        END AS state,
    w.started_at,
    w.heartbeat_at,
    w.batch_size,
    w.batches,
    w.events_applied,
    w.dead_lettered,
    w.last_error,
    w.last_error_at,
    w.last_retention_at,
    ( SELECT (clock_timestamp() - i.enqueued_at)
           FROM customer_profile.event_inbox i
          ORDER BY i.inbox_id
         LIMIT 1) AS inbox_lag
   FROM (customer_profile.worker_state w
     LEFT JOIN unnest(customer_profile._worker_pids()) a(pid) ON ((a.pid = w.pid)));
COMMENT ON VIEW customer_profile.worker_status IS 'Inbox workers of this database: state, last heartbeat, batch size, events applied, and the age of the oldest inbox event.';
COMMENT ON COLUMN customer_profile.worker_status.pid IS 'Process id of the worker.';
COMMENT ON COLUMN customer_profile.worker_status.state IS 'idle, draining, or stopped (no such worker process runs now).';
COMMENT ON COLUMN customer_profile.worker_status.started_at IS 'When the worker started.';
COMMENT ON COLUMN customer_profile.worker_status.heartbeat_at IS 'When the worker last reported progress.';
COMMENT ON COLUMN customer_profile.worker_status.batch_size IS 'Inbox rows per transaction (customer_profile.batch_size).';
COMMENT ON COLUMN customer_profile.worker_status.batches IS 'Batches committed since the worker started.';
COMMENT ON COLUMN customer_profile.worker_status.events_applied IS 'Events applied since the worker started.';
COMMENT ON COLUMN customer_profile.worker_status.dead_lettered IS 'Inbox rows moved to event_dead_letter since the worker started.';
COMMENT ON COLUMN customer_profile.worker_status.last_error IS 'The latest error that concerned a whole batch (the batch is retried).';
COMMENT ON COLUMN customer_profile.worker_status.last_error_at IS 'When last_error happened.';
COMMENT ON COLUMN customer_profile.worker_status.last_retention_at IS 'When the worker last ran retention_run().';
COMMENT ON COLUMN customer_profile.worker_status.inbox_lag IS 'Age of the oldest queued inbox event (NULL when the inbox is empty).';
GRANT SELECT ON TABLE customer_profile.worker_status TO customer_profile_reader;
REVOKE USAGE ON TYPE customer_profile.worker_status FROM PUBLIC;
