#!/usr/bin/env bash
# Several `importq serve` processes on one PostgreSQL database, black box:
#   1. global limit: 3 nodes (3 workers each), max_concurrent 3, 30 jobs on
#      10 tables; RUNNING (sampled every 20 ms) never exceeds 3 and reaches
#      it, no lock is held twice, every job COMPLETES exactly once, and more
#      than one node ran jobs;
#   2. crash: a node is killed (-9) in the middle of a 1,000,000-row import;
#      another node rescues the job after the lease (worker_lost), it ends
#      COMPLETED once, and the target (sampled every 50 ms) only ever holds
#      0 or all the rows;
#   3. lost database: a throwaway PostgreSQL cluster of this test is
#      restarted (pg_ctl restart -m fast) while jobs run and wait; both
#      nodes reconnect, every job ends COMPLETED with its rows once, and
#      none waits for the rescue (no worker_lost with a 60 s lease).
# Jobs are created through the store by build/submit_jobs (until the HTTP
# API exists). Scenarios 1-2 create their own database on
# IMPORTQ_TEST_PG_ADMIN_URL; without it the test is skipped (a failure when
# IMPORTQ_REQUIRE_PG=1). Every wait is bounded; every process started here
# is killed on exit. Debugging: IMPORTQ_CLUSTER_SCENARIOS="crash restart"
# runs only those; IMPORTQ_CLUSTER_KEEP=1 keeps the logs' directory.
# Usage: test_cluster_pg.sh BINARY
set -u
bin=$(readlink -f "$1")
tools=$(dirname "$bin")
. "$(dirname "$0")/lib.sh"

admin=${IMPORTQ_TEST_PG_ADMIN_URL:-}
if [ -z "$admin" ]; then
    if [ "${IMPORTQ_REQUIRE_PG:-}" = 1 ]; then
        echo "cli_cluster_pg: IMPORTQ_TEST_PG_ADMIN_URL is not set but IMPORTQ_REQUIRE_PG=1"
        echo "cli_cluster_pg: 0 passed, 1 failed"
        exit 1
    fi
    echo "cli_cluster_pg: skipped (IMPORTQ_TEST_PG_ADMIN_URL is not set)"
    exit 0
fi
for tool in "$tools/submit_jobs" "$tools/bench_gen_rows"; do
    [ -x "$tool" ] || { echo "cli_cluster_pg: $tool is missing (build every target)"; echo "cli_cluster_pg: 0 passed, 1 failed"; exit 1; }
done

dir=$(mktemp -d /tmp/importq-cluster.XXXXXX)
chmod 755 "$dir"
mkdir -p "$dir/in"
started=()      # every background process of this script
databases=()    # databases created on the admin server
pgbin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
own_pg=         # data directory of this test's own cluster, once started
own_url=        # its admin URL
run_as=()
[ "$(id -u)" -eq 0 ] && run_as=(runuser -u importq-test --)

cleanup() {
    rm -f "$out"
    for p in "${started[@]}"; do kill -9 "$p" 2>/dev/null; done
    wait 2>/dev/null
    [ -n "$own_pg" ] && "${run_as[@]}" "$pgbin/pg_ctl" -D "$own_pg" -m immediate stop >/dev/null 2>&1
    for d in "${databases[@]}"; do
        psql -XAtq "$admin" -c "DROP DATABASE IF EXISTS $d WITH (FORCE)" >/dev/null 2>&1
    done
    [ -n "${IMPORTQ_CLUSTER_KEEP:-}" ] && { echo "kept $dir"; return; }
    rm -rf "$dir"
}
trap cleanup EXIT

