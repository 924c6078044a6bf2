#!/usr/bin/env bash
# A PostgreSQL that goes away under a running `importq serve`, black box.
# The test starts a throwaway cluster of its own (initdb + pg_ctl, as
# importq-test when root), serves on it (alerts every 100 ms, no
# for-duration), then stops the cluster (pg_ctl stop -m immediate):
#   - /readyz answers 503 (and /healthz still 200: the process lives);
#   - an API route that needs the database answers 503 and
#     importq_database_errors_total{component="api"} in /metrics moves;
#   - the db_unreachable alert opens (in memory: the log says so).
# The cluster commits synchronously (synchronous_commit on, the default):
# an immediate stop then loses no committed row, where with it off the
# last commits' WAL still in shared memory went with the crash (the
# node's row, once even a migration's columns), and the server came back
# to a database that had forgotten it.
# The cluster listens on a Unix socket in the test's own directory only:
# while it is stopped no other test's cluster can take its address (a TCP
# port freed by the stop could be, and the server would then reconnect to
# a stranger's database).
# Then the cluster starts again on the same socket: /readyz is 200 again,
# the API answers, and the outage is recorded as one resolved
# db_unreachable alert. Needs the PostgreSQL server binaries; skipped
# without IMPORTQ_TEST_PG_ADMIN_URL (the sign the PostgreSQL tests are
# wanted), a failure then when IMPORTQ_REQUIRE_PG=1. Every wait is bounded
# (a safety net, not a synchronisation).
# Usage: test_db_outage_pg.sh BINARY
set -u
bin=$(readlink -f "$1")
. "$(dirname "$0")/lib.sh"
name=cli_db_outage_pg

if [ -z "${IMPORTQ_TEST_PG_ADMIN_URL:-}" ]; then
    if [ "${IMPORTQ_REQUIRE_PG:-}" = 1 ]; then
        echo "$name: IMPORTQ_TEST_PG_ADMIN_URL is not set but IMPORTQ_REQUIRE_PG=1"
        echo "$name: 0 passed, 1 failed"
        exit 1
    fi
    echo "$name: skipped (IMPORTQ_TEST_PG_ADMIN_URL is not set)"
    exit 0
fi
for tool in curl psql python3; do
    command -v "$tool" >/dev/null || { echo "FAIL: $tool is not installed (scripts/deps.sh test)"; exit 1; }
done
pgbin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
[ -x "$pgbin/initdb" ] || { echo "FAIL: no PostgreSQL server binaries"; echo "$name: 0 passed, 1 failed"; exit 1; }

dir=$(mktemp -d /tmp/importq-outage.XXXXXX)
chmod 755 "$dir"
pgdata="$dir/pg/data"
pg_started=
server_pid=
run_as=()
[ "$(id -u)" -eq 0 ] && run_as=(runuser -u importq-test --)
cleanup() {
    [ -n "$server_pid" ] && kill -9 "$server_pid" 2>/dev/null
    wait 2>/dev/null
    [ -n "$pg_started" ] && "${run_as[@]}" "$pgbin/pg_ctl" -D "$pgdata" -m immediate stop >/dev/null 2>&1
    rm -rf "$dir" "$out"
}
trap cleanup EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
# wait_until SECONDS CMD...: CMD every 0.1 s until it succeeds (bounded).
wait_until() {
    local end=$((SECONDS + $1)); shift
    until "$@"; do
        [ "$SECONDS" -ge "$end" ] && { echo "timed out waiting for: $*"; return 1; }
        sleep 0.1
    done
}
pg_ctl() { "${run_as[@]}" "$pgbin/pg_ctl" -D "$pgdata" -l "$dir/pg/server.out" "$@" >/dev/null; }

# --- a cluster of our own ---------------------------------------------------
mkdir -p "$dir/pg"
if [ "$(id -u)" -eq 0 ]; then
    id -u importq-test >/dev/null 2>&1 || useradd --system --no-create-home --shell /usr/sbin/nologin importq-test
    chown importq-test "$dir/pg"
