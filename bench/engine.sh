#!/usr/bin/env bash
# Engine benchmark (issue 4), side by side in one run:
#   1. throughput: JOBS one-row import jobs (8 tables, 8 workers,
#      max_concurrent 8) queued, then one `importq serve` runs them all;
#      jobs/s = JOBS / (last finished_at - first started_at), on PostgreSQL
#      and SQLite; next to graphile-worker with 8 workers on the same
#      PostgreSQL running JOBS jobs that COPY the same one-row file into
#      the same tables (the same work), and JOBS no-op jobs; and next to
#      pgbench running the SQL floor of the same jobs
#      (bench/engine_floor.sql: the least SQL such a job must execute,
#      with and without its two audit rows, and with the two checks of
#      importq's claim: the global running count and lock conflicts);
#      on SQLite, next to its own SQL floor (bench/engine_floor_sqlite.sql,
#      every statement prepared once, run by build/bench_engine_floor_sqlite
#      on one connection).
#      The PostgreSQL rows are run
#      under each of PG_SETTINGS (default "test production", a throwaway
#      cluster each, tests/scripts/with-postgres.sh): test = fsync,
#      synchronous_commit and full_page_writes off, as the test suites
#      run; production = PostgreSQL's defaults (all on), as a user's server
#      runs; beside them the CPU per job of each side (importq serve or
#      pgbench, and the cluster's backends), which shows where a run on a
#      small machine spends its cores;
#      Each importq row runs twice in a round: as `importq serve` runs
#      by default, and with monitoring off (--alerts false
#      --health-interval 0), the cost of monitoring being their ratio;
#   2. claim latency: store_job_claim + store_job_finish with 1,000 and
#      with 1,000,000 jobs queued (build/bench_claim_latency), both backends
#      (PostgreSQL under the first of PG_SETTINGS), the two sizes taking
#      turns;
#   3. submit-to-start latency of an idle service (build/bench_engine_bench):
#      submitted from another process to a running `importq serve`, and
#      in-process (engine_start + engine_wake), both backends (PostgreSQL
#      under the first of PG_SETTINGS).
# Usage: bench/engine.sh [JOBS]   (default 5000)   BUILD=dir picks the build,
# ROUNDS=n the rounds of throughput and claim latency (default 3),
# PG_SETTINGS the PostgreSQL settings to run under ("test production").
# Needs: a built tree (make build), packages postgresql sqlite3 nodejs npm.
# PostgreSQL is a throwaway cluster per setting (tests/scripts/with-postgres.sh,
# IMPORTQ_PG_SETTINGS); or, when IMPORTQ_TEST_PG_ADMIN_URL is set, that server
# alone (named by IMPORTQ_TEST_PG_SETTINGS, else "given").
set -euo pipefail
shopt -s inherit_errexit
cd "$(dirname "$0")/.."
jobs=${1:-5000}
build=${BUILD:-build}
bin=$build/importq
for tool in "$bin" "$build/submit_jobs" "$build/bench_claim_latency" "$build/bench_engine_bench" \
    "$build/bench_engine_floor_sqlite"; do
    [ -x "$tool" ] || { echo "bench: $tool is missing: run 'make build' first" >&2; exit 1; }
done
pgbin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
[ -x "$pgbin/pgbench" ] || { echo "bench: missing pgbench (apt-get install postgresql)" >&2; exit 1; }
for tool in sqlite3 node npm psql; do
    command -v "$tool" >/dev/null || { echo "bench: missing $tool (scripts/deps.sh bench)" >&2; exit 1; }
done
# One throwaway cluster per setting: this script runs inside all of them,
# nested, each one's admin URL kept as BENCH_PG_ADMIN_<setting>.
settings=${PG_SETTINGS:-test production}
if [ -n "${BENCH_PG_CAPTURE:-}" ]; then
    export "BENCH_PG_ADMIN_$BENCH_PG_CAPTURE=$IMPORTQ_TEST_PG_ADMIN_URL"
    unset BENCH_PG_CAPTURE IMPORTQ_TEST_PG_URL IMPORTQ_TEST_PG_ADMIN_URL IMPORTQ_PG_SETTINGS
