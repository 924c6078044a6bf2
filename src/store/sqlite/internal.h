/*
 * sqlite/internal.h - what the files of the SQLite backend share and
 * nothing else includes: the connection struct, the cached statements, the
 * binding and stepping helpers, transactions, and the functions one file
 * of the backend calls in another. The backend is split by concept:
 *
 *   sqlite/connection.c               connection, statement cache, transactions,
 *                                migrations, the ops table
 *   sqlite/jobs.c          reading jobs; create, get, update, cancel
 *   sqlite/deps.c          the dependency graph and the failure cascade
 *   sqlite/audit.c         the audit hash chain
 *   sqlite/list.c          job lists, their query plan, queue statistics
 *   sqlite/load/describe.c      a table's columns; a load's targets
 *   sqlite/load/load.c          a load's life: begin, commit, abort
 *   sqlite/load/rows.c    rows in: the staging thread beside the pipeline
 *   sqlite/load/insert.c     rows in: multi-row INSERTs, binding
 *   sqlite/load/check.c    set-wise checks on staged rows
 *   sqlite/load/promote.c  staged rows into their tables
 *   sqlite/claim.c         claiming a job with its locks; heartbeats
 *   sqlite/finish.c        the end of an attempt; rescuing lost workers
 *   sqlite/execute.c       execute: held, queued or finished -> runnable now
 *   sqlite/locks.c         lock expiry, listing and admin release
 *   sqlite/rejects.c       rejected rows kept per attempt
 *   sqlite/nodes.c         the node registry; wake-ups (none on SQLite)
 *   sqlite/tokens.c        API tokens: create, list, revoke, last use
 *   sqlite/audit_read.c    audit pages and verifying the hash chain
 *   sqlite/uploads.c       uploaded files and their expiry
 *   sqlite/orchestrations.c  orchestrations: create, get, list, and
 *                                keeping their aggregate status current
 *   sqlite/phases.c        a job's phase timings
 *   sqlite/schedules.c     scheduled imports: the rows under common/schedule.c's rules
 *   sqlite/schedule_fires.c  firing them: the fire transaction, due schedules, history
 *   sqlite/gate.c          the write gate: this process's writers queue
 *
 * Locking: a struct sqlite_store is one connection used by one thread at a
 * time (SQLITE_OPEN_NOMUTEX); only sqlite_interrupt may be called from
 * another thread. While a load stages rows, that one thread is the load's
 * staging thread (sqlite/load/rows.c), until load_check,
 * load_promote or load_abort joins it.
 */
#ifndef IMPORTQ_STORE_STORE_SQLITE_INTERNAL_H
#define IMPORTQ_STORE_STORE_SQLITE_INTERNAL_H

#include "store/common/internal.h"
#include "store/common/job_rules.h"
#include "store/common/load_preview.h"

#include "core/clock.h"
#include "core/timeutil.h"

#include <locale.h>
#include <sqlite3.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

/*
 * The select list of a job row, built at compile time from JOB_COLUMNS:
 * q.<column> for stored columns, a sorted JSON array of dependency ids for
 * the computed one. The computed column must be last (it carries no comma).
 */
#define SQL_COLUMN_COLKIND_TEXT(column) "q." column ", "
#define SQL_COLUMN_COLKIND_INT(column) "q." column ", "
#define SQL_COLUMN_COLKIND_BOOL(column) "q." column ", "
#define SQL_COLUMN_COLKIND_TIME(column) "q." column ", "
#define SQL_COLUMN_COLKIND_JSON(column) "q." column ", "
#define SQL_COLUMN_COLKIND_DEPS(column)                                                            \
    "(SELECT json_group_array(depends_on_id) FROM (SELECT depends_on_id"                           \
    " FROM importq_job_deps d WHERE d.job_id = q.id ORDER BY depends_on_id)) "                     \
    "AS " column
#define SQL_COLUMN(name, column, kind) SQL_COLUMN_##kind(column)
/*
 * NEXT_UPDATED_AT(param) - the updated_at a change of a row writes: the
 * time in param, or 1 ms past the row's last change when param is not later
 * (two changes in one millisecond, or a clock that stepped back), so
 * updated_at strictly increases on every change and a reader or an audit
 * image always sees that the row changed. The times are fixed-width RFC
 * 3339 text, so max() compares them as times.
 */
#define NEXT_UPDATED_AT(param)                                                                     \
    "max(" param ", strftime('%Y-%m-%dT%H:%M:%fZ', updated_at, '+0.001 seconds'))"
#define JOB_SELECT "SELECT " JOB_COLUMNS(SQL_COLUMN) " FROM stg_import_queue q"

_Static_assert(JOBCOL_DEPENDS_ON == JOBCOL_COUNT - 1,
               "the computed depends_on column must be the last of JOB_COLUMNS");

/*
 * The statements of running jobs (sqlite/claim.c, finish.c,
 * execute.c, locks.c, rejects.c, nodes.c). The claim candidates name
 * their index: the planner would otherwise take a status index and sort,
 * and a claim would cost O(queued) instead of O(log n). The aged variant
 * orders by an expression, so it reads every runnable job (only those:
 * the same partial index). "+status" keeps the planner on the primary key
 * where a status index looks cheaper but means scanning the queue. No
 * RETURNING: SQLite runs it as a trigger, which costs every such UPDATE a
 * statement journal (measured: it tripled the claim's cost); a SELECT by
 * primary key afterwards is cheaper.
 */
#define CLAIM_WHERE " WHERE status = 'QUEUED' AND deps_pending = 0 AND available_at <= ?1"
/*
 * LOCK_BLOCKER(cols) - a subquery on lock l (stg_import_resources) of job
 * q (stg_import_queue): cols of the latest hold of l's resource by
 * another job in a conflicting mode (either side exclusive) that ended
 * after q's ready_at and no later than l was taken: one probe of the
 * index (name, released_at). WAITED_FOR(released): how long l's job
 * waited for it, in ms, given that hold's released_at (0 when none held
 * it up). "Performance records" in docs/architecture.md.
 */
#define LOCK_BLOCKER(cols)                                                                         \
    "(SELECT " cols " FROM importq_lock_history h WHERE h.name = l.name"                           \
    " AND h.released_at > q.ready_at AND h.released_at <= l.acquired_at AND h.job_id <> l.job_id" \
    " AND (h.mode = 'exclusive' OR l.mode = 'exclusive') ORDER BY h.released_at DESC LIMIT 1)"
#define WAITED_FOR(released)                                                                       \
    "coalesce(max(0, CAST(round((julianday(min(" released ", l.acquired_at))"                     \
    " - julianday(q.ready_at)) * 86400000.0) AS INTEGER)), 0)"
/*
 * LOCK_HISTORY_INSERT - copy the locks of stg_import_resources l matching
 * where into importq_lock_history as released at released (an expression
 * over l's columns), before they are deleted, with how long each holder
 * waited for it and the job that caused it (blocked_by): one probe each.
 */
#define LOCK_HISTORY_INSERT(released, how, where)                                                  \
    "INSERT INTO importq_lock_history (name, mode, job_id, attempt, acquired_at, released_at,"     \
    " waited_ms, blocked_by, how) SELECT name, mode, job_id, attempt, acquired_at, " released ","  \
    " waited, CASE WHEN waited > 0 THEN blocker END, '" how "' FROM (SELECT l.name, l.mode,"        \
    " l.job_id, l.attempt, l.acquired_at, l.expires_at, w.job_id AS blocker,"                     \
    " " WAITED_FOR("w.released_at") " AS waited FROM stg_import_resources l"                      \
    " LEFT JOIN stg_import_queue q ON q.id = l.job_id"                                             \
    " LEFT JOIN importq_lock_history w ON w.id = " LOCK_BLOCKER("h.id") " " where ")"
#define QUEUED_MS                                                                                  \
    "max(0, CAST(round((julianday(q.started_at) - julianday(coalesce(q.ready_at, q.started_at)))" \
    " * 86400000.0) AS INTEGER))"
