#!/usr/bin/env bash
# The client commands for the rest of the API through the real binary:
# `importq orchestrations` (create, list, show with each job's `after`),
# `importq job ID`'s upstream and downstream jobs, `importq locks` (held
# locks with their lease, waiting jobs, an admin's release and the clear
# 403 for anyone else), `importq upload` (id, bytes, sha256; a 413 over
# the server's limit), `importq rejects ID` (the CSV on stdout) and
# `importq audit list` (filters, --all over the cursors). Always: usage
# errors exit 2, a closed port exits 1 naming the server, unknown ids exit
# 1 (404), malformed ids exit 2 (400). Against a real `importq serve` on
# SQLite and (when IMPORTQ_TEST_PG_ADMIN_URL is set) PostgreSQL.
# The lock is held by a job reading a FIFO the test feeds, so it stays
# RUNNING for as long as the checks need, whatever the machine's speed.
# Usage: test_cli_resources.sh BINARY
set -u
bin=$1
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
dir=$(mktemp -d)
server_pid=
writer_pid=
trap '[ -n "$writer_pid" ] && kill "$writer_pid" 2>/dev/null; stop_server; rm -rf "$dir" "$out"' EXIT
for tool in jq python3 curl sha256sum; do
    command -v "$tool" >/dev/null || { echo "FAIL: $tool is not installed (scripts/deps.sh test)"; exit 1; }
done

# exit_is CODE CMD...: CMD exits CODE; its output goes to $dir/stdout and $dir/stderr.
exit_is() {
    local code=$1; shift
    "$@" >"$dir/stdout" 2>"$dir/stderr" </dev/null
    local rc=$?
    [ "$rc" -eq "$code" ] && return 0
    echo "exit $rc, expected $code: $*"; sed 's/^/stdout: /' "$dir/stdout"; sed 's/^/stderr: /' "$dir/stderr"
    return 1
}
# says FILE TEXT: FILE (stdout or stderr of the last exit_is) contains TEXT.
says() { grep -qF -- "$2" "$dir/$1" || { echo "no \"$2\" in $1:"; cat "$dir/$1"; return 1; }; }
export -f exit_is says
export dir
unknown=01900000-0000-7000-8000-000000000000

# ---- no server needed: usage and transport errors ----
closed="http://127.0.0.1:$(free_port)"
printf '{"jobs": [' >"$dir/broken.json"
check "orchestrations with an unknown subcommand exits 2" exit_is 2 "$bin" orchestrations frob --server "$closed"
check "orchestrations show without ID exits 2" exit_is 2 "$bin" orchestrations show --server "$closed"
check "orchestrations create of malformed JSON exits 2 with the position" \
    bash -c "exit_is 2 '$bin' orchestrations create '$dir/broken.json' --server '$closed' && says stderr 'line 1'"
check "orchestrations create of a missing file exits 2" exit_is 2 "$bin" orchestrations create "$dir/none.json" --server "$closed"
check "orchestrations show --all exits 2" exit_is 2 "$bin" orchestrations show x --all --server "$closed"
check "locks release without ID exits 2" exit_is 2 "$bin" locks release --server "$closed"
check "locks with an unknown subcommand exits 2" exit_is 2 "$bin" locks steal x --server "$closed"
check "upload without FILE exits 2" exit_is 2 "$bin" upload --server "$closed"
check "upload of a missing file exits 2" \
    bash -c "exit_is 2 '$bin' upload '$dir/none.csv' --server '$closed' && says stderr 'cannot read'"
check "upload of a directory exits 2" \
    bash -c "exit_is 2 '$bin' upload '$dir' --server '$closed' && says stderr 'not a regular file'"
