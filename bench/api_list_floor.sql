-- The statement of GET /api/v2/import-queue?status=QUEUED&limit=50 on
-- PostgreSQL (the lean page: pg_job_list_summary in
-- src/store/postgres/list.c), with :status for $1: the floor bench/api.sh
-- runs under pgbench. bench/api.sh checks it against the text the server ran.
SELECT q.id, q.name, q.status, q.priority, q.target_table, q.target->>'mode', q.attempt, q.max_attempts, q.progress_phase, q.rows_read, q.bytes_read, q.bytes_total, to_char(q.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'), to_char(q.started_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'), to_char(q.finished_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'), q.error->>'code', q.error->>'message' FROM stg_import_queue q WHERE q.status = :status ORDER BY q.id DESC LIMIT 51;
