#!/usr/bin/env bash
# API benchmark (issues 5, 14, 16): with JOBS jobs stored (default 100000), wrk
# -t2 -c32 -dDURATION on
#   GET /healthz                                (the HTTP stack alone: the reference)
#   GET /api/v2/import-queue/{id}               (job)
#   GET /api/v2/import-queue/status             (status)
#   GET /metrics                                (metrics: Prometheus text, queue gauges
#                                                from the same status cache; and
#                                                metrics-1c: one connection, as a
#                                                scraper asks)
#   GET /api/v2/import-queue?status=QUEUED&limit=50            (list: lean items)
#   GET /api/v2/import-queue?status=QUEUED&limit=50&view=full  (list-full)
# on SQLite and on PostgreSQL, side by side; prints requests/s, p50 and p99
# and the ratio of each route to /healthz in the same run. On PostgreSQL
# also the floors of the job and list routes: pgbench running the statement
# the server runs for GET /{id} (bench/api_job_floor.sql) and for the lean
# page of 50 (bench/api_list_floor.sql), each checked against what
# pg_stat_activity kept of it right after the route's run, prepared,
# for the same job or filter, with as many clients (32)
# and threads (2) as wrk, for the same time; its p50/p99 come from
# pgbench's per-transaction log. Then route / floor, and the ceiling the two
# halves of a request set on one machine: 1 / (1/healthz + 1/pgbench).
# Usage: bench/api.sh [JOBS] [DURATION]   Needs: make build, wrk, postgresql
# (pgbench).
set -euo pipefail
cd "$(dirname "$0")/.."
jobs=${1:-100000}
duration=${2:-20s}
build=${BUILD:-build}
bin=$build/importq
seed=$build/bench_api_seed
[ -x "$bin" ] && [ -x "$seed" ] || { echo "bench: run 'make build' first" >&2; exit 1; }
command -v wrk >/dev/null || { echo "bench: missing wrk (apt-get install wrk)" >&2; exit 1; }
if [ -z "${IMPORTQ_TEST_PG_ADMIN_URL:-}" ]; then
    exec tests/scripts/with-postgres.sh "$0" "$@"
fi

tmp=$(mktemp -d /tmp/importq-bench-api.XXXXXX)
server=
cleanup() { [ -n "$server" ] && kill "$server" 2>/dev/null; wait 2>/dev/null; rm -rf "$tmp"; }
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# run_wrk NAME URL: one wrk run; prints "NAME req/s p50_ms p99_ms".
run_wrk() { # name url [connections: 32, on 2 threads; 1 on one]
    local name=$1 url=$2 connections=${3:-32} out
    out=$(wrk -t"$(( connections < 2 ? 1 : 2 ))" -c"$connections" -d"$duration" --latency \
        -H "Authorization: Bearer $token" "$url")
    local rps p50 p99
    rps=$(awk '/^Requests\/sec/ {print $2}' <<<"$out")
    p50=$(awk '$1 == "50%" {print $2}' <<<"$out")
    p99=$(awk '$1 == "99%" {print $2}' <<<"$out")
    if grep -q "Non-2xx" <<<"$out"; then
        echo "bench: $name: wrk saw non-2xx answers" >&2
        grep "Non-2xx" <<<"$out" >&2
    fi
    echo "$name $rps $p50 $p99"
}

