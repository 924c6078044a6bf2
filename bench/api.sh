#!/usr/bin/env bash
# API benchmark (issue 5): with JOBS jobs stored (default 100000), wrk
# -t2 -c32 -d20s on
#   GET /healthz                                (the HTTP stack alone: the reference)
#   GET /api/v2/import-queue/{id}
#   GET /api/v2/import-queue/status
#   GET /api/v2/import-queue?status=QUEUED&limit=50
# on SQLite and on PostgreSQL, side by side; prints requests/s, p50 and p99
# and the ratio of each route to /healthz in the same run.
# Usage: bench/api.sh [JOBS] [DURATION]   Needs: make build, wrk, postgresql.
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
run_wrk() {
    local name=$1 url=$2 out
    out=$(wrk -t2 -c32 -d"$duration" --latency -H "Authorization: Bearer $token" "$url")
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
    run_wrk "$backend status" "$base/api/v2/import-queue/status"
    run_wrk "$backend list" "$base/api/v2/import-queue?status=QUEUED&limit=50"
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
printf '%-9s %-8s %10s %9s %9s %12s\n' backend route "req/s" p50 p99 "vs healthz"
awk '{k=$1; if ($2=="healthz") base[k]=$3;
      printf "%-9s %-8s %10.0f %9s %9s %11.2fx\n", $1, $2, $3, $4, $5, $3/base[k]}' "$results"
