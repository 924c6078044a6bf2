#!/usr/bin/env bash
# Issue 12 §2 end to end on PostgreSQL: a job never writes outside the
# tables it is meant for. Against a real `importq serve` on a fresh
# database of IMPORTQ_TEST_PG_ADMIN_URL:
#   1. as the cluster's superuser: serve warns at start; submitting the
#      operator's job (append into pg_description, and the catalog and
#      service tables spelled otherwise) answers 422 naming target.table
#      and pg_description is unchanged; a job into a schema that is not a
#      target schema is accepted but FAILS, writing nothing; a job into an
#      unqualified table lands in public (the default target schema).
#   2. the least-privilege setup of docs/deploy.md: a role that owns the
#      service's schema and has only grants on the target schema `data`;
#      no warning, jobs land in data, a qualified public target FAILS.
# Without IMPORTQ_TEST_PG_ADMIN_URL the test is skipped (a failure when
# IMPORTQ_REQUIRE_PG=1). Every wait is bounded.
# Usage: test_cli_target_schemas.sh BINARY
set -u
bin=$1
. "$(dirname "$0")/lib.sh"
admin=${IMPORTQ_TEST_PG_ADMIN_URL:-}
if [ -z "$admin" ]; then
    if [ "${IMPORTQ_REQUIRE_PG:-}" = 1 ]; then
        echo "FAIL: target_schemas: IMPORTQ_TEST_PG_ADMIN_URL is not set but IMPORTQ_REQUIRE_PG=1"
        exit 1
    fi
    echo "target_schemas: skipped (IMPORTQ_TEST_PG_ADMIN_URL is not set)"
    exit 0
fi
for tool in jq curl python3 psql; do
    command -v "$tool" >/dev/null || { echo "FAIL: $tool is not installed (scripts/deps.sh test)"; exit 1; }
done

