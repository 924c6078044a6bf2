#!/usr/bin/env bash
# Every example in every command's help runs, as written, and exits 0: in
# a fresh directory holding the files the examples name (users.csv,
# users.json, products.csv, export.csv, importq.ini), with `importq` on
# PATH. First the commands that need no server (in the order of
# `importq --help`), then the client commands against a real `importq
# serve` (IMPORTQ_SERVER, IMPORTQ_TOKEN in the environment, as a user sets
# them). What a machine cannot take as written is swapped, and only that:
#   - the stand-in job or schedule id of an example: a fresh held job
#     (job, cancel, execute) or schedule (schedules) for each example line,
#     and `--ack 1`: an open alert's id;
#   - 127.0.0.1:8080: the test server's free port (serve examples listen on
#     IMPORTQ_LISTEN, another free port: each runs until /healthz answers,
#     then stops on SIGTERM and must exit 0);
#   - postgres://importq:secret@localhost/importq: a database of its own in
#     the throwaway cluster (IMPORTQ_TEST_PG_ADMIN_URL); without one such
#     lines are skipped, or fail when IMPORTQ_REQUIRE_PG=1.
# Usage: test_cli_help_examples.sh BINARY
set -u
bin=$(realpath "$1")
. "$(dirname "$0")/lib.sh"
dir=$(mktemp -d)
work=$dir/work
server_pid=
pg=
pg_name=importq_cli_examples_$$
cleanup() {
    [ -f "$dir/fifo-writers" ] && kill $(cat "$dir/fifo-writers") 2>/dev/null
    [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null
    [ -n "$pg" ] && psql "$IMPORTQ_TEST_PG_ADMIN_URL" -qc "DROP DATABASE $pg_name WITH (FORCE)" >/dev/null
    rm -rf "$dir" "$out"
}
trap cleanup EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
for tool in jq curl python3; do
    command -v "$tool" >/dev/null || { echo "FAIL: $tool is not installed (scripts/deps.sh test)"; exit 1; }
done
example_pg=postgres://importq:secret@localhost/importq
example_id=0193a5f2-7c1e-7b2a-9f00-000000000001
skipped=0
if [ -n "${IMPORTQ_TEST_PG_ADMIN_URL:-}" ]; then
    psql "$IMPORTQ_TEST_PG_ADMIN_URL" -qc "CREATE DATABASE $pg_name" >/dev/null || exit 1
    pg="${IMPORTQ_TEST_PG_ADMIN_URL%/*}/$pg_name"
fi

mkdir -p "$dir/bin" "$dir/home" "$work"
ln -s "$bin" "$dir/bin/importq"
export PATH="$dir/bin:$PATH" HOME="$dir/home"
unset IMPORTQ_DB IMPORTQ_SERVER IMPORTQ_TOKEN IMPORTQ_CONFIG IMPORTQ_LISTEN
cd "$work" || exit 1
printf 'user_id,email,name\n1,ann@example.com,Ann\n2,bob@example.com,Bob\n' >users.csv
printf 'exported by crm\n2026-12-01\nuser_id;email;name\n3;cy@example.com;Cy\n' >export.csv
printf 'sku,title,price\nA-1,Pen,1.50\nB-2,Ink,12.00\n' >products.csv
printf '{"name": "nightly users", "source": {"format": "csv", "path": "users.csv"},
  "target": {"table": "users", "mode": "upsert", "key": ["user_id"], "create": true,
    "columns": [{"name": "user_id", "type": "bigint", "required": true},
                {"name": "email", "type": "text"}, {"name": "name", "type": "text"}]}}\n' >users.json
printf '[importq]\nimport_root = .\nmax_concurrent = 2\n' >importq.ini
printf '{"name": "nightly", "jobs": [
  {"key": "users", "source": {"format": "csv", "path": "users.csv"}, "target": {"table": "users",
    "mode": "upsert", "key": ["user_id"], "create": true, "columns": [{"name": "user_id", "type": "bigint",
    "required": true}, {"name": "email", "type": "text"}, {"name": "name", "type": "text"}]}},
  {"key": "again", "after": ["users"], "source": {"format": "csv", "path": "users.csv"},
    "target": {"table": "users", "mode": "upsert", "key": ["user_id"]}}]}\n' >nightly.json
