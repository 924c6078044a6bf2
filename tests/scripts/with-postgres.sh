#!/usr/bin/env bash
# Runs a command against a throwaway PostgreSQL cluster:
#   tests/scripts/with-postgres.sh CMD [ARGS...]
# initdb + pg_ctl as a non-root user in a temp dir, on a free port; exports
# IMPORTQ_TEST_PG_URL (a fresh database "importq_test") and stops and deletes
# the cluster afterwards, whatever the command's outcome.
# IMPORTQ_PG_SETTINGS picks the durability settings:
#   test (default)  fsync, synchronous_commit and full_page_writes off: fast
#                   tests, a crash may lose the cluster (it is thrown away);
#   production      PostgreSQL's defaults for those three (all on), as a
#                   user's server runs: for benchmarks.
# IMPORTQ_PG_EXTRA_CONF: lines added to postgresql.conf (e.g. a
# shared_preload_libraries for bench/engine_statements.sh).
set -euo pipefail

pgbin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
[ -x "$pgbin/initdb" ] || { echo "with-postgres: no PostgreSQL server binaries (apt-get install postgresql)" >&2; exit 1; }

free_port() {
    python3 - <<'PY' 2>/dev/null || echo $((20000 + RANDOM % 20000))
import socket
s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()
PY
}

settings=${IMPORTQ_PG_SETTINGS:-test}
case $settings in
    test) durability=$'fsync = off\nsynchronous_commit = off\nfull_page_writes = off' ;;
    production) durability='# fsync, synchronous_commit, full_page_writes: the defaults (on)' ;;
    *) echo "with-postgres: IMPORTQ_PG_SETTINGS must be test or production, not '$settings'" >&2; exit 2 ;;
esac

dir=$(mktemp -d /tmp/importq-pg.XXXXXX)
port=$(free_port)
run_as=()
if [ "$(id -u)" -eq 0 ]; then
    id -u importq-test >/dev/null 2>&1 || useradd --system --no-create-home --shell /usr/sbin/nologin importq-test
    chown importq-test "$dir"
    run_as=(runuser -u importq-test --)
fi

cleanup() {
    "${run_as[@]}" "$pgbin/pg_ctl" -D "$dir/data" -m immediate stop >/dev/null 2>&1 || true
    rm -rf "$dir"
}
trap cleanup EXIT

"${run_as[@]}" "$pgbin/initdb" -D "$dir/data" -U postgres --auth=trust -E UTF8 --no-locale >"$dir/initdb.log" 2>&1 \
    || { cat "$dir/initdb.log" >&2; exit 1; }
cat >>"$dir/data/postgresql.conf" <<CONF
listen_addresses = '127.0.0.1'
port = $port
unix_socket_directories = '$dir'
$durability
max_connections = 200
shared_buffers = 256MB
${IMPORTQ_PG_EXTRA_CONF:-}
CONF
"${run_as[@]}" "$pgbin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 start >/dev/null \
    || { cat "$dir/server.log" >&2; exit 1; }
psql -h 127.0.0.1 -p "$port" -U postgres -qc "CREATE DATABASE importq_test" postgres >/dev/null

export IMPORTQ_TEST_PG_URL="postgres://postgres@127.0.0.1:$port/importq_test"
export IMPORTQ_TEST_PG_ADMIN_URL="postgres://postgres@127.0.0.1:$port/postgres"
export IMPORTQ_TEST_PG_PORT="$port"
export IMPORTQ_TEST_PG_SETTINGS="$settings"
echo "with-postgres: PostgreSQL $("$pgbin/postgres" --version | awk '{print $3}') on 127.0.0.1:$port ($settings settings)" >&2
set +e
"$@"
rc=$?
set -e
exit $rc
