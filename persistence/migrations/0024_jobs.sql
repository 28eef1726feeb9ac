-- 0024: the durable job runner's queue (hub/jobs/, persistence/jobs.py; docs/design.md "Jobs and mail").
--
-- One row per job. A request queues a job in its own transaction (so a rolled-back cause queues nothing) and
-- NOTIFYs `hub_jobs`; any instance claims due rows with FOR UPDATE SKIP LOCKED and a lease. `run_at` is when
-- the row is next due: for a queued job its schedule (or retry time), for a running one the end of its lease
-- (= `locked_until`), so one partial index finds both new work and work whose instance died.
-- `attempts` counts claims and fences the finishing write: an instance whose lease was taken over cannot
-- mark the newer attempt done. Done and failed rows stay for inspection and for their `key` (a dedupe key
-- re-queued after the job ran is still a no-op) until retention prunes them (JOB_RETENTION_DAYS).
-- Server-only: the hub reads and writes it as service_role; no client role sees it (REST has no job routes).
CREATE TABLE private.jobs (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    kind text NOT NULL CHECK (char_length(kind) BETWEEN 1 AND 100),
    payload jsonb NOT NULL DEFAULT '{}'::jsonb CHECK (octet_length(payload::text) <= 65536),
    key text NULL UNIQUE CHECK (char_length(key) BETWEEN 1 AND 300),
    status text NOT NULL DEFAULT 'queued' CHECK (status IN ('queued', 'running', 'done', 'failed')),
    run_at timestamptz NOT NULL DEFAULT clock_timestamp(),
    attempts integer NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    locked_until timestamptz NULL,
    locked_by text NULL,
    last_error text NULL CHECK (char_length(last_error) <= 2000),
    created_at timestamptz NOT NULL DEFAULT clock_timestamp(),
    finished_at timestamptz NULL,
    CHECK ((status = 'running') = (locked_until IS NOT NULL)),
    CHECK ((status IN ('done', 'failed')) = (finished_at IS NOT NULL))
);
-- The claim: due rows, oldest first, among queued and running (lease-expired) ones.
CREATE INDEX idx_private_jobs_due ON private.jobs (run_at) WHERE status IN ('queued', 'running');
-- Retention of finished rows, and the failed gauge.
CREATE INDEX idx_private_jobs_finished ON private.jobs (status, finished_at) WHERE status IN ('done', 'failed');
ALTER TABLE private.jobs ENABLE ROW LEVEL SECURITY;  -- no policies: service_role only
REVOKE ALL ON private.jobs FROM PUBLIC, anon, authenticated;
GRANT SELECT, INSERT, UPDATE, DELETE ON private.jobs TO service_role;