elif [ -n "${IMPORTQ_TEST_PG_ADMIN_URL:-}" ]; then
    settings=${IMPORTQ_TEST_PG_SETTINGS:-given}
    export "BENCH_PG_ADMIN_$settings=$IMPORTQ_TEST_PG_ADMIN_URL"
fi
for setting in $settings; do
    var=BENCH_PG_ADMIN_$setting
    if [ -z "${!var:-}" ]; then
        exec env IMPORTQ_PG_SETTINGS="$setting" BENCH_PG_CAPTURE="$setting" \
            tests/scripts/with-postgres.sh "$0" "$@"
    fi
done
out=$(mktemp -d /tmp/importq-bench-engine.XXXXXX)
chmod 755 "$out"
mkdir -p "$out/in"
node_pid=
trap '[ -n "$node_pid" ] && kill -9 "$node_pid" 2>/dev/null; rm -rf "$out"' EXIT
[ -d bench/graphile/node_modules/pg-copy-streams ] || (cd bench/graphile && npm ci --no-audit --no-fund >/dev/null)

# fresh_pg NAME: a new database on the cluster of $admin; prints its URL.
fresh_pg() {
    psql -XAtq "$admin" -c "DROP DATABASE IF EXISTS $1" -c "CREATE DATABASE $1" >/dev/null 2>&1
    echo "${admin%/*}/$1"
}
# fresh_sqlite NAME: a new SQLite file; prints its URL.
fresh_sqlite() { rm -f "$out/$1.db"*; echo "sqlite:$out/$1.db"; }
# sql URL QUERY: one value, on either backend.
sql() {
    case $1 in
        sqlite:*) sqlite3 "${1#sqlite:}" "$2" ;;
        *) psql -XAtq "$1" -c "$2" ;;
    esac
}
# serve URL [FLAGS...]: `importq serve` in the background ($node_pid).
serve() {
    local url=$1; shift
    "$bin" serve --db "$url" --import-root "$out/in" --listen 127.0.0.1:0 "$@" 2>>"$out/serve.log" &
    node_pid=$!
}
stop_serve() { kill -TERM "$node_pid"; wait "$node_pid" || true; node_pid=; }
# proc_cpu_ms PID: user + system CPU of a running process, in ms.
# cluster_cpu_ms: the same summed over the exited children of $admin's
# postmaster (cutime + cstime): every backend that has closed, so a run's
# PostgreSQL CPU is the difference across it once its sessions are gone
# (settle). The polling session of wait_for is in it (one count every 50 ms).
ticks=$(getconf CLK_TCK)
proc_stat() { sed 's/^.*) //' "/proc/$1/stat"; } # fields from the 3rd (state) on
proc_cpu_ms() { local f; read -r -a f < <(proc_stat "$1"); echo $(((f[11] + f[12]) * 1000 / ticks)); }
cluster_cpu_ms() {
    local dir f
    dir=$(psql -XAtq "$admin" -c "SHOW data_directory")
    read -r -a f < <(proc_stat "$(head -n 1 "$dir/postmaster.pid")")
    echo $(((f[13] + f[14]) * 1000 / ticks))
}
settle() { wait_for "$admin" "SELECT count(*) FROM pg_stat_activity WHERE datname = '$1'" 0 60; }
# cpu_per_job MS: MS / JOBS, as ms with two decimals.
cpu_per_job() { printf '%.2f' "$(echo "$1 / $jobs" | bc -l)"; }
# wait_for URL QUERY VALUE SECONDS: until QUERY answers VALUE (or fail).
# PostgreSQL: one session that polls server-side (a new psql every 50 ms
# cost a backend start each, CPU the measured run then lacked); it
# commits between polls so it holds back no vacuum.
wait_for() {
    local end=$((SECONDS + $4))
    case $1 in
        sqlite:*)
            # Every 0.5 s: each sqlite3 is a process start and a reader
            # whose snapshot holds back the node's checkpoints (the
            # window is measured from the rows, not from this loop).
            until [ "$(sql "$1" "$2" 2>/dev/null)" = "$3" ]; do
                [ "$SECONDS" -lt "$end" ] || { echo "bench: timed out waiting for $2 = $3" >&2; tail "$out/serve.log" >&2; exit 1; }
                sleep 0.5
            done ;;
        *)
            psql -XAtq "$1" -v ON_ERROR_STOP=1 -c "SET statement_timeout = '${4}s'" -c "DO \$\$
                BEGIN
                    WHILE ($2)::text IS DISTINCT FROM '$3' LOOP
                        COMMIT;
                        PERFORM pg_sleep(0.05);
                    END LOOP;
                END \$\$" >/dev/null \
                || { echo "bench: timed out waiting for $2 = $3" >&2; tail "$out/serve.log" >&2; exit 1; } ;;
    esac
}

