-- The status counts' indexes become partial, so a job's start, which
-- changes its status, adds an entry to neither: the oldest QUEUED job is
-- found among QUEUED jobs only, the finished-in-24-h counts among jobs
-- with a finished_at. With (status, created_at) and (status, finished_at)
-- every status change wrote both (one-row jobs: PostgreSQL +4%, SQLite
-- +6% jobs/s, BENCHMARKS.md).
DROP INDEX IF EXISTS stg_import_queue_status_created;
DROP INDEX IF EXISTS stg_import_queue_status_finished;
CREATE INDEX IF NOT EXISTS stg_import_queue_queued_created
    ON stg_import_queue (created_at) WHERE status = 'QUEUED';
CREATE INDEX IF NOT EXISTS stg_import_queue_finished
    ON stg_import_queue (status, finished_at) WHERE finished_at IS NOT NULL;