#define RUNNING_STATEMENTS(X)                                                                      \
    X(RUNNING_COUNT, "SELECT count(*) FROM stg_import_queue WHERE status = 'RUNNING'")             \
    X(CLAIM_CANDIDATES, "SELECT id, resources FROM stg_import_queue"                               \
                        " INDEXED BY stg_import_queue_claim" CLAIM_WHERE                           \
                        " ORDER BY priority, available_at, id LIMIT ?2")                           \
    X(CLAIM_CANDIDATES_AGED,                                                                       \
      "SELECT id, resources FROM stg_import_queue"                                                 \
      " INDEXED BY stg_import_queue_claim" CLAIM_WHERE                                             \
      " ORDER BY max(1, priority - CAST((julianday(?1) - julianday(available_at))"                 \
      " * 86400000.0 / ?3 AS INTEGER)), available_at, id LIMIT ?2")                                \
    X(LOCK_CONFLICT, "SELECT 1 FROM stg_import_resources WHERE name = ?1 AND expires_at > ?2"      \
                     " AND job_id <> ?3 AND (mode = 'exclusive' OR ?4 = 'exclusive') LIMIT 1")     \
    X(LOCK_INSERT, "INSERT INTO stg_import_resources (id, name, mode, job_id, attempt,"            \
                   " node, worker, acquired_at, expires_at)"                                       \
                   " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)"                                  \
                   " ON CONFLICT (name, job_id) DO UPDATE SET id = excluded.id,"                   \
                   " mode = excluded.mode, attempt = excluded.attempt, node = excluded.node,"      \
                   " worker = excluded.worker, acquired_at = excluded.acquired_at,"                \
                   " expires_at = excluded.expires_at")                                            \
    X(JOB_MARK_RUNNING,                                                                            \
      "UPDATE stg_import_queue SET status = 'RUNNING', attempt = attempt + 1, worker = ?2,"        \
      " heartbeat_at = ?3, started_at = ?3, finished_at = NULL,"                                   \
      " ready_at = max(available_at, updated_at),"                                                 \
      " updated_at = " NEXT_UPDATED_AT("?3") ", cancel_requested = 0,"                             \
      " progress_phase = 'locking', error = NULL,"                                                 \
      " rows_read = 0, bytes_read = 0, bytes_total = 0, rows_inserted = 0, rows_updated = 0,"      \
      " rows_rejected = 0 WHERE id = ?1 AND status = 'QUEUED'")                                    \
    X(JOB_HEARTBEAT,                                                                               \
      "UPDATE stg_import_queue SET heartbeat_at = ?4, progress_phase = coalesce(?5,"               \
      " progress_phase), rows_read = coalesce(?6, rows_read), bytes_read = coalesce(?7,"           \
      " bytes_read), bytes_total = coalesce(?8, bytes_total)"                                      \
      " WHERE id = ?1 AND status = 'RUNNING' AND worker = ?2 AND attempt = ?3"                     \
      " AND heartbeat_at > ?9")                                                                    \
    X(JOB_LEASE_STATE, "SELECT cancel_requested, (SELECT count(DISTINCT"                           \
                       " json_extract(value, '$.name')) FROM json_each(resources))"                \
                       " FROM stg_import_queue WHERE id = ?1")                                     \
    X(LOCKS_RENEW, "UPDATE stg_import_resources SET expires_at = ?4"                               \
                   " WHERE job_id = ?1 AND attempt = ?2 AND expires_at > ?3")                      \
    X(LOCKS_HISTORY_EXPIRED,                                                                       \
      LOCK_HISTORY_INSERT("expires_at", "expired", "WHERE l.expires_at <= ?1"))                    \
    X(LOCKS_HISTORY_JOB,                                                                           \
      LOCK_HISTORY_INSERT("min(?2, expires_at)", "finished", "WHERE l.job_id = ?1")              \
      " RETURNING waited_ms")                                                                      \
    X(LOCK_HISTORY_ONE, LOCK_HISTORY_INSERT("?2", "released", "WHERE l.id = ?1"))                \
    X(LOCKS_DELETE_EXPIRED, "DELETE FROM stg_import_resources WHERE expires_at <= ?1")             \
    X(LOCKS_DELETE_JOB, "DELETE FROM stg_import_resources WHERE job_id = ?1")                      \
    X(LOCKS_LIVE, "SELECT id, name, mode, job_id, attempt, node, worker, acquired_at, expires_at"  \
                  " FROM stg_import_resources WHERE expires_at > ?1"                               \
                  " ORDER BY name, acquired_at, id")                                               \
    X(LOCK_BY_ID, "SELECT id, name, mode, job_id, attempt, node, worker, acquired_at, expires_at"  \
                  " FROM stg_import_resources WHERE id = ?1")                                      \
    X(LOCK_DELETE, "DELETE FROM stg_import_resources WHERE id = ?1")                               \
    X(JOB_FINISH_RUNNING,                                                                          \
      "UPDATE stg_import_queue SET status = ?2, available_at = coalesce(?3, available_at),"        \
      " worker = NULL, error = ?4, attempts = ?5, progress_phase = ?6, rows_read = ?7,"            \
      " rows_inserted = ?8, rows_updated = ?9, rows_rejected = ?10, finished_at = ?11,"            \
      " updated_at = " NEXT_UPDATED_AT("?12") " WHERE id = ?1 AND status = 'RUNNING'")             \
    X(DEPENDANTS_RELEASE,                                                                          \
      "UPDATE stg_import_queue SET deps_pending = deps_pending - 1,"                               \
      " updated_at = " NEXT_UPDATED_AT("?2")                                                       \
      " WHERE id IN (SELECT job_id FROM importq_job_deps WHERE depends_on_id = ?1)"                \
      " AND +status IN ('HELD', 'QUEUED') AND deps_pending > 0")                                   \
    X(PERF_INSERT, "INSERT INTO stg_import_performance (job_id, attempt, target_table, phase,"     \
                   " started_at, duration_ms, rows, bytes, node, outcome)"                         \
                   " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)")                            \
    X(PERF_WAITS, "INSERT INTO stg_import_performance (job_id, attempt, target_table, phase,"      \
                  " started_at, duration_ms, rows, bytes, node, outcome)"                          \
                  " SELECT id, attempt, target_table, phase, at, ms, 0, 0, ?2, ?3 FROM ("          \
                  "SELECT q.id, q.attempt, q.target_table, 'queued' AS phase,"                     \
                  " coalesce(q.ready_at, q.started_at) AS at, " QUEUED_MS " AS ms"                 \
                  " FROM stg_import_queue q WHERE q.id = ?1 AND q.started_at IS NOT NULL"          \
                  " UNION ALL SELECT q.id, q.attempt, q.target_table, 'lock_wait',"                \
                  " coalesce(q.ready_at, q.started_at), ?4"                                        \
                  " FROM stg_import_queue q WHERE q.id = ?1 AND q.started_at IS NOT NULL"          \
                  " UNION ALL SELECT q.id, q.attempt, q.target_table, 'dependency_wait',"          \
                  " q.available_at, coalesce((SELECT max(0, CAST(round((julianday(min("            \
                  "max(d.finished_at), q.started_at)) - julianday(q.available_at)) * 86400000.0)"  \
                  " AS INTEGER)) FROM importq_job_deps e JOIN stg_import_queue d"                  \
                  " ON d.id = e.depends_on_id WHERE e.job_id = q.id), 0)"                          \
                  " FROM stg_import_queue q WHERE q.id = ?1 AND q.started_at IS NOT NULL"          \
                  ") WHERE phase = 'queued' OR ms > 0")                                           \
    X(JOBS_LOST, "SELECT id, worker, attempt, max_attempts FROM stg_import_queue"                  \
                 " INDEXED BY stg_import_queue_running"                                            \
                 " WHERE status = 'RUNNING' AND heartbeat_at < ?1 ORDER BY heartbeat_at")          \
    X(JOB_RELEASE_NOW, "UPDATE stg_import_queue SET status = 'QUEUED',"                            \
                       " available_at = min(available_at, ?2),"                                    \
                       " updated_at = " NEXT_UPDATED_AT("?2")                                      \
                       " WHERE id = ?1 AND status IN ('HELD', 'QUEUED')")                          \
    X(JOB_RERUN, "UPDATE stg_import_queue SET status = 'QUEUED', available_at = ?2,"               \
                 " updated_at = " NEXT_UPDATED_AT("?2") ", deps_pending = ?3, error = NULL,"       \
                 " finished_at = NULL,"                                                            \
                 " cancel_requested = 0, worker = NULL, progress_phase = 'queued',"                \
                 " max_attempts = max(max_attempts, attempt + 1)"                                  \
                 " WHERE id = ?1 AND status IN ('FAILED', 'CANCELLED')")                           \
    X(DEPENDENCY_STATUSES, "SELECT d.depends_on_id, q.status FROM importq_job_deps d"              \
                           " JOIN stg_import_queue q ON q.id = d.depends_on_id"                    \
                           " WHERE d.job_id = ?1 ORDER BY d.depends_on_id")                        \
    X(REJECT_LAST_SEQ, "SELECT coalesce(max(seq), 0) FROM importq_job_rejects"                     \
                       " WHERE job_id = ?1 AND attempt = ?2")                                      \
    X(REJECT_INSERT, "INSERT INTO importq_job_rejects (job_id, attempt, seq, line, column_name,"   \
                     " value, error, record_index, json_pointer)"                                  \
                     " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)")                               \
    X(REJECTS_LATEST, "SELECT line, column_name, value, error, record_index, json_pointer"         \
                      " FROM importq_job_rejects"                                                  \
                      " WHERE job_id = ?1 AND attempt = (SELECT max(a) FROM"                       \
                      " (SELECT attempt AS a FROM stg_import_queue WHERE id = ?1 UNION ALL"        \
                      " SELECT max(attempt) FROM importq_job_rejects WHERE job_id = ?1))"          \
                      " ORDER BY line, seq")                                                       \
    X(NODE_UPSERT, "INSERT INTO stg_import_coordination (id, kind, name, status, host, pid,"       \
                   " version, detail, heartbeat_at, created_at, updated_at)"                       \
                   " VALUES (?1, 'node', ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?8, ?8)"                      \
                   " ON CONFLICT (id) DO UPDATE SET name = excluded.name,"                         \
                   " status = excluded.status, host = excluded.host, pid = excluded.pid,"          \
                   " version = excluded.version, detail = excluded.detail,"                        \
                   " heartbeat_at = excluded.heartbeat_at, updated_at = excluded.updated_at"       \
                   " WHERE stg_import_coordination.kind = 'node'")                                 \
    X(NODE_HEARTBEAT, "UPDATE stg_import_coordination SET heartbeat_at = ?2, updated_at = ?2,"     \
                      " status = coalesce(?3, status) WHERE id = ?1 AND kind = 'node'")            \
    X(NODES_MARK_DEAD, "UPDATE stg_import_coordination SET status = 'dead', updated_at = ?2"       \
                       " WHERE kind = 'node' AND status = 'alive' AND heartbeat_at < ?1")          \
    X(NODES_LIST, "SELECT id, host, pid, version, status, json_extract(detail, '$.started_at'),"   \
                  " heartbeat_at, created_at FROM stg_import_coordination WHERE kind = 'node'"     \
                  " ORDER BY created_at, id")