fi
pgport=$(free_port)
"${run_as[@]}" "$pgbin/initdb" -D "$pgdata" -U postgres --auth=trust -E UTF8 --no-locale >"$dir/pg/initdb.out" 2>&1 \
    || { cat "$dir/pg/initdb.out"; echo "$name: 0 passed, 1 failed"; exit 1; }
cat >>"$pgdata/postgresql.conf" <<CONF
listen_addresses = ''
port = $pgport
unix_socket_directories = '$dir/pg'
fsync = off
full_page_writes = off
max_connections = 50
CONF
pg_ctl -w -t 60 start || { cat "$dir/pg/server.out"; echo "$name: 0 passed, 1 failed"; exit 1; }
pg_started=1
db="postgres://postgres@/postgres?host=$dir/pg&port=$pgport"
q() { psql -XAtq "$db" -c "$1" 2>/dev/null; }

# --- a server on it ---------------------------------------------------------
check "migrate" "$bin" migrate --db "$db"
token=$("$bin" token create --name outage-viewer --role viewer --db "$db" 2>/dev/null)
port=$(free_port)
server="http://127.0.0.1:$port"
mkdir -p "$dir/imports"
"$bin" serve --db "$db" --listen "127.0.0.1:$port" --import-root "$dir/imports" \
    --spool-dir "$dir/spool" --metrics-auth none --alert-every 100ms --alert-for 0 \
    --shutdown-grace 1s >"$dir/serve.log" 2>&1 &
server_pid=$!
check "the server answers" wait_healthz "$server" "$server_pid" "$dir/serve.log" || { summary "$name"; exit 1; }

code() { curl -s -o /dev/null -w '%{http_code}' "$@"; }
is_code() { [ "$(code "${@:2}")" = "$1" ]; }
api_errors() { # importq_database_errors_total{component="api"}
    curl -sf "$server/metrics" | awk '/^importq_database_errors_total\{component="api"\}/ { print $2 }'
}
check "/readyz is 200 while the database is up" is_code 200 "$server/readyz"
check "the API answers while the database is up" is_code 200 -H "Authorization: Bearer $token" \
    "$server/api/v2/import-queue?limit=1"
before=$(api_errors)
check "/metrics has importq_database_errors_total{component=\"api\"}" [ -n "$before" ]

# --- the database goes away -------------------------------------------------
check "PostgreSQL stops" pg_ctl -m immediate -w -t 60 stop
check "/readyz is 503 while the database is down" wait_until 30 is_code 503 "$server/readyz"
check "/healthz is still 200" is_code 200 "$server/healthz"
# a fresh connection is refused: a route that needs the database is a 503
route_503() {
    is_code 503 -H "Authorization: Bearer $token" "$server/api/v2/import-queue/00000000-0000-7000-8000-000000000000"
}
check "an API route is 503 while the database is down" wait_until 30 route_503
moved() { local now; now=$(api_errors); [ -n "$now" ] && awk -v a="$now" -v b="$before" 'BEGIN { exit !(a > b) }'; }
check "importq_database_errors_total{component=\"api\"} moved (from $before)" moved
opened() { grep -qE 'alert opened.*rule=("?)db_unreachable' "$dir/serve.log"; }
check "the db_unreachable alert opens (logged)" wait_until 30 opened
check "the server lives on" kill -0 "$server_pid"

# --- and comes back ---------------------------------------------------------
check "PostgreSQL starts again" pg_ctl -w -t 60 start
check "/readyz is 200 again" wait_until 60 is_code 200 "$server/readyz"
api_back() { is_code 200 -H "Authorization: Bearer $token" "$server/api/v2/import-queue?limit=1"; }
check "the API answers again" wait_until 60 api_back
recorded() { [ "$(q "SELECT count(*) FROM stg_import_monitoring WHERE kind = 'alert' AND rule = 'db_unreachable' AND state = 'resolved'")" = 1 ]; }
check "the outage is recorded as one resolved db_unreachable alert" wait_until 60 recorded
kill -TERM "$server_pid" 2>/dev/null
wait "$server_pid"
rc=$?
server_pid=
check "the server exits 0 on SIGTERM" [ "$rc" = 0 ]
summary "$name" || { echo "--- serve.log (tail)"; tail -n 30 "$dir/serve.log"; exit 1; }
