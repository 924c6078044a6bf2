#!/usr/bin/env bash
# The HTTP API black-box suite (tests/api/test_api.py) against `importq
# serve` on PostgreSQL: two fresh databases (the service's and the one of
# the second, max-queue-size 2 server) made with psql on
# IMPORTQ_TEST_PG_ADMIN_URL and dropped afterwards. Without that variable
# the test is skipped, or fails when IMPORTQ_REQUIRE_PG=1.
# Prints "api tests: N on postgres, F failed".
# Usage: test_api_postgres.sh BINARY
set -u
bin=$1
here=$(cd "$(dirname "$0")" && pwd)
admin=${IMPORTQ_TEST_PG_ADMIN_URL:-}
if [ -z "$admin" ]; then
    if [ "${IMPORTQ_REQUIRE_PG:-}" = 1 ]; then
        echo "FAIL: api_postgres: IMPORTQ_TEST_PG_ADMIN_URL is not set but IMPORTQ_REQUIRE_PG=1"
        exit 1
    fi
    echo "api_postgres: skipped (IMPORTQ_TEST_PG_ADMIN_URL is not set)"
    exit 0
fi
for tool in python3 psql; do
    command -v "$tool" >/dev/null || { echo "FAIL: $tool is not installed (scripts/deps.sh test)"; exit 1; }
done
main="importq_api_$$"
aux="importq_api_aux_$$"
drop() {
    psql -XAtq "$admin" -c "DROP DATABASE IF EXISTS $main WITH (FORCE)" \
        -c "DROP DATABASE IF EXISTS $aux WITH (FORCE)" >/dev/null 2>&1
}
trap drop EXIT
drop
psql -XAtq "$admin" -c "CREATE DATABASE $main" -c "CREATE DATABASE $aux" >/dev/null \
    || { echo "FAIL: api_postgres: cannot create the test databases on $admin"; exit 1; }
base=${admin%/*}
python3 "$here/../api/test_api.py" --bin "$bin" --backend postgres --db "$base/$main" --aux-db "$base/$aux"
