#!/usr/bin/env bash
# Import benchmark, side by side with the reference tools in one run:
#   PostgreSQL insert  : importq import   vs  psql \copy
#   PostgreSQL upsert  : importq import   vs  \copy into UNLOGGED staging + INSERT ... ON CONFLICT
#   PostgreSQL insert  : importq import   vs  pgloader
#   PostgreSQL replace : importq import   vs  BEGIN; TRUNCATE; \copy; COMMIT on the full
#                        table (PK + unique email), each with a reader looking up one row
#                        by id every 10 ms during the run: its p99 and max latency
#   SQLite insert      : importq import   vs  sqlite3 .import
#   (the upsert and replace rows also print each best run's CPU seconds: the
#   client's own and the PostgreSQL cluster's, which shows where time goes)
#   peak RSS of importq on ROWS and on 10 x ROWS rows
# Usage: bench/import.sh [ROWS]   (default 1000000); prints a table of ratios.
# BUILD=dir picks the build (default build); ONLY=replace or ONLY=upsert runs that row alone;
# REPLACE_ARGS adds options to its importq ('--on-error skip': the staged path), whose
# row then follows the plain (direct) replace's, both against one TRUNCATE way.
# IMPORTQ_PG_SETTINGS=production: the throwaway cluster keeps PostgreSQL's default
# fsync / synchronous_commit / full_page_writes (tests/scripts/with-postgres.sh), as a
# user's server runs; or point IMPORTQ_TEST_PG_URL at a server of your own.
# Needs: a built tree (make build), packages postgresql pgloader sqlite3 time.
set -euo pipefail
shopt -s inherit_errexit
cd "$(dirname "$0")/.."
rows=${1:-1000000}
big_rows=$((rows * 10))
build=${BUILD:-build}
bin=$build/importq
gen=$build/bench_gen_rows
data=bench/data
mkdir -p "$data"
[ -x "$bin" ] && [ -x "$gen" ] || { echo "bench: run 'make build' first" >&2; exit 1; }
tools="pgloader sqlite3 /usr/bin/time"
[ -n "${ONLY:-}" ] && tools=""
for tool in $tools; do
    command -v "$tool" >/dev/null || { echo "bench: missing $tool (apt-get install pgloader sqlite3 time)" >&2; exit 1; }
done

csv="$data/rows-$rows.csv"
big="$data/rows-$big_rows.csv"
[ -s "$csv" ] || "$gen" "$rows" >"$csv"
[ -s "$big" ] || [ -n "${ONLY:-}" ] || "$gen" "$big_rows" >"$big"

if [ -z "${IMPORTQ_TEST_PG_URL:-}" ]; then
    exec tests/scripts/with-postgres.sh "$0" "$@"
fi
pg=$IMPORTQ_TEST_PG_URL

# server_cpu_ms: CPU (user + system, ms) of the PostgreSQL cluster's exited
# backends (its postmaster's children's times), once no session of the
# benchmark's database is left; "" when the cluster is not a local one we can
# read. The difference across a run is the run's server CPU.
server_cpu_ms() {
    local dir pid f
    for _ in $(seq 50); do
        [ "$(psql -XAtq "$pg" -c "SELECT count(*) FROM pg_stat_activity
            WHERE datname = current_database() AND pid <> pg_backend_pid()
              AND application_name <> 'bench-reader'")" = 0 ] && break
        sleep 0.1
    done
    dir=$(psql -XAtq "$pg" -c "SHOW data_directory" 2>/dev/null) || return 0
    pid=$(head -n 1 "$dir/postmaster.pid" 2>/dev/null) || return 0
    read -r -a f < <(sed 's/^.*) //' "/proc/$pid/stat")
    echo $(((f[13] + f[14]) * 1000 / $(getconf CLK_TCK)))
}
# seconds CMD...: wall time of one run, in seconds with 3 decimals; the
# run's CPU seconds, "client server" (the command's own, PostgreSQL's),
# into $data/last.cpu.
seconds() {
    local start end before after
    before=$(server_cpu_ms)
    start=$(date +%s.%N)
    /usr/bin/time -f '%U %S' -o "$data/last.time" "$@" >/dev/null 2>"$data/last.err" \
        || { cat "$data/last.err" >&2; return 1; }
    end=$(date +%s.%N)
    after=$(server_cpu_ms)
    printf '%s %s\n' "$(awk '{printf "%.2f", $1 + $2}' "$data/last.time")" \
        "$( [ -n "$before" ] && echo "($after - $before) / 1000" | bc -l | xargs printf '%.2f' || echo -)" \
        >"$data/last.cpu"
    echo "$end - $start" | bc -l | xargs printf '%.3f'
}
# best of N runs (N=3): the minimum wall time, to damp noise from the machine.
best() {
    local best="" t
    for _ in 1 2 3; do
        "$@" pre
        t=$("$@" run)
        if [ -z "$best" ] || (( $(echo "$t < $best" | bc -l) )); then best=$t; cp "$data/last.cpu" "$data/cpu.$1"; fi
    done
    echo "$best"
}
ddl="CREATE TABLE IF NOT EXISTS bench_users (id bigint PRIMARY KEY, email text NOT NULL UNIQUE,
     first_name text, last_name text, age integer, active boolean, balance numeric, created_at timestamp)"
