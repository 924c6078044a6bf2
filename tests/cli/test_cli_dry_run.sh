#!/usr/bin/env bash
# `importq import --dry-run` and `--json` through the real binary, on
# SQLite and (when IMPORTQ_TEST_PG_ADMIN_URL is set) PostgreSQL: for every
# mode the dry run's summary predicts the real run that follows and leaves
# the table byte for byte as it was (an ordered dump and its checksum);
# rejects under abort are all listed and fail the dry run; --create
# leaves no table; --json prints one JSON object (checked with python3),
# its rejects capped at 100.
# Usage: test_cli_dry_run.sh BINARY
set -u
bin=$1
. "$(dirname "$0")/lib.sh"
dir=$(mktemp -d)
trap 'rm -rf "$dir" "$out"' EXIT

printf 'id,name,qty\n1,a,1\n2,B,2\n5,e,5\n6,f,\n' >"$dir/items.csv"
printf 'id,name,qty\n7,g,7\n8,h,8\n' >"$dir/new.csv"
{
    printf 'id,name,qty\n'
    for i in $(seq 1 150); do printf '%d,n%d,bad%d\n' $((i + 100)) "$i" "$i"; done
} >"$dir/bad.csv"

# json_check FILE PYTHON-EXPRESSION: FILE holds exactly one JSON object
# (nothing else on stdout) for which the expression, over j, is true.
json_check() {
    python3 -c 'import json, sys
j = json.load(open(sys.argv[1]))
ok = eval(sys.argv[2])
print(json.dumps(j)[:2000])
sys.exit(0 if ok else 1)' "$1" "$2"
}
export -f json_check

