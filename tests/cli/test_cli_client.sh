#!/usr/bin/env bash
# The client commands (submit, jobs, job, cancel, execute, status) through
# the real binary. Always: usage errors exit 2, a closed port gives
# "cannot reach the importq server" and exit 1. Then against a real
# `importq serve` on SQLite and (when IMPORTQ_TEST_PG_ADMIN_URL is set)
# PostgreSQL: a CSV lands through submit --wait, an invalid spec exits 2
# with every field error, a failed job exits 1 with its error, held jobs
# are cancelled and executed, listing pages and filters, the status view,
# 401/403 messages, and Ctrl-C during --wait leaves the job alone.
# Usage: test_cli_client.sh BINARY
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

for tool in jq curl python3 sqlite3; do
    command -v "$tool" >/dev/null || { echo "FAIL: $tool is not installed (scripts/deps.sh test)"; exit 1; }
done

# ---- (a) no server needed: usage and transport errors ----
closed=$(free_port)
nowhere="http://127.0.0.1:$closed"
printf '{"source": {"path": "x.csv"}, "target": {"table": "t"}}' >"$dir/ok.json"
printf '{"source": ' >"$dir/broken.json"
printf '[1, 2]' >"$dir/array.json"

check "submit without SPEC exits 2" exit_is 2 "$bin" submit --server "$nowhere"
check "submit with a missing file exits 2" exit_is 2 "$bin" submit "$dir/none.json" --server "$nowhere"
check "submit of malformed JSON exits 2 with the position" \
    bash -c "exit_is 2 '$bin' submit '$dir/broken.json' --server '$nowhere' && says stderr 'broken.json:1:'"
check "submit of a non-object exits 2" exit_is 2 "$bin" submit "$dir/array.json" --server "$nowhere"
check "submit of malformed stdin exits 2" bash -c "printf '{' | '$bin' submit - --server '$nowhere' 2>/dev/null; [ \$? -eq 2 ]"
check "submit --wait takes no value" exit_is 2 "$bin" submit "$dir/ok.json" --wait=yes
check "jobs --limit 0 exits 2" exit_is 2 "$bin" jobs --limit 0 --server "$nowhere"
check "jobs --limit 501 exits 2" exit_is 2 "$bin" jobs --limit 501 --server "$nowhere"
check "jobs --limit abc exits 2" exit_is 2 "$bin" jobs --limit abc --server "$nowhere"
check "jobs with an argument exits 2" exit_is 2 "$bin" jobs extra --server "$nowhere"
check "job without ID exits 2" exit_is 2 "$bin" job --server "$nowhere"
check "cancel with two IDs exits 2" exit_is 2 "$bin" cancel a b --server "$nowhere"
check "execute without ID exits 2" exit_is 2 "$bin" execute --server "$nowhere"
check "status with an argument exits 2" exit_is 2 "$bin" status now --server "$nowhere"
check "unknown option exits 2" exit_is 2 "$bin" jobs --frob --server "$nowhere"
check "a non-HTTP --server exits 2" \
    bash -c "exit_is 2 '$bin' status --server ftp://127.0.0.1/ && says stderr 'not an http:// or https:// URL'"
for c in submit jobs job cancel execute status; do
    check "$c --help" bash -c "'$bin' $c --help | grep -q -- '--server'"
done
check "--help lists the client commands" bash -c "'$bin' --help | grep -q submit && '$bin' --help | grep -q execute"
check "unreachable server: status exits 1 and names it" \
    bash -c "exit_is 1 '$bin' status --server '$nowhere' && says stderr 'cannot reach the importq server at $nowhere'"
check "unreachable server: submit exits 1" exit_is 1 "$bin" submit "$dir/ok.json" --server "$nowhere"
check "unreachable server: jobs, job, cancel, execute exit 1" bash -c "
    '$bin' jobs --server '$nowhere' 2>/dev/null; [ \$? -eq 1 ] || exit 1
    for c in job cancel execute; do '$bin' \$c 0190 --server '$nowhere' 2>/dev/null; [ \$? -eq 1 ] || exit 1; done"
check "IMPORTQ_SERVER is used" \
    bash -c "IMPORTQ_SERVER='$nowhere/' '$bin' status 2>&1 | grep -qF 'at $nowhere:'"
printf '[importq]\nserver = %s\n' "$nowhere" >"$dir/client.ini"
check "server from the config file" \
    bash -c "'$bin' status --config '$dir/client.ini' 2>&1 | grep -qF 'at $nowhere:'"

