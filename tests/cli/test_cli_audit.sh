#!/usr/bin/env bash
# `importq audit verify` end to end, through the real binary, on SQLite and
# (when IMPORTQ_TEST_PG_ADMIN_URL is set) on a PostgreSQL database of its
# own: an empty and a real trail verify (exit 0, "ok: N rows checked");
# a row edited with the database's own command line tool, or deleted,
# exits 1 naming the row ("broken at row ID: reason"); bad usage exits 2;
# an unmigrated database is refused with a pointer to migrate.
# Usage: test_cli_audit.sh BINARY
set -u
bin=$1
. "$(dirname "$0")/lib.sh"
# verify_says DB EXIT LINE: audit verify exits EXIT and prints exactly LINE.
verify_says() {
    local got
    got=$("$bin" audit verify --db "$1" 2>&1)
    local code=$?
    [ "$code" -eq "$2" ] && [ "$got" = "$3" ] || { echo "exit $code, printed: $got"; return 1; }
}
for tool in jq sqlite3; do
    command -v "$tool" >/dev/null || { echo "FAIL: $tool is needed"; exit 1; }
done
dir=$(mktemp -d)
trap 'rm -rf "$dir" "$out"' EXIT

# suite LABEL DB SQL... : SQL runs the statement given as its last argument.
suite() {
    local label=$1 db=$2; shift 2
    local sql=("$@")
    check "$label: unmigrated database exits 1" expect_exit 1 "$bin" audit verify --db "$db"
    check "$label: unmigrated database points to migrate" \
        bash -c "'$bin' audit verify --db '$db' 2>&1 | grep -q 'run .importq migrate'"
    check "$label: migrate" "$bin" migrate --db "$db"
    check "$label: an empty trail verifies" verify_says "$db" 0 "ok: 0 rows checked"
    local t
    for t in t1 t2 t3 t4 t5; do
        "$bin" token create --name "$t" --role viewer --db "$db" >/dev/null 2>&1
    done
    "$bin" token revoke t2 --db "$db" >/dev/null
    "$bin" token revoke t4 --db "$db" >/dev/null
    check "$label: a real trail verifies" verify_says "$db" 0 "ok: 7 rows checked"
    check "$label: --json when intact" \
        bash -c "'$bin' audit verify --json --db '$db' | jq -e '.ok == true and .rows_checked == 7 and .first_bad_id == null and (has(\"reason\") | not)'"

    "${sql[@]}" "UPDATE stg_import_audit SET actor = 'mallory' WHERE id = 3" >/dev/null
    check "$label: an edited row exits 1 naming it" \
        verify_says "$db" 1 "broken at row 3: hash mismatch: the row's fields are not what was recorded"
    check "$label: --json when broken" \
        bash -c "'$bin' audit verify --json --db '$db'; [ \$? -eq 1 ] &&
                 '$bin' audit verify --json --db '$db' | jq -e '.ok == false and .first_bad_id == 3 and (.reason | test(\"hash mismatch\"))'"
    "${sql[@]}" "UPDATE stg_import_audit SET actor = (SELECT actor FROM stg_import_audit WHERE id = 2) WHERE id = 3" >/dev/null
    check "$label: undoing the edit heals the chain" verify_says "$db" 0 "ok: 7 rows checked"

    "${sql[@]}" "DELETE FROM stg_import_audit WHERE id = 5" >/dev/null
    check "$label: a deleted row exits 1 at the gap" verify_says "$db" 1 "broken at row 6: row 5 missing"

    check "$label: no subcommand exits 2" expect_exit 2 "$bin" audit --db "$db"
    check "$label: an unknown subcommand exits 2" expect_exit 2 "$bin" audit frobnicate --db "$db"
    check "$label: an extra argument exits 2" expect_exit 2 "$bin" audit verify now --db "$db"
}

suite sqlite "sqlite:$dir/a.db" sqlite3 "$dir/a.db"
check "bad database URL exits 2" expect_exit 2 "$bin" audit verify --db mysql://x
check "--help" bash -c "'$bin' audit --help | grep -q 'audit verify'"

if [ -n "${IMPORTQ_TEST_PG_ADMIN_URL:-}" ]; then
    name="importq_cli_audit_$$"
    psql "$IMPORTQ_TEST_PG_ADMIN_URL" -qc "CREATE DATABASE $name" >/dev/null
    pg="${IMPORTQ_TEST_PG_ADMIN_URL%/*}/$name"
    suite postgres "$pg" psql "$pg" -tAq -c
    check "postgres unreachable exits 1" expect_exit 1 "$bin" audit verify --db "postgres://nobody@127.0.0.1:1/x"
    psql "$IMPORTQ_TEST_PG_ADMIN_URL" -qc "DROP DATABASE $name WITH (FORCE)" >/dev/null
elif [ "${IMPORTQ_REQUIRE_PG:-}" = 1 ]; then
    echo "FAIL: PostgreSQL required but IMPORTQ_TEST_PG_ADMIN_URL is not set"; fail=$((fail + 1))
fi

summary cli_audit