check "rejects without ID exits 2" exit_is 2 "$bin" rejects --server "$closed"
check "audit without a subcommand exits 2" exit_is 2 "$bin" audit --server "$closed"
check "audit verify --entity exits 2 (a list filter)" exit_is 2 "$bin" audit verify --entity job
printf 'a,b\n1,2\n' >"$dir/small.csv"
for c in "orchestrations" "orchestrations show $unknown" "locks" "locks release $unknown" \
    "upload $dir/small.csv" "rejects $unknown" "audit list"; do
    check "$c against a closed port exits 1 and names it" \
        bash -c "exit_is 1 '$bin' $c --server '$closed' && says stderr 'cannot reach the importq server at $closed'"
done
for c in orchestrations locks upload rejects audit; do
    check "$c --help has examples or options" bash -c "'$bin' $c --help | grep -q 'importq $c'"
done
check "--help lists the new commands" \
    bash -c "for c in orchestrations locks upload rejects; do '$bin' --help | grep -q \"^  \$c \" || exit 1; done"

# ---- against a running server ----
mkdir -p "$dir/imports"
printf 'team_id,name\n1,Platform\n2,Data\n3,Web\n' >"$dir/imports/teams.csv"
printf 'team_id,name\n4,Mobile\n5,Apps\n' >"$dir/imports/more_teams.csv"
printf 'team_id,name\n4,Mobile\nfour,Broken\n5,Fine\nfive,Bad\n' >"$dir/imports/bad_teams.csv"
spec_members() { # file [table]
    printf '"max_attempts": 1, "source": {"format": "csv", "path": "%s"},
  "target": {"table": "%s", "mode": "upsert", "key": ["team_id"], "create": true,
             "columns": [{"name": "team_id", "type": "integer", "required": true},
                         {"name": "name", "type": "text"}]}' "$1" "${2:-teams}"
}
job_status() { "$bin" job "$1" --json | jq -r .status; }
until_status() { # ID STATUS: 30 s at most (a bound on a hang)
    for _ in $(seq 1 300); do
        [ "$(job_status "$1")" = "$2" ] && return 0
        sleep 0.1
    done
    echo "job $1 is $(job_status "$1"), not $2"; return 1
}
until_locked() { # TABLE: a lock on table:TABLE is held (30 s at most)
    for _ in $(seq 1 300); do
        "$bin" locks --json | jq -e ".locks[] | select(.name == \"table:$1\")" >/dev/null && return 0
        sleep 0.1
    done
    echo "no lock on table:$1:"; "$bin" locks; return 1
}