# ---- (b) against a running server ----
# start_server DB: migrate, create tokens, start `importq serve`, wait for /healthz.
start_server() {
    local db=$1
    port=$(free_port)
    server="http://127.0.0.1:$port"
    "$bin" migrate --db "$db" >/dev/null || { echo "migrate failed"; return 1; }
    operator_token=$(make_token "$db" "op$port" operator) || return 1
    viewer_token=$(make_token "$db" "view$port" viewer) || return 1
    "$bin" serve --db "$db" --listen "127.0.0.1:$port" --import-root "$dir/imports" \
        --retry-base 100ms --shutdown-grace 1s >"$dir/serve-$port.log" 2>&1 &
    server_pid=$!
    wait_healthz "$server" "$server_pid" "$dir/serve-$port.log"
}
stop_server() {
    [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null
    server_pid=
}
# make_token DB NAME ROLE: prints the new token (token create prints it alone on stdout).
make_token() {
    "$bin" token create --name "$2" --role "$3" --db "$1" 2>/dev/null || { echo "token create failed" >&2; return 1; }
}
# job_field ID JQ: the job's field, read through `importq job ID --json`.
job_field() { "$bin" job "$1" --json | jq -r "$2"; }
# until_status ID STATUS: wait up to 20 s for the job to reach STATUS.
until_status() {
    for _ in $(seq 1 200); do
        [ "$(job_field "$1" .status)" = "$2" ] && return 0
        sleep 0.1
    done
    echo "job $1 is $(job_field "$1" .status), not $2"; return 1
}

mkdir -p "$dir/imports"
printf 'team_id,name\n1,Platform\n2,Data\n3,Web\n' >"$dir/imports/teams.csv"
printf 'team_id,name\n4,Mobile\nfour,Broken\n' >"$dir/imports/bad_teams.csv"
spec() { # table file [extra JSON members]
    printf '{"name": "load %s", "max_attempts": 1, %s "source": {"format": "csv", "path": "%s"},
  "target": {"table": "%s", "mode": "upsert", "key": ["team_id"], "create": true,
             "columns": [{"name": "team_id", "type": "integer", "required": true},
                         {"name": "name", "type": "text"}]}}' "$2" "${3:-}" "$2" "$1"
}

