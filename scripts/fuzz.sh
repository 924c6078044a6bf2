#!/usr/bin/env bash
# Builds the libFuzzer targets with clang (ASan + UBSan) in build-fuzz/ and
# runs each for a bounded time on its seed corpus (fuzz/corpus/<name>/):
#   scripts/fuzz.sh [SECONDS]      (default 60 per target)
# FUZZ_SEED=N FUZZ_RUNS=M make the run repeatable: `make test` uses a fixed
# seed and a fixed number of inputs, so CI replays the same sequence; a
# plain `make fuzz` explores with a new seed each time.
# Exits non-zero when a target finds a crash, a sanitizer error or a 5xx;
# the reproducer is left in build-fuzz/crash-*.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-60}
jobs=$(nproc 2>/dev/null || echo 2)
[ -f build-fuzz/CMakeCache.txt ] || CC=clang cmake -S . -B build-fuzz -DCMAKE_BUILD_TYPE=Debug \
    -DIMPORTQ_FUZZ=ON -DIMPORTQ_SANITIZE=address,undefined >/dev/null
cmake --build build-fuzz -j "$jobs" >/dev/null
for target in fuzz/fuzz_*.c; do
    name=$(basename "$target" .c)
    corpus=build-fuzz/corpus-${name#fuzz_}
    # A repeatable run starts from the seed corpus alone.
    [ -n "${FUZZ_SEED:-}" ] && { corpus=build-fuzz/corpus-${name#fuzz_}-seeded; rm -rf "$corpus"; }
    mkdir -p "$corpus"
    echo "== $name for ${seconds}s"
    repeat=()
    [ -n "${FUZZ_SEED:-}" ] && repeat+=(-seed="$FUZZ_SEED")
    [ -n "${FUZZ_RUNS:-}" ] && repeat+=(-runs="$FUZZ_RUNS")
    (cd build-fuzz && ASAN_OPTIONS=detect_leaks=0 ./"$name" -max_total_time="$seconds" "${repeat[@]}" \
        -timeout=10 -rss_limit_mb=4096 -print_final_stats=1 \
        "../$corpus" "../fuzz/corpus/${name#fuzz_}" 2>&1 | grep -v "^#[0-9]")
    echo "fuzz: $name: no crash, no sanitizer report, no 5xx"
done