/*
 * The statements of the API's own records (sqlite/tokens.c,
 * audit_list.c, uploads.c). Token names sort bytewise (BINARY), as on
 * PostgreSQL with COLLATE "C".
 */
#define TOKEN_COLUMNS "id, name, role, token_hash, created_by, created_at, last_used_at, revoked_at"
#define UPLOAD_COLUMNS "u.id, u.bytes, u.sha256, u.path, u.created_by, u.created_at, u.job_id"
#define ADMIN_STATEMENTS(X)                                                                        \
    X(TOKEN_INSERT, "INSERT INTO importq_tokens (id, name, role, token_hash, created_by,"          \
                    " created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT (name) DO NOTHING") \
    X(TOKENS_LIST, "SELECT " TOKEN_COLUMNS " FROM importq_tokens"                                  \
                   " WHERE ?1 OR revoked_at IS NULL ORDER BY name")                                \
    X(TOKEN_BY_NAME, "SELECT role, revoked_at FROM importq_tokens WHERE name = ?1")                \
    X(TOKEN_REVOKE, "UPDATE importq_tokens SET revoked_at = ?2"                                    \
                    " WHERE name = ?1 AND revoked_at IS NULL")                                     \
    X(TOKEN_TOUCH, "UPDATE importq_tokens SET last_used_at = ?2 WHERE id = ?1")                    \
    X(AUDIT_CHAIN, "SELECT id, at, actor, action, entity, entity_id, before, after, request_id,"   \
                   " client_addr, prev_hash, hash FROM stg_import_audit ORDER BY id")              \
    X(UPLOAD_INSERT, "INSERT INTO importq_uploads (id, bytes, sha256, path, created_by,"           \
                     " created_at, job_id) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)")                   \
    X(UPLOAD_BY_ID, "SELECT " UPLOAD_COLUMNS " FROM importq_uploads u WHERE u.id = ?1")            \
    X(UPLOADS_EXPIRED,                                                                             \
      "SELECT " UPLOAD_COLUMNS " FROM importq_uploads u"                                           \
      " LEFT JOIN stg_import_queue q ON q.id = u.job_id"                                           \
      " WHERE q.status = 'COMPLETED' OR (u.created_at < ?1 AND (u.job_id IS NULL"                  \
      " OR (q.status IN ('FAILED', 'CANCELLED') AND q.finished_at < ?1)))"                         \
      " ORDER BY u.created_at, u.id")                                                              \
    X(UPLOAD_DELETE, "DELETE FROM importq_uploads WHERE id = ?1")

/*
 * The statements of orchestrations, uploads linked to jobs and phase
 * timings (sqlite/orchestrations.c, jobs.c, phases.c).
 */
#define ORCHESTRATION_COLUMNS "id, name, status, created_by, created_at, updated_at, detail"
#define ORCHESTRATION_STATEMENTS(X)                                                                \
    X(UPLOAD_LINK, "UPDATE importq_uploads SET job_id = ?2 WHERE id = ?1")                         \
    X(UPLOADS_RELEASE, "UPDATE importq_uploads SET job_id = NULL WHERE job_id = ?1 AND id <> ?2") \
    X(ORCHESTRATION_INSERT, "INSERT INTO stg_import_coordination (id, kind, name, status,"         \
                            " detail, created_by, created_at, updated_at)"                         \
                            " VALUES (?1, 'orchestration', ?2, 'QUEUED', ?3, ?4, ?5, ?5)")         \
    X(ORCHESTRATION_TALLY, "SELECT status, CASE WHEN attempt > 0 THEN 1 ELSE 0 END, count(*)"      \
                           " FROM stg_import_queue WHERE orchestration_id = ?1 GROUP BY 1, 2")     \
    X(ORCHESTRATION_SET_STATUS, "UPDATE stg_import_coordination SET status = ?2,"                  \
                                " updated_at = " NEXT_UPDATED_AT("?3")                             \
                                " WHERE id = ?1 AND kind = 'orchestration' AND status <> ?2")      \
    X(ORCHESTRATION_BY_ID, "SELECT " ORCHESTRATION_COLUMNS " FROM stg_import_coordination"         \
                           " WHERE id = ?1 AND kind = 'orchestration'")                            \
    X(ORCHESTRATION_JOBS, JOB_SELECT " WHERE q.orchestration_id = ?1 ORDER BY q.id")              \
    X(ORCHESTRATIONS_PAGE, "SELECT " ORCHESTRATION_COLUMNS " FROM stg_import_coordination"         \
                           " WHERE kind = 'orchestration' AND (?1 IS NULL OR id < ?1)"             \
                           " ORDER BY id DESC LIMIT ?2")                                           \
    X(ORCHESTRATIONS_PAGE_JOBS, JOB_SELECT " WHERE q.orchestration_id IN"                          \
                                " (SELECT value FROM json_each(?1))"                               \
                                " ORDER BY q.orchestration_id DESC, q.id")                         \
    X(JOB_PHASES, "SELECT p.attempt, p.phase, p.started_at, p.duration_ms, p.rows, p.bytes"        \
                  " FROM stg_import_queue q LEFT JOIN stg_import_performance p ON p.job_id = q.id" \
                  " WHERE q.id = ?1 ORDER BY p.attempt, p.started_at, p.id")

/*
 * The statements of schedules (sqlite/schedules.c). Columns in the order
 * of enum schedule_column (common/schedule.h).
 */
#define SCHEDULE_COLUMNS                                                                           \
    "id, name, cron, timezone, job_spec, misfire, overlap, catch_up_max, enabled, next_run_at,"    \
    " last_run_at, last_status, last_job_id, run_count, success_count, failure_count,"             \
    " created_by, created_at, updated_at"