# db_url BASE NAME: BASE (a postgres:// URL) pointing at database NAME.
db_url() {
    local base=${1%%\?*} query=
    [ "$base" != "$1" ] && query="?${1#*\?}"
    echo "${base%/*}/$2$query"
}
# new_db NAME: a fresh database on the admin server (dropped on exit);
# its URL into $url. Not in a subshell: $databases must see it.
new_db() {
    local name="importq_cluster_$$_$1"
    psql -XAtq "$admin" -c "DROP DATABASE IF EXISTS $name WITH (FORCE)" -c "CREATE DATABASE $name" >/dev/null 2>&1 || return 1
    databases+=("$name")
    url=$(db_url "$admin" "$name")
}
q() { psql -XAtq "$1" -c "$2" 2>/dev/null; }
# wait_until SECONDS WHAT CMD...: CMD every 0.1 s until it succeeds; on
# timeout prints WHAT and returns 1.
wait_until() {
    local limit=$1 what=$2 end=$((SECONDS + $1)); shift 2
    until "$@"; do
        if [ "$SECONDS" -ge "$end" ]; then echo "TIMEOUT after ${limit}s: $what"; return 1; fi
        sleep 0.1
    done
}
# start_node NAME URL [FLAGS...]: `importq serve` in the background, its
# log in $dir/NAME.log, its pid in $node_pid. Short leases ($node_lease)
# and retries so a lost worker or a failed attempt is dealt with in seconds.
node_lease=3s
start_node() {
    local name=$1 url=$2; shift 2
    "$bin" serve --db "$url" --import-root "$dir/in" --listen 127.0.0.1:0 \
        --lock-lease "$node_lease" --retry-base 300ms --retry-cap 1s --shutdown-grace 5s "$@" \
        2>"$dir/$name.log" &
    node_pid=$!
    started+=("$node_pid")
}
# stop_node PID: SIGTERM, then wait for it (bounded); returns its exit code.
stop_node() {
    kill -TERM "$1" 2>/dev/null
    local end=$((SECONDS + 20))
    while kill -0 "$1" 2>/dev/null && [ "$SECONDS" -lt "$end" ]; do sleep 0.1; done
    kill -0 "$1" 2>/dev/null && { kill -9 "$1"; echo "node $1 did not stop in 20 s"; }
    wait "$1"
}
# sample URL SQL FILE SECONDS: run SQL every SECONDS into FILE (one line
# each) until killed, on one connection (psql \watch: fast, but it stops
# for good at the first error); its pid in $sampler_pid.
sample() {
    printf '%s;\n\\watch %s\n' "$2" "$4" | psql -XAtq "$1" >"$3" 2>/dev/null &
    sampler_pid=$!
    started+=("$sampler_pid")
}
# sample_each URL SQL FILE SECONDS: the same with one psql per sample,
# slower but never stopped by an error (a sampler that must still be
# sampling when the job ends).
sample_each() {
    : >"$3"
    (while :; do q "$1" "$2" >>"$3"; sleep "$4"; done) &
    sampler_pid=$!
    started+=("$sampler_pid")
}
nodes_alive() { [ "$(q "$1" "SELECT count(*) FROM stg_import_coordination WHERE kind = 'node' AND status = 'alive'")" = "$2" ]; }
all_final() { [ "$(q "$1" "SELECT count(*) FROM stg_import_queue WHERE status IN ('COMPLETED', 'FAILED', 'CANCELLED')")" = "$2" ]; }
show_logs() { for f in "$dir"/*.log; do echo "  --- $(basename "$f")"; tail -n 15 "$f" | sed 's/^/  | /'; done; }

# --- 1. the global limit across three nodes -------------------------------
scenario_limit() {
    local url rows=200000 jobs=30 tables=10 p1 p2 p3
    new_db limit || { failed "limit: cannot create the database"; return; }
    awk -v n="$rows" 'BEGIN { print "id,label"; for (i = 1; i <= n; i++) print i ",row " i }' >"$dir/in/rows.csv"
    start_node limit1 "$url" --max-concurrent 3 --workers 3; p1=$node_pid
    start_node limit2 "$url" --max-concurrent 3 --workers 3; p2=$node_pid
    start_node limit3 "$url" --max-concurrent 3 --workers 3; p3=$node_pid
    wait_until 30 "three nodes registered" nodes_alive "$url" 3 || { failed "limit: nodes did not start"; return; }
    sample "$url" "SELECT (SELECT count(*) FROM stg_import_queue WHERE status = 'RUNNING') || ' ' ||
        (SELECT coalesce(max(n), 0) FROM (SELECT count(*) AS n FROM stg_import_resources GROUP BY name) l)" \
        "$dir/running.txt" 0.02
    "$tools/submit_jobs" "$url" "$jobs" "$tables" \
        '{"name": "limit {i}", "source": {"path": "rows.csv"}, "target": {"table": "t{m}",
          "mode": "append", "create": true, "columns": [{"name": "id", "type": "bigint"},
          {"name": "label", "type": "text"}]}}' >/dev/null 2>"$dir/submit.err" \
        || { failed "limit: submit_jobs: $(cat "$dir/submit.err")"; return; }
    wait_until 120 "30 jobs final" all_final "$url" "$jobs" || failed "limit: jobs did not finish"
    kill "$sampler_pid" 2>/dev/null
    local samples max_running max_holders
    samples=$(wc -l <"$dir/running.txt")
    max_running=$(awk 'BEGIN { m = 0 } $1 > m { m = $1 } END { print m }' "$dir/running.txt")
    max_holders=$(awk 'BEGIN { m = 0 } $2 > m { m = $2 } END { print m }' "$dir/running.txt")
    echo "limit: $samples samples, at most $max_running RUNNING, at most $max_holders holder(s) of a lock"
    check "limit: sampled the queue while jobs ran (>= 50 samples)" [ "$samples" -ge 50 ]
    check "limit: RUNNING never above max_concurrent 3" [ "$max_running" -le 3 ]
    check "limit: RUNNING reached 3 (the limit was the constraint)" [ "$max_running" -eq 3 ]
    check "limit: no table lock ever held twice" [ "$max_holders" -le 1 ]
    check "limit: every job COMPLETED" [ "$(q "$url" "SELECT count(*) FROM stg_import_queue WHERE status = 'COMPLETED' AND attempt = 1")" = "$jobs" ]
    local t bad=0
    for t in $(seq 0 $((tables - 1))); do
        [ "$(q "$url" "SELECT count(*) || '/' || count(DISTINCT id) FROM t$t")" = "$((3 * rows))/$rows" ] || bad=$((bad + 1))
    done
    check "limit: each table holds its 3 files' rows exactly once ($bad wrong)" [ "$bad" -eq 0 ]
    check "limit: one job.started and one job.completed per job" \
        [ "$(q "$url" "SELECT count(*) FILTER (WHERE action = 'job.started') || ' ' || count(*) FILTER (WHERE action = 'job.completed') FROM stg_import_audit")" = "$jobs $jobs" ]
    local nodes
    nodes=$(q "$url" "SELECT count(DISTINCT node) FROM stg_import_performance")
    echo "limit: jobs ran on $nodes node(s): $(q "$url" "SELECT string_agg(n::text, ' ') FROM (SELECT count(DISTINCT job_id) AS n FROM stg_import_performance GROUP BY node ORDER BY 1 DESC) x") jobs"
    check "limit: more than one node ran jobs" [ "$nodes" -ge 2 ]
    check "limit: no locks left" [ "$(q "$url" "SELECT count(*) FROM stg_import_resources")" = 0 ]
    local rc1 rc2 rc3
    stop_node "$p1"; rc1=$?
    stop_node "$p2"; rc2=$?
    stop_node "$p3"; rc3=$?
    check "limit: nodes exit 0 on SIGTERM" [ "$rc1$rc2$rc3" = 000 ]
    check "limit: nodes marked stopped" [ "$(q "$url" "SELECT string_agg(status, ',') FROM stg_import_coordination WHERE kind = 'node'")" = "stopped,stopped,stopped" ]
}

# --- 2. a node killed in the middle of an import --------------------------
scenario_crash() {
    local url rows=1000000 id pa pb
    new_db crash || { failed "crash: cannot create the database"; return; }
    "$tools/bench_gen_rows" "$rows" >"$dir/in/big.csv"
    psql -XAtq "$url" -c "CREATE TABLE big (id bigint PRIMARY KEY, email text NOT NULL UNIQUE,
        first_name text, last_name text, age integer, active boolean, balance numeric,
        created_at timestamp)" >/dev/null
    start_node crashA "$url" --max-concurrent 1 --workers 1; pa=$node_pid
    wait_until 30 "node A registered" nodes_alive "$url" 1 || { failed "crash: node A did not start"; return; }
    sample_each "$url" "SELECT count(*) FROM big" "$dir/big-count.txt" 0.05
    id=$("$tools/submit_jobs" "$url" 1 1 '{"name": "big", "source": {"path": "big.csv"},
        "target": {"table": "big", "mode": "insert"}}' 2>"$dir/submit.err") \
        || { failed "crash: submit_jobs: $(cat "$dir/submit.err")"; return; }
    reading() { [ "$(q "$url" "SELECT status = 'RUNNING' AND rows_read > 0 FROM stg_import_queue WHERE id = '$id'")" = t ]; }
    wait_until 60 "the big job RUNNING with progress" reading || { failed "crash: the job never ran"; show_logs; return; }
    local read_at_kill
    read_at_kill=$(q "$url" "SELECT rows_read FROM stg_import_queue WHERE id = '$id'")
    kill -9 "$pa"
    wait "$pa" 2>/dev/null
    echo "crash: node A killed with $read_at_kill of $rows rows read"
    check "crash: killed in the middle (fewer rows read than the file has)" [ "$read_at_kill" -lt "$rows" ]
    check "crash: job still RUNNING (under the dead node) right after the kill" \
        [ "$(q "$url" "SELECT status FROM stg_import_queue WHERE id = '$id'")" = RUNNING ]
    start_node crashB "$url" --max-concurrent 1 --workers 1; pb=$node_pid
    done_ok() { [ "$(q "$url" "SELECT status FROM stg_import_queue WHERE id = '$id'")" = COMPLETED ]; }
    wait_until 90 "the rescued job COMPLETED" done_ok || { failed "crash: the job did not complete"; show_logs; }
    saw_all() { grep -qx "$rows" "$dir/big-count.txt"; }
    check "crash: the sampler saw the full count once it landed" wait_until 30 "a sample of the full count" saw_all
    kill "$sampler_pid" 2>/dev/null
    wait "$sampler_pid" 2>/dev/null
    local samples partial
    samples=$(wc -l <"$dir/big-count.txt")
    partial=$(awk -v n="$rows" '$1 != 0 && $1 != n' "$dir/big-count.txt" | wc -l)
    echo "crash: $samples samples of the target's count, $partial partial"
    check "crash: sampled the target while it ran (>= 10 samples)" [ "$samples" -ge 10 ]
    check "crash: the target only ever held 0 or all rows" [ "$partial" -eq 0 ]
    check "crash: target holds exactly the file's rows" [ "$(q "$url" "SELECT count(*) FROM big")" = "$rows" ]
    check "crash: second attempt, first one lost (worker_lost)" \
        [ "$(q "$url" "SELECT attempt || ' ' || jsonb_array_length(attempts) || ' ' || (attempts->0->'error'->>'code') || ' ' || (attempts->1->>'status') FROM stg_import_queue WHERE id = '$id'")" = "2 2 worker_lost COMPLETED" ]
    check "crash: rescued by node B, finished by node B" \
        [ "$(q "$url" "SELECT worker IS NULL AND attempts->1->>'worker' NOT LIKE split_part(attempts->0->>'worker', '/', 1) || '%' FROM stg_import_queue WHERE id = '$id'")" = t ]
    check "crash: result counts the rows once" [ "$(q "$url" "SELECT rows_inserted FROM stg_import_queue WHERE id = '$id'")" = "$rows" ]
    check "crash: audit: one job.rescued, one job.completed" \
        [ "$(q "$url" "SELECT count(*) FILTER (WHERE action = 'job.rescued') || ' ' || count(*) FILTER (WHERE action = 'job.completed') FROM stg_import_audit WHERE entity_id = '$id'")" = "1 1" ]
    check "crash: no locks left" [ "$(q "$url" "SELECT count(*) FROM stg_import_resources")" = 0 ]
    stop_node "$pb"
    check "crash: node B exits 0" [ $? -eq 0 ]
}

# --- 3. the database restarts under running and waiting jobs --------------
free_port() {
    python3 - <<'PY' 2>/dev/null || echo $((20000 + RANDOM % 20000))
import socket
s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()
PY
}
# start_own_pg: initdb + pg_ctl start of a cluster only this test uses
# (as importq-test when root); its admin URL into $own_url.
start_own_pg() {
    [ -x "$pgbin/initdb" ] || { echo "no PostgreSQL server binaries (apt-get install postgresql)" >&2; return 1; }
    local port
    port=$(free_port)
    mkdir -p "$dir/pg"
    if [ "$(id -u)" -eq 0 ]; then
        id -u importq-test >/dev/null 2>&1 || useradd --system --no-create-home --shell /usr/sbin/nologin importq-test
        chown importq-test "$dir/pg"
    fi
    "${run_as[@]}" "$pgbin/initdb" -D "$dir/pg/data" -U postgres --auth=trust -E UTF8 --no-locale >"$dir/pg/initdb.out" 2>&1 \
        || { cat "$dir/pg/initdb.out" >&2; return 1; }
    cat >>"$dir/pg/data/postgresql.conf" <<CONF
listen_addresses = '127.0.0.1'
port = $port
unix_socket_directories = '$dir/pg'
fsync = off
synchronous_commit = off
full_page_writes = off
max_connections = 100
CONF
    own_pg="$dir/pg/data"
    "${run_as[@]}" "$pgbin/pg_ctl" -D "$own_pg" -l "$dir/pg/server.out" -w -t 30 start >/dev/null \
        || { cat "$dir/pg/server.out" >&2; return 1; }
    own_url="postgres://postgres@127.0.0.1:$port/postgres"
}

scenario_restart() {
    local url rows=2000000 jobs=18 pa pb
    # A long lease: a job whose end could not be recorded during the outage
    # would stay RUNNING until the rescue, a minute later, and show up as
    # worker_lost below. Heartbeats carry on over a short outage.
    local node_lease=60s
    start_own_pg || { failed "restart: cannot start a PostgreSQL cluster of our own"; return; }
    psql -XAtq "$own_url" -c "CREATE DATABASE importq_restart" >/dev/null
    url=$(db_url "$own_url" importq_restart)
    [ -s "$dir/in/m.csv" ] || awk -v n="$rows" 'BEGIN { print "id,label"; for (i = 1; i <= n; i++) print i ",row " i }' >"$dir/in/m.csv"
    start_node restartA "$url" --max-concurrent 3 --workers 3; pa=$node_pid
    start_node restartB "$url" --max-concurrent 3 --workers 3; pb=$node_pid
    wait_until 30 "two nodes registered" nodes_alive "$url" 2 || { failed "restart: nodes did not start"; return; }
    "$tools/submit_jobs" "$url" "$jobs" 3 \
        '{"name": "restart {i}", "max_attempts": 6, "source": {"path": "m.csv"}, "target": {"table": "r{m}",
          "mode": "append", "create": true, "columns": [{"name": "id", "type": "bigint"},
          {"name": "label", "type": "text"}]}}' >/dev/null 2>"$dir/submit.err" \
        || { failed "restart: submit_jobs: $(cat "$dir/submit.err")"; return; }
    # RUNNING is enough: progress is only recorded once a second, and a
    # fast machine finishes a job in about that time.
    busy() { [ "$(q "$url" "SELECT count(*) FROM stg_import_queue WHERE status = 'RUNNING'")" -ge 1 ]; }
    wait_until 60 "a job RUNNING" busy || { failed "restart: no job ran"; show_logs; return; }
    local before
    before=$(q "$url" "SELECT string_agg(status || '=' || n, ' ') FROM (SELECT status, count(*) AS n FROM stg_import_queue GROUP BY status ORDER BY status) s")
    "${run_as[@]}" "$pgbin/pg_ctl" -D "$own_pg" -l "$dir/pg/server.out" -m fast -w -t 30 restart >/dev/null \
        || { failed "restart: pg_ctl restart failed"; return; }
    local restarted_at
    restarted_at=$(q "$url" "SELECT now()")
    echo "restart: PostgreSQL restarted with jobs $before"
    # The bound is generous (sanitizer builds are slow); that no job waited
    # for the rescue is checked below (no worker_lost), with a 60 s lease.
    wait_until 150 "every job final after the restart" all_final "$url" "$jobs" \
        || { failed "restart: jobs did not all finish"; q "$url" "SELECT status, attempt, error FROM stg_import_queue"; show_logs; }
    echo "restart: attempts: $(q "$url" "SELECT string_agg(a->>'status' || coalesce(':' || (a->'error'->>'code'), ''), ' ') FROM stg_import_queue, jsonb_array_elements(attempts) a")"
    check "restart: both nodes survived" kill -0 "$pa" "$pb"
    check "restart: no job waited for the rescue (no worker_lost)" \
        [ "$(q "$url" "SELECT count(*) FROM stg_import_queue, jsonb_array_elements(attempts) a WHERE a->'error'->>'code' = 'worker_lost'")" = 0 ]
    check "restart: every job COMPLETED" [ "$(q "$url" "SELECT count(*) FROM stg_import_queue WHERE status = 'COMPLETED'")" = "$jobs" ]
    check "restart: the restart hit running jobs (a failed attempt in a history)" \
        [ "$(q "$url" "SELECT count(*) FROM stg_import_queue, jsonb_array_elements(attempts) a WHERE a->>'status' = 'FAILED'")" -ge 1 ]
    local t bad=0
    for t in 0 1 2; do
        [ "$(q "$url" "SELECT count(*) || '/' || count(DISTINCT id) FROM r$t")" = "$((jobs / 3 * rows))/$rows" ] || bad=$((bad + 1))
    done
    check "restart: each table holds its $((jobs / 3)) files' rows exactly once ($bad wrong)" [ "$bad" -eq 0 ]
    check "restart: one job.completed per job" \
        [ "$(q "$url" "SELECT count(*) FROM stg_import_audit WHERE action = 'job.completed'")" = "$jobs" ]
    check "restart: no locks left" [ "$(q "$url" "SELECT count(*) FROM stg_import_resources")" = 0 ]
    # The nodes work on: heartbeats resumed, and a new job is claimed at once.
    beating() { [ "$(q "$url" "SELECT count(*) FROM stg_import_coordination WHERE kind = 'node' AND heartbeat_at > '$restarted_at'")" = 2 ]; }
    check "restart: both nodes' heartbeats resumed" wait_until 15 "node heartbeats after the restart" beating
    printf 'id,label\n1,after\n' >"$dir/in/after.csv"
    local after
    after=$("$tools/submit_jobs" "$url" 1 1 '{"source": {"path": "after.csv"}, "target": {"table": "after_restart",
        "create": true, "columns": [{"name": "id", "type": "bigint"}, {"name": "label", "type": "text"}]}}' 2>/dev/null)
    after_done() { [ "$(q "$url" "SELECT status FROM stg_import_queue WHERE id = '$after'")" = COMPLETED ]; }
    check "restart: a job submitted after the restart completes within 5 s" wait_until 5 "job after the restart" after_done
    local rca rcb
    stop_node "$pa"; rca=$?
    stop_node "$pb"; rcb=$?
    check "restart: nodes exit 0 on SIGTERM" [ "$rca$rcb" = 00 ]
}

for scenario in ${IMPORTQ_CLUSTER_SCENARIOS:-limit crash restart}; do
    start=$SECONDS
    "scenario_$scenario"
    echo "$scenario: $((SECONDS - start)) s"
done
[ "$fail" -eq 0 ] || show_logs
summary cli_cluster_pg
