#!/usr/bin/env bash
# Runs every ctest suite N times, on SQLite and on a throwaway PostgreSQL
# (each suite runs both backends), and lists every failure by suite,
# backend and test name with how many rounds it failed in. A flaky test is
# a defect: `scripts/soak-tests.sh 10` must end "0 failed".
#   scripts/soak-tests.sh [N] [BUILD]     N rounds (10), build dir (build)
# Environment: SOAK_JOBS (ctest -j, default nproc), SOAK_REGEX (ctest -R),
# SOAK_LOGS (where each round's log is kept, default var/soak).
# Exit status: 0 when every round passed, 1 otherwise.
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-10}
build=${2:-build}
case $rounds in '' | *[!0-9]*) echo "usage: $0 [N] [BUILD]" >&2; exit 2 ;; esac
[ -f "$build/CMakeCache.txt" ] || { echo "soak: no build in $build (run make build)" >&2; exit 2; }
cmake --build "$build" -j "$(nproc 2>/dev/null || echo 2)" >/dev/null

if [ -z "${IMPORTQ_TEST_PG_URL:-}" ]; then
    exec tests/scripts/with-postgres.sh "$0" "$rounds" "$build"
fi
export IMPORTQ_REQUIRE_PG=1
jobs=${SOAK_JOBS:-$(nproc 2>/dev/null || echo 2)}
logs=${SOAK_LOGS:-var/soak}
mkdir -p "$logs"
rm -f "$logs"/round-*.log
regex=()
[ -n "${SOAK_REGEX:-}" ] && regex=(-R "$SOAK_REGEX")

# failures LOG - one line per failed test in a round's ctest log:
# "suite<TAB>test". The store fixture names each backend's group
# ("[ BACKEND  ] suite/backend") before its tests; the shell suites print
# "FAIL: what", the Python
# one "FAIL: test" or "ERROR: test"; a suite that failed without naming a
# test (a crash, a timeout) counts as "(whole suite)".
failures() {
    awk '
        function flush() { if (suite != "" && !named) print suite "\t(whole suite: " how ")" }
        /Test +#[0-9]+: / && /(\*\*\*|Failed|Timeout|Exception)/ {
            flush(); suite = $0; sub(/.*Test +#[0-9]+: /, "", suite); sub(/ .*/, "", suite)
            how = $0; sub(/.*\*\*\*/, "", how); sub(/ +[0-9.]+ sec.*/, "", how)
            group = ""; named = 0; next
        }
        /Test +#[0-9]+: / { flush(); suite = ""; next }
        suite == "" { next }
        /^\[ BACKEND  \] / { group = $NF; next }
        /^\[  FAILED  \] [A-Za-z_0-9]+$/ { print suite "\t" (group ? group ": " : "") $4; named = 1; next }
        /^(FAIL|ERROR): / { line = $0; print suite "\t" line; named = 1; next }
        END { flush() }
    ' "$1"
}

clean=0
all=$(mktemp)
trap 'rm -f "$all"' EXIT
for ((i = 1; i <= rounds; i++)); do
    log="$logs/round-$i.log"
    start=$(date +%s)
    if ctest --test-dir "$build" --output-on-failure -j "$jobs" "${regex[@]}" >"$log" 2>&1; then
        clean=$((clean + 1))
        echo "soak: round $i/$rounds passed ($(($(date +%s) - start)) s)"
    else
        echo "soak: round $i/$rounds FAILED ($(($(date +%s) - start)) s, $log):"
        failures "$log" | sort -u | tee -a "$all" | sed 's/^/  /'
    fi
done

if [ -s "$all" ]; then
    echo "soak: failures (rounds failed in, suite, test):"
    sort "$all" | uniq -c | sort -rn | sed 's/^/  /'
fi
echo "soak: $clean passed, $((rounds - clean)) failed"
[ "$clean" -eq "$rounds" ]
