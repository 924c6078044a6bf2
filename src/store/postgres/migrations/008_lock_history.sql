-- Performance records and resource analytics (issue 16; docs/architecture.md,
-- "Performance records").
--
-- ready_at: when a job's current attempt became claimable as far as its
-- row knows, set by the claim: the later of available_at (its scheduled
-- time, a retry's backoff end) and the row's last change while it waited
-- (its creation, an execute, an update, its last dependency's completion).
-- The finish records the attempt's queue time (ready_at -> claim) from it.
ALTER TABLE stg_import_queue ADD COLUMN IF NOT EXISTS ready_at timestamptz;

-- How the attempt whose row this is ended: COMPLETED, FAILED or CANCELLED
-- (NULL for rows written before this migration).
ALTER TABLE stg_import_performance ADD COLUMN IF NOT EXISTS outcome text;

-- One row per lock held and released (a finish, a lapsed lease, an
-- admin's force release), written in the transaction that releases it.
-- waited_ms: how long the holder waited for this resource before it got
-- it (from its ready_at until the latest conflicting hold of the resource
-- by another job ended, at most until it took the lock); blocked_by: that
-- other job. Pruned by the maintenance loop after lock-history-retention.
-- One index besides the key, (name, released_at): the wait's probe, and
-- windows and pruning through a loose scan of its names (an index on
-- released_at alone would be one more b-tree that every finish writes).
CREATE TABLE IF NOT EXISTS importq_lock_history (
    id              bigserial PRIMARY KEY,
    name            text NOT NULL,
    mode            text NOT NULL CHECK (mode IN ('exclusive', 'shared')),
    job_id          uuid NOT NULL,
    attempt         integer NOT NULL,
    acquired_at     timestamptz NOT NULL,
    released_at     timestamptz NOT NULL,
    waited_ms       bigint NOT NULL DEFAULT 0 CHECK (waited_ms >= 0),
    blocked_by      uuid,
    how             text NOT NULL CHECK (how IN ('finished', 'expired', 'released'))
);
CREATE INDEX IF NOT EXISTS importq_lock_history_name
    ON importq_lock_history (name, released_at);