# make_tables URL: the benchmark's tables t0..t7 and one.csv.
make_tables() {
    local t
    for t in 0 1 2 3 4 5 6 7; do sql "$1" "CREATE TABLE t$t (id bigint, label text)"; done
    printf 'id,label\n1,one\n' >"$out/in/one.csv"
}
# queue_jobs URL: the benchmark's tables, one.csv and JOBS queued jobs;
# sets submit_rate (jobs/s submitted through the store).
queue_jobs() {
    local url=$1 submit_start submit_end
    "$bin" migrate --db "$url" >/dev/null 2>&1
    make_tables "$url"
    submit_start=$(date +%s.%N)
    "$build/submit_jobs" "$url" "$jobs" 8 \
        '{"name": "one row {i}", "source": {"path": "one.csv"}, "target": {"table": "t{m}", "mode": "append"}}' >/dev/null 2>&1
    submit_end=$(date +%s.%N)
    submit_rate=$(printf '%.0f' "$(echo "$jobs / ($submit_end - $submit_start)" | bc -l)")
}

# floor AUDIT [CHECKS]: sets rate, pgbench's jobs/s through
# bench/engine_floor.sql (8 clients, the same queued jobs) with audit rows
# (1) or without (0), with the claim's checks (1) or without (0, default);
# with them, 64 jobs more are queued (engine_floor.sql says why).
floor() {
    local url checks=${2:-0}
    url=$(fresh_pg bench_floor)
    queue_jobs "$url"
    if [ "$checks" = 1 ]; then
        "$build/submit_jobs" "$url" 64 8 \
            '{"name": "spare {i}", "source": {"path": "one.csv"}, "target": {"table": "t{m}", "mode": "append"}}' >/dev/null 2>&1
    fi
    sql "$url" "CREATE FUNCTION floor_insert(target text) RETURNS void LANGUAGE plpgsql AS
        \$\$ BEGIN EXECUTE format('INSERT INTO %I VALUES (1, ''one'')', target); END \$\$" >/dev/null
    local cpu_before client
    cpu_before=$(cluster_cpu_ms)
    rate=$(/usr/bin/time -f 'cpu %U %S' -o "$out/pgbench.time" "$pgbin/pgbench" -n -M prepared \
        -D "audit=$1" -D "checks=$checks" -c 8 -j 2 -t $((jobs / 8)) -f bench/engine_floor.sql "$url" 2>&1 \
        | sed -n 's/^tps = \([0-9.]*\) .*/\1/p')
    settle bench_floor
    client=$(awk '/^cpu/ {printf "%.0f", ($2 + $3) * 1000}' "$out/pgbench.time")
    client_cpu=$(cpu_per_job "$client") server_cpu=$(cpu_per_job $(($(cluster_cpu_ms) - cpu_before)))
    [ "$(sql "$url" "SELECT count(*) FROM stg_import_queue WHERE status = 'COMPLETED'")" = $((jobs / 8 * 8)) ] \
        || { echo "bench: the SQL floor did not complete its jobs" >&2; exit 1; }
    rate=$(printf '%.0f' "$rate")
}

# sqlite_floor: sets rate and client_cpu: build/bench_engine_floor_sqlite
# running bench/engine_floor_sqlite.sql once per job over JOBS queued jobs
# (one connection, statements prepared once, importq's PRAGMAs).
sqlite_floor() {
    local url line
    url=$(fresh_sqlite bench_floor)
    queue_jobs "$url"
    line=$(/usr/bin/time -f 'cpu %U %S' -o "$out/sqlite_floor.time" \
        "$build/bench_engine_floor_sqlite" "${url#sqlite:}" bench/engine_floor_sqlite.sql "$jobs")
    [ "$(sql "$url" "SELECT count(*) FROM stg_import_queue WHERE status = 'COMPLETED'")" = "$jobs" ] \
        || { echo "bench: the SQLite floor did not complete its jobs" >&2; exit 1; }
    rate=$(field jobs_per_s <<<"$line")
    client_cpu=$(cpu_per_job "$(awk '/^cpu/ {printf "%.0f", ($2 + $3) * 1000}' "$out/sqlite_floor.time")")
}

