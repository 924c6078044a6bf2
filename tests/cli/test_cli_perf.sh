#!/usr/bin/env bash
# `importq perf` and `importq recommendations` through the real binary.
# Always: usage errors exit 2, a closed port exits 1. Then against a real
# `importq serve` on SQLite and (when IMPORTQ_TEST_PG_ADMIN_URL is set)
# PostgreSQL: a completed job's table in the report (text and --json), a
# bad window exits 2 naming the field, recommendations absent from a
# healthy history and present (with evidence) once a table's rejects are
# seeded.
# Usage: test_cli_perf.sh BINARY
set -u
bin=$1
. "$(dirname "$0")/lib.sh"
dir=$(mktemp -d)
server_pid=
trap '[ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null; rm -rf "$dir" "$out"' EXIT

# exit_is CODE CMD...: CMD exits CODE; its output goes to $dir/stdout and $dir/stderr.
exit_is() {
    local code=$1; shift
    "$@" >"$dir/stdout" 2>"$dir/stderr"
    local rc=$?
    [ "$rc" -eq "$code" ] && return 0
    echo "exit $rc, expected $code: $*"; sed 's/^/stdout: /' "$dir/stdout"; sed 's/^/stderr: /' "$dir/stderr"
    return 1
}
says() { grep -qF -- "$2" "$dir/$1" || { echo "no \"$2\" in $1:"; cat "$dir/$1"; return 1; }; }
export -f exit_is says
export dir
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

for tool in jq curl python3 sqlite3; do
    command -v "$tool" >/dev/null || { echo "FAIL: $tool is not installed (scripts/deps.sh test)"; exit 1; }
done

nowhere="http://127.0.0.1:$(free_port)"
check "perf with an argument exits 2" exit_is 2 "$bin" perf extra --server "$nowhere"
check "recommendations with an argument exits 2" exit_is 2 "$bin" recommendations now --server "$nowhere"
check "perf --table needs a value" exit_is 2 "$bin" perf --table --server "$nowhere"
check "recommendations takes no --table" exit_is 2 "$bin" recommendations --table t --server "$nowhere"
for c in perf recommendations; do
    check "$c --help" bash -c "'$bin' $c --help | grep -q -- '--since'"
    check "unreachable server: $c exits 1" exit_is 1 "$bin" $c --server "$nowhere"
done

start_server() {
    local db=$1
    port=$(free_port)
    server="http://127.0.0.1:$port"
    "$bin" migrate --db "$db" >/dev/null || { echo "migrate failed"; return 1; }
    operator_token=$("$bin" token create --name "op$port" --role operator --db "$db" 2>/dev/null) || return 1
    viewer_token=$("$bin" token create --name "view$port" --role viewer --db "$db" 2>/dev/null) || return 1
    "$bin" serve --db "$db" --listen "127.0.0.1:$port" --import-root "$dir/imports" \
        --shutdown-grace 1s >"$dir/serve-$port.log" 2>&1 &
    server_pid=$!
    wait_healthz "$server" "$server_pid" "$dir/serve-$port.log"
}
stop_server() {
    [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null
    server_pid=
}

mkdir -p "$dir/imports"
printf 'team_id,name\n1,Platform\n2,Data\n3,Web\n' >"$dir/imports/teams.csv"
printf '{"name": "teams", "max_attempts": 1, "source": {"format": "csv", "path": "teams.csv"},
  "target": {"table": "teams", "mode": "upsert", "key": ["team_id"], "create": true,
             "columns": [{"name": "team_id", "type": "integer", "required": true},
                         {"name": "name", "type": "text"}]}}' >"$dir/teams.json"

suite() { # label db sql-command...
    local label=$1 db=$2; shift 2
    local sql=("$@")
    check "$label: server starts" start_server "$db" || return
    export IMPORTQ_SERVER=$server IMPORTQ_TOKEN=$operator_token
    check "$label: a job completes" exit_is 0 "$bin" submit "$dir/teams.json" --wait
    local id
    id=$(head -n 1 "$dir/stdout")
    export IMPORTQ_TOKEN=$viewer_token

    check "$label: perf lists the table" \
        bash -c "exit_is 0 '$bin' perf && says stdout 'P95_MS' && grep -qE '^teams +1 +0 ' '$dir/stdout'"
    check "$label: perf --table --json" \
        bash -c "[ \"\$('$bin' perf --table teams --json | jq -r '.items[0] | \"\(.table) \(.count) \(.completed) \(.rows_read)\"')\" = 'teams 1 1 3' ]"
    check "$label: perf --table of another table is empty" \
        bash -c "exit_is 0 '$bin' perf --table nothing_here && says stdout 'no attempts in the window'"
    check "$label: perf --since bogus exits 2 naming since" \
        bash -c "exit_is 2 '$bin' perf --since bogus && says stderr 'since'"
    check "$label: perf --limit 0 exits 2" exit_is 2 "$bin" perf --limit 0
    check "$label: recommendations on a healthy history" \
        bash -c "exit_is 0 '$bin' recommendations && says stdout 'no recommendations'"

    # A table that rejected half its rows half an hour ago (rows seeded on the job that ran).
    local at
    at=$(date -u -d '-30 min' +%Y-%m-%dT%H:%M:%S.000Z)
    "${sql[@]}" "INSERT INTO stg_import_performance (job_id, attempt, target_table, phase, started_at,
        duration_ms, rows, bytes, outcome) VALUES ('$id', 9, 'leads', 'read', '$at', 10, 1000, 0, 'COMPLETED'),
        ('$id', 9, 'leads', 'validate', '$at', 0, 500, 0, 'COMPLETED')" >/dev/null
    check "$label: recommendations name the rejecting table" \
        bash -c "exit_is 0 '$bin' recommendations && says stdout 'high_reject_rate: Imports into leads rejected 50%' && says stdout '\"rows_rejected\":500'"
    check "$label: recommendations --json" \
        bash -c "[ \"\$('$bin' recommendations --json | jq -r '.items[] | select(.kind == \"high_reject_rate\") | .evidence.table')\" = leads ]"
    check "$label: a window before it has none" \
        bash -c "exit_is 0 '$bin' recommendations --since '$(date -u -d '-3 hours' +%Y-%m-%dT%H:%M:%SZ)' --until '$(date -u -d '-2 hours' +%Y-%m-%dT%H:%M:%SZ)' && says stdout 'no recommendations'"
    unset IMPORTQ_SERVER IMPORTQ_TOKEN
    stop_server
}

suite sqlite "sqlite:$dir/service.db" sqlite3 "$dir/service.db"

if [ -n "${IMPORTQ_TEST_PG_ADMIN_URL:-}" ]; then
    name="importq_cli_perf_$$"
    psql "$IMPORTQ_TEST_PG_ADMIN_URL" -qc "CREATE DATABASE $name" >/dev/null
    pg="${IMPORTQ_TEST_PG_ADMIN_URL%/*}/$name"
    suite postgres "$pg" psql "$pg" -tAc
    psql "$IMPORTQ_TEST_PG_ADMIN_URL" -qc "DROP DATABASE $name WITH (FORCE)" >/dev/null
elif [ "${IMPORTQ_REQUIRE_PG:-}" = 1 ]; then
    echo "FAIL: PostgreSQL required but IMPORTQ_TEST_PG_ADMIN_URL is not set"; fail=$((fail + 1))
fi
summary cli_perf
