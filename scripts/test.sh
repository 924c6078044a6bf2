#!/usr/bin/env bash
# The whole test suite, as `make test` and CI run it:
#   1. the normal build: every ctest (unit + store on SQLite and PostgreSQL)
#   2. an ASan+UBSan build: the same tests
#   3. a TSan build: the tests labelled "concurrency"
#   4. the libFuzzer targets (the API's request path, the cron parser): a
#      fixed seed and 25,000 inputs each (FUZZ_SEED, FUZZ_RUNS; at most
#      FUZZ_SECONDS, 120)
# PostgreSQL is a throwaway cluster (tests/scripts/with-postgres.sh) shared
# by all steps; each store test creates and drops its own database in it.
# Usage: scripts/test.sh [all|sanitizer]
set -euo pipefail
cd "$(dirname "$0")/.."
jobs=$(nproc 2>/dev/null || echo 2)
mode=${1:-all}
export IMPORTQ_REQUIRE_PG=1

build_variant() { # dir sanitize
    local dir=$1 san=$2
    [ -f "$dir/CMakeCache.txt" ] || cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=Debug -DIMPORTQ_SANITIZE="$san" >/dev/null
    cmake --build "$dir" -j "$jobs" >/dev/null
}

run_ctest() { # dir [ctest args]
    local dir=$1; shift
    echo "== ctest in $dir $*"
    local rc=0
    ctest --test-dir "$dir" --output-on-failure -j "$jobs" "$@" || rc=$?
    # What ran where: each suite prints one summary line ("store tests: 16 on
    # sqlite, 16 on postgres, 0 failed"); ctest keeps them in its log.
    grep -hE "^[a-z_]+( [a-z_]+)*: [0-9]+ (on|passed)" \
        "$dir/Testing/Temporary/LastTest.log" 2>/dev/null | sed 's/^/   /' || true
    return $rc
}

# suite: every step runs even after one fails (to show everything), and
# the exit status says whether any failed. Note: `bash -c suite` below
# does not inherit `set -e`, so failures are counted explicitly.
suite() {
    local failed=0
    if [ "$mode" = all ]; then
        run_ctest build || failed=1
    fi
    if [ "$mode" = all ] || [ "${SANITIZE:-}" = address,undefined ]; then
        build_variant build-asan address,undefined
        ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
            run_ctest build-asan || failed=1
    fi
    if [ "$mode" = all ] || [ "${SANITIZE:-}" = thread ]; then
        build_variant build-tsan thread
        if ctest --test-dir build-tsan -N -L concurrency | grep -q "Total Tests: [1-9]"; then
            TSAN_OPTIONS=halt_on_error=1 run_ctest build-tsan -L concurrency || failed=1
        else
            echo "== no concurrency tests yet for TSan"
        fi
    fi
    if [ "$mode" = all ]; then
        FUZZ_SEED=${FUZZ_SEED:-1} FUZZ_RUNS=${FUZZ_RUNS:-25000} scripts/fuzz.sh "${FUZZ_SECONDS:-120}" \
            || failed=1
    fi
    if [ "$failed" -ne 0 ]; then
        echo "== FAILED: see the steps above"
    fi
    return "$failed"
}

if [ -z "${IMPORTQ_TEST_PG_URL:-}" ]; then
    export -f suite run_ctest build_variant
    export mode jobs
    exec tests/scripts/with-postgres.sh bash -c suite
fi
suite