psql -q "$pg" -c "$ddl" -c "CREATE UNLOGGED TABLE IF NOT EXISTS bench_stage (LIKE bench_users)"

pg_copy() { case $1 in
    pre) psql -q "$pg" -c "TRUNCATE bench_users" -c "CHECKPOINT" ;;
    run) seconds psql -q "$pg" -c "\\copy bench_users FROM '$csv' WITH (FORMAT csv, HEADER true)" ;;
esac; }
iq_insert() { case $1 in
    pre) psql -q "$pg" -c "TRUNCATE bench_users" -c "CHECKPOINT" ;;
    run) seconds "$bin" import "$csv" --db "$pg" --table bench_users --mode insert --quiet ;;
esac; }
full_target() { psql -q "$pg" -c "TRUNCATE bench_users" -c "\\copy bench_users FROM '$csv' WITH (FORMAT csv, HEADER true)" -c "VACUUM ANALYZE bench_users" -c CHECKPOINT; }
sql_upsert() { case $1 in
    pre) full_target ;;
    run) seconds psql -q "$pg" -c "TRUNCATE bench_stage" \
            -c "\\copy bench_stage FROM '$csv' WITH (FORMAT csv, HEADER true)" \
            -c "INSERT INTO bench_users SELECT * FROM bench_stage ON CONFLICT (id) DO UPDATE SET
                email = EXCLUDED.email, first_name = EXCLUDED.first_name, last_name = EXCLUDED.last_name,
                age = EXCLUDED.age, active = EXCLUDED.active, balance = EXCLUDED.balance,
                created_at = EXCLUDED.created_at" ;;
esac; }
iq_upsert() { case $1 in
    pre) full_target ;;
    run) seconds "$bin" import "$csv" --db "$pg" --table bench_users --mode upsert --key id --quiet ;;
esac; }
pgl() { case $1 in
    pre) psql -q "$pg" -c "TRUNCATE bench_users" -c "CHECKPOINT"
         cat >"$data/pgloader.load" <<LOAD
LOAD CSV FROM '$PWD/$csv' (id, email, first_name, last_name, age, active, balance, created_at)
     INTO $pg?bench_users (id, email, first_name, last_name, age, active, balance, created_at)
     WITH skip header = 1, fields optionally enclosed by '"', fields escaped by double-quote,
          fields terminated by ',';
LOAD
         ;;
    run) seconds pgloader --quiet "$data/pgloader.load" ;;
esac; }

# The reader: one primary-key lookup every 10 ms on its own connection until
# reader_stop, each timed by psql (\timing); reader_stats prints "p99 max" in ms.
reader_start() {
    rm -f "$data/reader.stop"
    { echo '\timing on'; while [ ! -e "$data/reader.stop" ]; do
        echo "SELECT email FROM bench_users WHERE id = $((rows / 2));"; sleep 0.01
    done; } | PGAPPNAME=bench-reader psql -X -q "$pg" >"$data/reader.out" 2>&1 &
    reader_pid=$!
    sleep 0.5
}
reader_stop() { sleep 0.3; touch "$data/reader.stop"; wait "$reader_pid" || true; }
reader_stats() {
    grep '^Time:' "$data/reader.out" | awk '{ print $2 }' | sort -n |
        awk '{ v[NR] = $1 } END { i = int(NR * 0.99); if (i < 1) i = 1; printf "%.1f %.1f", v[i], v[NR] }'
}
# replace_with_reader NAME CMD...: wall time of CMD with the reader running; the
# reader's "p99 max" of that run into $data/reader.NAME.
replace_with_reader() {
    local name=$1 t; shift
    reader_start
    t=$(seconds "$@")
    reader_stop
    reader_stats >"$data/reader.$name"
    echo "$t"
}
sql_replace() { case $1 in
    pre) full_target ;;
    run) replace_with_reader sql psql -q "$pg" -c "BEGIN" -c "TRUNCATE bench_users" \
            -c "\\copy bench_users FROM '$csv' WITH (FORMAT csv, HEADER true)" -c "COMMIT" ;;
esac; }
iq_replace() { case $1 in
    pre) full_target ;;
    run) replace_with_reader iq "$bin" import "$csv" --db "$pg" --table bench_users --mode replace --quiet ${iq_replace_args:-} ;;
esac; }

db="$data/bench.sqlite"
sqlite_ddl="CREATE TABLE bench_users (id INTEGER PRIMARY KEY, email TEXT NOT NULL UNIQUE,
     first_name TEXT, last_name TEXT, age INTEGER, active BOOLEAN, balance NUMERIC, created_at TIMESTAMP);"