suite() { # label db sql-command...
    local label=$1 db=$2; shift 2
    local sql=("$@")
    local q="${sql[*]}"
    reset() {
        $q "DROP TABLE IF EXISTS items" >/dev/null
        $q "CREATE TABLE items (id bigint PRIMARY KEY, name text, qty integer)" >/dev/null
        $q "INSERT INTO items VALUES (1, 'a', 1), (2, 'b', 2), (3, 'c', 3), (4, 'd', NULL)" >/dev/null
    }
    dump() { $q "SELECT id || ',' || coalesce(name, '~') || ',' || coalesce(CAST(qty AS text), '~') FROM items ORDER BY id" | sha256sum; }

    # predict MODE EXTRA-FLAGS FILE WANT-DRY WANT-REAL: the dry run prints
    # WANT-DRY and changes nothing, then the real run prints WANT-REAL.
    predict() {
        local mode=$1 flags=$2 file=$3 want_dry=$4 want_real=$5
        reset
        local before
        before=$(dump)
        # shellcheck disable=SC2086
        check "$label: $mode $flags: dry run predicts" \
            bash -c "'$bin' import '$file' --db '$db' --table items --mode $mode $flags --dry-run >'$dir/dry.out' &&
                     grep -q -- '$want_dry; 0 rejected — nothing was written' '$dir/dry.out' || { cat '$dir/dry.out'; exit 1; }"
        check "$label: $mode $flags: the table is byte for byte as it was" [ "$(dump)" = "$before" ]
        check "$label: $mode $flags: the real run does it" \
            bash -c "'$bin' import '$file' --db '$db' --table items --mode $mode $flags >'$dir/real.out' &&
                     grep -q -- '$want_real' '$dir/real.out' || { cat '$dir/real.out'; exit 1; }"
    }
    predict upsert "--key id" "$dir/items.csv" \
        'would insert 2, update 1, leave 1 unchanged, delete 0' '2 inserted, 2 updated, 0 deleted'
    predict replace "--key id" "$dir/items.csv" \
        'would insert 2, update 1, leave 1 unchanged, delete 2' '4 inserted, 0 updated, 4 deleted'
    # no --key: the table's primary key
    predict replace "" "$dir/items.csv" \
        'would insert 2, update 1, leave 1 unchanged, delete 2' '4 inserted, 0 updated, 4 deleted'
    predict insert "--key id" "$dir/new.csv" \
        'would insert 2, update 0, leave 0 unchanged, delete 0' '2 inserted, 0 updated, 0 deleted'
    predict append "" "$dir/new.csv" \
        'would insert 2, update 0, leave 0 unchanged, delete 0' '2 inserted, 0 updated, 0 deleted'

    # Rejects under abort: every one is listed, the dry run fails (exit 1)
    # as the real one would, and nothing changes.
    reset
    local before
    before=$(dump)
    check "$label: a dry run with rejects exits 1 and lists them all" \
        bash -c "'$bin' import '$dir/bad.csv' --db '$db' --table items --mode upsert --key id --dry-run 2>'$dir/err'; [ \$? -eq 1 ] &&
                 grep -q 'reject: line 2, column qty' '$dir/err' && grep -q 'more rejects are only counted' '$dir/err' &&
                 grep -q '150 row(s) rejected, more than on_error.max_rejects 0: the import would fail' '$dir/err' || { cat '$dir/err'; exit 1; }"
    check "$label: ... and changed nothing" [ "$(dump)" = "$before" ]

    # --json: one object on stdout, rejects capped at 100.
    check "$label: --json of a failing dry run" \
        bash -c "'$bin' import '$dir/bad.csv' --db '$db' --table items --mode upsert --key id --dry-run --json >'$dir/j.json' 2>'$dir/err'; [ \$? -eq 1 ] &&
                 json_check '$dir/j.json' \"j['status'] == 'FAILED' and j['dry_run'] is True and j['error']['code'] == 'rejected' and j['error']['transient'] is False and j['rows_rejected'] == 150 and len(j['rejects']) == 100 and j['rejects_not_shown'] == 50 and [j['rejects'][0][k] for k in ('line', 'column', 'value', 'table', 'pointer')] == [2, 'qty', 'bad1', 'items', None] and j['rejects'][0]['error'] and j['job_id'] is None\" &&
                 ! grep -q 'reject:' '$dir/err'"
    reset
    check "$label: --json of a dry run" \
        bash -c "'$bin' import '$dir/items.csv' --db '$db' --table items --mode upsert --key id --dry-run --json >'$dir/j.json' &&
                 json_check '$dir/j.json' \"j['status'] == 'COMPLETED' and j['dry_run'] and j['rows_read'] == 4 and j['rows_inserted'] == 2 and j['rows_updated'] == 1 and j['rows_unchanged'] == 1 and j['rows_deleted'] == 0 and j['creates_table'] is False and j['error'] is None and j['rejects'] == [] and j['duration_s'] >= 0 and j['mode'] == 'upsert' and j['table'] == 'items'\""
    check "$label: --json of a real run" \
        bash -c "'$bin' import '$dir/items.csv' --db '$db' --table items --mode upsert --key id --json >'$dir/j.json' &&
                 json_check '$dir/j.json' \"j['status'] == 'COMPLETED' and j['dry_run'] is False and j['rows_inserted'] == 2 and j['rows_updated'] == 2 and 'rows_unchanged' not in j\""
    check "$label: --json of a failed import has its error code" \
        bash -c "'$bin' import '$dir/items.csv' --db '$db' --table no_such_table --json >'$dir/j.json'; [ \$? -eq 1 ] &&
                 json_check '$dir/j.json' \"j['status'] == 'FAILED' and j['error']['code'] == 'invalid_source' and 'no_such_table' in j['error']['message']\""

    # --create: the table it would make is shown, and not made.
    check "$label: --create --dry-run shows the table and makes none" \
        bash -c "'$bin' import demo/data/teams.csv --db '$db' --table teams_dry --create --key team_id --dry-run >'$dir/c.out' &&
                 grep -q '^dry run: would create table teams_dry (team_id integer, .*primary key (team_id))' '$dir/c.out' &&
                 grep -q 'would insert 6, update 0, leave 0 unchanged, delete 0; 0 rejected' '$dir/c.out' || { cat '$dir/c.out'; exit 1; }"
    check "$label: ... no table teams_dry" \
        bash -c "! $q 'SELECT count(*) FROM teams_dry' >/dev/null 2>&1"
    check "$label: --create --dry-run --json says creates_table" \
        bash -c "'$bin' import demo/data/teams.csv --db '$db' --table teams_dry --create --key team_id --dry-run --json >'$dir/j.json' &&
                 json_check '$dir/j.json' \"j['creates_table'] is True and j['rows_inserted'] == 6\""
}

check "--help lists --dry-run and --json" bash -c "'$bin' import --help | grep -q -- '--dry-run' && '$bin' import --help | grep -q -- '--json'"

suite sqlite "sqlite:$dir/dry.db" sqlite3 "$dir/dry.db"

if [ -n "${IMPORTQ_TEST_PG_ADMIN_URL:-}" ]; then
    name="importq_cli_dry_$$"
    psql "$IMPORTQ_TEST_PG_ADMIN_URL" -qc "CREATE DATABASE $name" >/dev/null
    pg="${IMPORTQ_TEST_PG_ADMIN_URL%/*}/$name"
    suite postgres "$pg" psql "$pg" -qtAc
    psql "$IMPORTQ_TEST_PG_ADMIN_URL" -qc "DROP DATABASE $name WITH (FORCE)" >/dev/null
elif [ "${IMPORTQ_REQUIRE_PG:-}" = 1 ]; then
    echo "FAIL: PostgreSQL required but IMPORTQ_TEST_PG_ADMIN_URL is not set"; fail=$((fail + 1))
fi
summary cli_dry_run
