-- The SQL floor of one one-row import job on PostgreSQL, run by pgbench
-- (bench/engine.sh): each run of this script is one job, through the
-- least SQL that a job with importq's guarantees must execute, on
-- importq's own tables (migrated, with their indexes and constraints):
--   1. the claim: a cluster-wide advisory lock (the exact global limit),
--      the best queued job RUNNING (FOR UPDATE SKIP LOCKED), its table's
--      lock row, and, with audit=1, the job.started audit row chained to
--      the head under the audit lock; one transaction;
--   2. the load: the row into the job's table, the job COMPLETED with its
--      attempt history, its lock row deleted, and (audit=1) the
--      job.completed audit row; one transaction, so the row lands iff the
--      job completes.
-- It leaves out what a job also does (the running-count and lock-conflict
-- checks of the claim, reading the file, describing the table, the phase
-- timings, NOTIFY, the audit rows' before/after images and their
-- SHA-256 over every field), so importq's rate divided by this one is an
-- upper bound on how close it comes to the database's own cost.
-- With checks=1 the claim also makes the two checks importq's claim makes
-- (postgres/claim.c), written as plainly as SQL allows: fewer than 8 jobs
-- RUNNING (the global limit), and none of the job's resources held by a
-- live lock of another job in a conflicting mode; the queue must then hold
-- more jobs than the run takes (bench/engine.sh queues 64 more), so that a
-- job whose table is free is always there to claim.
-- Variables: audit (0 or 1), checks (0 or 1) (pgbench -D). The table name
-- cannot be a bind parameter, so the row goes through floor_insert
-- (EXECUTE).
BEGIN;
SELECT pg_advisory_xact_lock(9101);
\if :checks
UPDATE stg_import_queue q SET status = 'RUNNING', attempt = q.attempt + 1, worker = 'floor',
    heartbeat_at = now(), started_at = now(), progress_phase = 'locking', updated_at = now()
  WHERE q.id = (SELECT c.id FROM stg_import_queue c WHERE c.status = 'QUEUED' AND c.deps_pending = 0
                  AND c.available_at <= now()
                  AND (SELECT count(*) FROM stg_import_queue r WHERE r.status = 'RUNNING') < 8
                  AND NOT EXISTS (SELECT 1 FROM jsonb_array_elements(c.resources) AS want(r)
                                  CROSS JOIN LATERAL (SELECT 1 FROM stg_import_resources held
                                      WHERE held.name = want.r->>'name' AND held.expires_at > now()
                                        AND held.job_id <> c.id
                                        AND (want.r->>'mode' = 'exclusive' OR held.mode = 'exclusive')
                                      LIMIT 1) busy)
                ORDER BY c.priority, c.available_at, c.id LIMIT 1 FOR UPDATE SKIP LOCKED)
  RETURNING q.id AS job_id, q.target_table AS target \gset
\else
UPDATE stg_import_queue q SET status = 'RUNNING', attempt = q.attempt + 1, worker = 'floor',
    heartbeat_at = now(), started_at = now(), progress_phase = 'locking', updated_at = now()
  WHERE q.id = (SELECT id FROM stg_import_queue WHERE status = 'QUEUED' AND deps_pending = 0
                  AND available_at <= now()
                ORDER BY priority, available_at, id LIMIT 1 FOR UPDATE SKIP LOCKED)
  RETURNING q.id AS job_id, q.target_table AS target \gset
\endif
INSERT INTO stg_import_resources (id, name, mode, job_id, attempt, node, worker, acquired_at, expires_at)
  VALUES (gen_random_uuid(), 'table:' || :target, 'exclusive', :job_id, 1, 'floor', 'floor', now(),
          now() + interval '5 minutes');
\if :audit
SELECT pg_advisory_xact_lock(9102);
INSERT INTO stg_import_audit (id, at, actor, action, entity, entity_id, before, after, prev_hash, hash)
  SELECT h.id, now(), 'engine', 'job.started', 'job', :job_id, json_build_object('status', 'QUEUED'),
         json_build_object('status', 'RUNNING'), h.prev, encode(sha256(convert_to(h.prev || h.id, 'UTF8')), 'hex')
  FROM (SELECT coalesce(last.id, 0) + 1 AS id, coalesce(last.hash, '') AS prev
        FROM (SELECT 1) one LEFT JOIN LATERAL (SELECT a.id, a.hash FROM stg_import_audit a
                                               ORDER BY a.id DESC LIMIT 1) last ON true) h;
\endif
COMMIT;
BEGIN;
SELECT floor_insert(:target);
UPDATE stg_import_queue q SET status = 'COMPLETED', finished_at = now(), worker = NULL,
    progress_phase = 'done', rows_read = 1, rows_inserted = 1, updated_at = now(),
    attempts = q.attempts || jsonb_build_array(jsonb_build_object('attempt', q.attempt, 'status', 'COMPLETED'))
  WHERE q.id = :job_id;
DELETE FROM stg_import_resources WHERE job_id = :job_id;
\if :audit
SELECT pg_advisory_xact_lock(9102);
INSERT INTO stg_import_audit (id, at, actor, action, entity, entity_id, before, after, prev_hash, hash)
  SELECT h.id, now(), 'engine', 'job.completed', 'job', :job_id, json_build_object('status', 'RUNNING'),
         json_build_object('status', 'COMPLETED'), h.prev, encode(sha256(convert_to(h.prev || h.id, 'UTF8')), 'hex')
  FROM (SELECT coalesce(last.id, 0) + 1 AS id, coalesce(last.hash, '') AS prev
        FROM (SELECT 1) one LEFT JOIN LATERAL (SELECT a.id, a.hash FROM stg_import_audit a
                                               ORDER BY a.id DESC LIMIT 1) last ON true) h;
\endif
COMMIT;