db="importq_schemas_$$"
role="importq_svc_$$"
base=${admin%/*}
url="$base/$db"
dir=$(mktemp -d)
server_pid=
cleanup() {
    [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null
    psql -XAtq "$admin" -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" \
        -c "DROP ROLE IF EXISTS $role" >/dev/null 2>&1
    rm -rf "$dir" "$out"
}
trap cleanup EXIT
psql -XAtq "$admin" -c "CREATE DATABASE $db" >/dev/null \
    || { echo "FAIL: target_schemas: cannot create a database on $admin"; exit 1; }

q() { psql -XAtq "$url" -c "$1"; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

# start_server DB [FLAGS...]: migrate, an operator token in $token, serve; wait for /healthz.
start_server() {
    local db_url=$1; shift
    port=$(free_port)
    server="http://127.0.0.1:$port"
    log="$dir/serve-$port.log"
    "$bin" migrate --db "$db_url" >/dev/null || { echo "migrate failed"; return 1; }
    token=$("$bin" token create --name "op$port" --role operator --db "$db_url" 2>/dev/null) \
        || { echo "token create failed"; return 1; }
    "$bin" serve --db "$db_url" --listen "127.0.0.1:$port" --import-root "$dir/imports" \
        --retry-base 100ms --shutdown-grace 1s "$@" >"$log" 2>&1 &
    server_pid=$!
    wait_healthz "$server" "$server_pid" "$log"
}
stop_server() {
    [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null
    server_pid=
}
# submit SPEC_FILE: POST it; the HTTP status in $dir/status, the body in $dir/body.
submit() {
    curl -sS -o "$dir/body" -w '%{http_code}' -H "Authorization: Bearer $token" \
        -H 'Content-Type: application/json' --data-binary "@$1" \
        "$server/api/v2/import-queue" >"$dir/status"
}
# refused TABLE: a job appending to TABLE is a 422 whose errors name target.table.
refused() {
    jq -n --arg t "$1" '{source: {format: "csv", path: "desc.csv"},
                         target: {table: $t, mode: "append"}}' >"$dir/spec.json"
    submit "$dir/spec.json" || return 1
    [ "$(cat "$dir/status")" = 422 ] || { echo "status $(cat "$dir/status"): $(cat "$dir/body")"; return 1; }
    jq -e '.errors | map(.field) | index("target.table")' "$dir/body" >/dev/null \
        || { echo "no target.table error: $(cat "$dir/body")"; return 1; }
}
# job_outcome TABLE: submit a job loading teams.csv into TABLE (create: true)
# and print its final status and error (waits up to 30 s).
job_outcome() {
    jq -n --arg t "$1" '{max_attempts: 1, source: {format: "csv", path: "teams.csv"},
        target: {table: $t, mode: "append", create: true,
                 columns: [{name: "team_id", type: "integer"}, {name: "name", type: "text"}]}}' \
        >"$dir/spec.json"
    submit "$dir/spec.json" || return 1
    [ "$(cat "$dir/status")" = 201 ] || { echo "status $(cat "$dir/status"): $(cat "$dir/body")"; return 1; }
    local id status
    id=$(jq -r .id "$dir/body")
    for _ in $(seq 1 300); do
        curl -fsS -H "Authorization: Bearer $token" "$server/api/v2/import-queue/$id" >"$dir/job"
        status=$(jq -r .status "$dir/job")
        case $status in COMPLETED | FAILED | CANCELLED)
            echo "$status $(jq -r '.error.message // ""' "$dir/job")"; return 0 ;;
        esac
        sleep 0.1
    done
    echo "TIMEOUT $status"
}
outcome_is() { # TABLE WANT [TEXT]: the job's outcome starts with WANT and holds TEXT
    local got; got=$(job_outcome "$1")
    [[ $got == "$2"* && $got == *"${3:-}"* ]] || { echo "job into $1: $got (want $2 ${3:-})"; return 1; }
}

mkdir -p "$dir/imports"
printf 'objoid,classoid,objsubid,description\n1259,1259,0,importq was here\n' >"$dir/imports/desc.csv"
printf 'team_id,name\n1,Platform\n2,Data\n' >"$dir/imports/teams.csv"

# ---- 1. as a superuser (the test cluster's own role) ----
descriptions=$(q "SELECT count(*) FROM pg_description")
q "CREATE SCHEMA elsewhere" >/dev/null
if check "superuser: server starts" start_server "$url"; then
    check "superuser: serve warns at start" grep -q 'level=warn msg="the database role is a superuser' "$log"
    for t in pg_description pg_catalog.pg_description pg_class pg_catalog.pg_class \
             information_schema.sql_features pg_toast.pg_toast_2619 pg_temp.teams \
             public.pg_description stg_import_queue public.importq_tokens; do
        check "superuser: a job into $t is a 422 on target.table" refused "$t"
    done
    check "superuser: pg_description is unchanged" \
        bash -c "[ \"\$(psql -XAtq '$url' -c 'SELECT count(*) FROM pg_description')\" = '$descriptions' ]"
    check "superuser: no row says importq was here" \
        bash -c "[ \"\$(psql -XAtq '$url' -c \"SELECT count(*) FROM pg_description WHERE description LIKE 'importq%'\")\" = 0 ]"
    check "superuser: a schema that is no target schema fails the job" \
        outcome_is elsewhere.teams FAILED "not a target schema"
    check "superuser: nothing was created there" \
        bash -c "[ -z \"\$(psql -XAtq '$url' -c \"SELECT to_regclass('elsewhere.teams')\")\" ]"
    check "superuser: an unqualified target lands in public" outcome_is teams COMPLETED
    check "superuser: public.teams holds the rows" bash -c "[ \"\$(psql -XAtq '$url' -c 'SELECT count(*) FROM public.teams')\" = 2 ]"
fi
stop_server

# ---- 2. least privilege, as docs/deploy.md sets it up ----
psql -XAtq "$url" >/dev/null <<SQL || failed "least privilege: setup"
CREATE ROLE $role LOGIN;
CREATE SCHEMA importq AUTHORIZATION $role;
ALTER ROLE $role IN DATABASE $db SET search_path = importq;
REVOKE CREATE ON SCHEMA public FROM PUBLIC;
CREATE SCHEMA data;
GRANT USAGE, CREATE ON SCHEMA data TO $role;
GRANT SELECT, INSERT, UPDATE, DELETE, TRUNCATE ON ALL TABLES IN SCHEMA data TO $role;
ALTER DEFAULT PRIVILEGES IN SCHEMA data GRANT SELECT, INSERT, UPDATE, DELETE, TRUNCATE ON TABLES TO $role;
SQL
service_url="${base%%://*}://$role@${base#*@}/$db"
if check "least privilege: server starts" start_server "$service_url" --target-schemas data; then
    check "least privilege: no superuser warning" bash -c "! grep -q 'superuser' '$log'"
    check "least privilege: the service's tables are in its own schema" \
        bash -c "[ \"\$(psql -XAtq '$url' -c \"SELECT count(*) FROM pg_tables WHERE schemaname = 'importq' AND tablename = 'stg_import_queue'\")\" = 1 ]"
    check "least privilege: a job into pg_description is a 422" refused pg_description
    check "least privilege: an unqualified target lands in data" outcome_is teams COMPLETED
    check "least privilege: data.teams holds the rows" bash -c "[ \"\$(psql -XAtq '$url' -c 'SELECT count(*) FROM data.teams')\" = 2 ]"
    check "least privilege: public is no target schema" outcome_is public.teams FAILED "not a target schema"
    check "least privilege: public.teams is unchanged" bash -c "[ \"\$(psql -XAtq '$url' -c 'SELECT count(*) FROM public.teams')\" = 2 ]"
fi
stop_server
summary "cli_target_schemas"
