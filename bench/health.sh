#!/usr/bin/env bash
# Health sample benchmark (issue 16): what one health sample costs with
# JOBS jobs stored (default 100000: a quarter QUEUED, a sixth HELD, the
# rest COMPLETED with finished_at spread over the last hour, so a sample's
# interval finds finished jobs), on SQLite and on
# PostgreSQL: build/bench_health_snapshot times ROUNDS samples (default
# 200) as the node that takes the slot and as a second node that finds it
# taken, then a compaction. A node takes one sample per health-interval
# (10 s), so the median here over 10 s is the share of one core it costs.
# Usage: bench/health.sh [JOBS] [ROUNDS]   Needs: make build, postgresql, sqlite3.
set -euo pipefail
cd "$(dirname "$0")/.."
jobs=${1:-100000}
rounds=${2:-200}
build=${BUILD:-build}
for tool in "$build/importq" "$build/bench_health_snapshot"; do
    [ -x "$tool" ] || { echo "bench: run 'make build' first ($tool)" >&2; exit 1; }
done
if [ -z "${IMPORTQ_TEST_PG_ADMIN_URL:-}" ]; then
    exec tests/scripts/with-postgres.sh "$0" "$@"
fi
tmp=$(mktemp -d /tmp/importq-bench-health.XXXXXX)
pgdb="importq_bench_health_$$"
cleanup() {
    psql -XAtq "$IMPORTQ_TEST_PG_ADMIN_URL" -c "DROP DATABASE IF EXISTS $pgdb WITH (FORCE)" >/dev/null 2>&1
    rm -rf "$tmp"
}
trap cleanup EXIT
psql -XAtq "$IMPORTQ_TEST_PG_ADMIN_URL" -c "CREATE DATABASE $pgdb" >/dev/null
pg="${IMPORTQ_TEST_PG_ADMIN_URL%/*}/$pgdb"
# The queue, made by SQL (the sample reads only statuses, times and row
# counts): a quarter QUEUED, a sixth HELD, the rest COMPLETED over the
# last hour, created one second apart.
sqlite_seed="WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < $jobs)
INSERT INTO stg_import_queue (id, status, source, target, on_error, target_table, available_at,
  created_at, updated_at, finished_at, rows_inserted)
SELECT printf('%08x-0000-7000-8000-%012x', i, i),
  CASE WHEN i % 4 = 0 THEN 'QUEUED' WHEN i % 3 = 0 THEN 'HELD' ELSE 'COMPLETED' END,
  '{}', '{}', '{}', 't' || (i % 8), strftime('%Y-%m-%dT%H:%M:%fZ', 'now'),
  strftime('%Y-%m-%dT%H:%M:%fZ', 'now', '-' || i || ' seconds'), strftime('%Y-%m-%dT%H:%M:%fZ', 'now'),
  CASE WHEN i % 4 <> 0 AND i % 3 <> 0
       THEN strftime('%Y-%m-%dT%H:%M:%fZ', 'now', '-' || (abs(random()) % 3600) || ' seconds') END, 100
FROM n"
pg_seed="INSERT INTO stg_import_queue (id, status, source, target, on_error, target_table, available_at,
  created_at, updated_at, finished_at, rows_inserted)
SELECT gen_random_uuid(), CASE WHEN i % 4 = 0 THEN 'QUEUED' WHEN i % 3 = 0 THEN 'HELD' ELSE 'COMPLETED' END,
  '{}', '{}', '{}', 't' || (i % 8), now(), now() - (i || ' seconds')::interval, now(),
  CASE WHEN i % 4 <> 0 AND i % 3 <> 0 THEN now() - random() * interval '1 hour' END, 100
FROM generate_series(1, $jobs) i"
for backend in sqlite postgres; do
    if [ "$backend" = sqlite ]; then
        url="sqlite:$tmp/bench.db"
        "$build/importq" migrate --db "$url" >/dev/null
        sqlite3 "$tmp/bench.db" "$sqlite_seed"
    else
        url=$pg
        "$build/importq" migrate --db "$url" >/dev/null
        psql -XAtq "$pg" -c "$pg_seed" -c "VACUUM ANALYZE" >/dev/null
    fi
    echo "== $backend, $jobs jobs"
    "$build/bench_health_snapshot" "$url" "$rounds"
done
