#!/usr/bin/env bash
# The HTTP server attacked from outside (tests/api/test_http_hostile.py):
# request smuggling, libmicrohttpd's own errors, header and body
# deadlines, connection limits, slowloris, a full disk. On SQLite, and on
# PostgreSQL when IMPORTQ_TEST_PG_ADMIN_URL is set (a fresh database made
# with psql and dropped afterwards; skipped without it, a failure with
# IMPORTQ_REQUIRE_PG=1). The full-disk test mounts a 1 MiB tmpfs in a
# private mount namespace (`unshare -m`, root): the mount vanishes with
# the test; without unshare it is skipped.
# Usage: test_http_hostile.sh BINARY
set -u
bin=$1
here=$(cd "$(dirname "$0")" && pwd)
command -v python3 >/dev/null || { echo "FAIL: python3 is not installed (scripts/deps.sh test)"; exit 1; }
export PYTHONDONTWRITEBYTECODE=1
run=(python3)
full_disk=()
if unshare --mount --propagation private true 2>/dev/null; then
    run=(unshare --mount --propagation private python3)
    full_disk=(--full-disk)
else
    echo "test_http_hostile: the full-disk test is skipped (unshare -m needs root)"
fi
# The slowloris test holds 1,100 sockets and the server up to 1,000.
ulimit -n 4096 2>/dev/null || ulimit -n "$(ulimit -Hn)"

rc=0
"${run[@]}" "$here/../api/test_http_hostile.py" --bin "$bin" --backend sqlite "${full_disk[@]}" || rc=1

admin=${IMPORTQ_TEST_PG_ADMIN_URL:-}
if [ -z "$admin" ]; then
    if [ "${IMPORTQ_REQUIRE_PG:-}" = 1 ]; then
        echo "FAIL: test_http_hostile: IMPORTQ_TEST_PG_ADMIN_URL is not set but IMPORTQ_REQUIRE_PG=1"
        exit 1
    fi
    echo "test_http_hostile: postgres skipped (IMPORTQ_TEST_PG_ADMIN_URL is not set)"
    exit $rc
fi
command -v psql >/dev/null || { echo "FAIL: psql is not installed (scripts/deps.sh test)"; exit 1; }
db="importq_hostile_$$"
drop() { psql -XAtq "$admin" -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1; }
trap drop EXIT
drop
psql -XAtq "$admin" -c "CREATE DATABASE $db" >/dev/null \
    || { echo "FAIL: test_http_hostile: cannot create a test database on $admin"; exit 1; }
"${run[@]}" "$here/../api/test_http_hostile.py" --bin "$bin" --backend postgres --db "${admin%/*}/$db" \
    "${full_disk[@]}" || rc=1
exit $rc