#define SCHEDULE_STATEMENTS(X)                                                                     \
    X(SCHEDULE_COUNT, "SELECT count(*) FROM stg_scheduled_imports")                                \
    X(SCHEDULE_BY_ID, "SELECT " SCHEDULE_COLUMNS " FROM stg_scheduled_imports WHERE id = ?1")      \
    X(SCHEDULE_NAME_TAKEN, "SELECT count(*) FROM stg_scheduled_imports"                            \
                           " WHERE name = ?1 AND (?2 IS NULL OR id <> ?2)")                        \
    X(SCHEDULE_INSERT, "INSERT INTO stg_scheduled_imports (" SCHEDULE_COLUMNS ")"                  \
                       " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14,"     \
                       " ?15, ?16, ?17, ?18, ?19) ON CONFLICT (name) DO NOTHING")                  \
    X(SCHEDULE_WRITE, "UPDATE stg_scheduled_imports SET name = ?2, cron = ?3, timezone = ?4,"      \
                      " job_spec = ?5, misfire = ?6, overlap = ?7, catch_up_max = ?8,"             \
                      " enabled = ?9, next_run_at = ?10, updated_at = ?11 WHERE id = ?1")          \
    X(SCHEDULE_DELETE, "DELETE FROM stg_scheduled_imports WHERE id = ?1")                          \
    X(SCHEDULES_PAGE, "SELECT " SCHEDULE_COLUMNS " FROM stg_scheduled_imports"                     \
                      " WHERE (?1 IS NULL OR enabled = ?1)"                                        \
                      " AND (?2 IS NULL OR name LIKE ?2 ESCAPE '\\')"                              \
                      " AND (?3 IS NULL OR id < ?3) ORDER BY id DESC LIMIT ?4")                    \
    X(TABLE_DURATIONS, "SELECT sum(duration_ms) AS total FROM stg_import_performance"              \
                       " WHERE target_table = ?1 AND phase NOT IN ('queued', 'lock_wait', 'dependency_wait')"         \
                       " GROUP BY job_id, attempt"                                                 \
                       " ORDER BY max(started_at) DESC LIMIT ?2")

/*
 * The statements of the hot paths, prepared once per connection on first
 * use (SQLITE_PREPARE_PERSISTENT) and finalized on close. Parameters are
 * numbered in the order the code binds them.
 */
#define STATEMENTS(X)                                                                              \
    X(BEGIN_WRITE, "BEGIN IMMEDIATE")                                                              \
    X(BEGIN_READ, "BEGIN DEFERRED")                                                                \
    X(COMMIT, "COMMIT")                                                                            \
    X(ROLLBACK, "ROLLBACK")                                                                        \
    X(JOB_BY_ID, JOB_SELECT " WHERE q.id = ?1")                                                    \
    X(JOB_BY_REQUEST_ID, JOB_SELECT " WHERE q.request_id = ?1")                                    \
    X(JOB_STATUS, "SELECT status FROM stg_import_queue WHERE id = ?1")                             \
    X(JOB_FENCE, "SELECT status, worker, attempt FROM stg_import_queue WHERE id = ?1")             \
    X(TABLE_COLUMNS, "SELECT name, type, \"notnull\", dflt_value, pk, hidden"                        \
                     " FROM pragma_table_xinfo(?1, 'main') ORDER BY cid")                          \
    X(SCHEMA_COOKIE, "PRAGMA main.schema_version")                                                 \
    X(COUNT_WAITING, "SELECT coalesce(sum(n), 0) FROM importq_status_counts WHERE status IN "      \
                     "('QUEUED', 'HELD')")                                                         \
    X(JOB_INSERT, "INSERT INTO stg_import_queue (id, request_id, name, status, priority,"          \
                  " orchestration_id, schedule_id, scheduled_at, available_at, "                   \
                  "deps_pending,"                                                                  \
                  " max_attempts, timeout_s, resources, source, target, on_error, "                \
                  "target_table,"                                                                  \
                  " error, created_by, created_at, updated_at, finished_at)"                       \
                  " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, "         \
                  "?15, ?16,"                                                                      \
                  " ?17, ?18, ?19, ?20, ?21, ?22)")                                                \
    X(JOB_UPDATE, "UPDATE stg_import_queue SET name = ?2, priority = ?3, scheduled_at = ?4,"       \
                  " available_at = ?5, deps_pending = ?6, max_attempts = ?7, timeout_s = "         \
                  "?8,"                                                                            \
                  " resources = ?9, source = ?10, target = ?11, on_error = ?12, "                  \
                  "target_table = ?13,"                                                            \
                  " status = coalesce(?14, status), error = coalesce(?15, error),"                 \
                  " finished_at = coalesce(?16, finished_at),"                                     \
                  " updated_at = " NEXT_UPDATED_AT("?17")                                          \
                  " WHERE id = ?1 AND status IN ('HELD', 'QUEUED')")                               \
    X(JOB_FINISH_WAITING, "UPDATE stg_import_queue SET status = ?2, error = ?3, finished_at = ?4," \
                          " updated_at = " NEXT_UPDATED_AT("?4")                                   \
                          " WHERE id = ?1 AND status IN ('HELD', 'QUEUED')")                       \
    X(JOB_REQUEST_CANCEL, "UPDATE stg_import_queue SET cancel_requested = 1,"                      \
                          " updated_at = " NEXT_UPDATED_AT("?2")                                   \
                          " WHERE id = ?1 AND status = 'RUNNING' AND cancel_requested = 0")        \
    X(DEP_INSERT, "INSERT INTO importq_job_deps (job_id, depends_on_id) VALUES (?1, ?2)")          \
    X(DEPS_DELETE, "DELETE FROM importq_job_deps WHERE job_id = ?1")                               \
    X(DEP_REACHES, "WITH RECURSIVE reach(id) AS (SELECT ?1 UNION SELECT d.depends_on_id"           \
                   " FROM importq_job_deps d JOIN reach r ON d.job_id = r.id)"                     \
                   " SELECT EXISTS (SELECT 1 FROM reach WHERE id = ?2)")                           \
    X(WAITING_DEPENDANTS, "WITH RECURSIVE down(id) AS (SELECT ?1 UNION SELECT d.job_id"            \
                          " FROM importq_job_deps d JOIN down w ON d.depends_on_id = w.id)"        \
                          " SELECT q.id FROM down JOIN stg_import_queue q ON q.id = down.id"       \
                          " WHERE q.id <> ?1 AND q.status IN ('HELD', 'QUEUED') ORDER BY q.id")    \
    X(JOB_DEPENDENTS, "SELECT json_group_array(json_array(d.id, d.name, d.status)) FROM"          \
                      " (SELECT q.id, q.name, q.status FROM importq_job_deps e"                   \
                      " JOIN stg_import_queue q ON q.id = e.job_id WHERE e.depends_on_id = ?1"   \
                      " ORDER BY e.job_id LIMIT 101) d")                                         \
    X(AUDIT_HEAD, "SELECT id, hash FROM stg_import_audit ORDER BY id DESC LIMIT 1")                \
    X(AUDIT_INSERT, "INSERT INTO stg_import_audit (id, at, actor, action, entity, entity_id, "     \
                    "before,"                                                                      \
                    " after, request_id, client_addr, prev_hash, hash)"                            \
                    " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)")                 \
    X(DATA_VERSION, "PRAGMA main.data_version")                                                    \
    X(STATS_COUNTS, "SELECT status, n FROM importq_status_counts") /* migration 011 */              \
    X(STATS_FINISHED_SINCE, "SELECT count(*) FROM stg_import_queue WHERE "                         \
                            "status = ?1 AND finished_at >= ?2")                                   \
    X(STATS_OLDEST_QUEUED, "SELECT min(created_at) FROM stg_import_queue"                          \
                           " INDEXED BY stg_import_queue_queued_created"                           \
                           " WHERE status = 'QUEUED'")                                             \
    RUNNING_STATEMENTS(X)                                                                          \
    ADMIN_STATEMENTS(X)                                                                            \
    ORCHESTRATION_STATEMENTS(X)                                                                    \
    SCHEDULE_STATEMENTS(X)

enum statement {
#define STATEMENT_ENUM(name, sql) STMT_##name,
    STATEMENTS(STATEMENT_ENUM)
#undef STATEMENT_ENUM
        STMT_COUNT
};

struct sqlite_store {
    struct store base; /* must be first */
    sqlite3 *db;
    sqlite3_stmt *statements[STMT_COUNT]; /* NULL until first use */
    /* Set by sqlite_interrupt (any thread), cleared by load_begin: a load
     * checks it before each statement, so an interrupt that falls between
     * two statements (where sqlite3_interrupt does nothing) is not lost. */
    atomic_bool interrupted;
    int busy_ms;               /* busy_timeout, also the longest wait at the gate */
    struct sqlite_gate *gate;  /* this file's write gate; NULL in memory */
    bool gate_held;            /* between sqlite_tx_begin and its end */
    bool staging_attached;     /* "importq_staging" (ATTACH ''), kept between loads */
    int wal_pages;             /* the WAL's length at the last commit (wal hook) */
    bool watching;             /* wait_for_work: seen_data_version is set */
    int64_t seen_data_version; /* main's data_version at its last look */
    const struct iq_clock *clock; /* store_options.clock; NULL: real */
};

static inline struct sqlite_store *to_sqlite(struct store *s)
{
    return (struct sqlite_store *)s;
}

/* sqlite_now_ms - "now" on this connection: its clock's time. Every time
 * the SQLite store writes or compares is computed in C from this. */
