-- importq schema v1 (PostgreSQL). Ids are uuid, times timestamptz,
-- documents jsonb (audit before/after are json: their text is hashed and
-- must come back byte for byte).

CREATE TABLE IF NOT EXISTS stg_scheduled_imports (
    id              uuid PRIMARY KEY,
    name            text NOT NULL UNIQUE,
    cron            text NOT NULL,
    timezone        text NOT NULL DEFAULT 'UTC',
    job_spec        jsonb NOT NULL,
    misfire         text NOT NULL DEFAULT 'run_once' CHECK (misfire IN ('skip', 'run_once', 'catch_up')),
    overlap         text NOT NULL DEFAULT 'skip' CHECK (overlap IN ('allow', 'skip', 'queue')),
    enabled         boolean NOT NULL DEFAULT true,
    next_run_at     timestamptz,
    last_run_at     timestamptz,
    last_status     text,
    last_job_id     uuid,
    run_count       bigint NOT NULL DEFAULT 0,
    success_count   bigint NOT NULL DEFAULT 0,
    failure_count   bigint NOT NULL DEFAULT 0,
    created_by      text,
    created_at      timestamptz NOT NULL,
    updated_at      timestamptz NOT NULL
);
CREATE INDEX IF NOT EXISTS stg_scheduled_imports_due
    ON stg_scheduled_imports (next_run_at) WHERE enabled;

-- Orchestrations (kind 'orchestration') and the node registry (kind 'node').
CREATE TABLE IF NOT EXISTS stg_import_coordination (
    id              uuid PRIMARY KEY,
    kind            text NOT NULL CHECK (kind IN ('orchestration', 'node')),
    name            text NOT NULL DEFAULT '',
    status          text NOT NULL,
    host            text,
    pid             integer,
    version         text,
    detail          jsonb,
    heartbeat_at    timestamptz,
    created_by      text,
    created_at      timestamptz NOT NULL,
    updated_at      timestamptz NOT NULL
);
CREATE INDEX IF NOT EXISTS stg_import_coordination_kind
    ON stg_import_coordination (kind, status);

CREATE TABLE IF NOT EXISTS stg_import_queue (
    id                uuid PRIMARY KEY,
    request_id        text UNIQUE,
    name              text NOT NULL DEFAULT '',
    status            text NOT NULL DEFAULT 'QUEUED'
                      CHECK (status IN ('HELD', 'QUEUED', 'RUNNING', 'COMPLETED', 'FAILED', 'CANCELLED')),
    priority          smallint NOT NULL DEFAULT 5 CHECK (priority BETWEEN 1 AND 10),
    orchestration_id  uuid REFERENCES stg_import_coordination (id),
    schedule_id       uuid REFERENCES stg_scheduled_imports (id) ON DELETE SET NULL,
    scheduled_at      timestamptz,
    available_at      timestamptz NOT NULL,
    deps_pending      integer NOT NULL DEFAULT 0 CHECK (deps_pending >= 0),
    attempt           integer NOT NULL DEFAULT 0 CHECK (attempt >= 0),
    max_attempts      integer NOT NULL DEFAULT 3 CHECK (max_attempts >= 1),
    timeout_s         integer NOT NULL DEFAULT 1800 CHECK (timeout_s > 0),
    resources         jsonb NOT NULL DEFAULT '[]',
    source            jsonb NOT NULL,
    target            jsonb NOT NULL,
    on_error          jsonb NOT NULL,
    target_table      text NOT NULL,
    cancel_requested  boolean NOT NULL DEFAULT false,
    worker            text,
    heartbeat_at      timestamptz,
    progress_phase    text NOT NULL DEFAULT 'queued'
                      CHECK (progress_phase IN ('queued', 'locking', 'read', 'stage', 'validate', 'promote', 'done')),
    rows_read         bigint NOT NULL DEFAULT 0,
    bytes_read        bigint NOT NULL DEFAULT 0,
    bytes_total       bigint NOT NULL DEFAULT 0,
    rows_inserted     bigint NOT NULL DEFAULT 0,
    rows_updated      bigint NOT NULL DEFAULT 0,
    rows_rejected     bigint NOT NULL DEFAULT 0,
    error             jsonb,
    attempts          jsonb NOT NULL DEFAULT '[]',
    created_by        text,
    created_at        timestamptz NOT NULL,
    updated_at        timestamptz NOT NULL,
    started_at        timestamptz,
    finished_at       timestamptz
);
-- The claim: runnable = QUEUED, no pending dependency, time reached.
CREATE INDEX IF NOT EXISTS stg_import_queue_claim
    ON stg_import_queue (priority, available_at, id)
    WHERE status = 'QUEUED' AND deps_pending = 0;
