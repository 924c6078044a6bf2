# tests/cli/lib.sh - what the black-box CLI tests share; each test_*.sh
# sources it first. Counts checks in pass and fail.
#   check WHAT CMD...        CMD must succeed; its output is shown only when
#                            it fails (FAIL: WHAT). Returns CMD's success.
#   expect_exit CODE CMD...  CMD exits CODE (its output is dropped); says
#                            which code it got when not. For use in check.
#   failed WHAT              a failure with no command to check (a timeout)
#   summary NAME             "NAME: N passed, M failed"; true when none failed
#   wait_healthz URL PID LOG the server at URL answers /healthz (30 s at
#                            most: a bound on a hang) while PID lives; else
#                            prints LOG, false
#   free_port                a free TCP port on 127.0.0.1
#   start_server DB [OPTS]   (needs $bin, $dir) migrate DB, create the tokens
#                            $viewer_token, $operator_token, $admin_token,
#                            start `importq serve` on a free port with
#                            --import-root $dir/imports and OPTS (log in
#                            $dir/serve-PORT.log), set $server and
#                            $server_pid, wait for /healthz
#   stop_server              stop that server (SIGTERM) and wait for it
#   sqlite3 ...              the sqlite3 shell, waiting up to 30 s for a lock
#                            (a running server writes: health samples,
#                            alerts) instead of failing "database is locked";
#                            exported, so bash -c checks use it too
# out is the file check writes to: the script's EXIT trap removes it.
sqlite3() { command sqlite3 -cmd ".timeout 30000" "$@"; }
export -f sqlite3
pass=0 fail=0
out=${TMPDIR:-/tmp}/importq-cli-$$.out

check() {
    local what=$1
    shift
    if "$@" >"$out" 2>&1; then
        pass=$((pass + 1))
        return 0
    fi
    fail=$((fail + 1))
    echo "FAIL: $what"
    sed 's/^/  | /' "$out"
    return 1
}

expect_exit() {
    local code=$1
    shift
    "$@" >/dev/null 2>&1
    local got=$?
    [ "$got" -eq "$code" ] || { echo "exit $got, want $code: $*"; return 1; }
}

failed() {
    fail=$((fail + 1))
    echo "FAIL: $1"
}

summary() {
    echo "$1: $pass passed, $fail failed"
    [ "$fail" -eq 0 ]
}

wait_healthz() {
    local url=$1 pid=$2 log=$3
    for _ in $(seq 1 300); do
        curl -fsS "$url/healthz" >/dev/null 2>&1 && return 0
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    echo "the server did not answer /healthz at $url:"; sed 's/^/  log: /' "$log"
    return 1
}

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

start_server() {
    local db=$1 port role var
    shift
    port=$(free_port)
    server="http://127.0.0.1:$port"
    "$bin" migrate --db "$db" >/dev/null || { echo "migrate failed"; return 1; }
    for role in viewer operator admin; do
        printf -v "${role}_token" '%s' \
            "$("$bin" token create --name "$role$port" --role "$role" --db "$db" 2>/dev/null)"
        var=${role}_token
        [ -n "${!var}" ] || { echo "token create failed"; return 1; }
    done
    mkdir -p "$dir/imports"
    "$bin" serve --db "$db" --listen "127.0.0.1:$port" --import-root "$dir/imports" \
        --shutdown-grace 1s "$@" >"$dir/serve-$port.log" 2>&1 &
    server_pid=$!
    wait_healthz "$server" "$server_pid" "$dir/serve-$port.log"
}

stop_server() {
    [ -n "${server_pid:-}" ] && kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null
    server_pid=
}