sq_fresh() { rm -f "$db" "$db-wal" "$db-shm"; sqlite3 "$db" "PRAGMA journal_mode=WAL;" "$sqlite_ddl" >/dev/null; }
sq_import() { case $1 in
    pre) sq_fresh ;;
    run) seconds sqlite3 "$db" ".import --csv --skip 1 $csv bench_users" ;;
esac; }
iq_sqlite() { case $1 in
    pre) sq_fresh ;;
    run) seconds "$bin" import "$csv" --db "sqlite:$db" --table bench_users --mode insert --quiet ;;
esac; }

rss_kb() { # file: peak RSS of importq inserting it into PostgreSQL
    psql -q "$pg" -c "TRUNCATE bench_users"
    /usr/bin/time -f "%M" -o "$data/rss" "$bin" import "$1" --db "$pg" --table bench_users --mode insert --quiet >/dev/null
    cat "$data/rss"
}

echo "importq import benchmark: $rows rows, $(du -h "$csv" | cut -f1) CSV, $(nproc) cores, $(date -u +%F)"
echo "PostgreSQL $(psql -XAtq "$pg" -c 'SHOW server_version'): fsync $(psql -XAtq "$pg" -c 'SHOW fsync'), synchronous_commit $(psql -XAtq "$pg" -c 'SHOW synchronous_commit'), full_page_writes $(psql -XAtq "$pg" -c 'SHOW full_page_writes')"
ratio() { echo "$1 / $2" | bc -l | xargs printf '%.2f'; }
# cpu_note IMPORTQ_CASE REF_CASE: the CPU seconds of the two best runs.
cpu_note() {
    printf '  CPU s of those runs, client / PostgreSQL: importq %s, reference %s\n' \
        "$(tr ' ' / <"$data/cpu.$1")" "$(tr ' ' / <"$data/cpu.$2")"
}
# best_replace CASE: best of 3 with that run's reader figures kept alongside.
best_replace() {
    local best="" t
    for _ in 1 2 3; do
        "$1" pre
        t=$("$1" run)
        if [ -z "$best" ] || (( $(echo "$t < $best" | bc -l) )); then
            best=$t; cp "$data/reader.$2" "$data/reader.$2.best"; cp "$data/last.cpu" "$data/cpu.$1"
        fi
    done
    echo "$best"
}
# replace_row: importq's replace with REPLACE_ARGS; when they are set, the plain
# (direct) replace's row too, both against the same TRUNCATE way.
replace_row() {
    local t_sqlr t_iqr sql_reader args
    t_sqlr=$(best_replace sql_replace sql); sql_reader=$(tr ' ' / <"$data/reader.sql.best")
    for args in ${REPLACE_ARGS:+""} "${REPLACE_ARGS:-}"; do
        iq_replace_args=$args
        t_iqr=$(best_replace iq_replace iq)
        printf '%-44s %10s %10s %8s   reader p99/max ms: importq %s, ref %s\n' \
            "PostgreSQL replace${args:+ $args} vs TRUNCATE+\\copy" "$t_iqr" "$t_sqlr" \
            "$(ratio "$t_iqr" "$t_sqlr")" "$(tr ' ' / <"$data/reader.iq.best")" "$sql_reader"
        cpu_note iq_replace sql_replace
    done
}
upsert_row() {
    local t_sql t_iqu
    t_sql=$(best sql_upsert); t_iqu=$(best iq_upsert)
    printf '%-44s %10s %10s %8s\n' "PostgreSQL upsert vs \\copy+INSERT ON CONFLICT" "$t_iqu" "$t_sql" "$(ratio "$t_iqu" "$t_sql")"
    cpu_note iq_upsert sql_upsert
}
case ${ONLY:-} in
    '') ;;
    replace | upsert)
        printf '%-44s %10s %10s %8s\n' "case" "importq s" "ref s" "ratio"
        "${ONLY}_row"
        exit 0 ;;
    *) echo "bench: ONLY is replace or upsert" >&2; exit 2 ;;
esac
t_copy=$(best pg_copy);     t_iq=$(best iq_insert)
t_pgl=$(best pgl);          t_iq2=$(best iq_insert)
t_sq=$(best sq_import);     t_iqs=$(best iq_sqlite)
rss_small=$(rss_kb "$csv"); rss_big=$(rss_kb "$big")
printf '%-44s %10s %10s %8s\n' "case" "importq s" "ref s" "ratio"
printf '%-44s %10s %10s %8s\n' "PostgreSQL insert vs psql \\copy" "$t_iq" "$t_copy" "$(ratio "$t_iq" "$t_copy")"
upsert_row
printf '%-44s %10s %10s %8s\n' "PostgreSQL insert vs pgloader" "$t_iq2" "$t_pgl" "$(ratio "$t_iq2" "$t_pgl")"
printf '%-44s %10s %10s %8s\n' "SQLite insert vs sqlite3 .import" "$t_iqs" "$t_sq" "$(ratio "$t_iqs" "$t_sq")"
replace_row
printf 'peak RSS: %s MB for %s rows, %s MB for %s rows\n' "$((rss_small / 1024))" "$rows" "$((rss_big / 1024))" "$big_rows"
