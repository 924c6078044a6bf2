#!/usr/bin/env bash
# Engine benchmark (issue 4), side by side in one run:
#   1. throughput: JOBS one-row import jobs (8 tables, 8 workers,
#      max_concurrent 8) queued, then one `importq serve` runs them all;
#      jobs/s = JOBS / (last finished_at - first started_at), on PostgreSQL
#      and SQLite; next to graphile-worker running JOBS no-op jobs with 8
#      workers on the same PostgreSQL;
#   2. claim latency: store_job_claim + store_job_finish with 1,000 and
#      with 1,000,000 jobs queued (build/bench_claim_latency), both backends;
#   3. submit-to-start latency of an idle service (build/bench_engine_bench):
#      submitted from another process to a running `importq serve`, and
#      in-process (engine_start + engine_wake), both backends.
# Usage: bench/engine.sh [JOBS]   (default 5000)   BUILD=dir picks the build.
# Needs: a built tree (make build), packages postgresql sqlite3 nodejs npm.
# PostgreSQL is a throwaway cluster (tests/scripts/with-postgres.sh).
set -euo pipefail
shopt -s inherit_errexit
cd "$(dirname "$0")/.."
jobs=${1:-5000}
build=${BUILD:-build}
bin=$build/importq
for tool in "$bin" "$build/submit_jobs" "$build/bench_claim_latency" "$build/bench_engine_bench"; do
    [ -x "$tool" ] || { echo "bench: $tool is missing: run 'make build' first" >&2; exit 1; }
done
for tool in sqlite3 node npm psql; do
    command -v "$tool" >/dev/null || { echo "bench: missing $tool (scripts/deps.sh bench)" >&2; exit 1; }
done
if [ -z "${IMPORTQ_TEST_PG_URL:-}" ]; then
    exec tests/scripts/with-postgres.sh "$0" "$@"
fi
admin=$IMPORTQ_TEST_PG_ADMIN_URL
out=$(mktemp -d /tmp/importq-bench-engine.XXXXXX)
chmod 755 "$out"
mkdir -p "$out/in"
node_pid=
trap '[ -n "$node_pid" ] && kill -9 "$node_pid" 2>/dev/null; rm -rf "$out"' EXIT
[ -d bench/graphile/node_modules/graphile-worker ] || (cd bench/graphile && npm ci --no-audit --no-fund >/dev/null)

# fresh_pg NAME: a new database on the throwaway cluster; prints its URL.
fresh_pg() {
    psql -XAtq "$admin" -c "DROP DATABASE IF EXISTS $1" -c "CREATE DATABASE $1" >/dev/null 2>&1
    echo "${admin%/*}/$1"
}
# fresh_sqlite NAME: a new SQLite file; prints its URL.
fresh_sqlite() { rm -f "$out/$1.db"*; echo "sqlite:$out/$1.db"; }
# sql URL QUERY: one value, on either backend.
sql() {
    case $1 in
        sqlite:*) sqlite3 "${1#sqlite:}" "$2" ;;
        *) psql -XAtq "$1" -c "$2" ;;
    esac
}
# serve URL [FLAGS...]: `importq serve` in the background ($node_pid).
serve() {
    local url=$1; shift
    "$bin" serve --db "$url" --import-root "$out/in" --listen 127.0.0.1:0 "$@" 2>>"$out/serve.log" &
    node_pid=$!
}
stop_serve() { kill -TERM "$node_pid"; wait "$node_pid" || true; node_pid=; }
# wait_for URL QUERY VALUE SECONDS: until QUERY answers VALUE (or fail).
# PostgreSQL: one session that polls server-side (a new psql every 50 ms
# cost a backend start each, CPU the measured run then lacked); it
# commits between polls so it holds back no vacuum.
wait_for() {
    local end=$((SECONDS + $4))
    case $1 in
        sqlite:*)
            # Every 0.5 s: each sqlite3 is a process start and a reader
            # whose snapshot holds back the node's checkpoints (the
            # window is measured from the rows, not from this loop).
            until [ "$(sql "$1" "$2" 2>/dev/null)" = "$3" ]; do
                [ "$SECONDS" -lt "$end" ] || { echo "bench: timed out waiting for $2 = $3" >&2; tail "$out/serve.log" >&2; exit 1; }
                sleep 0.5
            done ;;
        *)
            psql -XAtq "$1" -v ON_ERROR_STOP=1 -c "SET statement_timeout = '${4}s'" -c "DO \$\$
                BEGIN
                    WHILE ($2)::text IS DISTINCT FROM '$3' LOOP
                        COMMIT;
                        PERFORM pg_sleep(0.05);
                    END LOOP;
                END \$\$" >/dev/null \
                || { echo "bench: timed out waiting for $2 = $3" >&2; tail "$out/serve.log" >&2; exit 1; } ;;
    esac
}