# throughput URL [SERVE_ARGS...]: sets rate (jobs/s run) and submit_rate
# (queue_jobs); SERVE_ARGS go to importq serve.
throughput() {
    local url=$1 window
    shift
    queue_jobs "$url"
    local cpu_before client
    case $url in sqlite:*) ;; *) settle "${url##*/}"; cpu_before=$(cluster_cpu_ms) ;; esac
    serve "$url" --workers 8 --max-concurrent 8 "$@"
    wait_for "$url" "SELECT count(*) FROM stg_import_queue WHERE status = 'COMPLETED'" "$jobs" 600
    client=$(proc_cpu_ms "$node_pid")
    stop_serve
    client_cpu=$(cpu_per_job "$client") server_cpu=
    case $url in sqlite:*) ;; *) settle "${url##*/}"; server_cpu=$(cpu_per_job $(($(cluster_cpu_ms) - cpu_before))) ;; esac
    case $url in
        sqlite:*) window=$(sql "$url" "SELECT (julianday(max(finished_at)) - julianday(min(started_at))) * 86400 FROM stg_import_queue") ;;
        *) window=$(sql "$url" "SELECT extract(epoch FROM max(finished_at) - min(started_at)) FROM stg_import_queue") ;;
    esac
    rate=$(printf '%.0f' "$(echo "$jobs / $window" | bc -l)")
}

# latency URL MODE COUNT GAP_MS: bench_engine_bench's line into $line
# (MODE external runs a node).
latency() {
    local url=$1 mode=$2 count=$3 gap=$4
    "$bin" migrate --db "$url" >/dev/null 2>&1
    if [ "$mode" = external ]; then
        serve "$url"
        wait_for "$url" "SELECT count(*) FROM stg_import_coordination WHERE kind = 'node' AND status = 'alive'" 1 30
    fi
    line=$("$build/bench_engine_bench" "$url" "$out/in" "$count" "$mode" "$gap")
    if [ "$mode" = external ]; then stop_serve; fi
}
field() { sed -n "s/.*$1=\([^ ]*\).*/\1/p"; } # field NAME < logfmt line

echo "importq engine benchmark: $jobs jobs, $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg), $(date -u +%F)"
# The machine's speed drifts (up to 2x within an hour here), so each
# throughput runs ROUNDS times (default 3), the tools taking turns, and
# the median of each is printed beside all rounds.
median() { tr ' ' '\n' | sort -n | awk '{v[NR] = $1} END {print v[int((NR + 1) / 2)]}'; }
# graphile TASK: sets rate, graphile-worker's jobs/s running JOBS jobs of
# TASK (noop, or copy: one.csv into t(i mod 8), checked afterwards).
graphile() {
    local url line
    url=$(fresh_pg bench_graphile)
    if [ "$1" = noop ]; then
        line=$(node bench/graphile/run.js "$url" "$jobs" 8 noop)
    else
        make_tables "$url"
        line=$(node bench/graphile/run.js "$url" "$jobs" 8 copy "$out/in/one.csv")
        [ "$(sql "$url" "SELECT $(printf '(SELECT count(*) FROM t%d) + ' 0 1 2 3 4 5 6)(SELECT count(*) FROM t7)")" = "$jobs" ] \
            || { echo "bench: graphile-worker's copy jobs did not land $jobs rows" >&2; exit 1; }
    fi
    rate=$(field jobs_per_s <<<"$line")
}

