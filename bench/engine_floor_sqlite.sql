-- The SQL floor of one one-row import job on SQLite, run by
-- build/bench_engine_floor_sqlite for bench/engine.sh: this script once
-- per job, each statement prepared once (as pgbench -M prepared runs
-- bench/engine_floor.sql), {t} the job's table, one connection with the
-- PRAGMAs importq's connections set; on importq's own migrated tables:
--   1. the claim: the best queued job RUNNING, its table's lock row, and
--      the job.started audit row chained to the head (SHA-256 of the
--      previous hash and the id: sha256_hex(), registered by the runner;
--      importq hashes every field); one IMMEDIATE transaction;
--   2. the load: the row into the job's table, the job COMPLETED with its
--      attempt history, its lock row deleted, the job.completed audit row;
--      one IMMEDIATE transaction, so the row lands iff the job completes.
-- It leaves out what a job also does (the running-count and lock-conflict
-- checks, reading the file, describing the table, the phase timings and
-- performance records, the audit rows' full images), so importq's rate
-- divided by this one is an upper bound on how close it comes to the
-- database's own cost. One connection in one process, with no threads
-- waiting for SQLite's single writer: the most SQLite can do.
-- The runner keeps the claimed job in temp.cur (SQLite has no variables);
-- the claim names its partial index, as importq's does (sqlite/internal.h).
BEGIN IMMEDIATE;
DELETE FROM temp.cur;
INSERT INTO temp.cur SELECT id, target_table FROM stg_import_queue INDEXED BY stg_import_queue_claim
  WHERE status = 'QUEUED' AND deps_pending = 0 AND available_at <= strftime('%Y-%m-%dT%H:%M:%fZ', 'now')
  ORDER BY priority, available_at, id LIMIT 1;
UPDATE stg_import_queue SET status = 'RUNNING', attempt = attempt + 1, worker = 'floor',
    heartbeat_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now'), started_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now'),
    progress_phase = 'locking', updated_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now')
  WHERE id = (SELECT job_id FROM temp.cur);
INSERT INTO stg_import_resources (id, name, mode, job_id, attempt, node, worker, acquired_at, expires_at)
  SELECT lower(hex(randomblob(16))), 'table:' || target, 'exclusive', job_id, 1, 'floor', 'floor',
         strftime('%Y-%m-%dT%H:%M:%fZ', 'now'), strftime('%Y-%m-%dT%H:%M:%fZ', 'now', '+5 minutes')
  FROM temp.cur;
INSERT INTO stg_import_audit (at, actor, action, entity, entity_id, before, after, prev_hash, hash)
  SELECT strftime('%Y-%m-%dT%H:%M:%fZ', 'now'), 'engine', 'job.started', 'job', c.job_id,
         json_object('status', 'QUEUED'), json_object('status', 'RUNNING'), h.prev,
         sha256_hex(h.prev || c.job_id)
  FROM temp.cur c, (SELECT coalesce((SELECT hash FROM stg_import_audit ORDER BY id DESC LIMIT 1), '') AS prev) h;
COMMIT;
BEGIN IMMEDIATE;
INSERT INTO {t} VALUES (1, 'one');
UPDATE stg_import_queue SET status = 'COMPLETED', finished_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now'),
    worker = NULL, progress_phase = 'done', rows_read = 1, rows_inserted = 1,
    updated_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now'),
    attempts = json_insert(attempts, '$[#]', json_object('attempt', attempt, 'status', 'COMPLETED'))
  WHERE id = (SELECT job_id FROM temp.cur);
DELETE FROM stg_import_resources WHERE job_id = (SELECT job_id FROM temp.cur);
INSERT INTO stg_import_audit (at, actor, action, entity, entity_id, before, after, prev_hash, hash)
  SELECT strftime('%Y-%m-%dT%H:%M:%fZ', 'now'), 'engine', 'job.completed', 'job', c.job_id,
         json_object('status', 'RUNNING'), json_object('status', 'COMPLETED'), h.prev,
         sha256_hex(h.prev || c.job_id)
  FROM temp.cur c, (SELECT coalesce((SELECT hash FROM stg_import_audit ORDER BY id DESC LIMIT 1), '') AS prev) h;
COMMIT;
