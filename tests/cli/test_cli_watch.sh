#!/usr/bin/env bash
# Following jobs from the CLI through the real binary: `importq job ID
# --wait` (exit 0 COMPLETED, 1 FAILED with the error's code, 130 on
# Ctrl-C leaving the job alone, 1/2 for unknown/malformed ids) and
# `importq jobs --watch` (plain frames one after the other when stdout is
# not a terminal, which change when a job finishes; in place on a
# pseudo-terminal, quitting on q and Ctrl-C with the terminal given back:
# tests/cli/top_pty.py), against a real `importq serve` on SQLite and
# (when IMPORTQ_TEST_PG_ADMIN_URL is set) PostgreSQL. A held job is the
# synchronisation: it changes only when the test executes it.
# Usage: test_cli_watch.sh BINARY
set -u
bin=$1
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
dir=$(mktemp -d)
server_pid=
bg_pid=
trap '[ -n "$bg_pid" ] && kill "$bg_pid" 2>/dev/null; stop_server; rm -rf "$dir" "$out"' EXIT
for tool in jq python3 curl; do
    command -v "$tool" >/dev/null || { echo "FAIL: $tool is not installed (scripts/deps.sh test)"; exit 1; }
done

# exit_is CODE CMD...: CMD exits CODE; its output goes to $dir/stdout and $dir/stderr.
exit_is() {
    local code=$1; shift
    "$@" >"$dir/stdout" 2>"$dir/stderr" </dev/null
    local rc=$?
    [ "$rc" -eq "$code" ] && return 0
    echo "exit $rc, expected $code: $*"; sed 's/^/stdout: /' "$dir/stdout"; sed 's/^/stderr: /' "$dir/stderr"
    return 1
}
# says FILE TEXT: FILE (stdout or stderr of the last exit_is) contains TEXT.
says() { grep -qF -- "$2" "$dir/$1" || { echo "no \"$2\" in $1:"; cat "$dir/$1"; return 1; }; }
# until_in FILE TEXT: wait (20 s at most: a bound on a hang) until FILE contains TEXT.
until_in() {
    for _ in $(seq 1 200); do
        grep -qF -- "$2" "$1" 2>/dev/null && return 0
        sleep 0.1
    done
    echo "no \"$2\" in $1 within 20 s:"; tail -n 30 "$1"; return 1
}
# stop_bg SIGNAL: send SIGNAL to the background command and wait for it (10 s at most); its exit in $bg_rc.
bg_rc=none
stop_bg() {
    bg_rc=none
    kill "-$1" "$bg_pid"
    for _ in $(seq 1 100); do kill -0 "$bg_pid" 2>/dev/null || break; sleep 0.1; done
    if kill -9 "$bg_pid" 2>/dev/null; then echo "still running 10 s after SIG$1"; wait "$bg_pid"; bg_pid=; return 1; fi
    wait "$bg_pid"; bg_rc=$?; bg_pid=
}
export -f exit_is says
export dir

closed="http://127.0.0.1:$(free_port)"
check "job --wait without ID exits 2" exit_is 2 "$bin" job --wait --server "$closed"
check "job --wait takes no value" exit_is 2 "$bin" job x --wait=yes --server "$closed"
check "job --wait against a closed port exits 1 and names it" \
    bash -c "exit_is 1 '$bin' job 01900000-0000-7000-8000-000000000000 --wait --server '$closed' && says stderr 'cannot reach the importq server at $closed'"
check "jobs --watch --all exits 2" exit_is 2 "$bin" jobs --watch --all --server "$closed"
check "jobs --watch --json exits 2" exit_is 2 "$bin" jobs --watch --json --server "$closed"
check "jobs --interval without --watch exits 2" exit_is 2 "$bin" jobs --interval 1s --server "$closed"
check "jobs --watch --interval 5ms exits 2" \
    bash -c "exit_is 2 '$bin' jobs --watch --interval 5ms --server '$closed' && says stderr '--interval needs a duration'"