static inline int64_t sqlite_now_ms(const struct sqlite_store *s)
{
    return iq_clock_now_ms(s->clock);
}

static inline int nomem(struct iq_error *err)
{
    return iq_error_set(err, IQ_E_NOMEM, "out of memory");
}

/* sqlite_db_error - IQ_E_DB "<what>: <SQLite's last message>". Returns IQ_E_DB.
 */
int sqlite_db_error(struct sqlite_store *s, const char *what, struct iq_error *err);

/* ------------------------------------------------------------------------
 * Statements, binding and stepping (sqlite/connection.c)
 * ------------------------------------------------------------------------ */

/*
 * stmt_release - make a statement reusable and drop its bindings. The
 * return codes only repeat the outcome of the last step, which the caller
 * has already handled, so they are deliberately not inspected.
 */
static inline void stmt_release(sqlite3_stmt *stmt)
{
    if (!stmt)
        return;
    (void)sqlite3_reset(stmt);
    (void)sqlite3_clear_bindings(stmt);
}

/*
 * sqlite_stmt_get - the cached statement id, prepared on first use. Returns
 * it reset and unbound (owned by the connection: never finalize it), or
 * NULL with err set.
 */
sqlite3_stmt *sqlite_stmt_get(struct sqlite_store *s, enum statement id, struct iq_error *err);

/*
 * struct binder - binds parameters 1, 2, 3 ... in call order and keeps the
 * first failure, so a run of binds is checked once at the end.
 */
struct binder {
    sqlite3_stmt *stmt;
    int index;
    int rc;
};

static inline struct binder binder_start(sqlite3_stmt *stmt)
{
    return (struct binder){.stmt = stmt, .index = 0, .rc = SQLITE_OK};
}

/* bind_text - text, or SQL NULL for a NULL pointer. SQLite copies it. */
static inline void bind_text(struct binder *b, const char *text)
{
    b->index++;
    if (b->rc != SQLITE_OK)
        return;
    b->rc = text ? sqlite3_bind_text(b->stmt, b->index, text, -1, SQLITE_TRANSIENT)
                 : sqlite3_bind_null(b->stmt, b->index);
}

static inline void bind_int64(struct binder *b, int64_t value)
{
    b->index++;
    if (b->rc == SQLITE_OK)
        b->rc = sqlite3_bind_int64(b->stmt, b->index, value);
}

/* bind_time - RFC 3339 text of ms, or SQL NULL for 0 ("no time"). */
static inline void bind_time(struct binder *b, int64_t ms)
{
    char text[TIME_RFC3339_LEN];
    bind_text(b, ms ? time_format_rfc3339(ms, text) : NULL);
}

/* sqlite_binder_check - 0, or IQ_E_DB when any bind failed (the statement is
 * released). */
int sqlite_binder_check(struct sqlite_store *s, struct binder *b, struct iq_error *err);

/*
 * sqlite_stmt_run - step a statement that returns no rows to completion,
 * then release it. Returns 0 or IQ_E_DB ("<what>: <message>").
 */
int sqlite_stmt_run(struct sqlite_store *s, sqlite3_stmt *stmt, const char *what,
                    struct iq_error *err);

/*
 * sqlite_stmt_next - step once. Returns 1 with a row to read, 0 when done,
 * IQ_E_DB on failure. On 0 and on failure the statement is released; after
 * a 1 the caller releases it once it stops reading.
 */
int sqlite_stmt_next(struct sqlite_store *s, sqlite3_stmt *stmt, const char *what,
                     struct iq_error *err);

/* sqlite_run_cached - bindless cached statement run to completion (BEGIN,
 * COMMIT ...). */
int sqlite_run_cached(struct sqlite_store *s, enum statement id, const char *what,
                      struct iq_error *err);

/* sqlite_read_cached_int64 - sqlite_read_int64 of a bindless cached
 * statement (a count, a PRAGMA's value). */
int sqlite_read_cached_int64(struct sqlite_store *s, enum statement id, const char *what,
                             int64_t *ret_value, struct iq_error *err);

/*
 * sqlite_column_text_or_error - sqlite3_column_text, telling SQL NULL
 * (returns NULL, *ret_ok true) from an allocation failure (NULL, *ret_ok
 * false).
 */
const char *sqlite_column_text_or_error(sqlite3_stmt *stmt, int column, bool *ret_ok);

/* sqlite_read_int64 - run a one-row, one-integer statement (already bound). */
int sqlite_read_int64(struct sqlite_store *s, sqlite3_stmt *stmt, const char *what,
                      int64_t *ret_value, struct iq_error *err);

/* ------------------------------------------------------------------------
 * Transactions (sqlite/connection.c)
 * ------------------------------------------------------------------------ */

/* sqlite_tx_begin - BEGIN IMMEDIATE: take the write lock now (waits
 * busy_timeout). */
int sqlite_tx_begin(struct sqlite_store *s, struct iq_error *err);

/*
 * sqlite_tx_commit - COMMIT (what names it in errors), then leave the
 * write gate once the transaction is over, committed or rolled back by a
 * failing COMMIT. The caller rolls back a failure it cannot recover.
 */
int sqlite_tx_commit(struct sqlite_store *s, const char *what, struct iq_error *err);

/* sqlite_tx_rollback - roll back the open transaction, if any is still open. */
void sqlite_tx_rollback(struct sqlite_store *s);

/*
 * sqlite_tx_finish - COMMIT when rc is 0, else roll back. Returns rc, or
 * IQ_E_DB when the commit itself fails (then rolled back too).
 */
int sqlite_tx_finish(struct sqlite_store *s, int rc, struct iq_error *err);

/* ------------------------------------------------------------------------
 * Jobs (sqlite/jobs.c)
 * ------------------------------------------------------------------------ */

/* sqlite_row_to_job - decode the current row of a JOB_SELECT statement.
 * *ret_job: job_free. */
int sqlite_row_to_job(sqlite3_stmt *stmt, struct job **ret_job, struct iq_error *err);

/* sqlite_read_job - the job with this id (job_free); IQ_E_NOT_FOUND when none.
 */
int sqlite_read_job(struct sqlite_store *s, const char *id, struct job **ret_job,
                    struct iq_error *err);

/* sqlite_read_status - the status of job id: 0, 1 when there is no such job, or
 * an error. */
int sqlite_read_status(struct sqlite_store *s, const char *id, enum job_status *ret_status,
                       struct iq_error *err);

int sqlite_job_create(struct store *base, const struct job_create_request *req,
                      const struct audit_context *actx, struct job **ret_job, bool *ret_existed,
                      struct iq_error *err);
int sqlite_job_get(struct store *base, const char *id, struct job **ret_job, struct iq_error *err);
int sqlite_job_update(struct store *base, const char *id, const struct job_spec *spec,
                      const struct audit_context *actx, struct job **ret_job, struct iq_error *err);
int sqlite_job_cancel(struct store *base, const char *id, const struct audit_context *actx,
                      struct job **ret_job, struct iq_error *err);

/* ------------------------------------------------------------------------
 * Audit chain (sqlite/audit.c)
 * ------------------------------------------------------------------------ */

/* A status change of one job, run inside a write transaction. */
typedef int (*sqlite_job_locked_fn)(struct sqlite_store *s, const char *id,
                                    const struct audit_context *actx, struct job **ret_job,
                                    struct iq_error *err);

/* sqlite_job_mutate - locked_fn in one BEGIN IMMEDIATE transaction (sqlite/jobs.c). */
int sqlite_job_mutate(struct sqlite_store *s, const char *id, const struct audit_context *actx,
                      sqlite_job_locked_fn locked_fn, struct job **ret_job, struct iq_error *err);

/*
 * sqlite_audit_append - append one row (any entity) to the audit hash
 * chain inside the write transaction of the change it records, whose write
 * lock serialises the chain. JSON texts are borrowed, NULL allowed.
 */
int sqlite_audit_append(struct sqlite_store *s, const struct audit_context *actx,
                        const char *action, const char *entity, const char *entity_id,
                        const char *before_json, const char *after_json, int64_t now_ms,
                        struct iq_error *err);

/*
 * sqlite_audit_job - append one audit row for entity "job" with the jobs'
 * JSON resources (before/after may be NULL). Inside the write transaction
 * of the change it records: that transaction's write lock serialises the
 * chain.
 */
int sqlite_audit_job(struct sqlite_store *s, const struct audit_context *actx, const char *action,
                     const char *id, const struct job *before, const struct job *after,
                     int64_t now_ms, struct iq_error *err);

