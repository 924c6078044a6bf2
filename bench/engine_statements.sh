#!/usr/bin/env bash
# Where PostgreSQL's time goes in one-row import jobs: JOBS one-row jobs
# (default 3000; the same jobs, tables and `importq serve --workers 8
# --max-concurrent 8` as bench/engine.sh's throughput step) on a throwaway
# cluster with pg_stat_statements loaded, then every statement the
# database ran meanwhile, with its execution time and calls per job (the
# time includes waits on locks: pg_advisory_xact_lock's is the claim's
# queue). The breakdown behind BENCHMARKS.md's engine rows: compare
# bench/engine_floor.sql, which runs the least SQL such a job needs.
# Usage: bench/engine_statements.sh [JOBS]   IMPORTQ_PG_SETTINGS test (default)
# or production; BUILD=dir picks the build. Needs: make build, postgresql.
set -euo pipefail
cd "$(dirname "$0")/.."
jobs=${1:-3000}
build=${BUILD:-build}
case $jobs in '' | *[!0-9]* | 0) echo "usage: $0 [JOBS]" >&2; exit 2 ;; esac
for tool in "$build/importq" "$build/submit_jobs"; do
    [ -x "$tool" ] || { echo "bench: $tool is missing: run 'make build' first" >&2; exit 1; }
done
if [ -z "${IMPORTQ_TEST_PG_URL:-}" ]; then
    IMPORTQ_PG_EXTRA_CONF="shared_preload_libraries = 'pg_stat_statements'
pg_stat_statements.track = all" exec tests/scripts/with-postgres.sh "$0" "$@"
fi
url=$IMPORTQ_TEST_PG_URL
out=$(mktemp -d /tmp/importq-bench-statements.XXXXXX)
node_pid=
cleanup() { [ -n "$node_pid" ] && kill "$node_pid" 2>/dev/null; wait 2>/dev/null; rm -rf "$out"; }
trap cleanup EXIT
mkdir -p "$out/in"
printf 'id,label\n1,one\n' >"$out/in/one.csv"
"$build/importq" migrate --db "$url" >/dev/null
for t in 0 1 2 3 4 5 6 7; do psql -XAtq "$url" -c "CREATE TABLE t$t (id bigint, label text)"; done
"$build/submit_jobs" "$url" "$jobs" 8 \
    '{"name": "one row {i}", "source": {"path": "one.csv"}, "target": {"table": "t{m}", "mode": "append"}}' >/dev/null
psql -XAtq "$url" -c "CREATE EXTENSION IF NOT EXISTS pg_stat_statements" -c "SELECT pg_stat_statements_reset()" >/dev/null
"$build/importq" serve --db "$url" --import-root "$out/in" --listen 127.0.0.1:0 --workers 8 --max-concurrent 8 \
    2>"$out/serve.log" &
node_pid=$!
end=$((SECONDS + 600))
until [ "$(psql -XAtq "$url" -c "SELECT count(*) FROM stg_import_queue WHERE status = 'COMPLETED'")" = "$jobs" ]; do
    [ "$SECONDS" -lt "$end" ] || { echo "bench: the jobs did not complete" >&2; tail "$out/serve.log" >&2; exit 1; }
    sleep 0.5
done
kill -TERM "$node_pid"; wait "$node_pid" || true; node_pid=
echo "importq engine statements: $jobs one-row jobs, PostgreSQL ${IMPORTQ_TEST_PG_SETTINGS:-test} settings, $(date +%F)"
# COPYs into t0..t7 count as one row; the rest are as the server kept them.
psql -XAq "$url" -P pager=off -P footer=off -c "
    WITH s AS (
        SELECT CASE WHEN query LIKE 'COPY %' THEN 'COPY \"public\".\"t<n>\" (\"id\", \"label\") FROM STDIN'
                    ELSE regexp_replace(query, '\s+', ' ', 'g') END AS statement,
               total_exec_time, calls
        FROM pg_stat_statements
        WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database()))
    SELECT round((sum(total_exec_time) / $jobs)::numeric, 3) AS ms_per_job,
           round((sum(calls)::numeric / $jobs), 2) AS calls_per_job,
           left(statement, 100) AS statement
    FROM s GROUP BY statement
    HAVING sum(calls) >= $jobs / 10
    ORDER BY sum(total_exec_time) DESC"
psql -XAtq "$url" -c "SELECT 'all statements: ' || round((sum(total_exec_time) / $jobs)::numeric, 3) || ' ms per job'
    FROM pg_stat_statements WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())"