suite() { # label db count-command...
    local label=$1 db=$2; shift 2
    local sql=("$@")
    check "$label: server starts" start_server "$db" || return
    export IMPORTQ_SERVER=$server IMPORTQ_TOKEN=$operator_token
    local id id2 held

    spec teams teams.csv >"$dir/teams.json"
    check "$label: submit --wait exits 0 and reports COMPLETED" \
        bash -c "exit_is 0 '$bin' submit '$dir/teams.json' --wait && says stdout COMPLETED && says stdout '3 read'"
    id=$(head -n 1 "$dir/stdout")
    check "$label: submit printed the id first" bash -c "[[ '$id' =~ ^[0-9a-f-]{36}$ ]]"
    check "$label: a line per status change when not a TTY" says stderr "job $id: "
    check "$label: the rows landed" bash -c "[ \"\$(${sql[*]} 'SELECT count(*) FROM teams')\" = 3 ]"

    check "$label: job ID shows the detail" \
        bash -c "'$bin' job '$id' | grep -q 'COMPLETED' && '$bin' job '$id' | grep -q '3 read'"
    check "$label: job ID --json" bash -c "[ \"\$('$bin' job '$id' --json | jq -r '.status + \" \" + (.result.rows_read | tostring)')\" = 'COMPLETED 3' ]"

    spec teams teams.csv '"request_id": "same-key", "hold": true,' >"$dir/idem.json"
    check "$label: submit --json prints the job" \
        bash -c "'$bin' submit '$dir/idem.json' --json >'$dir/idem.out' && [ \"\$(jq -r .status '$dir/idem.out')\" = HELD ]"
    held=$(jq -r .id "$dir/idem.out" 2>/dev/null)
    check "$label: a repeated request_id answers the existing job" \
        bash -c "exit_is 0 '$bin' submit '$dir/idem.json' && says stdout '$held' && says stderr 'existing job'"

    printf '{"source": {"format": "xml", "path": "teams.csv"}, "target": {"table": "teams", "columns": [{"name": "a", "type": "strng"}]}, "colour": "red"}' >"$dir/invalid.json"
    check "$label: an invalid spec exits 2 with every field error on its own line" \
        bash -c "exit_is 2 '$bin' submit '$dir/invalid.json' && says stderr '  source.format: ' && says stderr '  target.columns[0].type: ' && says stderr '  colour: '"
    check "$label: a spec from stdin" bash -c "'$bin' submit - --wait <'$dir/teams.json' | grep -q COMPLETED"

    # target.create without columns: the server infers them from the file
    printf '{"source": {"format": "csv", "path": "products.csv"},
      "target": {"table": "products", "create": true, "key": ["sku"]}}' >"$dir/inferred.json"
    printf 'sku,price,added\nA-1,1.50,2026-12-01\nB-2,,2026-12-02\n' >"$dir/imports/products.csv"
    check "$label: create without columns: the table is made from the file's inferred types" \
        bash -c "exit_is 0 '$bin' submit '$dir/inferred.json' --wait && says stdout COMPLETED &&
                 [ \"\$(${sql[*]} \"SELECT count(*) || ' ' || count(price) || ' ' || CAST(sum(price) * 100 AS integer) FROM products\")\" = '2 1 150' ]"
    printf '{"source": {"format": "ndjson", "path": "items.ndjson"},
      "target": {"table": "items", "create": true, "key": ["sku"]}}' >"$dir/items.json"
    printf '{"sku": "A-1", "n": 1}\n{"sku": "B-2", "n": null}\n' >"$dir/imports/items.ndjson"
    check "$label: create without columns from NDJSON: keys become columns" \
        bash -c "exit_is 0 '$bin' submit '$dir/items.json' --wait && says stdout COMPLETED &&
                 [ \"\$(${sql[*]} \"SELECT count(*) || ' ' || count(n) || ' ' || sum(n) FROM items\")\" = '2 1 1' ]"
    printf '{"source": {"format": "csv", "path": "odd.csv"}, "target": {"table": "odd", "create": true}}' >"$dir/odd.json"
    printf '"first name",age\nAnn,3\n' >"$dir/imports/odd.csv"
    check "$label: create without columns from a header that is no SQL name fails, naming it" \
        bash -c "exit_is 1 '$bin' submit '$dir/odd.json' --wait && says stderr 'first name' && says stderr 'not an SQL identifier'"

    spec teams bad_teams.csv >"$dir/bad.json"
    check "$label: a failed job exits 1 with its error" \
        bash -c "exit_is 1 '$bin' submit '$dir/bad.json' --wait && says stderr 'FAILED: rejected: ' && says stderr 'reject: line 3, column team_id: '"
    check "$label: the failed job landed nothing" bash -c "[ \"\$(${sql[*]} \"SELECT count(*) FROM teams WHERE team_id = 4\")\" = 0 ]"

    check "$label: cancel a held job" bash -c "'$bin' cancel '$held' | grep -q 'CANCELLED'"
    check "$label: a cancelled job's progress says where it stopped, not done" \
        bash -c "'$bin' job '$held' | grep 'progress:' | grep -q 'stopped at .* (nothing loaded)' && ! '$bin' job '$held' | grep 'progress:' | grep -q ' done '"
    check "$label: cancel again exits 1 (409) with the server's reason" \
        bash -c "exit_is 1 '$bin' cancel '$held' && [ -s '$dir/stderr' ]"
    check "$label: execute a cancelled job makes a new attempt" \
        bash -c "'$bin' execute '$held' | grep -Eq 'QUEUED|RUNNING|COMPLETED'"
    check "$label: and it completes" until_status "$held" COMPLETED
    check "$label: execute a completed job exits 1 (409)" exit_is 1 "$bin" execute "$held"

    spec teams teams.csv '"hold": true,' >"$dir/held.json"
    id2=$("$bin" submit "$dir/held.json")
    check "$label: execute --json of a held job" \
        bash -c "[ \"\$('$bin' execute '$id2' --json | jq -r .id)\" = '$id2' ]"
    check "$label: the executed job completes" until_status "$id2" COMPLETED

    check "$label: job of an unknown id exits 1" exit_is 1 "$bin" job 01900000-0000-7000-8000-000000000000
    check "$label: cancel of an unknown id exits 1" exit_is 1 "$bin" cancel 01900000-0000-7000-8000-000000000000
    check "$label: a malformed id exits 2 (400)" exit_is 2 "$bin" job not-an-id

    check "$label: jobs shows a table" bash -c "'$bin' jobs | head -n 1 | grep -q '^ID *STATUS *PRI *TABLE *NAME'"
    check "$label: jobs --json" bash -c "[ \"\$('$bin' jobs --json | jq '.items | length')\" -ge 5 ]"
    check "$label: jobs --status filters" \
        bash -c "'$bin' jobs --status FAILED --json | jq -e '(.items | length) >= 1 and all(.items[]; .status == \"FAILED\")' >/dev/null"
    check "$label: jobs --q searches names" \
        bash -c "'$bin' jobs --q bad_teams --json | jq -e '(.items | length) >= 1 and all(.items[]; .name == \"load bad_teams.csv\")' >/dev/null"
    check "$label: jobs shows each job's table (the lean list's table)" \
        bash -c "'$bin' jobs --q bad_teams | awk 'NR > 1 {print \$4}' | grep -qx teams"
    check "$label: jobs --table filters" bash -c "[ \"\$('$bin' jobs --table nosuchtable --json | jq '.items | length')\" = 0 ]"
    check "$label: jobs --limit 1 hints the next page" bash -c "'$bin' jobs --limit 1 | grep -q '^next page: --cursor '"
    check "$label: --cursor fetches the next page" bash -c "
        c=\$('$bin' jobs --limit 1 | sed -n 's/^next page: --cursor //p')
        a=\$('$bin' jobs --limit 1 --json | jq -r '.items[0].id')
        b=\$('$bin' jobs --limit 1 --cursor \"\$c\" --json | jq -r '.items[0].id')
        [ -n \"\$b\" ] && [ \"\$a\" != \"\$b\" ]"
    check "$label: jobs --all follows the cursors" \
        bash -c "[ \"\$('$bin' jobs --limit 2 --all --json | jq '.items | length')\" = \"\$('$bin' jobs --limit 500 --json | jq '.items | length')\" ]"
    check "$label: a bad filter exits 2 (400)" exit_is 2 "$bin" jobs --status NOPE

    check "$label: status" bash -c "'$bin' status | grep -q '^running: .* of 3'"
    check "$label: status --json" bash -c "'$bin' status --json | jq -e 'has(\"queued\") and has(\"available_slots\")' >/dev/null"

    check "$label: no token: 401 message, exit 1" \
        bash -c "exit_is 1 env -u IMPORTQ_TOKEN '$bin' jobs && says stderr 'authentication failed: set --token or IMPORTQ_TOKEN'"
    check "$label: --token overrides IMPORTQ_TOKEN" \
        bash -c "exit_is 1 '$bin' jobs --token wrong && says stderr 'authentication failed'"
    check "$label: a viewer cannot submit: 403 message, exit 1" \
        bash -c "exit_is 1 '$bin' submit '$dir/teams.json' --token '$viewer_token' && says stderr \"forbidden: your token's role is too weak\""
    check "$label: a viewer can list" exit_is 0 "$bin" jobs --token "$viewer_token"

    spec teams teams.csv '"hold": true,' >"$dir/wait_held.json"
    check "$label: Ctrl-C stops --wait, not the job" bash -c "
        '$bin' submit '$dir/wait_held.json' --wait >'$dir/int.out' 2>'$dir/int.err' &
        pid=\$!
        # SIGINT only once the wait shows HELD: its handler is in place from
        # then on (before, a background job of this shell ignores SIGINT).
        for _ in \$(seq 1 600); do grep -q ': HELD' '$dir/int.err' && break; sleep 0.1; done
        grep -q ': HELD' '$dir/int.err' || { echo 'no HELD line in 60 s'; kill -9 \$pid; exit 1; }
        kill -INT \$pid
        for _ in \$(seq 1 300); do kill -0 \$pid 2>/dev/null || break; sleep 0.1; done
        kill -9 \$pid 2>/dev/null && { echo 'still waiting 30 s after SIGINT'; exit 1; }
        wait \$pid; rc=\$?
        [ \$rc -eq 130 ] || { echo \"exit \$rc\"; cat '$dir/int.err'; exit 1; }
        grep -q 'stopped waiting' '$dir/int.err' || { cat '$dir/int.err'; exit 1; }
        [ \"\$('$bin' job \"\$(head -n 1 '$dir/int.out')\" --json | jq -r .status)\" = HELD ]"

    unset IMPORTQ_SERVER IMPORTQ_TOKEN
    stop_server
}

suite sqlite "sqlite:$dir/service.db" sqlite3 "$dir/service.db"

if [ -n "${IMPORTQ_TEST_PG_ADMIN_URL:-}" ]; then
    name="importq_cli_client_$$"
    psql "$IMPORTQ_TEST_PG_ADMIN_URL" -qc "CREATE DATABASE $name" >/dev/null
    pg="${IMPORTQ_TEST_PG_ADMIN_URL%/*}/$name"
    suite postgres "$pg" psql "$pg" -tAc
    psql "$IMPORTQ_TEST_PG_ADMIN_URL" -qc "DROP DATABASE $name WITH (FORCE)" >/dev/null
elif [ "${IMPORTQ_REQUIRE_PG:-}" = 1 ]; then
    echo "FAIL: PostgreSQL required but IMPORTQ_TEST_PG_ADMIN_URL is not set"; fail=$((fail + 1))
fi
summary cli_client