# Monitoring's cost (issue 16): each importq row runs again with the alert
# loop and the health history off, right after the run with them on.
monitoring_off="--alerts false --health-interval 0"
# Rounds: every tool under every setting, then SQLite, taking turns.
declare -A rates=() cpu=()
for _ in $(seq "${ROUNDS:-3}"); do
    for setting in $settings; do
        var=BENCH_PG_ADMIN_$setting admin=${!var}
        throughput "$(fresh_pg bench_tp)"; rates[$setting/pg]+=" $rate" pg_submit=$submit_rate
        cpu[$setting/pg/client]+=" $client_cpu" cpu[$setting/pg/server]+=" $server_cpu"
        throughput "$(fresh_pg bench_tp)" $monitoring_off; rates[$setting/pg_nomon]+=" $rate"
        cpu[$setting/pg_nomon/client]+=" $client_cpu" cpu[$setting/pg_nomon/server]+=" $server_cpu"
        floor 1; rates[$setting/floor]+=" $rate"
        cpu[$setting/floor/client]+=" $client_cpu" cpu[$setting/floor/server]+=" $server_cpu"
        floor 0; rates[$setting/bare]+=" $rate"
        floor 1 1; rates[$setting/checked]+=" $rate"
        cpu[$setting/checked/client]+=" $client_cpu" cpu[$setting/checked/server]+=" $server_cpu"
        graphile copy; rates[$setting/gw_copy]+=" $rate"
        graphile noop; rates[$setting/gw_noop]+=" $rate"
    done
    throughput "$(fresh_sqlite bench_tp)"; rates[sqlite]+=" $rate" sq_submit=$submit_rate
    cpu[sqlite/client]+=" $client_cpu"
    throughput "$(fresh_sqlite bench_tp)" $monitoring_off; rates[sqlite_nomon]+=" $rate"
    cpu[sqlite_nomon/client]+=" $client_cpu"
    sqlite_floor; rates[sqlite_floor]+=" $rate" cpu[sqlite_floor/client]+=" $client_cpu"
done
row() { printf '%-56s %8s  (%s)\n' "$1" "$(median <<<"${rates[$2]# }")" "${rates[$2]# }"; }
printf '\n%-56s %8s   %s\n' "throughput (8 workers, 8 tables)" "jobs/s" "(rounds)"
for setting in $settings; do
    case $setting in
        test) what="test settings: fsync, synchronous_commit, full_page_writes off" ;;
        production) what="production settings: fsync, synchronous_commit, full_page_writes on" ;;
        *) what="settings: $setting" ;;
    esac
    echo "PostgreSQL, $what"
    row "  importq, one-row import jobs" "$setting/pg"
    row "  importq, monitoring off (no alert loop, no health samples)" "$setting/pg_nomon"
    printf '%-56s %7.2fx\n' "  monitoring on / off (medians)" \
        "$(echo "$(median <<<"${rates[$setting/pg]# }") / $(median <<<"${rates[$setting/pg_nomon]# }")" | bc -l)"
    row "  graphile-worker 0.16.6, one-row COPY jobs (same work)" "$setting/gw_copy"
    row "  graphile-worker 0.16.6, no-op jobs" "$setting/gw_noop"
    row "  pgbench, the jobs' SQL floor (engine_floor.sql)" "$setting/floor"
    row "  pgbench, the same floor without the audit rows" "$setting/bare"
    row "  pgbench, the floor with the claim's checks" "$setting/checked"
    printf '%-56s %7.2fx\n' "  importq / SQL floor (medians)" \
        "$(echo "$(median <<<"${rates[$setting/pg]# }") / $(median <<<"${rates[$setting/floor]# }")" | bc -l)"
    printf '%-56s %7.2fx\n' "  importq / the floor with the claim's checks (medians)" \
        "$(echo "$(median <<<"${rates[$setting/pg]# }") / $(median <<<"${rates[$setting/checked]# }")" | bc -l)"
done
row "SQLite: importq, one-row import jobs" sqlite
row "SQLite: importq, monitoring off" sqlite_nomon
printf '%-56s %7.2fx\n' "SQLite: monitoring on / off (medians)" \
    "$(echo "$(median <<<"${rates[sqlite]# }") / $(median <<<"${rates[sqlite_nomon]# }")" | bc -l)"
row "SQLite: the jobs' SQL floor (engine_floor_sqlite.sql)" sqlite_floor
printf '%-56s %7.2fx\n' "SQLite: importq / SQL floor (medians)" \
    "$(echo "$(median <<<"${rates[sqlite]# }") / $(median <<<"${rates[sqlite_floor]# }")" | bc -l)"
printf "%-56s %8s\n" "(submission through the store, PostgreSQL / SQLite)" "$pg_submit / $sq_submit"

