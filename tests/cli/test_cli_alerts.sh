#!/usr/bin/env bash
# `importq alerts` through the real binary. Always: usage errors exit 2, a
# closed port exits 1. Then against a real `importq serve` (alerts looked
# at every 100 ms, levels without a for-duration) on SQLite and, when
# IMPORTQ_TEST_PG_ADMIN_URL is set, PostgreSQL: a job that fails opens a
# job_failed alert, which `importq alerts` lists (table and --json, --state
# filters it), `--ack ID` acknowledges (acked_by the token's name, audited),
# a viewer may not acknowledge (403, exit 1), an unknown id exits 1.
# Usage: test_cli_alerts.sh BINARY
set -u
bin=$1
. "$(dirname "$0")/lib.sh"
dir=$(mktemp -d)
server_pid=
trap '[ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null; rm -rf "$dir" "$out"' EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
for tool in jq curl python3 sqlite3; do
    command -v "$tool" >/dev/null || { echo "FAIL: $tool is not installed (scripts/deps.sh test)"; exit 1; }
done

nowhere="http://127.0.0.1:$(free_port)"
check "alerts with an argument exits 2" expect_exit 2 "$bin" alerts now --server "$nowhere"
check "alerts --state bogus! exits 2" expect_exit 2 "$bin" alerts --state 'open&x=1' --server "$nowhere"
check "alerts --limit abc exits 2" expect_exit 2 "$bin" alerts --limit abc --server "$nowhere"
check "alerts --ack abc exits 2" expect_exit 2 "$bin" alerts --ack abc --server "$nowhere"
check "alerts --ack with --state exits 2" expect_exit 2 "$bin" alerts --ack 1 --state open --server "$nowhere"
check "alerts --help names --ack" bash -c "'$bin' alerts --help | grep -q -- '--ack'"
check "unreachable server exits 1" expect_exit 1 "$bin" alerts --server "$nowhere"

start_server() {
    local db=$1
    port=$(free_port)
    server="http://127.0.0.1:$port"
    "$bin" migrate --db "$db" >/dev/null || { echo "migrate failed"; return 1; }
    operator_token=$("$bin" token create --name "op$port" --role operator --db "$db") || return 1
    viewer_token=$("$bin" token create --name "view$port" --role viewer --db "$db") || return 1
    "$bin" serve --db "$db" --listen "127.0.0.1:$port" --import-root "$dir/imports" \
        --alert-every 100ms --alert-for 0 --shutdown-grace 1s >"$dir/serve-$port.log" 2>&1 &
    server_pid=$!
    wait_healthz "$server" "$server_pid" "$dir/serve-$port.log"
}
stop_server() {
    [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null
    server_pid=
}
mkdir -p "$dir/imports"
printf '{"name": "doomed", "max_attempts": 1, "source": {"format": "csv", "path": "missing.csv"},
  "target": {"table": "doomed", "create": true, "columns": [{"name": "a", "type": "text"}]}}' \
    >"$dir/doomed.json"

# until_alert: wait up to 20 s for an open job_failed alert; prints its id.
until_alert() {
    for _ in $(seq 1 200); do
        local id
        id=$("$bin" alerts --state open --json | jq -r '[.items[] | select(.rule == "job_failed")][0].id // empty')
        [ -n "$id" ] && { echo "$id"; return 0; }
        sleep 0.1
    done
    echo "no job_failed alert opened" >&2; return 1
}

suite() { # label db
    local label=$1 db=$2
    check "$label: server starts" start_server "$db" || return
    export IMPORTQ_SERVER=$server IMPORTQ_TOKEN=$operator_token
    check "$label: no alerts at first" bash -c "'$bin' alerts | grep -q 'no alerts'"
    local job
    job=$("$bin" submit "$dir/doomed.json" --wait 2>/dev/null | head -n 1)
    local id
    id=$(until_alert) || { failed "$label: a failed job opens an alert"; stop_server; return; }
    check "$label: the alert names the job" \
        bash -c "'$bin' alerts --json | jq -e --arg j '$job' '.items[] | select(.id == $id) | .entity_id == \$j' >/dev/null"
    check "$label: the table shows it" bash -c "'$bin' alerts | grep -E '^$id +open +critical +job_failed'"
    check "$label: a viewer cannot acknowledge" \
        bash -c "IMPORTQ_TOKEN='$viewer_token' '$bin' alerts --ack $id 2>&1; [ \$? -eq 1 ]"
    check "$label: --ack acknowledges" \
        bash -c "'$bin' alerts --ack $id | grep -E '^$id +acked' && '$bin' alerts --ack $id --json | jq -e '.acked_by == \"op$port\"'"
    check "$label: --state acked lists it, --state open does not" \
        bash -c "'$bin' alerts --state acked --json | jq -e '[.items[].id] | index($id) != null' &&
                 '$bin' alerts --state open --json | jq -e '[.items[].id] | index($id) == null'"
    check "$label: --limit 1 --json has a next_cursor key" \
        bash -c "'$bin' alerts --limit 1 --json | jq -e 'has(\"next_cursor\") and (.items | length) == 1'"
    check "$label: the acknowledgement is audited" \
        bash -c "curl -fsS -H 'Authorization: Bearer $operator_token' '$server/api/v2/import-audit?action=alert.acked' | jq -e '.items[0].entity_id == \"$id\"'"
    check "$label: an unknown alert exits 1" bash -c "'$bin' alerts --ack 999999 2>&1; [ \$? -eq 1 ]"
    check "$label: the server logged the alert" grep -q 'msg="alert opened".*rule=job_failed' "$dir/serve-$port.log"
    unset IMPORTQ_SERVER IMPORTQ_TOKEN
    stop_server
}

suite sqlite "sqlite:$dir/service.db"

if [ -n "${IMPORTQ_TEST_PG_ADMIN_URL:-}" ]; then
    name="importq_cli_alerts_$$"
    psql "$IMPORTQ_TEST_PG_ADMIN_URL" -qc "CREATE DATABASE $name" >/dev/null
    suite postgres "${IMPORTQ_TEST_PG_ADMIN_URL%/*}/$name"
    psql "$IMPORTQ_TEST_PG_ADMIN_URL" -qc "DROP DATABASE $name WITH (FORCE)" >/dev/null
elif [ "${IMPORTQ_REQUIRE_PG:-}" = 1 ]; then
    echo "FAIL: PostgreSQL required but IMPORTQ_TEST_PG_ADMIN_URL is not set"; fail=$((fail + 1))
fi
summary cli_alerts
