-- The fire history of scheduled imports (docs/schedules.md, "Fire
-- history"): one row per fire time of a schedule, with the job it created
-- (none when the fire was skipped) and what became of it. UNIQUE
-- (schedule_id, fire_at) is what makes a double fire impossible: a second
-- node that fires the same time finds the row (its INSERT ... ON CONFLICT
-- DO NOTHING inserts nothing) and creates nothing. Kept to the newest 1000
-- rows per schedule (pruned in each fire's transaction, SCHEDULE_FIRES_KEPT).
CREATE TABLE IF NOT EXISTS importq_schedule_fires (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    schedule_id  uuid NOT NULL REFERENCES stg_scheduled_imports (id) ON DELETE CASCADE,
    fire_at      timestamptz NOT NULL,
    job_id       uuid,
    outcome      text NOT NULL CHECK (outcome IN ('created', 'completed', 'failed', 'cancelled',
                                                  'skipped_overlap', 'skipped_misfire',
                                                  'skipped_queue_full', 'skipped_invalid')),
    detail       text,
    created_at   timestamptz NOT NULL,
    UNIQUE (schedule_id, fire_at)
);
CREATE INDEX IF NOT EXISTS importq_schedule_fires_job
    ON importq_schedule_fires (job_id) WHERE job_id IS NOT NULL;

-- A scheduled job that reaches a final status (COMPLETED, FAILED for good,
-- CANCELLED), by whatever path (a worker's finish, a load's
-- finish-on-commit, a cancel, a dependency cascade, a rescue), updates its
-- fire row and its schedule's last_status and counts in the same
-- transaction. A job without a schedule pays the WHEN test only (no
-- function call). Lock order: the job row (held by the finish), then the
-- fire row, then the schedule row; a fire takes the previous job's row
-- before the schedule's too (postgres/schedule_fires.c).
CREATE OR REPLACE FUNCTION importq_schedule_job_ended() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE' THEN
        UPDATE importq_schedule_fires SET outcome = lower(NEW.status) WHERE job_id = NEW.id;
    END IF;
    UPDATE stg_scheduled_imports
       SET last_status = CASE WHEN last_job_id = NEW.id THEN lower(NEW.status) ELSE last_status END,
           success_count = success_count + (NEW.status = 'COMPLETED')::int,
           failure_count = failure_count + (NEW.status = 'FAILED')::int
     WHERE id = NEW.schedule_id;
    RETURN NULL;
END
$$;
DROP TRIGGER IF EXISTS importq_schedule_job_ended ON stg_import_queue;
CREATE TRIGGER importq_schedule_job_ended
AFTER UPDATE OF status ON stg_import_queue
FOR EACH ROW WHEN (NEW.schedule_id IS NOT NULL
    AND NEW.status IN ('COMPLETED', 'FAILED', 'CANCELLED') AND OLD.status <> NEW.status)
EXECUTE FUNCTION importq_schedule_job_ended();
-- The same for a scheduled job created final (FAILED at once: a
-- dependency of its template had already failed).
DROP TRIGGER IF EXISTS importq_schedule_job_created_ended ON stg_import_queue;
CREATE TRIGGER importq_schedule_job_created_ended
AFTER INSERT ON stg_import_queue
FOR EACH ROW WHEN (NEW.schedule_id IS NOT NULL
    AND NEW.status IN ('COMPLETED', 'FAILED', 'CANCELLED'))
EXECUTE FUNCTION importq_schedule_job_ended();
