#!/usr/bin/env bash
# `importq schedules` through the real binary. Always: usage errors exit 2
# (unknown subcommand, missing --name/--cron/--spec, a bad --spec file, a
# bad --catch-up-max or --enabled), an unreachable server exits 1. Then
# against a real `importq serve` on SQLite and (when
# IMPORTQ_TEST_PG_ADMIN_URL is set) PostgreSQL: create prints the
# schedule and, for a second schedule on the same table, a visible
# WARNING naming the first; a bad cron exits 2 with the field; list,
# show, pause, resume, run, history and delete, each also with --json; a viewer cannot
# create.
# Usage: test_cli_schedules.sh BINARY
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
# says FILE TEXT: FILE (stdout or stderr of the last exit_is) contains TEXT.
says() { grep -qF -- "$2" "$dir/$1" || { echo "no \"$2\" in $1:"; cat "$dir/$1"; return 1; }; }
export -f exit_is says
export dir
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

for tool in jq curl python3; do
    command -v "$tool" >/dev/null || { echo "FAIL: $tool is not installed (scripts/deps.sh test)"; exit 1; }
done

# ---- (a) no server needed ----
nowhere="http://127.0.0.1:$(free_port)"
printf '{"source": {"format": "csv", "path": "users-{date}.csv"}, "target": {"table": "users"}}' >"$dir/users.json"
printf '{"source": ' >"$dir/broken.json"

check "schedules --help shows examples" bash -c "'$bin' schedules --help | grep -q 'Examples:' && '$bin' schedules --help | grep -q -- '--spec'"
check "--help lists schedules" bash -c "'$bin' --help | grep -q '^  schedules'"
check "an unknown subcommand exits 2" \
    bash -c "exit_is 2 '$bin' schedules frob --server '$nowhere' && says stderr 'unknown subcommand'"
check "create without --spec exits 2" \
    bash -c "exit_is 2 '$bin' schedules create --name n --cron @daily --server '$nowhere' && says stderr 'required'"
check "create with malformed JSON exits 2 with the position" \
    bash -c "exit_is 2 '$bin' schedules create --name n --cron @daily --spec '$dir/broken.json' --server '$nowhere' && says stderr 'job template $dir/broken.json, line 1 column'"
check "create --catch-up-max 0 exits 2" \
    exit_is 2 "$bin" schedules create --name n --cron @daily --spec "$dir/users.json" --catch-up-max 0 --server "$nowhere"
check "list --enabled maybe exits 2" exit_is 2 "$bin" schedules --enabled maybe --server "$nowhere"
check "show without ID exits 2" exit_is 2 "$bin" schedules show --server "$nowhere"
check "pause with two IDs exits 2" exit_is 2 "$bin" schedules pause a b --server "$nowhere"
check "unreachable server exits 1" \
    bash -c "exit_is 1 '$bin' schedules --server '$nowhere' && says stderr 'cannot reach the importq server'"