-- List filters (status + priority, newest first) and the other filters.
CREATE INDEX IF NOT EXISTS stg_import_queue_status_priority
    ON stg_import_queue (status, priority, id);
CREATE INDEX IF NOT EXISTS stg_import_queue_table ON stg_import_queue (target_table, id);
CREATE INDEX IF NOT EXISTS stg_import_queue_created ON stg_import_queue (created_at);
-- Status counts: finished in the last 24 h, oldest queued.
CREATE INDEX IF NOT EXISTS stg_import_queue_status_finished ON stg_import_queue (status, finished_at);
CREATE INDEX IF NOT EXISTS stg_import_queue_status_created ON stg_import_queue (status, created_at);
CREATE INDEX IF NOT EXISTS stg_import_queue_orchestration
    ON stg_import_queue (orchestration_id) WHERE orchestration_id IS NOT NULL;
CREATE INDEX IF NOT EXISTS stg_import_queue_schedule
    ON stg_import_queue (schedule_id) WHERE schedule_id IS NOT NULL;
-- Rescue: running jobs by heartbeat age.
CREATE INDEX IF NOT EXISTS stg_import_queue_running
    ON stg_import_queue (heartbeat_at) WHERE status = 'RUNNING';

-- The dependency DAG: job_id waits for depends_on_id.
CREATE TABLE IF NOT EXISTS importq_job_deps (
    job_id          uuid NOT NULL REFERENCES stg_import_queue (id) ON DELETE CASCADE,
    depends_on_id   uuid NOT NULL REFERENCES stg_import_queue (id),
    PRIMARY KEY (job_id, depends_on_id),
    CHECK (job_id <> depends_on_id)
);
CREATE INDEX IF NOT EXISTS importq_job_deps_reverse ON importq_job_deps (depends_on_id, job_id);

-- Leased locks held by running jobs.
CREATE TABLE IF NOT EXISTS stg_import_resources (
    id              uuid PRIMARY KEY,
    name            text NOT NULL,
    mode            text NOT NULL CHECK (mode IN ('exclusive', 'shared')),
    job_id          uuid NOT NULL REFERENCES stg_import_queue (id) ON DELETE CASCADE,
    attempt         integer NOT NULL,
    node            text,
    worker          text,
    acquired_at     timestamptz NOT NULL,
    expires_at      timestamptz NOT NULL,
    UNIQUE (name, job_id)
);
CREATE INDEX IF NOT EXISTS stg_import_resources_name ON stg_import_resources (name, expires_at);
CREATE INDEX IF NOT EXISTS stg_import_resources_job ON stg_import_resources (job_id);

-- Per-phase timings of every attempt.
CREATE TABLE IF NOT EXISTS stg_import_performance (
    id              bigserial PRIMARY KEY,
    job_id          uuid NOT NULL REFERENCES stg_import_queue (id) ON DELETE CASCADE,
    attempt         integer NOT NULL,
    target_table    text NOT NULL,
    phase           text NOT NULL,
    started_at      timestamptz NOT NULL,
    duration_ms     bigint NOT NULL CHECK (duration_ms >= 0),
    rows            bigint NOT NULL DEFAULT 0,
    bytes           bigint NOT NULL DEFAULT 0,
    node            text
);
CREATE INDEX IF NOT EXISTS stg_import_performance_table
    ON stg_import_performance (target_table, started_at);
