#!/usr/bin/env bash
# The migrate command end to end, through the real binary: creates the seven
# stg_* tables, a second run changes nothing, bad usage exits 2, no directory
# made for a --db but the default's var/; on SQLite
# and (when IMPORTQ_TEST_PG_ADMIN_URL is set) on a PostgreSQL database of its own.
# A password in the database URL is never printed back, whatever happens.
# Usage: test_cli_migrate.sh BINARY
set -u
bin=$1
. "$(dirname "$0")/lib.sh"
# Every embedded migration runs on a new database (tests run from the source tree).
migrations=$(ls src/store/sqlite/migrations/*.sql | wc -l)
pg_migrations=$(ls src/store/postgres/migrations/*.sql | wc -l)
tables="stg_import_queue stg_import_resources stg_import_coordination stg_import_performance stg_import_monitoring stg_import_audit stg_scheduled_imports"

dir=$(mktemp -d)
trap 'rm -rf "$dir" "$out"' EXIT
db="sqlite:$dir/sub/a.db"

check "--version" bash -c "'$bin' --version | grep -q '^importq '"
check "--help lists migrate" bash -c "'$bin' --help | grep -q migrate"
check "migrate --help lists the database setting, not the server's" \
    bash -c "'$bin' migrate --help | grep -q -- '--db' && ! '$bin' migrate --help | grep -q -- '--max-concurrent'"
check "-h is help, not a file name" bash -c "'$bin' import -h | grep -q '^Usage: importq import'"
check "help CMD is that command's help" bash -c "'$bin' help import | grep -q '^Usage: importq import'"
check "help of an unknown command exits 2" expect_exit 2 "$bin" help frobnicate
check "unknown command exits 2" expect_exit 2 "$bin" frobnicate
check "unknown option exits 2" expect_exit 2 "$bin" migrate --frob
check "bad setting exits 2" expect_exit 2 "$bin" migrate --max-concurrent lots
check "bad URL exits 2" expect_exit 2 "$bin" migrate --db mysql://x
check "bad URL hides its password" bash -c "'$bin' migrate --db 'mysql://u:Sup3rSecret@x' 2>&1 | grep -q 'mysql://u:\*\*\*@x' && ! '$bin' migrate --db 'mysql://u:Sup3rSecret@x' 2>&1 | grep -q Sup3rSecret"
check "env bad setting exits 2" expect_exit 2 env IMPORTQ_LOCK_LEASE=forever "$bin" migrate --db "$db"
check "a --db in a missing directory exits 1, naming it" \
    bash -c "'$bin' migrate --db '$db' 2>&1 | grep -q 'directory $dir/sub: No such file or directory'"
check "a --db in a missing directory creates nothing" [ ! -e "$dir/sub" ]
mkdir -p "$dir/sub" "$dir/cwd"
check "the default database gets var/ made for it" \
    bash -c "cd '$dir/cwd' && env -u IMPORTQ_DB -u IMPORTQ_CONFIG '$bin' migrate >/dev/null && [ -f var/importq.db ]"
check "sqlite first migrate" bash -c "'$bin' migrate --db '$db' | grep -q '$migrations migration(s) applied'"
check "sqlite second migrate" bash -c "'$bin' migrate --db '$db' | grep -q '0 migration(s) applied'"
check "sqlite via IMPORTQ_DB" bash -c "IMPORTQ_DB='$db' '$bin' migrate | grep -q '0 migration(s) applied'"
for t in $tables; do
    check "sqlite has $t" bash -c "sqlite3 '$dir/sub/a.db' \"SELECT name FROM sqlite_master WHERE name = '$t'\" | grep -q $t"
done
printf '[importq]\ndb = %s\n' "$db" >"$dir/importq.ini"
check "config file" bash -c "'$bin' migrate --config '$dir/importq.ini' | grep -q 'schema version'"

if [ -n "${IMPORTQ_TEST_PG_ADMIN_URL:-}" ]; then
    name="importq_cli_$$"
    psql "$IMPORTQ_TEST_PG_ADMIN_URL" -qc "CREATE DATABASE $name" >/dev/null
    pg="${IMPORTQ_TEST_PG_ADMIN_URL%/*}/$name"
    check "postgres first migrate" bash -c "'$bin' migrate --db '$pg' | grep -q '$pg_migrations migration(s) applied'"
    check "postgres second migrate" bash -c "'$bin' migrate --db '$pg' | grep -q '0 migration(s) applied'"
    check "postgres two migrators at once" bash -c "psql '$IMPORTQ_TEST_PG_ADMIN_URL' -qc 'CREATE DATABASE ${name}_b' && ('$bin' migrate --db '${pg}_b' & '$bin' migrate --db '${pg}_b' & wait) && psql '${pg}_b' -tAc 'SELECT count(*) FROM importq_schema_version' | grep -qx $pg_migrations"
    for t in $tables; do
        check "postgres has $t" bash -c "psql '$pg' -tAc \"SELECT to_regclass('$t')\" | grep -q $t"
    done
    check "postgres unreachable exits 1" expect_exit 1 "$bin" migrate --db "postgres://nobody@127.0.0.1:1/x"
    # A role with a password (the test cluster trusts every login, so any
    # password works): the summary masks it, and so do connection errors.
    role="importq_pw_$$"
    psql "$IMPORTQ_TEST_PG_ADMIN_URL" -qc "CREATE ROLE $role LOGIN SUPERUSER PASSWORD 'Sup3rSecret'" >/dev/null
    pw_url=$(printf '%s' "$pg" | sed "s|://[^@]*@|://$role:Sup3rSecret@|")
    check "postgres migrate with a password" bash -c "'$bin' migrate --db '$pw_url' >'$dir/pw.out' 2>&1 && grep -q '://$role:\*\*\*@' '$dir/pw.out'"
    check "postgres migrate does not print the password" bash -c "! grep -q Sup3rSecret '$dir/pw.out'"
    check "postgres ?password= is masked too" bash -c "'$bin' migrate --db '${pg}?password=Sup3rSecret' 2>&1 | grep -q 'password=\*\*\*' && ! '$bin' migrate --db '${pg}?password=Sup3rSecret' 2>&1 | grep -q Sup3rSecret"
    check "postgres connection errors hide the password" bash -c "! '$bin' migrate --db 'postgres://u:Sup3r%zzSecret@127.0.0.1:1/x' 2>&1 | grep -q 'Sup3r' && ! '$bin' migrate --db 'postgres://nobody:Sup3rSecret@127.0.0.1:1/x' 2>&1 | grep -q Sup3rSecret"
    psql "$IMPORTQ_TEST_PG_ADMIN_URL" -qc "DROP DATABASE $name WITH (FORCE)" -c "DROP DATABASE IF EXISTS ${name}_b WITH (FORCE)" -c "DROP ROLE IF EXISTS $role" >/dev/null
elif [ "${IMPORTQ_REQUIRE_PG:-}" = 1 ]; then
    echo "FAIL: PostgreSQL required but IMPORTQ_TEST_PG_ADMIN_URL is not set"; fail=$((fail + 1))
fi

summary cli_migrate