# ---- (b) against a running server ----
make_token() {
    "$bin" token create --name "$2" --role "$3" --db "$1" 2>/dev/null || { echo "token create failed" >&2; return 1; }
}
start_server() {
    local db=$1
    port=$(free_port)
    server="http://127.0.0.1:$port"
    "$bin" migrate --db "$db" >/dev/null || { echo "migrate failed"; return 1; }
    operator_token=$(make_token "$db" "op$port" operator) || return 1
    viewer_token=$(make_token "$db" "view$port" viewer) || return 1
    mkdir -p "$dir/imports"
    "$bin" serve --db "$db" --listen "127.0.0.1:$port" --import-root "$dir/imports" \
        --shutdown-grace 1s >"$dir/serve-$port.log" 2>&1 &
    server_pid=$!
    wait_healthz "$server" "$server_pid" "$dir/serve-$port.log"
}
stop_server() {
    [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null
    server_pid=
}

suite() { # label db
    local label=$1 db=$2
    check "$label: server starts" start_server "$db" || return
    export IMPORTQ_SERVER=$server IMPORTQ_TOKEN=$operator_token
    local id id2

    check "$label: create prints the schedule, no warning alone" \
        bash -c "exit_is 0 '$bin' schedules create --name 'nightly users' --cron '0 2 * * *' --tz Europe/Zurich \
                 --spec '$dir/users.json' --misfire skip && says stdout 'created' && says stdout 'Europe/Zurich' \
                 && ! grep -q WARNING '$dir/stdout'"
    id=$(sed -n 's/^schedule \([0-9a-f-]*\) created$/\1/p' "$dir/stdout")
    check "$label: create printed the id" bash -c "[[ '$id' =~ ^[0-9a-f-]{36}$ ]]"
    check "$label: a second schedule on users warns visibly, naming the first" \
        bash -c "exit_is 0 '$bin' schedules create --name 'users again' --cron '10 2 * * *' --tz Europe/Zurich \
                 --spec '$dir/users.json' && says stdout 'WARNING: ' && says stdout '\`nightly users\`' \
                 && says stdout 'table:users'"
    id2=$(sed -n 's/^schedule \([0-9a-f-]*\) created$/\1/p' "$dir/stdout")
    check "$label: create --json carries the warnings" \
        bash -c "'$bin' schedules create --name 'users third' --cron '5 2 * * *' --tz Europe/Zurich \
                 --spec '$dir/users.json' --paused --json | jq -e '.enabled == false and (.warnings | length) == 0' >/dev/null"
    check "$label: a bad cron exits 2 naming the field" \
        bash -c "exit_is 2 '$bin' schedules create --name bad --cron '*/15 24 * * *' --spec '$dir/users.json' \
                 && says stderr 'cron: ' && says stderr 'hour'"
    check "$label: a taken name exits 1 (409)" \
        bash -c "exit_is 1 '$bin' schedules create --name 'nightly users' --cron @daily --spec '$dir/users.json'"
    check "$label: list shows name, cron, zone, enabled, next run" \
        bash -c "exit_is 0 '$bin' schedules && says stdout 'NEXT RUN' && says stdout 'nightly users' \
                 && says stdout '0 2 * * *' && says stdout 'paused'"
    check "$label: list --enabled false --json" \
        bash -c "[ \"\$('$bin' schedules --enabled false --json | jq -r '[.items[].name] | join(\",\")')\" = 'users third' ]"
    check "$label: list --q" \
        bash -c "[ \"\$('$bin' schedules --q again --json | jq -r '.items | length')\" = 1 ]"
    check "$label: show" \
        bash -c "exit_is 0 '$bin' schedules show '$id' && says stdout 'misfire        skip' && says stdout 'users <- users-{date}.csv'"
    check "$label: show --json" \
        bash -c "[ \"\$('$bin' schedules show '$id' --json | jq -r .name)\" = 'nightly users' ]"
    check "$label: pause" bash -c "exit_is 0 '$bin' schedules pause '$id' && says stdout ': paused, next run '"
    check "$label: resume" bash -c "exit_is 0 '$bin' schedules resume '$id' && says stdout ': enabled, next run '"
    check "$label: a viewer cannot create (exit 1, 403)" \
        bash -c "exit_is 1 '$bin' schedules create --name v --cron @daily --spec '$dir/users.json' --token '$viewer_token' \
                 && says stderr 'forbidden'"
    check "$label: a viewer can show" exit_is 0 "$bin" schedules show "$id" --token "$viewer_token"
    check "$label: run makes its job now" \
        bash -c "exit_is 0 '$bin' schedules run '$id' && says stdout 'created' && says stdout 'status '"
    check "$label: history shows the run's fire and its job" \
        bash -c "exit_is 0 '$bin' schedules history '$id' --limit 5 && says stdout 'OUTCOME' &&
                 { grep -q ' created ' '$dir/stdout' || grep -q ' failed ' '$dir/stdout'; }"
    check "$label: history --json" \
        bash -c "[ \"\$('$bin' schedules history '$id' --json | jq -r '.items | length')\" = 1 ]"
    check "$label: a viewer cannot run (exit 1, 403)" \
        bash -c "exit_is 1 '$bin' schedules run '$id' --token '$viewer_token' && says stderr 'forbidden'"
    check "$label: delete" bash -c "exit_is 0 '$bin' schedules delete '$id2' && says stdout 'deleted'"
    check "$label: show of a deleted schedule exits 1 (404)" exit_is 1 "$bin" schedules show "$id2"

    unset IMPORTQ_SERVER IMPORTQ_TOKEN
    stop_server
}

suite sqlite "sqlite:$dir/service.db"

if [ -n "${IMPORTQ_TEST_PG_ADMIN_URL:-}" ]; then
    name="importq_cli_schedules_$$"
    psql "$IMPORTQ_TEST_PG_ADMIN_URL" -qc "CREATE DATABASE $name" >/dev/null
    pg="${IMPORTQ_TEST_PG_ADMIN_URL%/*}/$name"
    suite postgres "$pg"
    psql "$IMPORTQ_TEST_PG_ADMIN_URL" -qc "DROP DATABASE $name WITH (FORCE)" >/dev/null
elif [ "${IMPORTQ_REQUIRE_PG:-}" = 1 ]; then
    echo "FAIL: PostgreSQL required but IMPORTQ_TEST_PG_ADMIN_URL is not set"; fail=$((fail + 1))
fi
summary cli_schedules
