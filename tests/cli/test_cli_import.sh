#!/usr/bin/env bash
# `importq import` end to end through the real binary, on SQLite and (when
# IMPORTQ_TEST_PG_ADMIN_URL is set) PostgreSQL: the demo data set loads in
# order and loads again idempotently; exit codes 0 / 1 / 2; nothing lands
# from a failed import; --encoding and --columns.
# Usage: test_cli_import.sh BINARY
set -u
bin=$1
. "$(dirname "$0")/lib.sh"
dir=$(mktemp -d)
trap 'rm -rf "$dir" "$out"' EXIT

demo() { # db
    local db=$1 name
    for name in teams environments users applications steps; do
        local spec=demo/specs/$name.json
        local file=demo/data/$(sed -n 's/.*"path": *"\([^"]*\)".*/\1/p' "$spec" | head -n 1)
        "$bin" import "$file" --spec "$spec" --db "$db" --quiet || return 1
    done
}

suite() { # label db sql-count-command
    local label=$1 db=$2; shift 2
    local sql=("$@")
    check "$label: demo loads" demo "$db"
    check "$label: demo loads again (idempotent upserts, replace)" demo "$db"
    check "$label: 6 teams" bash -c "[ \"\$(${sql[*]} 'SELECT count(*) FROM teams')\" = 6 ]"
    check "$label: 40 users" bash -c "[ \"\$(${sql[*]} 'SELECT count(*) FROM users')\" = 40 ]"
    check "$label: 8 applications" bash -c "[ \"\$(${sql[*]} 'SELECT count(*) FROM applications')\" = 8 ]"
    check "$label: steps and instructions" bash -c "[ \"\$(${sql[*]} 'SELECT count(*) FROM steps')\" = 12 ] && [ \"\$(${sql[*]} 'SELECT count(*) FROM step_instructions')\" -gt 12 ]"
    printf 'team_id,name\n7,Seven\n8,Eight\n' >"$dir/plain.csv"
    check "$label: quick import into an existing table" "$bin" import "$dir/plain.csv" --db "$db" --table teams --mode upsert --key team_id --quiet
    check "$label: a tiny file's summary has no meaningless rate" \
        bash -c "'$bin' import '$dir/plain.csv' --db '$db' --table teams --mode upsert --key team_id | grep 'imported' | grep -v '(0 B/s)' | grep -q ' s'"
    check "$label: 8 teams now" bash -c "[ \"\$(${sql[*]} 'SELECT count(*) FROM teams')\" = 8 ]"
    printf 'team_id,nmae\n9,Nine\n' >"$dir/typo.csv"
    check "$label: a source column the table lacks exits 1, with a suggestion" \
        bash -c "'$bin' import '$dir/typo.csv' --db '$db' --table teams --mode upsert --key team_id 2>&1 | grep -q '\"nmae\" (did you mean \"name\"?)'"
    check "$label: --ignore-extra skips it" \
        "$bin" import "$dir/typo.csv" --db "$db" --table teams --mode upsert --key team_id --ignore-extra --quiet
    printf 'team_id;name\n10;Ten\n' >"$dir/semi.csv"
    check "$label: a ;-separated file is sniffed, and said so" \
        bash -c "'$bin' import '$dir/semi.csv' --db '$db' --table teams --mode upsert --key team_id --quiet 2>&1 | grep -q \"reading .* as ;-separated\" &&
                 [ \"\$(${sql[*]} \"SELECT name FROM teams WHERE team_id = 10\")\" = Ten ]"
    printf 'exported by crm\nteam_id|name\n11|Eleven\n' >"$dir/pipe.csv"
    check "$label: --delimiter and --skip-rows" \
        "$bin" import "$dir/pipe.csv" --db "$db" --table teams --mode upsert --key team_id --delimiter '|' --skip-rows 1 --quiet
    check "$label: 11 is in" bash -c "[ \"\$(${sql[*]} \"SELECT name FROM teams WHERE team_id = 11\")\" = Eleven ]"
    check "$label: a ;-header read with commas hints at the delimiter" \
        bash -c "'$bin' import '$dir/semi.csv' --db '$db' --table teams --delimiter , 2>&1 | grep -q \"holding ';': is that the file's delimiter\""
    printf 'team_id,name\n1,Platform\nx,Broken\n' >"$dir/bad.csv"
    check "$label: failed import exits 1" expect_exit 1 "$bin" import "$dir/bad.csv" --db "$db" --table teams --mode upsert --key team_id
    check "$label: failed import landed nothing" bash -c "[ \"\$(${sql[*]} \"SELECT count(*) FROM teams WHERE name = 'Broken'\")\" = 0 ]"
    check "$label: skip lands the good row" "$bin" import "$dir/bad.csv" --db "$db" --table teams --mode upsert --key team_id --on-error skip --quiet
    check "$label: --create without columns infers them and lands every row" \
        bash -c "'$bin' import demo/data/users.csv --db '$db' --table users_inferred --create --key user_id --quiet &&
                 [ \"\$(${sql[*]} 'SELECT count(*) FROM users_inferred WHERE is_active')\" -gt 0 ] &&
                 [ \"\$(${sql[*]} 'SELECT count(*) FROM users_inferred')\" = 40 ]"
    check "$label: infer prints a spec that imports as is" \
        bash -c "'$bin' infer demo/data/environments.csv --table envs > '$dir/envs.json' &&
                 jq -e '.target.columns[0] == {\"name\": \"env_id\", \"type\": \"integer\", \"required\": true}' '$dir/envs.json' >/dev/null &&
                 jq -e '.target.columns[3] == {\"name\": \"is_production\", \"type\": \"boolean\", \"required\": false}' '$dir/envs.json' >/dev/null &&
                 '$bin' import demo/data/environments.csv --spec '$dir/envs.json' --db '$db' --quiet &&
                 [ \"\$(${sql[*]} 'SELECT count(*) FROM envs')\" = 6 ]"
    check "$label: missing table exits 1" expect_exit 1 "$bin" import "$dir/plain.csv" --db "$db" --table no_such_table
    # --encoding: latin1 and windows-1252 land as UTF-8 text
    printf 'team_id,name\n20,Z\374rich \351t\351\n' >"$dir/latin1.csv"
    check "$label: --encoding latin1" \
        bash -c "'$bin' import '$dir/latin1.csv' --db '$db' --table teams --mode upsert --key team_id --encoding latin1 --quiet &&
                 [ \"\$(${sql[*]} \"SELECT name FROM teams WHERE team_id = 20\")\" = 'Zürich été' ]"
    printf 'team_id,name\n21,\223Caf\351\224 \226 5 \200\n' >"$dir/cp1252.csv"
    check "$label: --encoding windows-1252 (euro, smart quotes, dash)" \
        bash -c "'$bin' import '$dir/cp1252.csv' --db '$db' --table teams --mode upsert --key team_id --encoding windows-1252 --quiet &&
                 [ \"\$(${sql[*]} \"SELECT name FROM teams WHERE team_id = 21\")\" = '“Café” – 5 €' ]"
    check "$label: the same file read as UTF-8 rejects the row, naming the byte" \
        bash -c "'$bin' import '$dir/latin1.csv' --db '$db' --table teams --mode upsert --key team_id 2>&1 | grep -q 'invalid UTF-8 (byte 0xFC)'"
    check "$label: an unknown --encoding exits 2" \
        expect_exit 2 "$bin" import "$dir/latin1.csv" --db "$db" --table teams --encoding ebcdic
    # --columns: names for a headerless file, or in place of the header's
    printf '22,Twenty-two\n23,Twenty-three\n' >"$dir/headerless.csv"
    check "$label: --no-header --columns" \
        bash -c "'$bin' import '$dir/headerless.csv' --db '$db' --table teams --mode upsert --key team_id --no-header --columns team_id,name --quiet &&
                 [ \"\$(${sql[*]} \"SELECT name FROM teams WHERE team_id = 23\")\" = Twenty-three ]"
    printf 'Nr,Bezeichnung\n24,Vierundzwanzig\n' >"$dir/renamed.csv"
    check "$label: --columns renames the header's columns" \
        bash -c "'$bin' import '$dir/renamed.csv' --db '$db' --table teams --mode upsert --key team_id --columns team_id,name --quiet &&
                 [ \"\$(${sql[*]} \"SELECT name FROM teams WHERE team_id = 24\")\" = Vierundzwanzig ]"
    check "$label: a --columns count that does not match exits 1 and says both counts" \
        bash -c "said=\$('$bin' import '$dir/headerless.csv' --db '$db' --table teams --mode upsert --key team_id --no-header --columns team_id 2>&1); [ \$? = 1 ] && grep -q 'the first record has 2 fields but 1 column names were given' <<<\"\$said\""
    check "$label: infer reads with --encoding and --columns" \
        bash -c "'$bin' infer '$dir/latin1.csv' --encoding latin1 --columns id,label | jq -e '.target.columns[1].name == \"label\" and .source.csv.encoding == \"latin1\"' >/dev/null"
}

check "no FILE exits 2" expect_exit 2 "$bin" import
check "missing file exits 2" expect_exit 2 "$bin" import /nonexistent.csv --table t
check "no table exits 2" expect_exit 2 "$bin" import demo/data/teams.csv --db "sqlite:$dir/x.db"
check "reserved table exits 2" expect_exit 2 "$bin" import demo/data/teams.csv --table importq_tokens --db "sqlite:$dir/x.db"
check "bad mode exits 2" expect_exit 2 "$bin" import demo/data/teams.csv --table t --mode merge --db "sqlite:$dir/x.db"
check "a missing --spec names the file and why" \
    bash -c "'$bin' import demo/data/teams.csv --spec '$dir/missing.json' --db 'sqlite:$dir/x.db' 2>&1 | grep -q 'cannot read job spec $dir/missing.json: No such file or directory'"
check "a malformed --spec names the line and column" \
    bash -c "printf '{\"source\":\n  {]' >'$dir/bad.json'; '$bin' import demo/data/teams.csv --spec '$dir/bad.json' --db 'sqlite:$dir/x.db' 2>&1 | grep -q 'job spec $dir/bad.json, line 2 column'"
check "unknown target database exits 2" bash -c "printf '{\"source\":{\"path\":\"x.csv\"},\"target\":{\"table\":\"t\",\"database\":\"crm\"}}' >'$dir/s.json'; '$bin' import demo/data/teams.csv --spec '$dir/s.json' --db 'sqlite:$dir/x.db'; [ \$? -eq 2 ]"
check "--help" bash -c "'$bin' import --help | grep -q -- '--table'"

suite sqlite "sqlite:$dir/demo.db" sqlite3 "$dir/demo.db"
# A named target database from the environment.
check "named target database" bash -c "printf '{\"source\":{\"path\":\"x.csv\"},\"target\":{\"table\":\"teams\",\"database\":\"crm\",\"create\":true,\"columns\":[{\"name\":\"team_id\",\"type\":\"integer\"},{\"name\":\"name\"}]}}' >'$dir/crm.json' && IMPORTQ_TARGET_CRM='sqlite:$dir/crm.db' '$bin' import demo/data/teams.csv --spec '$dir/crm.json' --db 'sqlite:$dir/service.db' --quiet && [ \"\$(sqlite3 '$dir/crm.db' 'SELECT count(*) FROM teams')\" = 6 ]"

if [ -n "${IMPORTQ_TEST_PG_ADMIN_URL:-}" ]; then
    name="importq_cli_import_$$"
    psql "$IMPORTQ_TEST_PG_ADMIN_URL" -qc "CREATE DATABASE $name" >/dev/null
    pg="${IMPORTQ_TEST_PG_ADMIN_URL%/*}/$name"
    suite postgres "$pg" psql "$pg" -tAc
    psql "$IMPORTQ_TEST_PG_ADMIN_URL" -qc "DROP DATABASE $name WITH (FORCE)" >/dev/null
elif [ "${IMPORTQ_REQUIRE_PG:-}" = 1 ]; then
    echo "FAIL: PostgreSQL required but IMPORTQ_TEST_PG_ADMIN_URL is not set"; fail=$((fail + 1))
fi
summary cli_import
