-- The fire history of scheduled imports (docs/schedules.md, "Fire
-- history"): one row per fire time of a schedule, with the job it created
-- (none when the fire was skipped) and what became of it. UNIQUE
-- (schedule_id, fire_at) is what makes a double fire impossible: a second
-- node, or a second process on this file, that fires the same time finds
-- the row and creates nothing. Kept to the newest 1000 rows per schedule
-- (pruned in each fire's transaction, SCHEDULE_FIRES_KEPT).
CREATE TABLE IF NOT EXISTS importq_schedule_fires (
    id           INTEGER PRIMARY KEY,
    schedule_id  TEXT NOT NULL REFERENCES stg_scheduled_imports (id) ON DELETE CASCADE,
    fire_at      TEXT NOT NULL,
    job_id       TEXT,
    outcome      TEXT NOT NULL CHECK (outcome IN ('created', 'completed', 'failed', 'cancelled',
                                                  'skipped_overlap', 'skipped_misfire',
                                                  'skipped_queue_full', 'skipped_invalid')),
    detail       TEXT,
    created_at   TEXT NOT NULL,
    UNIQUE (schedule_id, fire_at)
);
CREATE INDEX IF NOT EXISTS importq_schedule_fires_job
    ON importq_schedule_fires (job_id) WHERE job_id IS NOT NULL;

-- A scheduled job that reaches a final status (COMPLETED, FAILED for good,
-- CANCELLED), by whatever path (a worker's finish, a load's
-- finish-on-commit, a cancel, a dependency cascade, a rescue), updates its
-- fire row and its schedule's last_status and counts in the same
-- transaction. A job without a schedule pays the WHEN test only.
CREATE TRIGGER IF NOT EXISTS importq_schedule_job_ended
AFTER UPDATE OF status ON stg_import_queue
FOR EACH ROW WHEN NEW.schedule_id IS NOT NULL
    AND NEW.status IN ('COMPLETED', 'FAILED', 'CANCELLED') AND OLD.status <> NEW.status
BEGIN
    UPDATE importq_schedule_fires SET outcome = lower(NEW.status) WHERE job_id = NEW.id;
    UPDATE stg_scheduled_imports
       SET last_status = CASE WHEN last_job_id = NEW.id THEN lower(NEW.status) ELSE last_status END,
           success_count = success_count + (NEW.status = 'COMPLETED'),
           failure_count = failure_count + (NEW.status = 'FAILED')
     WHERE id = NEW.schedule_id;
END;

-- The same for a scheduled job created final (FAILED at once: a
-- dependency of its template had already failed).
CREATE TRIGGER IF NOT EXISTS importq_schedule_job_created_ended
AFTER INSERT ON stg_import_queue
FOR EACH ROW WHEN NEW.schedule_id IS NOT NULL
    AND NEW.status IN ('COMPLETED', 'FAILED', 'CANCELLED')
BEGIN
    UPDATE stg_scheduled_imports
       SET success_count = success_count + (NEW.status = 'COMPLETED'),
           failure_count = failure_count + (NEW.status = 'FAILED')
     WHERE id = NEW.schedule_id;
END;