/* sqlite_check_actor - IQ_E_INTERNAL when a mutation comes without an actor. */
int sqlite_check_actor(const struct audit_context *actx, struct iq_error *err);

/* ------------------------------------------------------------------------
 * Dependencies (sqlite/deps.c)
 * ------------------------------------------------------------------------ */

/* sqlite_insert_dependencies - the edges job_id -> each of spec's dependencies.
 */
int sqlite_insert_dependencies(struct sqlite_store *s, const char *job_id,
                               const struct job_spec *spec, struct iq_error *err);

/* sqlite_delete_dependencies - every edge from job_id. */
int sqlite_delete_dependencies(struct sqlite_store *s, const char *job_id, struct iq_error *err);

/* sqlite_finish_waiting_job - HELD/QUEUED job id -> status with error; 1 when
 * it was not waiting. */
int sqlite_finish_waiting_job(struct sqlite_store *s, const char *id, enum job_status status,
                              const char *error_text, int64_t now_ms, struct iq_error *err);

/* ------------------------------------------------------------------------
 * The job rules' primitives (common/job_rules.h); backend is the struct
 * sqlite_store, inside the caller's write transaction.
 * ------------------------------------------------------------------------ */

/* Schedules (sqlite/schedules.c): the primitives of common/schedule.c's
 * rules and the transaction they run in (store_ops.schedule_tx). */
extern const struct schedule_primitives sqlite_schedule_primitives;
/* Alerts (sqlite/alerts.c): the transaction common/alerts.c's rules run in. */
int sqlite_alert_tx(struct store *base, enum alert_tx_kind kind, alert_tx_body body, void *ctx,
                    struct iq_error *err);
int sqlite_schedule_tx(struct store *base, enum schedule_tx_kind kind, schedule_tx_body body,
                       void *ctx, struct iq_error *err);

/* sqlite_job_primitives - SQLite's table for the job rules (sqlite/jobs.c). */
extern const struct job_primitives sqlite_job_primitives;

/*
 * sqlite_check_dependency_state - job_primitives.check_dependencies: each
 * of spec's dependencies (duplicates once) must exist and not close a
 * cycle through self_id (NULL for a new job), else IQ_E_CONFLICT;
 * *ret_state: what they amount to.
 */
int sqlite_check_dependency_state(void *backend, const char *self_id, const struct job_spec *spec,
                                  struct dependency_state *ret_state, struct iq_error *err);

/* sqlite_fail_dependants - job_primitives.fail_dependants (sqlite/deps.c). */
int sqlite_fail_dependants(void *backend, const char *root_id, enum job_status status,
                           const char *error_text, int64_t now_ms, struct job_cascade *ret,
                           struct iq_error *err);

/* sqlite_read_dependencies, sqlite_release_now, sqlite_rerun - the
 * primitives of execute (sqlite/execute.c). */
int sqlite_read_dependencies(void *backend, const char *job_id, struct dependency_state *ret_state,
                             struct iq_error *err);
int sqlite_release_now(void *backend, const char *id, int64_t now_ms, struct iq_error *err);
int sqlite_rerun(void *backend, const char *id, int deps_pending, int64_t now_ms,
                 struct iq_error *err);

/* sqlite_refresh_orchestrations - job_primitives.refresh_orchestrations
 * (sqlite/orchestrations.c). */
int sqlite_refresh_orchestrations(void *backend, const struct job *job,
                                  const struct job_cascade *cascade, int64_t now_ms,
                                  struct iq_error *err);

/* ------------------------------------------------------------------------
 * Lists and statistics (sqlite/list.c)
 * ------------------------------------------------------------------------ */

int sqlite_job_list(struct store *base, const struct job_filter *filter, struct job_page *ret_page,
                    struct iq_error *err);
int sqlite_job_list_summary(struct store *base, const struct job_filter *filter,
                            struct job_summary_page *ret_page, struct iq_error *err);
int sqlite_explain_job_list(struct store *base, const struct job_filter *filter, char **ret_plan,
                            struct iq_error *err);
int sqlite_queue_stats(struct store *base, int64_t now_ms, struct queue_stats *ret_stats,
                       struct iq_error *err);

/* ------------------------------------------------------------------------
 * Running jobs (sqlite/claim.c, finish.c, execute.c, locks.c,
 * rejects.c, nodes.c)
 * ------------------------------------------------------------------------ */

/*
 * sqlite_finish_locked - end the attempt finish describes, inside the
 * caller's write transaction (job_finish, jobs_rescue, and load_commit's
 * finish_on_commit share it): IQ_E_STALE unless the job is RUNNING under
 * finish->worker and finish->attempt; then the attempt history, locks,
 * counters, performance rows, dependants and the audit row (action, or the
 * one the outcome implies when NULL). *ret_job (may be NULL): the job
 * afterwards (job_free).
 */
int sqlite_finish_locked(struct sqlite_store *s, const struct job_finish *finish,
                         const char *action, const struct audit_context *actx, int64_t now_ms,
                         struct job **ret_job, struct iq_error *err);

/* sqlite_delete_expired_locks - delete locks whose lease ended by now_ms
 * (recorded in importq_lock_history as released when their lease ended). */
int sqlite_delete_expired_locks(struct sqlite_store *s, int64_t now_ms, struct iq_error *err);

/* sqlite_delete_job_locks - delete every lock of job_id (recorded in
 * importq_lock_history as released at now_ms). *ret_waited_ms: the
 * longest its holder waited for one of them (0 without locks), as the
 * history rows say. */
int sqlite_delete_job_locks(struct sqlite_store *s, const char *job_id, int64_t now_ms,
                            int64_t *ret_waited_ms, struct iq_error *err);

/*
 * sqlite_run_id_statement - bind, in order, id (unless NULL) and now_ms as
 * RFC 3339 text (unless 0) to the cached statement id_stmt and run it to
 * completion. *ret_changes (may be NULL): rows it changed.
 */
int sqlite_run_id_statement(struct sqlite_store *s, enum statement id_stmt, const char *id,
                            int64_t now_ms, const char *what, int *ret_changes,
                            struct iq_error *err);

/*
 * sqlite_claim_locked - one claim for req->worker inside the caller's
 * BEGIN IMMEDIATE (sqlite/claim.c): *ret_job the started job
 * (job_free) or NULL when nothing can start.
 */
int sqlite_claim_locked(struct sqlite_store *s, const struct claim_request *req,
                        const struct audit_context *actx, struct job **ret_job,
                        struct iq_error *err);
int sqlite_job_claim_batch(struct store *base, const struct claim_request *req,
                           const char *const *workers, int worker_count,
                           const struct audit_context *actx, struct job **ret_jobs,
                           int *ret_claimed, struct iq_error *err);
int sqlite_job_heartbeat(struct store *base, const char *job_id, const char *worker, int attempt,
                         int64_t lease_ms, const struct job_progress *progress,
                         bool *ret_cancel_requested, struct iq_error *err);
int sqlite_job_finish(struct store *base, const struct job_finish *finish,
                      const struct audit_context *actx, struct job **ret_job, struct iq_error *err);
int sqlite_job_execute(struct store *base, const char *id, const struct audit_context *actx,
                       struct job **ret_job, struct iq_error *err);
int sqlite_jobs_rescue(struct store *base, int64_t lease_ms, retry_backoff_cb backoff_cb,
                       void *backoff_ctx, const struct audit_context *actx, int *ret_rescued,
                       struct iq_error *err);
int sqlite_job_rejects_add(struct store *base, const char *job_id, int attempt,
                           const struct job_reject_row *rows, size_t count, struct iq_error *err);
int sqlite_job_rejects_each(struct store *base, const char *job_id, job_reject_row_cb cb,
                            void *ctx, struct iq_error *err);
int sqlite_locks_list(struct store *base, struct lock_list *ret_list, struct iq_error *err);
int sqlite_lock_release(struct store *base, const char *lock_id, const struct audit_context *actx,
                        struct iq_error *err);
int sqlite_node_register(struct store *base, const struct node_info *node, struct iq_error *err);
int sqlite_node_heartbeat(struct store *base, const char *node_id, const char *status,
                          struct iq_error *err);
int sqlite_nodes_mark_dead(struct store *base, int64_t dead_after_ms, int *ret_marked,
                           struct iq_error *err);
int sqlite_nodes_list(struct store *base, struct node_list *ret_list, struct iq_error *err);
int sqlite_wait_for_work(struct store *base, int timeout_ms, bool *ret_woken,
                         struct iq_error *err);

/* ------------------------------------------------------------------------
 * The API's own records (sqlite/tokens.c, audit_read.c, uploads.c)
 * ------------------------------------------------------------------------ */