# throughput URL: sets rate (jobs/s run) and submit_rate (jobs/s submitted).
throughput() {
    local url=$1 t window
    "$bin" migrate --db "$url" >/dev/null 2>&1
    for t in 0 1 2 3 4 5 6 7; do sql "$url" "CREATE TABLE t$t (id bigint, label text)"; done
    printf 'id,label\n1,one\n' >"$out/in/one.csv"
    local submit_start submit_end
    submit_start=$(date +%s.%N)
    "$build/submit_jobs" "$url" "$jobs" 8 \
        '{"name": "one row {i}", "source": {"path": "one.csv"}, "target": {"table": "t{m}", "mode": "append"}}' >/dev/null 2>&1
    submit_end=$(date +%s.%N)
    serve "$url" --workers 8 --max-concurrent 8
    wait_for "$url" "SELECT count(*) FROM stg_import_queue WHERE status = 'COMPLETED'" "$jobs" 600
    stop_serve
    case $url in
        sqlite:*) window=$(sql "$url" "SELECT (julianday(max(finished_at)) - julianday(min(started_at))) * 86400 FROM stg_import_queue") ;;
        *) window=$(sql "$url" "SELECT extract(epoch FROM max(finished_at) - min(started_at)) FROM stg_import_queue") ;;
    esac
    rate=$(printf '%.0f' "$(echo "$jobs / $window" | bc -l)")
    submit_rate=$(printf '%.0f' "$(echo "$jobs / ($submit_end - $submit_start)" | bc -l)")
}

# latency URL MODE COUNT GAP_MS: bench_engine_bench's line into $line
# (MODE external runs a node).
latency() {
    local url=$1 mode=$2 count=$3 gap=$4
    "$bin" migrate --db "$url" >/dev/null 2>&1
    if [ "$mode" = external ]; then
        serve "$url"
        wait_for "$url" "SELECT count(*) FROM stg_import_coordination WHERE kind = 'node' AND status = 'alive'" 1 30
    fi
    line=$("$build/bench_engine_bench" "$url" "$out/in" "$count" "$mode" "$gap")
    if [ "$mode" = external ]; then stop_serve; fi
}
field() { sed -n "s/.*$1=\([^ ]*\).*/\1/p"; } # field NAME < logfmt line

echo "importq engine benchmark: $jobs jobs, $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg), $(date -u +%F)"
throughput "$(fresh_pg bench_tp)"; pg_rate=$rate pg_submit=$submit_rate
throughput "$(fresh_sqlite bench_tp)"; sq_rate=$rate sq_submit=$submit_rate
gw_line=$(node bench/graphile/run.js "$(fresh_pg bench_graphile)" "$jobs" 8)
gw_rate=$(field jobs_per_s <<<"$gw_line")
printf '\n%-52s %12s\n' "throughput (8 workers, 8 tables)" "jobs/s"
printf '%-52s %12s\n' "importq, PostgreSQL, one-row import jobs" "$pg_rate"
printf '%-52s %12s\n' "importq, SQLite, one-row import jobs" "$sq_rate"
printf '%-52s %12s\n' "graphile-worker 0.16.6, PostgreSQL, no-op jobs" "$gw_rate"
printf '%-52s %12s\n' "(submission through the store, PostgreSQL / SQLite)" "$pg_submit / $sq_submit"

printf '\n%-30s %10s %10s %10s %10s %10s %10s\n' "claim latency (200 claims)" "mean us" "p50 us" \
    "p99 us" "+finish" "mean x1k" "p50 x1k"
for backend in postgres sqlite; do
    for queued in 1000 1000000; do
        if [ "$backend" = postgres ]; then url=$(fresh_pg "bench_claim_$queued"); else url=$(fresh_sqlite "bench_claim_$queued"); fi
        line=$("$build/bench_claim_latency" "$url" "$queued" 200)
        mean=$(field claim_mean_us <<<"$line") p50=$(field claim_p50_us <<<"$line")
        if [ "$queued" = 1000 ]; then base_mean=$mean base_p50=$p50; fi
        printf '%-30s %10s %10s %10s %10s %9.2fx %9.2fx\n' "$backend, $queued queued" "$mean" "$p50" \
            "$(field claim_p99_us <<<"$line")" "$(field round_p50_us <<<"$line")" \
            "$(echo "$mean / $base_mean" | bc -l)" "$(echo "$p50 / $base_p50" | bc -l)"
        if [ "$backend" = sqlite ]; then rm -f "${url#sqlite:}"*; fi
    done
done

printf '\n%-52s %8s %8s %8s\n' "submit-to-start latency, idle service" "p50 ms" "p99 ms" "mean ms"
for backend in postgres sqlite; do
    for mode in external in-process; do
        count=200 gap=0
        # SQLite from another process: only the workers' 1 s poll notices,
        # so submissions come at random points of it (and fewer of them).
        if [ "$backend/$mode" = sqlite/external ]; then count=50 gap=1000; fi
        if [ "$backend" = postgres ]; then url=$(fresh_pg "bench_lat_${mode//-/_}"); else url=$(fresh_sqlite "bench_lat_$mode"); fi
        latency "$url" "$mode" "$count" "$gap"
        printf '%-52s %8s %8s %8s\n' "$backend, $mode ($count jobs)" "$(field p50_ms <<<"$line")" \
            "$(field p99_ms <<<"$line")" "$(field mean_ms <<<"$line")"
    done
done
