-- GET /api/v2/import-queue?status=X lists newest first by id: with an index
-- on (status, id) a page is an index range read backwards, instead of
-- every job of that status sorted (25 ms at 25,000 QUEUED jobs).
CREATE INDEX IF NOT EXISTS stg_import_queue_status_id ON stg_import_queue (status, id);