check "jobs --watch --interval abc exits 2" exit_is 2 "$bin" jobs --watch --interval abc --server "$closed"
check "jobs --help shows --watch and --interval" \
    bash -c "'$bin' jobs --help | grep -q -- '--watch' && '$bin' jobs --help | grep -q -- '--interval'"
check "job --help shows --wait" bash -c "'$bin' job --help | grep -q -- '--wait'"
check "jobs --watch against a closed port exits 1 and names it" \
    bash -c "exit_is 1 '$bin' jobs --watch --server '$closed' && says stderr 'cannot reach the importq server at $closed'"

mkdir -p "$dir/imports"
printf 'team_id,name\n1,Platform\n2,Data\n3,Web\n' >"$dir/imports/teams.csv"
printf 'team_id,name\n4,Mobile\nfour,Broken\n' >"$dir/imports/bad_teams.csv"
spec() { # name file [extra JSON members]
    printf '{"name": "%s", "max_attempts": 1, %s "source": {"format": "csv", "path": "%s"},
  "target": {"table": "teams", "mode": "upsert", "key": ["team_id"], "create": true,
             "columns": [{"name": "team_id", "type": "integer", "required": true},
                         {"name": "name", "type": "text"}]}}' "$1" "${3:-}" "$2"
}
job_status() { "$bin" job "$1" --json | jq -r .status; }

