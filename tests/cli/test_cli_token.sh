#!/usr/bin/env bash
# `importq token create|list|revoke` end to end, through the real binary, on
# SQLite and (when IMPORTQ_TEST_PG_ADMIN_URL is set) on a PostgreSQL database
# of its own: the token is printed once and stored only as its SHA-256; a
# taken name exits 1, a bad role or usage 2; list as a table and as JSON;
# revoke (again: still 0; unknown: 1); changes are audited as cli:<user>;
# an unmigrated or outdated schema is refused with a pointer to migrate.
# Usage: test_cli_token.sh BINARY
set -u
bin=$1
. "$(dirname "$0")/lib.sh"
for tool in jq sqlite3 sha256sum; do
    command -v "$tool" >/dev/null || { echo "FAIL: $tool is needed"; exit 1; }
done
dir=$(mktemp -d)
trap 'rm -rf "$dir" "$out"' EXIT
user="cli:$(id -un)"

# suite LABEL DB SQL... : every check against one database; SQL runs a query
# given as its last argument and prints bare values.
suite() {
    local label=$1 db=$2; shift 2
    local sql=("$@")
    check "$label: unmigrated database is refused, pointing to migrate" \
        bash -c "'$bin' token list --db '$db' 2>&1 >/dev/null | grep -q 'run .importq migrate'"
    check "$label: unmigrated database exits 1" expect_exit 1 "$bin" token list --db "$db"
    check "$label: migrate" "$bin" migrate --db "$db"

    "$bin" token create --name alice --role viewer --db "$db" >"$dir/alice.out" 2>"$dir/alice.err"
    check "$label: create exits 0" [ $? -eq 0 ]
    local token
    token=$(cat "$dir/alice.out")
    check "$label: create prints just the token on one line" \
        bash -c "[ \$(wc -l <'$dir/alice.out') -eq 1 ] && grep -Eqx 'iq_[A-Za-z0-9_-]{43}' '$dir/alice.out'"
    local want_hash
    want_hash=$(printf '%s' "$token" | sha256sum | cut -d' ' -f1)
    check "$label: stored as its SHA-256" \
        bash -c "[ \"\$(\"\$@\" \"SELECT token_hash FROM importq_tokens WHERE name = 'alice'\")\" = '$want_hash' ]" \
        _ "${sql[@]}"
    check "$label: the secret itself is stored nowhere" \
        bash -c "[ \"\$(\"\$@\" \"SELECT count(*) FROM importq_tokens WHERE token_hash = '$token' OR name = '$token'\")\" = 0 ] &&
                 [ \"\$(\"\$@\" \"SELECT count(*) FROM stg_import_audit WHERE coalesce(CAST(after AS TEXT), '') LIKE '%$token%'\")\" = 0 ]" \
        _ "${sql[@]}"
    check "$label: a second token differs" \
        bash -c "t=\$('$bin' token create --name bob --role admin --db '$db') && [ \"\$t\" != '$token' ]"
    check "$label: --json prints name, role and token" \
        bash -c "'$bin' token create --name carol --role operator --json --db '$db' |
                 jq -e '.name == \"carol\" and .role == \"operator\" and (.token | test(\"^iq_[A-Za-z0-9_-]{43}\$\"))'"

    check "$label: a taken name exits 1" expect_exit 1 "$bin" token create --name alice --role admin --db "$db"
    check "$label: a taken name prints nothing on stdout, a reason on stderr" \
        bash -c "'$bin' token create --name alice --role admin --db '$db' 2>'$dir/dup.err' | grep -q . && exit 1;
                 grep -q alice '$dir/dup.err'"
    check "$label: a bad role exits 2" expect_exit 2 "$bin" token create --name dave --role root --db "$db"
    check "$label: a missing role exits 2" expect_exit 2 "$bin" token create --name dave --db "$db"
    check "$label: a missing name exits 2" expect_exit 2 "$bin" token create --role viewer --db "$db"
    check "$label: an empty name exits 2" expect_exit 2 "$bin" token create --name '' --role viewer --db "$db"
    check "$label: nothing was stored by the failures" \
        bash -c "[ \"\$(\"\$@\" 'SELECT count(*) FROM importq_tokens')\" = 3 ]" _ "${sql[@]}"
    check "$label: no subcommand exits 2" expect_exit 2 "$bin" token --db "$db"
    check "$label: an unknown subcommand exits 2" expect_exit 2 "$bin" token frob --db "$db"

    check "$label: list is a table by name" \
        bash -c "'$bin' token list --db '$db' >'$dir/list.out' &&
                 head -1 '$dir/list.out' | grep -Eq '^NAME +ROLE +CREATED_AT +LAST_USED_AT +REVOKED_AT\$' &&
                 [ \"\$(tail -n +2 '$dir/list.out' | awk '{print \$1 \"/\" \$2 \"/\" \$5}' | tr '\n' ' ')\" = 'alice/viewer/- bob/admin/- carol/operator/- ' ]"
    check "$label: list --json, without hashes" \
        bash -c "'$bin' token list --json --db '$db' |
                 jq -e 'length == 3 and (map(.name) == [\"alice\", \"bob\", \"carol\"]) and
                        all(.[]; .revoked_at == null and .last_used_at == null and (has(\"token_hash\") | not)) and
                        .[0].created_by == \"$user\"'"

    check "$label: revoke exits 0" "$bin" token revoke alice --db "$db"
    check "$label: revoked shows in the list" \
        bash -c "'$bin' token list --json --db '$db' | jq -e '.[0].name == \"alice\" and (.[0].revoked_at | test(\"Z\$\")) and .[1].revoked_at == null'"
    check "$label: revoke again exits 0" "$bin" token revoke alice --db "$db"
    check "$label: revoke an unknown name exits 1" expect_exit 1 "$bin" token revoke nobody --db "$db"
    check "$label: revoke without a name exits 2" expect_exit 2 "$bin" token revoke --db "$db"
    check "$label: a revoked name stays taken" expect_exit 1 "$bin" token create --name alice --role viewer --db "$db"
    check "$label: audited as $user: 3 creates, 1 revoke" \
        bash -c "[ \"\$(\"\$@\" \"SELECT action || ':' || count(*) FROM stg_import_audit WHERE actor = '$user' GROUP BY action ORDER BY action\" | tr '\n' ' ')\" = 'token.create:3 token.revoke:1 ' ]" \
        _ "${sql[@]}"
    check "$label: the trail verifies" bash -c "'$bin' audit verify --db '$db' | grep -qx 'ok: 4 rows checked'"

    # An older schema (a migration not applied yet) is refused too.
    "${sql[@]}" "DELETE FROM importq_schema_version WHERE version = (SELECT max(version) FROM importq_schema_version)" >/dev/null
    check "$label: outdated schema exits 1, pointing to migrate" \
        bash -c "'$bin' token list --db '$db' 2>&1 | grep -q 'importq migrate'; [ \${PIPESTATUS[0]} -eq 1 ]"
}

suite sqlite "sqlite:$dir/a.db" sqlite3 "$dir/a.db"
check "bad database URL exits 2" expect_exit 2 "$bin" token list --db mysql://x

if [ -n "${IMPORTQ_TEST_PG_ADMIN_URL:-}" ]; then
    name="importq_cli_token_$$"
    psql "$IMPORTQ_TEST_PG_ADMIN_URL" -qc "CREATE DATABASE $name" >/dev/null
    pg="${IMPORTQ_TEST_PG_ADMIN_URL%/*}/$name"
    suite postgres "$pg" psql "$pg" -tAq -c
    check "postgres unreachable exits 1" expect_exit 1 "$bin" token list --db "postgres://nobody@127.0.0.1:1/x"
    psql "$IMPORTQ_TEST_PG_ADMIN_URL" -qc "DROP DATABASE $name WITH (FORCE)" >/dev/null
elif [ "${IMPORTQ_REQUIRE_PG:-}" = 1 ]; then
    echo "FAIL: PostgreSQL required but IMPORTQ_TEST_PG_ADMIN_URL is not set"; fail=$((fail + 1))
fi

summary cli_token
