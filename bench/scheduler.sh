#!/usr/bin/env bash
# Scheduler benchmark (issue 15), in one run:
#   1. next fire times: SCHEDULES schedules of a fixed mix of expressions
#      and zones, the next fire time of each computed ROUNDS times
#      (build/bench_cron), beside croniter (the cron library Airflow uses,
#      bench/cron_ref.py) doing the same; the ratio is importq / croniter;
#   2. the scheduler's tick (build/bench_scheduler) with SCHEDULES schedules
#      stored: an idle tick (nothing due: what the leader pays every poll)
#      and a full tick (all due at once: one job each), on SQLite and on a
#      throwaway PostgreSQL under each of PG_SETTINGS.
# Usage: bench/scheduler.sh [SCHEDULES]   (default 10000)   BUILD=dir picks
# the build; PG_SETTINGS the PostgreSQL settings ("test production").
# Needs: a built tree (make build), python3-croniter (scripts/deps.sh bench).
set -euo pipefail
cd "$(dirname "$0")/.."
schedules=${1:-10000}
build=${BUILD:-build}
rounds=20
for tool in "$build/bench_cron" "$build/bench_scheduler"; do
    [ -x "$tool" ] || { echo "bench: $tool is missing: run 'make build' first" >&2; exit 1; }
done
[ -d /usr/lib/python3/dist-packages/croniter ] || python3 -c 'import croniter' 2>/dev/null ||
    { echo "bench: missing croniter (scripts/deps.sh bench)" >&2; exit 1; }

field() { sed -n "s/.*\\b$1=\\([^ ]*\\).*/\\1/p" <<<"$2"; }

iq=$("$build/bench_cron" "$schedules" "$rounds")
ref=$(python3 bench/cron_ref.py "$schedules" "$rounds")
iq_us=$(field next_kept_zone_us "$iq")
ref_us=$(field next_us "$ref")
echo "$iq"
echo "$ref"
printf '%-52s %10s %10s %8s\n' "" importq croniter ratio
printf '%-52s %10s %10s %8s\n' "next fire time, us per schedule ($schedules schedules)" \
    "$iq_us" "$ref_us" "$(echo "scale=3; $iq_us / $ref_us" | bc)"
printf '%-52s %10s %10s\n' "all $schedules next fire times, ms" \
    "$(field pass_kept_zone_ms "$iq")" "$(field pass_ms "$ref")"

data=$(mktemp -d)
trap 'rm -rf "$data"' EXIT
echo "SQLite:"
"$build/bench_scheduler" "sqlite:$data/scheduler.db" "$schedules"
for setting in ${PG_SETTINGS:-test production}; do
    echo "PostgreSQL ($setting settings):"
    IMPORTQ_PG_SETTINGS=$setting tests/scripts/with-postgres.sh \
        sh -c '"$0" "$IMPORTQ_TEST_PG_URL" "$1"' "$build/bench_scheduler" "$schedules"
done