int sqlite_token_create(struct store *base, const struct token_info *info,
                        const struct audit_context *actx, struct iq_error *err);
int sqlite_token_list(struct store *base, bool include_revoked, struct token_list *ret_list,
                      struct iq_error *err);
int sqlite_token_revoke(struct store *base, const char *name, const struct audit_context *actx,
                        struct iq_error *err);
int sqlite_token_touch(struct store *base, const char *token_id, int64_t at_ms,
                       struct iq_error *err);
int sqlite_audit_list(struct store *base, const struct audit_filter *filter,
                      struct audit_page *ret_page, struct iq_error *err);
int sqlite_audit_verify(struct store *base, struct audit_verify_result *ret_result,
                        struct iq_error *err);
int sqlite_upload_create(struct store *base, const struct upload_info *info,
                         const struct audit_context *actx, struct iq_error *err);
int sqlite_upload_get(struct store *base, const char *id, struct upload_info *ret_info,
                      struct iq_error *err);
int sqlite_uploads_expired(struct store *base, int64_t cutoff_ms, struct upload_list *ret_list,
                           struct iq_error *err);
int sqlite_upload_delete(struct store *base, const char *id, struct iq_error *err);

/* ------------------------------------------------------------------------
 * Orchestrations and phase timings (sqlite/orchestrations.c,
 * phases.c), and the capacity check they share with job_create (jobs.c)
 * ------------------------------------------------------------------------ */

/*
 * sqlite_orchestration_refresh - recompute the aggregate status of
 * orchestration_id from its jobs (core/orchestration.h) and store it
 * when it changed (updated_at = now_ms). Nothing for NULL. Call it inside
 * the write transaction that changed a job's status, after the change.
 */
int sqlite_orchestration_refresh(struct sqlite_store *s, const char *orchestration_id,
                                 int64_t now_ms, struct iq_error *err);

int sqlite_orchestration_create(struct store *base, const struct orchestration_request *req,
                                const struct audit_context *actx, struct orchestration *ret_orch,
                                struct iq_error *err);
int sqlite_orchestration_get(struct store *base, const char *id, struct orchestration *ret_orch,
                             struct iq_error *err);
int sqlite_orchestration_list(struct store *base, int limit, const char *after_id,
                              struct orchestration_page *ret_page, struct iq_error *err);
int sqlite_job_phases(struct store *base, const char *job_id, struct job_phase_list *ret_list,
                      struct iq_error *err);
int sqlite_job_dependents(struct store *base, const char *job_id, struct job_ref_list *ret_list,
                          struct iq_error *err);
int sqlite_perf_attempts(struct store *base, const struct perf_window *window,
                         struct perf_attempts *ret, struct iq_error *err);
int sqlite_lock_holds(struct store *base, const struct perf_window *window,
                      struct lock_holds *ret, struct iq_error *err);
int sqlite_lock_history_prune(struct store *base, int64_t cutoff_ms, int64_t *ret_deleted,
                              struct iq_error *err);
int sqlite_perf_prune(struct store *base, int64_t cutoff_ms, int limit, int64_t *ret_deleted,
                      struct iq_error *err);
int sqlite_alert_prune(struct store *base, int64_t cutoff_ms, int limit, int64_t *ret_deleted,
                       struct iq_error *err);

/* ------------------------------------------------------------------------
 * Loads (store_sqlite_load*.c, sqlite/load/describe.c)
 * ------------------------------------------------------------------------ */

/* How a value of a column is bound (its canonical text, load.h). */
enum value_bind {
    VALUE_BIND_TEXT,    /* as text: dates, timestamps, uuid, json, text */
    VALUE_BIND_INTEGER, /* int64 */
    VALUE_BIND_REAL,    /* double */
    VALUE_BIND_NUMERIC, /* int64, double when exact to 15 digits, else text */
    VALUE_BIND_BOOLEAN  /* 1 / 0 */
};

/* A prepared multi-row INSERT for exactly row_count rows. */
struct row_statement {
    sqlite3_stmt *stmt;
    size_t row_count;
};

/*
 * One column a part writes into its table: a loaded column (value i of
 * each row, staging column c<i+1>), or a child's parent-key column the
 * pipeline did not load, filled from the parent's staged row with the
 * same line.
 */
struct load_column {
    const char *name; /* borrowed from the plan */
    enum column_type type;
    char *expr; /* SQL over the staging alias s (sqlite3_malloc'd) */
};

/* The state of one part (table) of a load. */
struct sqlite_load_part {
    const struct load_part *spec; /* borrowed from the plan */
    int index;                    /* in plan->parts */
    bool create;                  /* missing at load_begin: created in the write transaction */
    bool shape_checked;           /* checked at load_begin, under schema cookie checked_cookie */
    int64_t checked_cookie;       /* main's schema_version read before that check */
    enum value_bind *binds;      /* per loaded column */
    struct load_column *columns; /* written columns: loaded ones, then parent-filled */
    size_t column_count;
    char staging[32];           /* "importq_stage_<index>" in importq_staging */
    struct row_statement batch; /* the full-size statement, reused for the whole file */
    struct row_statement tail;  /* the last remainder size, kept while it repeats */
    size_t rows_per_batch;
    int64_t rows_staged;        /* by sqlite_load_stage_rows (the staging thread's, until joined) */
};

/* One load on one connection (struct load is its public head). */
struct sqlite_load {
    struct load base; /* must be first */
    struct sqlite_store *s;
    struct sqlite_load_part *parts;
    size_t part_count;
    bool write_tx;      /* this load's BEGIN IMMEDIATE is open */
    bool targets_ready; /* created and checked inside the write transaction */
    bool promoted;
    bool checked; /* load_check went through (a dry run's load_preview needs it) */
    bool failed; /* a call failed: only load_abort is left */
    bool staging_indexed;
    bool cache_sizes_set;
    struct stage_slot *held;      /* the first batch, not staged yet (sqlite/load/rows.c) */
    bool staging_ready;           /* this load's staging tables exist (sqlite_load_staging_ready) */
    struct sqlite_stager *stager; /* the staging thread, between the second rows and the drain */
    bool stager_unavailable;      /* it could not be started: rows are staged by the caller */
    int64_t batches_staged;       /* load_rows calls with rows so far (the thread starts at the second) */
    int64_t main_cache_before; /* PRAGMA main.cache_size to restore */
    locale_t c_locale; /* strtod_l: numbers never depend on the process locale */
    struct load_result result;
};

static inline struct sqlite_load *to_sqlite_load(struct load *load)
{
    return (struct sqlite_load *)load;
}

/*
 * sqlite_load_code - importq's code for a load statement's SQLite result,
 * which says whether trying again can help (run_job.c retries IQ_E_DB and
 * IQ_E_NO_SPACE only): IQ_E_CANCELLED interrupted; IQ_E_CONFLICT a
 * constraint the data breaks; IQ_E_INVALID a value SQLite refuses;
 * IQ_E_NO_SPACE a full disk; IQ_E_DB the rest (busy, locked, I/O).
 * PostgreSQL's twin is pg_sqlstate_code.
 */
int sqlite_load_code(int sqlite_rc);

/*
 * sqlite_load_error - an error of a load statement, coded by
 * sqlite_load_code; "<what>: <SQLite's message>".
 */
int sqlite_load_error(struct sqlite_store *s, int sqlite_rc, const char *what,
                      struct iq_error *err);

/*
 * sqlite_exec_sql - run rowless SQL (any number of statements), mapping a
 * failure with sqlite_load_error. sql is sqlite3_malloc'd and freed here;
 * NULL means the SQL could not be built (IQ_E_NOMEM).
 */
int sqlite_exec_sql(struct sqlite_store *s, char *sql, const char *what, struct iq_error *err);

/*
 * sqlite_sql_finish - sqlite3_str_finish: the text (sqlite3_free; "" when
 * nothing was appended), or NULL when building it failed.
 */
char *sqlite_sql_finish(sqlite3_str *sql);

/*
 * sqlite_load_usable - IQ_E_INTERNAL when an earlier call failed (only
 * load_abort is left) or the load is already promoted; IQ_E_CANCELLED
 * (and the load failed) once the store was interrupted.
 */
int sqlite_load_usable(struct sqlite_load *load, struct iq_error *err);

/* sqlite_load_interrupted - IQ_E_CANCELLED ("<what>: ...") once the store was interrupted. */
int sqlite_load_interrupted(struct sqlite_load *load, const char *what, struct iq_error *err);

/* sqlite_load_write_begin - BEGIN IMMEDIATE for the load unless it is open. */
int sqlite_load_write_begin(struct sqlite_load *load, struct iq_error *err);

