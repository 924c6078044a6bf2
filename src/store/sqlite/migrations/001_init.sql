-- importq schema v1 (SQLite). Times are UTC RFC 3339 text with
-- milliseconds ('2026-11-28T21:31:03.123Z'), which sorts as time sorts.
-- JSON columns hold compact JSON text and are CHECKed with json_valid().

CREATE TABLE IF NOT EXISTS stg_scheduled_imports (
    id              TEXT PRIMARY KEY,
    name            TEXT NOT NULL UNIQUE,
    cron            TEXT NOT NULL,
    timezone        TEXT NOT NULL DEFAULT 'UTC',
    job_spec        TEXT NOT NULL CHECK (json_valid(job_spec)),
    misfire         TEXT NOT NULL DEFAULT 'run_once' CHECK (misfire IN ('skip', 'run_once', 'catch_up')),
    overlap         TEXT NOT NULL DEFAULT 'skip' CHECK (overlap IN ('allow', 'skip', 'queue')),
    enabled         INTEGER NOT NULL DEFAULT 1 CHECK (enabled IN (0, 1)),
    next_run_at     TEXT,
    last_run_at     TEXT,
    last_status     TEXT,
    last_job_id     TEXT,
    run_count       INTEGER NOT NULL DEFAULT 0,
    success_count   INTEGER NOT NULL DEFAULT 0,
    failure_count   INTEGER NOT NULL DEFAULT 0,
    created_by      TEXT,
    created_at      TEXT NOT NULL,
    updated_at      TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS stg_scheduled_imports_due
    ON stg_scheduled_imports (next_run_at) WHERE enabled = 1;

-- Orchestrations (kind 'orchestration') and the node registry (kind 'node').
CREATE TABLE IF NOT EXISTS stg_import_coordination (
    id              TEXT PRIMARY KEY,
    kind            TEXT NOT NULL CHECK (kind IN ('orchestration', 'node')),
    name            TEXT NOT NULL DEFAULT '',
    status          TEXT NOT NULL,
    host            TEXT,
    pid             INTEGER,
    version         TEXT,
    detail          TEXT CHECK (detail IS NULL OR json_valid(detail)),
    heartbeat_at    TEXT,
    created_by      TEXT,
    created_at      TEXT NOT NULL,
    updated_at      TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS stg_import_coordination_kind
    ON stg_import_coordination (kind, status);

CREATE TABLE IF NOT EXISTS stg_import_queue (
    id                TEXT PRIMARY KEY,
    request_id        TEXT UNIQUE,
    name              TEXT NOT NULL DEFAULT '',
    status            TEXT NOT NULL DEFAULT 'QUEUED'
                      CHECK (status IN ('HELD', 'QUEUED', 'RUNNING', 'COMPLETED', 'FAILED', 'CANCELLED')),
    priority          INTEGER NOT NULL DEFAULT 5 CHECK (priority BETWEEN 1 AND 10),
    orchestration_id  TEXT REFERENCES stg_import_coordination (id),
    schedule_id       TEXT REFERENCES stg_scheduled_imports (id) ON DELETE SET NULL,
    scheduled_at      TEXT,
    available_at      TEXT NOT NULL,
    deps_pending      INTEGER NOT NULL DEFAULT 0 CHECK (deps_pending >= 0),
    attempt           INTEGER NOT NULL DEFAULT 0 CHECK (attempt >= 0),
    max_attempts      INTEGER NOT NULL DEFAULT 3 CHECK (max_attempts >= 1),
    timeout_s         INTEGER NOT NULL DEFAULT 1800 CHECK (timeout_s > 0),
    resources         TEXT NOT NULL DEFAULT '[]' CHECK (json_valid(resources)),
    source            TEXT NOT NULL CHECK (json_valid(source)),
    target            TEXT NOT NULL CHECK (json_valid(target)),
    on_error          TEXT NOT NULL CHECK (json_valid(on_error)),
    target_table      TEXT NOT NULL,
    cancel_requested  INTEGER NOT NULL DEFAULT 0 CHECK (cancel_requested IN (0, 1)),
    worker            TEXT,
    heartbeat_at      TEXT,
    progress_phase    TEXT NOT NULL DEFAULT 'queued'
                      CHECK (progress_phase IN ('queued', 'locking', 'read', 'stage', 'validate', 'promote', 'done')),
    rows_read         INTEGER NOT NULL DEFAULT 0,
    bytes_read        INTEGER NOT NULL DEFAULT 0,
    bytes_total       INTEGER NOT NULL DEFAULT 0,
    rows_inserted     INTEGER NOT NULL DEFAULT 0,
    rows_updated      INTEGER NOT NULL DEFAULT 0,
    rows_rejected     INTEGER NOT NULL DEFAULT 0,
    error             TEXT CHECK (error IS NULL OR json_valid(error)),
    attempts          TEXT NOT NULL DEFAULT '[]' CHECK (json_valid(attempts)),
    created_by        TEXT,
    created_at        TEXT NOT NULL,
    updated_at        TEXT NOT NULL,
    started_at        TEXT,
    finished_at       TEXT
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
    job_id          TEXT NOT NULL REFERENCES stg_import_queue (id) ON DELETE CASCADE,
    depends_on_id   TEXT NOT NULL REFERENCES stg_import_queue (id),
    PRIMARY KEY (job_id, depends_on_id),
    CHECK (job_id <> depends_on_id)
);
CREATE INDEX IF NOT EXISTS importq_job_deps_reverse ON importq_job_deps (depends_on_id, job_id);

-- Leased locks held by running jobs.
CREATE TABLE IF NOT EXISTS stg_import_resources (
    id              TEXT PRIMARY KEY,
    name            TEXT NOT NULL,
    mode            TEXT NOT NULL CHECK (mode IN ('exclusive', 'shared')),
    job_id          TEXT NOT NULL REFERENCES stg_import_queue (id) ON DELETE CASCADE,
    attempt         INTEGER NOT NULL,
    node            TEXT,
    worker          TEXT,
    acquired_at     TEXT NOT NULL,
    expires_at      TEXT NOT NULL,
    UNIQUE (name, job_id)
);
CREATE INDEX IF NOT EXISTS stg_import_resources_name ON stg_import_resources (name, expires_at);
CREATE INDEX IF NOT EXISTS stg_import_resources_job ON stg_import_resources (job_id);

-- Per-phase timings of every attempt.
CREATE TABLE IF NOT EXISTS stg_import_performance (
    id              INTEGER PRIMARY KEY,
    job_id          TEXT NOT NULL REFERENCES stg_import_queue (id) ON DELETE CASCADE,
    attempt         INTEGER NOT NULL,
    target_table    TEXT NOT NULL,
    phase           TEXT NOT NULL,
    started_at      TEXT NOT NULL,
    duration_ms     INTEGER NOT NULL CHECK (duration_ms >= 0),
    rows            INTEGER NOT NULL DEFAULT 0,
    bytes           INTEGER NOT NULL DEFAULT 0,
    node            TEXT
);
CREATE INDEX IF NOT EXISTS stg_import_performance_table
    ON stg_import_performance (target_table, started_at);
CREATE INDEX IF NOT EXISTS stg_import_performance_job ON stg_import_performance (job_id);

-- Alerts (kind 'alert') and health samples (kind 'health').
CREATE TABLE IF NOT EXISTS stg_import_monitoring (
    id              INTEGER PRIMARY KEY,
    kind            TEXT NOT NULL CHECK (kind IN ('alert', 'health')),
    rule            TEXT,
    severity        TEXT CHECK (severity IS NULL OR severity IN ('info', 'warning', 'critical')),
    state           TEXT CHECK (state IS NULL OR state IN ('open', 'acked', 'resolved')),
    entity          TEXT,
    entity_id       TEXT,
    message         TEXT,
    queue_depth     INTEGER,
    running         INTEGER,
    throughput_rows_s REAL,
    detail          TEXT CHECK (detail IS NULL OR json_valid(detail)),
    node            TEXT,
    created_at      TEXT NOT NULL,
    acked_at        TEXT,
    acked_by        TEXT,
    resolved_at     TEXT
);
CREATE INDEX IF NOT EXISTS stg_import_monitoring_kind
    ON stg_import_monitoring (kind, created_at);
CREATE INDEX IF NOT EXISTS stg_import_monitoring_open
    ON stg_import_monitoring (rule, entity_id) WHERE kind = 'alert' AND state <> 'resolved';

-- Append-only, hash-chained audit trail.
CREATE TABLE IF NOT EXISTS stg_import_audit (
    id              INTEGER PRIMARY KEY,
    at              TEXT NOT NULL,
    actor           TEXT NOT NULL,
    action          TEXT NOT NULL,
    entity          TEXT NOT NULL,
    entity_id       TEXT,
    before          TEXT CHECK (before IS NULL OR json_valid(before)),
    after           TEXT CHECK (after IS NULL OR json_valid(after)),
    request_id      TEXT,
    client_addr     TEXT,
    prev_hash       TEXT NOT NULL,
    hash            TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS stg_import_audit_entity ON stg_import_audit (entity, entity_id);
CREATE INDEX IF NOT EXISTS stg_import_audit_actor ON stg_import_audit (actor, id);
CREATE TRIGGER IF NOT EXISTS stg_import_audit_no_update
    BEFORE UPDATE ON stg_import_audit
    BEGIN SELECT RAISE(ABORT, 'stg_import_audit is append-only'); END;
CREATE TRIGGER IF NOT EXISTS stg_import_audit_no_delete
    BEFORE DELETE ON stg_import_audit
    BEGIN SELECT RAISE(ABORT, 'stg_import_audit is append-only'); END;

CREATE TABLE IF NOT EXISTS importq_tokens (
    id              TEXT PRIMARY KEY,
    name            TEXT NOT NULL UNIQUE,
    role            TEXT NOT NULL CHECK (role IN ('viewer', 'operator', 'admin')),
    token_hash      TEXT NOT NULL UNIQUE,
    created_by      TEXT,
    created_at      TEXT NOT NULL,
    last_used_at    TEXT,
    revoked_at      TEXT
);

CREATE TABLE IF NOT EXISTS importq_uploads (
    id              TEXT PRIMARY KEY,
    bytes           INTEGER NOT NULL CHECK (bytes >= 0),
    sha256          TEXT NOT NULL,
    path            TEXT NOT NULL,
    created_by      TEXT,
    created_at      TEXT NOT NULL,
    job_id          TEXT REFERENCES stg_import_queue (id) ON DELETE SET NULL
);

-- Rejected rows of every attempt (the CSV behind GET .../rejects).
CREATE TABLE IF NOT EXISTS importq_job_rejects (
    job_id          TEXT NOT NULL REFERENCES stg_import_queue (id) ON DELETE CASCADE,
    attempt         INTEGER NOT NULL,
    seq             INTEGER NOT NULL,
    line            INTEGER NOT NULL,
    column_name     TEXT,
    value           TEXT,
    error           TEXT NOT NULL,
    PRIMARY KEY (job_id, attempt, seq)
);
