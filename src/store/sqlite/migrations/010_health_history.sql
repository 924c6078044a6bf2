-- Health history (issue 16): rows of stg_import_monitoring with kind
-- 'health'. A sample covers period_s seconds ending at created_at (the
-- slot's boundary): queue_depth (QUEUED), held, running and locks_held at
-- that moment, jobs_finished, jobs_failed and rows_imported during the
-- period, and the oldest QUEUED job's age. 5-minute rollups of older
-- samples are rows of the same shape with period_s 300.
ALTER TABLE stg_import_monitoring ADD COLUMN period_s INTEGER;
ALTER TABLE stg_import_monitoring ADD COLUMN held INTEGER;
ALTER TABLE stg_import_monitoring ADD COLUMN locks_held INTEGER;
ALTER TABLE stg_import_monitoring ADD COLUMN jobs_finished INTEGER;
ALTER TABLE stg_import_monitoring ADD COLUMN jobs_failed INTEGER;
ALTER TABLE stg_import_monitoring ADD COLUMN rows_imported INTEGER;
ALTER TABLE stg_import_monitoring ADD COLUMN oldest_queued_age_s INTEGER;
-- One row per slot and resolution, cluster-wide: every node tries to
-- write the slot's sample and the first wins (ON CONFLICT DO NOTHING).
CREATE UNIQUE INDEX IF NOT EXISTS stg_import_monitoring_health_slot
    ON stg_import_monitoring (period_s, created_at) WHERE kind = 'health';