/* sqlite_sql_column_list - append "a", "b", ... (the part's written columns). */
void sqlite_sql_column_list(sqlite3_str *sql, const struct sqlite_load_part *part);

/* sqlite_load_find_column - the written column called name, or NULL. */
const struct load_column *sqlite_load_find_column(const struct sqlite_load_part *part,
                                                  const char *name);

/*
 * sqlite_load_rows_init - part's value binds and rows per statement
 * (sqlite/load/insert.c); sqlite_load_rows_clear frees them and the
 * part's statements (NULL-safe, repeatable).
 */
int sqlite_load_rows_init(struct sqlite_load *load, struct sqlite_load_part *part,
                          struct iq_error *err);
void sqlite_load_rows_clear(struct sqlite_load_part *part);

/*
 * sqlite_load_stage_rows - stage row_count rows (row-major values, lines
 * or NULL) into part's staging table, in one transaction that touches
 * only the staging database (sqlite/load/insert.c). Run by the
 * staging thread, or by the caller when there is none; touches only the
 * connection and the part's statements, never the load's flags.
 */
int sqlite_load_stage_rows(struct sqlite_load *load, struct sqlite_load_part *part,
                           const char *const *values, const int64_t *lines, size_t row_count,
                           struct iq_error *err);

/*
 * sqlite_load_stage_drain - every row of the load in its staging table:
 * wait until the staging thread has staged every row handed to it and end
 * it, stage the held first batch, create the staging tables of a load
 * without rows (sqlite/load/rows.c); the connection is the caller's
 * again. Returns 0 or the first failure, and the load has failed.
 * sqlite_load_stage_discard ends the thread dropping rows not yet staged,
 * and the held batch (load_abort). Both are repeatable.
 */
int sqlite_load_stage_drain(struct sqlite_load *load, struct iq_error *err);
void sqlite_load_stage_discard(struct sqlite_load *load);

/*
 * sqlite_load_held_rows - the held first batch (sqlite/load/rows.c):
 * its row count (0: none held), *ret_values row-major and *ret_lines (or
 * NULL), owned by the load until the drain or the abort.
 */
size_t sqlite_load_held_rows(const struct sqlite_load *load, const char *const **ret_values,
                             const int64_t **ret_lines);

/*
 * sqlite_load_staging_ready - the load's staging tables, made at the
 * first rows that are staged (sqlite/load/load.c): the staging database
 * attached (kept between loads), its page caches set, a table per part.
 * Once per load; outside any transaction.
 */
int sqlite_load_staging_ready(struct sqlite_load *load, struct iq_error *err);

/*
 * sqlite_load_insert_direct - row_count rows (row-major values, the held
 * batch) of part straight into its table: INSERT OR FAIL, many rows a
 * statement (sqlite/load/insert.c). In the write transaction. Returns an
 * SQLite result code; *ret_done: the rows inserted before a failure (the
 * failing row is values' row *ret_done).
 */
int sqlite_load_insert_direct(struct sqlite_load *load, const struct sqlite_load_part *part,
                              const char *const *values, size_t row_count, size_t *ret_done);

/*
 * sqlite_load_promote_sql - the INSERT ... SELECT (ON CONFLICT ... for an
 * upsert part with a key) that promotes part (sqlite/load/promote.c);
 * *ret_updates: whether it is DO UPDATE. sqlite3_free it; NULL on OOM.
 */
char *sqlite_load_promote_sql(const struct sqlite_load *load, const struct sqlite_load_part *part,
                              bool *ret_updates);

/* The dry run's counting steps (sqlite/load/preview.c). */
extern const struct load_preview_primitives sqlite_load_preview_primitives;

/* sqlite_load_index_staging - index looked-up staging columns, once, before the write lock. */
int sqlite_load_index_staging(struct sqlite_load *load, struct iq_error *err);

/*
 * sqlite_load_delete_old_rows - replace: DELETE every row of the parts'
 * tables, children first, adding to result.rows_deleted. In the write
 * transaction.
 */
int sqlite_load_delete_old_rows(struct sqlite_load *load, struct iq_error *err);

/*
 * sqlite_load_check_references - at load_begin: IQ_E_INVALID when a
 * referenced table or column exists neither in the database nor among the
 * tables the load writes.
 */
int sqlite_load_check_references(struct sqlite_load *load, struct iq_error *err);

/* ------------------------------------------------------------------------
 * Firing scheduled imports (sqlite/schedule_fires.c)
 * ------------------------------------------------------------------------ */

int sqlite_schedule_fire(struct store *base, const struct schedule_fire_request *req,
                         const struct audit_context *actx, struct schedule_fire_result *ret,
                         struct iq_error *err);
int sqlite_schedules_due(struct store *base, int64_t now_ms, int limit,
                         struct schedule_due_list *ret, struct iq_error *err);
int sqlite_schedule_fires_list(struct store *base, const char *schedule_id, int limit,
                               const struct schedule_fire_cursor *after,
                               struct schedule_fire_page *ret, struct iq_error *err);
int sqlite_scheduler_lead(struct store *base, bool *ret_leader, struct iq_error *err);

/* ------------------------------------------------------------------------
 * The health history (sqlite/health.c)
 * ------------------------------------------------------------------------ */

int sqlite_health_snapshot(struct store *base, int64_t interval_ms, const char *node,
                           struct health_snapshot_result *ret, struct iq_error *err);
int sqlite_health_compact(struct store *base, const struct health_retention *retention,
                          struct health_compaction *ret, struct iq_error *err);
int sqlite_health_series(struct store *base, int64_t since_ms, int64_t until_ms, int64_t step_s,
                         struct health_series *ret, struct iq_error *err);
int sqlite_alert_counts(struct store *base, struct alert_counts *ret, struct iq_error *err);

/* Slots of the ops table. */
int sqlite_table_describe(struct store *base, const char *table, struct table_info *ret_info,
                          struct iq_error *err);
/* The load slots (connection.c): every load of this backend carries them. */
extern const struct load_ops sqlite_load_ops;
int sqlite_load_begin(struct store *base, const struct load_plan *plan, struct load **ret_load,
                      struct iq_error *err);
int sqlite_load_rows(struct load *base, int part, const char *const *values, const int64_t *lines,
                     size_t row_count, struct iq_error *err);
int sqlite_load_check(struct load *base, load_reject_cb reject_cb, void *ctx, int64_t *ret_rejected,
                      struct iq_error *err);
int sqlite_load_promote(struct load *base, struct load_result *ret_result, struct iq_error *err);
int sqlite_load_commit(struct load *base, struct iq_error *err);
void sqlite_load_abort(struct load *base);
void sqlite_interrupt(struct store *base);

/*
 * sqlite_load_prepare_targets - for each part, inside the write
 * transaction: create the table when it was missing at load_begin (and
 * plan->create_target), then check every written column is in it.
 * IQ_E_INVALID when a table is missing or lacks a column.
 */
int sqlite_load_prepare_targets(struct sqlite_load *load, struct iq_error *err);

/*
 * sqlite_load_check_table - at load_begin: IQ_E_INVALID when the
 * part's table is missing and the plan does not create it, or lacks a
 * column; sets part->create when it is missing.
 */
int sqlite_load_check_table(struct sqlite_load *load, struct sqlite_load_part *part,
                            struct iq_error *err);

/* ------------------------------------------------------------------------
 * The write gate (sqlite/gate.c)
 * ------------------------------------------------------------------------ */

struct sqlite_gate;

/* sqlite_gate_attach - join the gate of s's database file (none in memory). */
int sqlite_gate_attach(struct sqlite_store *s, struct iq_error *err);

/* sqlite_gate_detach - leave (if held) and drop s's gate; at close. */
void sqlite_gate_detach(struct sqlite_store *s);

/*
 * sqlite_gate_enter - wait, in arrival order, until no other connection of
 * this process is inside a write transaction on the file, for at most
 * timeout_ms (then IQ_E_DB "database is locked"). No-op without a gate or
 * when s already holds it.
 */
int sqlite_gate_enter(struct sqlite_store *s, int64_t timeout_ms, struct iq_error *err);

/* sqlite_gate_leave - hand the gate to the next writer in line (if s holds it). */
void sqlite_gate_leave(struct sqlite_store *s);

/*
 * sqlite_gate_checkpoint_due - whether a commit that left the WAL at
 * wal_pages should checkpoint: when it grew by step pages since the last
 * checkpoint any connection of this process to the file was told to run
 * (a shorter WAL than that means it started over), which this call then
 * records. Without a gate: whenever wal_pages >= step.
 */
bool sqlite_gate_checkpoint_due(struct sqlite_store *s, int wal_pages, int step);

#endif