# Where the time goes on this machine: CPU per job (medians of the
# rounds) of the client (importq serve, or pgbench) and of PostgreSQL.
printf '\n%-56s %8s %8s %8s\n' "CPU per job, ms (medians)" "client" "server" "total"
cpu_row() {
    local client server
    client=$(median <<<"${cpu[$2/client]# }")
    server=$(median <<<"${cpu[$2/server]:-}")
    printf '%-56s %8s %8s %8s\n' "$1" "$client" "${server:--}" \
        "$(printf '%.2f' "$(echo "$client + ${server:-0}" | bc -l)")"
}
for setting in $settings; do
    cpu_row "  $setting: importq serve + PostgreSQL" "$setting/pg"
    cpu_row "  $setting: the same, monitoring off" "$setting/pg_nomon"
    cpu_row "  $setting: pgbench (SQL floor) + PostgreSQL" "$setting/floor"
    cpu_row "  $setting: pgbench (floor with checks) + PostgreSQL" "$setting/checked"
done
cpu_row "  SQLite: importq serve (the database is in it)" sqlite
cpu_row "  SQLite: the same, monitoring off" sqlite_nomon
cpu_row "  SQLite: the SQL floor, one connection" sqlite_floor

# The rest on the first setting's cluster.
first=${settings%% *}
var=BENCH_PG_ADMIN_$first admin=${!var}
printf '\n(below, PostgreSQL under %s settings)\n' "$first"

# Claim latency: 1k and 1M queued take turns, ROUNDS times each, on
# fresh databases; the medians of the rounds' figures are printed, the
# p50 of every round beside them.
printf '\n%-26s %8s %8s %8s %8s %9s %9s  %s\n' "claim latency (200 claims)" "mean us" "p50 us" \
    "p99 us" "+finish" "mean x1k" "p50 x1k" "(p50 of each round)"
for backend in postgres sqlite; do
    declare -A means=() p50s=() p99s=() rounds=()
    for _ in $(seq "${ROUNDS:-3}"); do
        for queued in 1000 1000000; do
            if [ "$backend" = postgres ]; then url=$(fresh_pg "bench_claim_$queued"); else url=$(fresh_sqlite "bench_claim_$queued"); fi
            line=$("$build/bench_claim_latency" "$url" "$queued" 200)
            means[$queued]+=" $(field claim_mean_us <<<"$line")" p50s[$queued]+=" $(field claim_p50_us <<<"$line")"
            p99s[$queued]+=" $(field claim_p99_us <<<"$line")" rounds[$queued]+=" $(field round_p50_us <<<"$line")"
            if [ "$backend" = sqlite ]; then rm -f "${url#sqlite:}"*; fi
        done
    done
    base_mean=$(median <<<"${means[1000]# }") base_p50=$(median <<<"${p50s[1000]# }")
    for queued in 1000 1000000; do
        mean=$(median <<<"${means[$queued]# }") p50=$(median <<<"${p50s[$queued]# }")
        printf '%-26s %8s %8s %8s %8s %8.2fx %8.2fx  (%s)\n' "$backend, $queued queued" "$mean" "$p50" \
            "$(median <<<"${p99s[$queued]# }")" "$(median <<<"${rounds[$queued]# }")" \
            "$(echo "$mean / $base_mean" | bc -l)" "$(echo "$p50 / $base_p50" | bc -l)" "${p50s[$queued]# }"
    done
    unset means p50s p99s rounds
done

printf '\n%-52s %8s %8s %8s\n' "submit-to-start latency, idle service" "p50 ms" "p99 ms" "mean ms"
for backend in postgres sqlite; do
    for mode in external in-process; do
        count=200 gap=0
        # SQLite from another process: only the workers' 1 s poll notices,
        # so submissions come at random points of it (and fewer of them).
        if [ "$backend/$mode" = sqlite/external ]; then count=50 gap=1000; fi
        if [ "$backend" = postgres ]; then url=$(fresh_pg "bench_lat_${mode//-/_}"); else url=$(fresh_sqlite "bench_lat_$mode"); fi
        latency "$url" "$mode" "$count" "$gap"
        printf '%-52s %8s %8s %8s\n' "$backend, $mode ($count jobs)" "$(field p50_ms <<<"$line")" \
            "$(field p99_ms <<<"$line")" "$(field mean_ms <<<"$line")"
    done
done