suite() { # label db
    local label=$1 oid teams more last failed id lock waiter
    check "$label: server starts" start_server "$2" --retry-base 100ms --max-upload 64KiB \
        --spool-dir "$dir/spool-$label" || return
    export IMPORTQ_SERVER=$server IMPORTQ_TOKEN=$operator_token

    # ---- orchestrations ----
    printf '{"name": "cli load", "jobs": [
      {"key": "teams", %s},
      {"key": "more", "after": ["teams"], %s},
      {"key": "last", "after": ["teams", "more"], %s}]}' \
        "$(spec_members teams.csv)" "$(spec_members more_teams.csv)" "$(spec_members teams.csv)" >"$dir/orch.json"
    check "$label: orchestrations create prints it with its jobs and their after" \
        bash -c "exit_is 0 '$bin' orchestrations create '$dir/orch.json' && says stdout 'orchestration ' && says stdout '\"cli load\"' && grep -Eq '^ +more +[A-Z]+ +[0-9a-f-]{36} +after teams\$' '$dir/stdout' && grep -Eq '^ +last +[A-Z]+ +[0-9a-f-]{36} +after teams, more\$' '$dir/stdout'"
    oid=$(sed -n 's/^orchestration \([0-9a-f-]*\).*/\1/p' "$dir/stdout")
    check "$label: the jobs are indented by depth" bash -c "
        [ \"\$(grep -E '^ +teams ' '$dir/stdout' | sed 's/[^ ].*//' | wc -c)\" -lt \"\$(grep -E '^ +more ' '$dir/stdout' | sed 's/[^ ].*//' | wc -c)\" ] &&
        [ \"\$(grep -E '^ +more ' '$dir/stdout' | sed 's/[^ ].*//' | wc -c)\" -lt \"\$(grep -E '^ +last ' '$dir/stdout' | sed 's/[^ ].*//' | wc -c)\" ]"
    teams=$("$bin" orchestrations show "$oid" --json | jq -r '.jobs[] | select(.key == "teams") | .id')
    more=$("$bin" orchestrations show "$oid" --json | jq -r '.jobs[] | select(.key == "more") | .id')
    last=$("$bin" orchestrations show "$oid" --json | jq -r '.jobs[] | select(.key == "last") | .id')
    check "$label: the last job completes" until_status "$last" COMPLETED
    check "$label: orchestrations show: COMPLETED, every job with its status" \
        bash -c "exit_is 0 '$bin' orchestrations show '$oid' && says stdout 'status:   COMPLETED (3 jobs: 3 COMPLETED)' && grep -Eq '^ +last +COMPLETED +$last +after teams, more\$' '$dir/stdout'"
    check "$label: orchestrations show --json" \
        bash -c "[ \"\$('$bin' orchestrations show '$oid' --json | jq -r '.status + \" \" + (.jobs | length | tostring)')\" = 'COMPLETED 3' ]"
    check "$label: orchestrations lists it" \
        bash -c "'$bin' orchestrations | grep -E \"^$oid +COMPLETED +3 \" >/dev/null && '$bin' orchestrations list --json | jq -e '.items | length >= 1' >/dev/null"
    "$bin" orchestrations create "$dir/orch.json" >/dev/null
    check "$label: orchestrations --limit 1 hints the next page, --all follows it" bash -c "
        '$bin' orchestrations --limit 1 | grep -q '^next page: --cursor ' &&
        [ \"\$('$bin' orchestrations --limit 1 --all --json | jq '.items | length')\" = 2 ]"
    check "$label: job ID shows its upstream and downstream jobs with keys and statuses" bash -c "
        exit_is 0 '$bin' job '$more' && says stdout 'waits for (upstream):' && says stdout 'waited for by (downstream):' &&
        grep -Eq '^    $teams +COMPLETED +key teams' '$dir/stdout' && grep -Eq '^    $last +COMPLETED +key last' '$dir/stdout'"
    printf '{"jobs": [{"key": "a", "after": ["b"], %s}, {"key": "b", "after": ["a"], %s}]}' \
        "$(spec_members teams.csv)" "$(spec_members teams.csv)" >"$dir/cycle.json"
    check "$label: a cycle exits 1 (409) with the server's reason" \
        bash -c "exit_is 1 '$bin' orchestrations create '$dir/cycle.json' && [ -s '$dir/stderr' ]"
    printf '{"name": "bad", "jobs": [{"key": "a", "source": {"format": "xml"}, "target": {}}]}' >"$dir/invalid.json"
    check "$label: an invalid orchestration exits 2 (422) with every field error" \
        bash -c "exit_is 2 '$bin' orchestrations create '$dir/invalid.json' && says stderr '  jobs[0].source.format: '"
    check "$label: orchestrations show of an unknown id exits 1 (404)" exit_is 1 "$bin" orchestrations show "$unknown"
    check "$label: orchestrations show of a malformed id exits 2 (400)" exit_is 2 "$bin" orchestrations show nope
    check "$label: a viewer cannot create: 403 message, exit 1" \
        bash -c "exit_is 1 '$bin' orchestrations create '$dir/orch.json' --token '$viewer_token' && says stderr 'forbidden'"

    # ---- upload ----
    seq 1 500 | sed 's/.*/&,team &/' | sed '1i team_id,name' >"$dir/upload.csv"
    check "$label: upload prints id, bytes and sha256" \
        bash -c "exit_is 0 '$bin' upload '$dir/upload.csv' && says stdout \"bytes:   \$(stat -c %s '$dir/upload.csv')\" && says stdout \"sha256:  \$(sha256sum '$dir/upload.csv' | cut -d' ' -f1)\""
    id=$(sed -n 's/^id: *//p' "$dir/stdout")
    check "$label: a job loads the upload" bash -c "
        printf '{\"name\": \"from upload\", \"max_attempts\": 1, \"source\": {\"format\": \"csv\", \"upload\": \"$id\"},
          \"target\": {\"table\": \"uploaded\", \"create\": true, \"columns\": [{\"name\": \"team_id\", \"type\": \"integer\"}, {\"name\": \"name\", \"type\": \"text\"}]}}' >'$dir/up.json'
        '$bin' submit '$dir/up.json' --wait | grep -q 'COMPLETED: 500 read'"
    check "$label: upload --json" \
        bash -c "'$bin' upload '$dir/small.csv' --json | jq -e '.bytes == 8 and (.id | length) == 36 and (.sha256 | length) == 64' >/dev/null"
    head -c 70000 /dev/zero | tr '\0' 'x' >"$dir/big.csv"
    check "$label: an upload over the server's limit exits 1 with a clear message (413)" \
        bash -c "exit_is 1 '$bin' upload '$dir/big.csv' && says stderr 'big.csv is larger than the server accepts' && says stderr 'over the limit of 65536 bytes'"
    check "$label: a viewer cannot upload: 403 message, exit 1" \
        bash -c "exit_is 1 '$bin' upload '$dir/small.csv' --token '$viewer_token' && says stderr 'forbidden'"

    # ---- rejects ----
    printf '{"name": "bad teams", %s, "on_error": {"action": "skip"}}' "$(spec_members bad_teams.csv badteams)" >"$dir/bad.json"
    failed=$("$bin" submit "$dir/bad.json" --wait 2>/dev/null | head -n 1)
    check "$label: rejects ID > FILE writes the CSV" bash -c "
        exit_is 0 '$bin' rejects '$failed' && head -n 1 '$dir/stdout' | grep -q '^line,column,value,error' &&
        grep -Eq '^3,\"?team_id\"?,\"?four\"?,' '$dir/stdout' && grep -Eq '^5,\"?team_id\"?,\"?five\"?,' '$dir/stdout' && [ \"\$(wc -l <'$dir/stdout')\" = 3 ] && [ ! -s '$dir/stderr' ]"
    check "$label: rejects of a job without rejects: the header alone" \
        bash -c "exit_is 0 '$bin' rejects '$teams' && [ \"\$(wc -l <'$dir/stdout')\" = 1 ]"
    check "$label: rejects of an unknown id exits 1 (404), nothing on stdout" \
        bash -c "exit_is 1 '$bin' rejects '$unknown' && [ ! -s '$dir/stdout' ] && [ -s '$dir/stderr' ]"
    check "$label: rejects of a malformed id exits 2 (400)" exit_is 2 "$bin" rejects nope

    # ---- locks ----
    check "$label: locks with none held" bash -c "exit_is 0 '$bin' locks && says stdout 'no locks held'"
    rm -f "$dir/end"
    mkfifo "$dir/imports/stream.csv"
    # The holder's source: a header, then nothing until the test creates "end".
    { printf 'id,label\n'; while [ ! -e "$dir/end" ]; do sleep 0.05; done; } >"$dir/imports/stream.csv" &
    writer_pid=$!
    printf '{"name": "holder", "max_attempts": 1, "source": {"format": "csv", "path": "stream.csv"},
      "target": {"table": "streamed", "mode": "append", "create": true,
                 "columns": [{"name": "id", "type": "integer"}, {"name": "label", "type": "text"}]}}' >"$dir/holder.json"
    sed 's/"holder"/"waiter"/' "$dir/holder.json" >"$dir/waiter.json"
    "$bin" submit "$dir/holder.json" >/dev/null
    check "$label: the holder locks its table" until_locked streamed
    waiter=$("$bin" submit "$dir/waiter.json")
    check "$label: locks shows the lock with its lease left, and the waiting job" bash -c "
        exit_is 0 '$bin' locks && grep -Eq '^[0-9a-f-]{36} +table:streamed +exclusive +[0-9a-f-]{36} +[0-9]+m[0-9]+s ' '$dir/stdout' &&
        says stdout 'waiting for a lock:' && says stdout \"job $waiter \\\"waiter\\\"\""
    lock=$("$bin" locks --json | jq -r '.locks[] | select(.name == "table:streamed") | .id')
    check "$label: locks --json" bash -c "'$bin' locks --json | jq -e '(.locks | length) >= 1 and (.waiting | length) >= 1' >/dev/null"
    check "$label: an operator cannot release: exit 1 and it says an admin token is needed" \
        bash -c "exit_is 1 '$bin' locks release '$lock' && says stderr 'releasing a lock needs an admin token'"
    check "$label: release of an unknown lock exits 1 (404)" exit_is 1 "$bin" locks release "$unknown" --token "$admin_token"
    check "$label: release of a malformed id exits 2 (400)" exit_is 2 "$bin" locks release nope --token "$admin_token"
    check "$label: an admin releases the lock" \
        bash -c "exit_is 0 '$bin' locks release '$lock' --token '$admin_token' && says stdout 'lock $lock released'"
    check "$label: the lock is gone" bash -c "! '$bin' locks --json | jq -e '.locks[] | select(.id == \"$lock\")' >/dev/null"
    : >"$dir/end"
    wait "$writer_pid"; writer_pid=
    check "$label: the waiting job runs to its end" bash -c "
        for _ in \$(seq 1 300); do case \$('$bin' job '$waiter' --json | jq -r .status) in COMPLETED|FAILED) exit 0;; esac; sleep 0.1; done; exit 1"

    # ---- audit list ----
    check "$label: audit list shows rows as a table" \
        bash -c "exit_is 0 '$bin' audit list && head -n 1 '$dir/stdout' | grep -q '^ID *AT *ACTOR *ACTION *ENTITY'"
    check "$label: audit list --entity job --entity-id ID" \
        bash -c "'$bin' audit list --entity job --entity-id '$teams' --json | jq -e '(.items | length) >= 2 and all(.items[]; .entity_id == \"$teams\") and any(.items[]; .action == \"job.create\")' >/dev/null"
    check "$label: audit list --action lock.released --actor ADMIN" \
        bash -c "'$bin' audit list --action lock.released --actor admin${server##*:} --json | jq -e '(.items | length) == 1 and .items[0].entity_id == \"$lock\"' >/dev/null"
    check "$label: audit list --since in the future: no rows" \
        bash -c "exit_is 0 '$bin' audit list --since 2999-01-01T00:00:00Z && says stdout 'no audit rows'"
    check "$label: audit list --limit 2 hints the next page" bash -c "'$bin' audit list --limit 2 | grep -q '^next page: --cursor '"
    check "$label: audit list --all follows the cursors" bash -c "
        [ \"\$('$bin' audit list --limit 3 --all --json | jq '.items | length')\" = \"\$('$bin' audit list --limit 500 --json | jq '.items | length')\" ]"
    check "$label: audit list with a bad --since exits 2 (400)" exit_is 2 "$bin" audit list --since yesterday

    unset IMPORTQ_SERVER IMPORTQ_TOKEN
    stop_server
    rm -f "$dir/imports/stream.csv"
}

suite sqlite "sqlite:$dir/service.db"

if [ -n "${IMPORTQ_TEST_PG_ADMIN_URL:-}" ]; then
    name="importq_cli_resources_$$"
    psql "$IMPORTQ_TEST_PG_ADMIN_URL" -qc "CREATE DATABASE $name" >/dev/null
    suite postgres "${IMPORTQ_TEST_PG_ADMIN_URL%/*}/$name"
    psql "$IMPORTQ_TEST_PG_ADMIN_URL" -qc "DROP DATABASE $name WITH (FORCE)" >/dev/null
elif [ "${IMPORTQ_REQUIRE_PG:-}" = 1 ]; then
    echo "FAIL: PostgreSQL required but IMPORTQ_TEST_PG_ADMIN_URL is not set"; fail=$((fail + 1))
fi
summary cli_resources