# not named by any example: what the stand-ins are made from
printf '{"name": "held", "hold": true, "source": {"format": "csv", "path": "users.csv"},
  "target": {"table": "users", "mode": "upsert", "key": ["user_id"]}}\n' >"$dir/held.json"
printf '{"name": "doomed", "max_attempts": 1, "source": {"format": "csv", "path": "missing.csv"},
  "target": {"table": "doomed", "create": true, "columns": [{"name": "a", "type": "text"}]}}\n' \
    >"$dir/doomed.json"

# examples CMD: CMD's examples from its help, one a line (a line ending in
# \ continues on the next, as in the shell: they are joined).
examples() {
    "$bin" help "$1" | awk '
        /^Examples:/ {on = 1; next}
        on && /^ / {sub(/^  /, ""); if (sub(/\\$/, "")) {line = line $0; next} print line $0; line = ""}'
}

# run_serve LINE: a serve example, up until /healthz answers, then SIGTERM; exit 0.
run_serve() {
    local line=$1 port pid rc
    port=$(free_port)
    IMPORTQ_LISTEN=127.0.0.1:$port bash -c "$line" </dev/null >"$dir/serve.log" 2>&1 &
    pid=$!
    wait_healthz "http://127.0.0.1:$port" "$pid" "$dir/serve.log" || { kill "$pid" 2>/dev/null; return 1; }
    kill -TERM "$pid"
    wait "$pid"
    rc=$?
    [ "$rc" -eq 0 ] || { echo "serve exited $rc"; cat "$dir/serve.log"; return 1; }
}

# stand_in CMD LINE: a fresh id for CMD's example id in LINE (a held job, a
# job that runs to its end for --wait, a schedule, an orchestration, a
# lock held by a job that reads a FIFO nobody writes to until cleanup).
stand_in() {
    case $1 in
    schedules) importq schedules create --name "stand-in $RANDOM$RANDOM" --cron '0 3 * * *' \
        --spec users.json --json | jq -r .id ;;
    orchestrations) importq orchestrations create nightly.json --json | jq -r .id ;;
    locks) held_lock ;;
    *) if [[ $2 == *--wait* ]]; then importq submit users.json; else importq submit "$dir/held.json"; fi ;;
    esac
}

# held_lock: the id of a lock held by a RUNNING job that waits on a FIFO
# (its writer, a sleep, is killed at cleanup: its pid is kept in a file,
# as this runs in a command substitution's subshell).
held_lock() {
    local fifo=slow-$RANDOM$RANDOM.csv id=
    mkfifo "$fifo" || return 1
    sleep 600 >"$fifo" 2>/dev/null </dev/null &
    echo $! >>"$dir/fifo-writers"
    printf '{"source": {"format": "csv", "path": "%s"}, "target": {"table": "locked_%s", "create": true,
        "columns": [{"name": "a", "type": "text"}]}}\n' "$fifo" "$RANDOM" |
        importq submit - >/dev/null || return 1
    for _ in $(seq 1 600); do # a bound on a hang, not a speed check
        id=$(importq locks --json | jq -r '.locks[0].id // empty')
        [ -n "$id" ] && break
        sleep 0.1
    done
    echo "$id"
}

# run_watch LINE: a --watch example (it runs until interrupted): its first
# frame arrives, then SIGINT ends it with 0 or 130.
run_watch() {
    local line=$1 pid rc
    bash -c "$line" </dev/null >"$dir/watch.out" 2>&1 &
    pid=$!
    for _ in $(seq 1 600); do # a bound on a hang, not a speed check
        [ -s "$dir/watch.out" ] && break
        sleep 0.1
    done
    kill -INT "$pid" 2>/dev/null
    wait "$pid"
    rc=$?
    [ -s "$dir/watch.out" ] && { [ "$rc" -eq 0 ] || [ "$rc" -eq 130 ]; } ||
        { echo "watch exited $rc"; cat "$dir/watch.out"; return 1; }
}