suite() { # label db
    local label=$1 held failed watched
    check "$label: server starts" start_server "$2" --retry-base 100ms || return
    export IMPORTQ_SERVER=$server IMPORTQ_TOKEN=$operator_token

    # ---- job ID --wait ----
    spec "waited on" teams.csv '"hold": true,' >"$dir/held.json"
    held=$("$bin" submit "$dir/held.json")
    "$bin" job "$held" --wait >"$dir/wait.out" 2>"$dir/wait.err" </dev/null &
    bg_pid=$!
    check "$label: job --wait shows the held job's status" until_in "$dir/wait.err" "job $held: HELD"
    check "$label: execute it" bash -c "'$bin' execute '$held' >/dev/null"
    wait "$bg_pid"; local rc=$?; bg_pid=
    check "$label: job --wait exits 0 once it COMPLETED" \
        bash -c "[ $rc -eq 0 ] && grep -q 'job $held COMPLETED: 3 read' '$dir/wait.out' || { echo 'exit $rc'; cat '$dir/wait.out' '$dir/wait.err'; exit 1; }"
    check "$label: job --wait of a finished job exits at once with its outcome" \
        bash -c "exit_is 0 '$bin' job '$held' --wait && says stdout COMPLETED"
    check "$label: job --wait --json prints the final job" \
        bash -c "[ \"\$('$bin' job '$held' --wait --json | jq -r .status)\" = COMPLETED ]"
    spec "bad load" bad_teams.csv >"$dir/bad.json"
    failed=$("$bin" submit "$dir/bad.json")
    check "$label: job --wait of a failing job exits 1 with the error's code" \
        bash -c "exit_is 1 '$bin' job '$failed' --wait && says stderr 'importq job: job $failed FAILED: rejected: '"
    check "$label: job --wait of an unknown id exits 1 (404)" \
        bash -c "exit_is 1 '$bin' job 01900000-0000-7000-8000-000000000000 --wait && says stderr 'importq job: '"
    check "$label: job --wait of a malformed id exits 2 (400)" exit_is 2 "$bin" job not-an-id --wait
    held=$("$bin" submit "$dir/held.json")
    "$bin" job "$held" --wait >"$dir/int.out" 2>"$dir/int.err" </dev/null &
    bg_pid=$!
    check "$label: Ctrl-C: job --wait is waiting" until_in "$dir/int.err" "job $held: HELD"
    check "$label: Ctrl-C ends job --wait" stop_bg INT
    check "$label: ... with exit 130, and the job is still HELD" bash -c "
        [ '$bg_rc' = 130 ] || { echo 'exit $bg_rc'; cat '$dir/int.err'; exit 1; }
        grep -q 'stopped waiting' '$dir/int.err' && [ \"\$('$bin' job '$held' --json | jq -r .status)\" = HELD ]"

    # ---- jobs --watch: plain frames, changing when the job finishes ----
    spec "watched job" teams.csv '"hold": true,' >"$dir/watched.json"
    watched=$("$bin" submit "$dir/watched.json")
    "$bin" jobs --watch --interval 200ms --q "watched job" >"$dir/frames" 2>"$dir/frames.err" </dev/null &
    bg_pid=$!
    check "$label: jobs --watch: a frame shows the job HELD" until_in "$dir/frames" "$watched  HELD"
    check "$label: execute the watched job" bash -c "'$bin' execute '$watched' >/dev/null"
    check "$label: jobs --watch: a later frame shows it COMPLETED" until_in "$dir/frames" "$watched  COMPLETED"
    check "$label: Ctrl-C ends jobs --watch" stop_bg INT
    check "$label: ... with exit 0" bash -c "[ '$bg_rc' = 0 ] || { echo 'exit $bg_rc'; cat '$dir/frames.err'; exit 1; }"
    check "$label: jobs --watch frames are plain text, each with its title and table header" bash -c "
        ! grep -q \$'\\033' '$dir/frames' &&
        [ \"\$(grep -c '^importq jobs - $server - ' '$dir/frames')\" -ge 2 ] &&
        [ \"\$(grep -c '^ID  *STATUS' '$dir/frames')\" = \"\$(grep -c '^importq jobs - ' '$dir/frames')\" ]"
    check "$label: jobs --watch: the HELD frame came before the COMPLETED one" bash -c "
        h=\$(grep -n '$watched  HELD' '$dir/frames' | head -n 1 | cut -d: -f1)
        c=\$(grep -n '$watched  COMPLETED' '$dir/frames' | head -n 1 | cut -d: -f1)
        [ \"\$h\" -lt \"\$c\" ]"

    check "$label: jobs --watch with a bad filter exits 2 (400) at once" exit_is 2 "$bin" jobs --watch --status NOPE
    check "$label: jobs --watch without a token exits 1 (401) at once" \
        bash -c "exit_is 1 env -u IMPORTQ_TOKEN '$bin' jobs --watch && says stderr 'authentication failed'"

    # ---- jobs --watch in place on a terminal ----
    check "$label: jobs --watch on a terminal quits on q and restores it" \
        env PTY_EXPECT="importq jobs - ,ID,STATUS,press q to quit" python3 "$here/top_pty.py" q "$bin" jobs --watch
    check "$label: jobs --watch on a terminal quits on Ctrl-C and restores it" \
        env PTY_EXPECT="importq jobs - ,ID,STATUS,press q to quit" python3 "$here/top_pty.py" ctrl-c "$bin" jobs --watch
    check "$label: top still quits on q (the shared live view)" python3 "$here/top_pty.py" q "$bin" top

    unset IMPORTQ_SERVER IMPORTQ_TOKEN
    stop_server
}

suite sqlite "sqlite:$dir/service.db"

if [ -n "${IMPORTQ_TEST_PG_ADMIN_URL:-}" ]; then
    name="importq_cli_watch_$$"
    psql "$IMPORTQ_TEST_PG_ADMIN_URL" -qc "CREATE DATABASE $name" >/dev/null
    suite postgres "${IMPORTQ_TEST_PG_ADMIN_URL%/*}/$name"
    psql "$IMPORTQ_TEST_PG_ADMIN_URL" -qc "DROP DATABASE $name WITH (FORCE)" >/dev/null
elif [ "${IMPORTQ_REQUIRE_PG:-}" = 1 ]; then
    echo "FAIL: PostgreSQL required but IMPORTQ_TEST_PG_ADMIN_URL is not set"; fail=$((fail + 1))
fi
summary cli_watch
