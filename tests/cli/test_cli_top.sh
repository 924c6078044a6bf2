#!/usr/bin/env bash
# `importq top` through the real binary against a real `importq serve`, on
# SQLite and (when IMPORTQ_TEST_PG_ADMIN_URL is set) PostgreSQL: usage and
# an unreachable server; one plain frame (--once, or stdout not a
# terminal) with the queue's counts and health and a running job's line
# (name, phase, progress bar, rows); the live view on a pseudo-terminal
# (tests/cli/top_pty.py) quits on q and on Ctrl-C and gives the terminal
# back. The running job reads a FIFO the test holds open, so it stays
# RUNNING for as long as the checks need, whatever the machine's speed.
# Usage: test_cli_top.sh BINARY
set -u
bin=$1
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
dir=$(mktemp -d)
server_pid=
writer_pid=
trap '[ -n "$writer_pid" ] && kill "$writer_pid" 2>/dev/null; [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null; rm -rf "$dir" "$out"' EXIT
for tool in jq python3; do
    command -v "$tool" >/dev/null || { echo "FAIL: $tool is not installed (scripts/deps.sh test)"; exit 1; }
done
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

closed="http://127.0.0.1:$(free_port)"
check "top with an argument exits 2" expect_exit 2 "$bin" top now --server "$closed"
check "top --once against a closed port exits 1 and names it" \
    bash -c "'$bin' top --once --server '$closed' 2>&1 >/dev/null | grep -qF 'cannot reach the importq server at $closed'; [ \${PIPESTATUS[0]} -eq 1 ]"

start_server() { # DB
    port=$(free_port)
    server="http://127.0.0.1:$port"
    "$bin" migrate --db "$1" >/dev/null || { echo "migrate failed"; return 1; }
    token=$("$bin" token create --name "top$port" --role operator --db "$1" 2>/dev/null) || return 1
    "$bin" serve --db "$1" --listen "127.0.0.1:$port" --import-root "$dir/imports" \
        --shutdown-grace 1s >"$dir/serve-$port.log" 2>&1 &
    server_pid=$!
    wait_healthz "$server" "$server_pid" "$dir/serve-$port.log"
}
stop_server() {
    [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null
    server_pid=
}
job_status() { "$bin" job "$1" --json | jq -r .status; }
until_rows() { # ID: feed the source until the job's progress counts rows
    for _ in $(seq 1 300); do   # (the pipeline reports every so often, not every row)
        : >"$dir/more"
        [ "$("$bin" job "$1" --json | jq -r .progress.rows_read)" -gt 0 ] && return 0
        sleep 0.1
    done
    echo "job $1 reports no rows read"; return 1
}
until_status() { # ID STATUS
    for _ in $(seq 1 300); do
        [ "$(job_status "$1")" = "$2" ] && return 0
        sleep 0.1
    done
    echo "job $1 is $(job_status "$1"), not $2"; return 1
}
spec() { # name path [extra members]
    printf '{"name": "%s", "max_attempts": 1, %s "source": {"format": "csv", "path": "%s"},
  "target": {"table": "streamed", "mode": "append", "create": true,
             "columns": [{"name": "id", "type": "integer"}, {"name": "label", "type": "text"}]}}' \
        "$1" "${3:-}" "$2"
}

suite() { # label db
    local label=$1
    check "$label: server starts" start_server "$2" || return
    export IMPORTQ_SERVER=$server IMPORTQ_TOKEN=$token
    mkdir -p "$dir/imports"
    rm -f "$dir/imports/stream.csv" "$dir/more" "$dir/end"
    mkfifo "$dir/imports/stream.csv"
    # The source: a header, then 4096 more rows each time the test creates
    # the file "more" (taken away here), until it creates "end". Plain files,
    # not a second FIFO: a write to a FIFO whose reader is between two opens
    # was lost, or blocked for good once the reader had gone (a hang under
    # ASan in CI).
    { printf 'id,label\n'; n=0
      while [ ! -e "$dir/end" ]; do
          if [ -e "$dir/more" ]; then
              rm -f "$dir/more"
              seq $((n + 1)) $((n + 4096)) | sed 's/$/,row/'; n=$((n + 4096))
          fi
          sleep 0.05
      done; } >"$dir/imports/stream.csv" &
    writer_pid=$!
    spec "held one" none.csv '"hold": true,' >"$dir/held.json"
    spec "streaming import" stream.csv >"$dir/stream.json"
    "$bin" submit "$dir/held.json" >/dev/null
    local id
    id=$("$bin" submit "$dir/stream.json" | head -n 1)
    check "$label: the streaming job runs" until_status "$id" RUNNING
    check "$label: the streaming job reads" until_rows "$id"

    "$bin" top --once >"$dir/frame" 2>"$dir/frame.err"
    check "$label: top --once exits 0" [ $? -eq 0 ]
    check "$label: the frame has the queue and its health" \
        bash -c "grep -q 'health: ok' '$dir/frame' && grep -q '0 queued, 1 held, 1 of 3 running' '$dir/frame' && grep -q 'nodes 1 alive' '$dir/frame' && grep -q 'alerts 0 open, 0 acked' '$dir/frame'"
    check "$label: the frame has the running job: id, name, phase, bar, rows" \
        bash -c "grep -E '${id: -8} +streaming import +(read|stage|validate|promote) +\[[#.]{20}\] +[0-9.]+% +[1-9][0-9]* +[0-9.]+ ' '$dir/frame' || { cat '$dir/frame'; exit 1; }"
    check "$label: one plain frame when stdout is not a terminal" \
        bash -c "'$bin' top | grep -c 'importq top' | grep -qx 1 && ! '$bin' top | grep -q \$'\\033'"
    check "$label: live view quits on q and restores the terminal" \
        python3 "$here/top_pty.py" q "$bin" top
    check "$label: live view quits on Ctrl-C and restores the terminal" \
        python3 "$here/top_pty.py" ctrl-c "$bin" top

    : >"$dir/end"
    wait "$writer_pid"
    writer_pid=
    check "$label: the streaming job completes once its source ends" until_status "$id" COMPLETED
    check "$label: top --once: nothing running" \
        bash -c "'$bin' top --once | grep -q '(no job is running)'"
    unset IMPORTQ_SERVER IMPORTQ_TOKEN
    stop_server
}

suite sqlite "sqlite:$dir/service.db"

if [ -n "${IMPORTQ_TEST_PG_ADMIN_URL:-}" ]; then
    name="importq_cli_top_$$"
    psql "$IMPORTQ_TEST_PG_ADMIN_URL" -qc "CREATE DATABASE $name" >/dev/null
    suite postgres "${IMPORTQ_TEST_PG_ADMIN_URL%/*}/$name"
    psql "$IMPORTQ_TEST_PG_ADMIN_URL" -qc "DROP DATABASE $name WITH (FORCE)" >/dev/null
elif [ "${IMPORTQ_REQUIRE_PG:-}" = 1 ]; then
    echo "FAIL: PostgreSQL required but IMPORTQ_TEST_PG_ADMIN_URL is not set"; fail=$((fail + 1))
fi
summary cli_top