# run_example CMD LINE: the line, with the stand-ins swapped in, exits 0.
run_example() {
    local cmd=$1 line=$2
    line=${line//127.0.0.1:8080/127.0.0.1:${port:-8080}}
    if [[ $line == *"$example_pg"* ]]; then
        line=${line//$example_pg/$pg}
    fi
    while [[ $line == *"$example_id"* ]]; do
        local id
        id=$(stand_in "$cmd" "$line") && [ -n "$id" ] || { echo "no stand-in for $cmd"; return 1; }
        line=${line/$example_id/$id}
    done
    if [[ $line == *"--ack 1"* ]]; then
        line=${line//--ack 1/--ack $alert_id}
    fi
    if [[ $line == "importq serve"* ]]; then
        run_serve "$line"
    elif [[ $line == *--watch* ]]; then
        run_watch "$line"
    else
        bash -o pipefail -c "$line" </dev/null
    fi
}

# try CMD LINE: one check, or a skip when it needs PostgreSQL and there is none.
try() {
    local cmd=$1 line=$2
    if [[ $line == *"$example_pg"* ]] && [ -z "$pg" ]; then
        if [ "${IMPORTQ_REQUIRE_PG:-}" = 1 ]; then
            failed "$cmd: $line (IMPORTQ_TEST_PG_ADMIN_URL is not set but IMPORTQ_REQUIRE_PG=1)"
        else
            skipped=$((skipped + 1))
        fi
        return
    fi
    check "$cmd: $line" run_example "$cmd" "$line"
}

commands=$("$bin" --help | awk '/^Commands:/ {on = 1; next} /^$/ {on = 0} on {print $1}')
client=()
for c in $commands; do
    if "$bin" help "$c" | grep -qE '^  --server '; then
        client+=("$c")
        continue
    fi
    n=0
    while IFS= read -r line <&3; do
        try "$c" "$line"
        n=$((n + 1))
    done 3< <(examples "$c")
    [ "$n" -ge 2 ] || failed "$c: $n examples, want 2 or more"
done

# ---- the client commands, against a server on the examples' database ----
port=$(free_port)
importq migrate >/dev/null
IMPORTQ_TOKEN=$(importq token create --name examples --role admin) || exit 1
export IMPORTQ_TOKEN IMPORTQ_SERVER=http://127.0.0.1:$port
importq serve --listen "127.0.0.1:$port" --import-root "$work" --alert-every 100ms --alert-for 0 \
    --shutdown-grace 1s >"$dir/server.log" 2>&1 &
server_pid=$!
check "the server for the client examples starts" \
    wait_healthz "$IMPORTQ_SERVER" "$server_pid" "$dir/server.log" || { summary "cli help examples"; exit 1; }
importq submit "$dir/doomed.json" --wait >/dev/null 2>&1
alert_id=
for _ in $(seq 1 200); do # a bound on a hang, not a speed check
    alert_id=$(importq alerts --state open --json | jq -r '.items[0].id // empty')
    [ -n "$alert_id" ] && break
    sleep 0.1
done
[ -n "$alert_id" ] || failed "a failed job opens an alert (for alerts --ack)"
for c in "${client[@]}"; do
    n=0
    while IFS= read -r line <&3; do
        try "$c" "$line"
        n=$((n + 1))
    done 3< <(examples "$c")
    [ "$n" -ge 2 ] || failed "$c: $n examples, want 2 or more"
done
[ "$skipped" -eq 0 ] || echo "skipped $skipped examples that need PostgreSQL (IMPORTQ_TEST_PG_ADMIN_URL)"
summary "cli help examples"