CREATE INDEX IF NOT EXISTS stg_import_performance_job ON stg_import_performance (job_id);

-- Alerts (kind 'alert') and health samples (kind 'health').
CREATE TABLE IF NOT EXISTS stg_import_monitoring (
    id              bigserial PRIMARY KEY,
    kind            text NOT NULL CHECK (kind IN ('alert', 'health')),
    rule            text,
    severity        text CHECK (severity IS NULL OR severity IN ('info', 'warning', 'critical')),
    state           text CHECK (state IS NULL OR state IN ('open', 'acked', 'resolved')),
    entity          text,
    entity_id       text,
    message         text,
    queue_depth     integer,
    running         integer,
    throughput_rows_s double precision,
    detail          jsonb,
    node            text,
    created_at      timestamptz NOT NULL,
    acked_at        timestamptz,
    acked_by        text,
    resolved_at     timestamptz
);
CREATE INDEX IF NOT EXISTS stg_import_monitoring_kind
    ON stg_import_monitoring (kind, created_at);
CREATE INDEX IF NOT EXISTS stg_import_monitoring_open
    ON stg_import_monitoring (rule, entity_id) WHERE kind = 'alert' AND state <> 'resolved';

-- Append-only, hash-chained audit trail. Rows are numbered 1, 2, 3 ... by
-- the writer under the chain lock, so a deleted row shows as a gap.
CREATE TABLE IF NOT EXISTS stg_import_audit (
    id              bigint PRIMARY KEY,
    at              timestamptz NOT NULL,
    actor           text NOT NULL,
    action          text NOT NULL,
    entity          text NOT NULL,
    entity_id       text,
    before          json,
    after           json,
    request_id      text,
    client_addr     text,
    prev_hash       text NOT NULL,
    hash            text NOT NULL
);
CREATE INDEX IF NOT EXISTS stg_import_audit_entity ON stg_import_audit (entity, entity_id);
CREATE INDEX IF NOT EXISTS stg_import_audit_actor ON stg_import_audit (actor, id);
CREATE OR REPLACE FUNCTION importq_audit_append_only() RETURNS trigger
    LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'stg_import_audit is append-only';
END;
$$;
DROP TRIGGER IF EXISTS stg_import_audit_append_only ON stg_import_audit;
CREATE TRIGGER stg_import_audit_append_only
    BEFORE UPDATE OR DELETE ON stg_import_audit
    FOR EACH ROW EXECUTE FUNCTION importq_audit_append_only();

CREATE TABLE IF NOT EXISTS importq_tokens (
    id              uuid PRIMARY KEY,
    name            text NOT NULL UNIQUE,
    role            text NOT NULL CHECK (role IN ('viewer', 'operator', 'admin')),
    token_hash      text NOT NULL UNIQUE,
    created_by      text,
    created_at      timestamptz NOT NULL,
    last_used_at    timestamptz,
    revoked_at      timestamptz
);

CREATE TABLE IF NOT EXISTS importq_uploads (
    id              uuid PRIMARY KEY,
    bytes           bigint NOT NULL CHECK (bytes >= 0),
    sha256          text NOT NULL,
    path            text NOT NULL,
    created_by      text,
    created_at      timestamptz NOT NULL,
    job_id          uuid REFERENCES stg_import_queue (id) ON DELETE SET NULL
);

-- Rejected rows of every attempt (the CSV behind GET .../rejects).
CREATE TABLE IF NOT EXISTS importq_job_rejects (
    job_id          uuid NOT NULL REFERENCES stg_import_queue (id) ON DELETE CASCADE,
    attempt         integer NOT NULL,
    seq             integer NOT NULL,
    line            bigint NOT NULL,
    column_name     text,
    value           text,
    error           text NOT NULL,
    PRIMARY KEY (job_id, attempt, seq)
);
