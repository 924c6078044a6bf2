#!/usr/bin/env bash
# Scheduled imports on three `importq serve` processes sharing one
# PostgreSQL database, black box: a schedule that fires every second
# ("* * * * * *") creates exactly one job per second for 30 seconds while
# the scheduler's leader is killed (-9) after about ten of them; another
# node takes the lead, and every second from the first fire to the last
# has one fire row and one job, none twice, none missing.
# Schedules are inserted by SQL (their CRUD is not what this tests).
# Needs IMPORTQ_TEST_PG_ADMIN_URL (skipped without it; a failure when
# IMPORTQ_REQUIRE_PG=1). Every wait is bounded; every process started here
# is killed on exit; IMPORTQ_CLUSTER_KEEP=1 keeps the logs' directory.
# Usage: test_schedules_cluster_pg.sh BINARY
set -u
bin=$(readlink -f "$1")
. "$(dirname "$0")/lib.sh"

admin=${IMPORTQ_TEST_PG_ADMIN_URL:-}
if [ -z "$admin" ]; then
    if [ "${IMPORTQ_REQUIRE_PG:-}" = 1 ]; then
        echo "cli_schedules_cluster_pg: IMPORTQ_TEST_PG_ADMIN_URL is not set but IMPORTQ_REQUIRE_PG=1"
        echo "cli_schedules_cluster_pg: 0 passed, 1 failed"
        exit 1
    fi
    echo "cli_schedules_cluster_pg: skipped (IMPORTQ_TEST_PG_ADMIN_URL is not set)"
    exit 0
fi

dir=$(mktemp -d /tmp/importq-schedules.XXXXXX)
mkdir -p "$dir/in"
started=()
name="importq_sched_$$"
cleanup() {
    for p in "${started[@]}"; do kill -9 "$p" 2>/dev/null; done
    wait 2>/dev/null
    psql -XAtq "$admin" -c "DROP DATABASE IF EXISTS $name WITH (FORCE)" >/dev/null 2>&1
    [ -n "${IMPORTQ_CLUSTER_KEEP:-}" ] && { echo "kept $dir"; return; }
    rm -rf "$dir"
}
trap cleanup EXIT

base=${admin%%\?*}
query=
[ "$base" != "$admin" ] && query="?${admin#*\?}"
url="${base%/*}/$name$query"
psql -XAtq "$admin" -c "DROP DATABASE IF EXISTS $name WITH (FORCE)" -c "CREATE DATABASE $name" >/dev/null \
    || { failed "cannot create the database"; summary cli_schedules_cluster_pg; exit 1; }

q() { psql -XAtq "$url" -c "$1" 2>/dev/null; }
wait_until() {
    local limit=$1 what=$2 end=$((SECONDS + $1)); shift 2
    until "$@"; do
        if [ "$SECONDS" -ge "$end" ]; then echo "TIMEOUT after ${limit}s: $what"; return 1; fi
        sleep 0.1
    done
}
show_logs() { for f in "$dir"/*.log; do echo "  --- $(basename "$f")"; tail -n 15 "$f" | sed 's/^/  | /'; done; }

"$bin" migrate --db "$url" >/dev/null || { failed "migrate"; summary cli_schedules_cluster_pg; exit 1; }
declare -A pid_of
for n in 1 2 3; do
    "$bin" serve --db "$url" --import-root "$dir/in" --listen 127.0.0.1:0 --shutdown-grace 2s \
        2>"$dir/node$n.log" &
    pid_of[$n]=$!
    started+=("$!")
done
nodes_alive() { [ "$(q "SELECT count(*) FROM stg_import_coordination WHERE kind = 'node' AND status = 'alive'")" = 3 ]; }
wait_until 30 "three nodes registered" nodes_alive || { failed "the nodes did not start"; show_logs; summary cli_schedules_cluster_pg; exit 1; }

# Every second, from two seconds from now; the jobs are HELD (nothing to run).
sid=01900000-0000-7000-8000-00000000c0de
q "INSERT INTO stg_scheduled_imports (id, name, cron, timezone, job_spec, misfire, overlap, enabled,
     next_run_at, created_at, updated_at)
   VALUES ('$sid', 'every second', '* * * * * *', 'UTC',
     '{\"hold\": true, \"source\": {\"format\": \"csv\", \"path\": \"s-{datetime}.csv\"},
       \"target\": {\"table\": \"ticks\"}}', 'skip', 'allow', true,
     date_trunc('second', now()) + interval '2 seconds', now(), now())" >/dev/null
fires() { q "SELECT count(*) FROM importq_schedule_fires WHERE schedule_id = '$sid'"; }
at_least() { [ "$(fires)" -ge "$1" ]; }

wait_until 30 "10 fires" at_least 10 || { failed "the schedule did not fire 10 times"; show_logs; summary cli_schedules_cluster_pg; exit 1; }
leader=
for n in 1 2 3; do
    grep -q "this node leads the scheduler" "$dir/node$n.log" && leader="$leader$n"
done
check "one node led the scheduler (found: '$leader')" [ "${#leader}" = 1 ]
if [ "${#leader}" = 1 ]; then
    kill -9 "${pid_of[$leader]}"
    wait "${pid_of[$leader]}" 2>/dev/null
    echo "killed the leader, node $leader, after $(fires) fires"
fi
wait_until 40 "30 fires" at_least 30 || { failed "the schedule did not reach 30 fires"; show_logs; }
q "UPDATE stg_scheduled_imports SET enabled = false WHERE id = '$sid'" >/dev/null

total=$(fires)
span=$(q "SELECT extract(epoch FROM max(fire_at) - min(fire_at))::bigint + 1 FROM importq_schedule_fires WHERE schedule_id = '$sid'")
distinct=$(q "SELECT count(DISTINCT fire_at) FROM importq_schedule_fires WHERE schedule_id = '$sid'")
jobs=$(q "SELECT count(*) FROM stg_import_queue WHERE schedule_id = '$sid'")
with_job=$(q "SELECT count(DISTINCT job_id) FROM importq_schedule_fires WHERE schedule_id = '$sid' AND outcome = 'created'")
skipped=$(q "SELECT count(*) FROM importq_schedule_fires WHERE schedule_id = '$sid' AND outcome <> 'created'")
leaders=0
for n in 1 2 3; do grep -q "this node leads the scheduler" "$dir/node$n.log" && leaders=$((leaders + 1)); done
echo "fires: $total over $span seconds, $distinct distinct times, $jobs jobs, $skipped skipped, $leaders nodes led"
check "at least 30 fires" [ "$total" -ge 30 ]
check "one fire row per second, none missing ($total rows over $span s)" [ "$total" = "$span" ]
check "no fire time twice" [ "$distinct" = "$total" ]
check "one job per fire" [ "$jobs" = "$total" ] && check "each fire its own job" [ "$with_job" = "$total" ]
check "no fire skipped" [ "$skipped" = 0 ]
check "another node took over the lead" [ "$leaders" -ge 2 ]
check "the run_count matches" [ "$(q "SELECT run_count FROM stg_scheduled_imports WHERE id = '$sid'")" = "$total" ]
[ "$fail" -eq 0 ] || show_logs
summary cli_schedules_cluster_pg