# run_pgbench_floor NAME FILE LIKE DB_URL VAR=VALUE: a route's statement
# (FILE, with :VAR for its parameter) under pgbench, prepared, 32 clients on
# 2 threads as wrk; prints "postgres pgbench-NAME tps p50 p99". FILE must
# start with what pg_stat_activity kept of the server's last statement
# that is LIKE the pattern (its first 1023 bytes), with $1 for :VAR.
run_pgbench_floor() {
    local name=$1 file=$2 like=$3 db=$4 var=${5%%=*} ran floor
    ran=$(psql -XAtq "$db" -c "SELECT query FROM pg_stat_activity
        WHERE query LIKE '$like' AND pid <> pg_backend_pid() LIMIT 1")
    floor=$(grep -v '^--' "$file" | sed "s/:$var\b/\$1/; s/CAST(\$1 AS uuid)/\$1/")
    if [ -z "$ran" ] || [ "${floor:0:${#ran}}" != "$ran" ]; then
        echo "bench: $file is not the statement the server ran:" >&2
        echo "  server: ${ran:0:200}..." >&2
        return 1
    fi
    # pgbench would take the ":MI" and ":SS" of the time format for
    # variables: the same text with chr(58) (folded when planned).
    sed "s/HH24:MI:SS/HH24' || chr(58) || 'MI' || chr(58) || 'SS/g" "$file" >"$tmp/floor.sql"
    local secs=${duration%s} out tps
    out=$(cd "$tmp" && pgbench -n -M prepared -c 32 -j 2 -T "$secs" -D "$5" -f floor.sql \
        --log --log-prefix=pgbench_floor "$db" 2>&1) || { echo "$out" >&2; return 1; }
    tps=$(awk '/^tps = / {print $3; exit}' <<<"$out")
    # Per-transaction log: column 3 is the latency in microseconds.
    cat "$tmp"/pgbench_floor.* | awk '{print $3}' | sort -n >"$tmp/pgbench_lat"
    local n p50 p99
    n=$(wc -l <"$tmp/pgbench_lat")
    p50=$(sed -n "$(( (n + 1) / 2 ))p" "$tmp/pgbench_lat")
    p99=$(sed -n "$(( (n * 99 + 99) / 100 ))p" "$tmp/pgbench_lat")
    rm -f "$tmp"/pgbench_floor.*
    printf 'postgres pgbench-%s %s %.2fms %.2fms\n' "$name" "$tps" "$(bc -l <<<"$p50/1000")" "$(bc -l <<<"$p99/1000")"
}

bench_backend() { # backend db_url
    local backend=$1 db=$2 port last
    echo "== $backend: seeding $jobs jobs" >&2
    last=$("$seed" "$db" "$jobs")
    token=$("$bin" token create --name "bench-$backend" --role viewer --db "$db")
    port=$(free_port)
    mkdir -p "$tmp/imports"
    "$bin" serve --db "$db" --listen "127.0.0.1:$port" --import-root "$tmp/imports" \
        --workers 1 --log-level warn >"$tmp/serve-$backend.log" 2>&1 &
    server=$!
    for _ in $(seq 100); do curl -sf "http://127.0.0.1:$port/healthz" >/dev/null && break; sleep 0.1; done
    local base="http://127.0.0.1:$port"
    run_wrk "$backend healthz" "$base/healthz"
    run_wrk "$backend job" "$base/api/v2/import-queue/$last"
    if [ "$backend" = postgres ]; then
        run_pgbench_floor job bench/api_job_floor.sql 'SELECT q.id, q.request_id, %' "$db" "id=$last" || true
    fi
    run_wrk "$backend status" "$base/api/v2/import-queue/status"
    run_wrk "$backend metrics" "$base/metrics"
    run_wrk "$backend metrics-1c" "$base/metrics" 1
    run_wrk "$backend list" "$base/api/v2/import-queue?status=QUEUED&limit=50"
    if [ "$backend" = postgres ]; then
        run_pgbench_floor list bench/api_list_floor.sql 'SELECT q.id, q.name, %' "$db" status=QUEUED || true
    fi
    run_wrk "$backend list-full" "$base/api/v2/import-queue?status=QUEUED&limit=50&view=full"
    kill "$server"; wait "$server" 2>/dev/null || true; server=
}

results=$tmp/results
{
    bench_backend sqlite "sqlite:$tmp/bench.db"
    pgdb="importq_bench_api_$$"
    psql -q "$IMPORTQ_TEST_PG_ADMIN_URL" -c "CREATE DATABASE $pgdb" >/dev/null
    bench_backend postgres "${IMPORTQ_TEST_PG_ADMIN_URL%/*}/$pgdb"
} >"$results"

echo
echo "API benchmark: $jobs jobs stored, wrk -t2 -c32 -d$duration, $(nproc) cores, $(date -u +%F)"
printf '%-9s %-12s %10s %9s %9s %12s\n' backend route "req/s" p50 p99 "vs healthz"
awk '{k=$1; if ($2=="healthz") base[k]=$3; if ($2 ~ /^pgbench-/) floor[substr($2, 9)]=$3; else if (k=="postgres") rps[$2]=$3;
      printf "%-9s %-12s %10.0f %9s %9s %11.2fx\n", $1, $2, $3, $4, $5, $3/base[k]}
     END {for (r in floor) {
         printf "postgres %s / pgbench of its statement (32 clients): %.2fx\n", r, rps[r]/floor[r]
         # The machine serves both halves of a request: the HTTP stack (healthz)
         # and the statement (pgbench); each costs its share of the same cores.
         ceiling = 1 / (1 / base["postgres"] + 1 / floor[r])
         printf "postgres %s ceiling, 1 / (1/healthz + 1/pgbench): %.0f req/s = %.2fx of pgbench; %s reaches %.2fx of it\n", r, ceiling, ceiling/floor[r], r, rps[r]/ceiling}}' "$results"
