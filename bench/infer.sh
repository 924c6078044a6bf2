#!/usr/bin/env bash
# Inference benchmark (issue 18), side by side in one run, on ROWS rows of
# bench/gen_rows's CSV (default 1000000), SQLite, best of three each:
#   1. `importq infer FILE` (types from every row) against the import it
#      feeds: `importq import FILE --spec <that spec>` into a new table;
#      the ratio is inference / import;
#   2. `importq import FILE --table t --create` (infer, then load) against
#      sqlite-utils, the reference for a one-command CSV load with types
#      (`sqlite-utils insert DB t FILE --csv --detect-types`);
# and checks that the inferred types took every row (zero rejects).
# Usage: bench/infer.sh [ROWS]   BUILD=dir picks the build; RUNS=n the runs
# each figure is the best of (default 3; sqlite-utils takes minutes at 1M).
# Needs: make build, sqlite-utils (scripts/deps.sh bench).
set -euo pipefail
cd "$(dirname "$0")/.."
rows=${1:-1000000}
build=${BUILD:-build}
bin=$build/importq
for tool in "$bin" "$build/bench_gen_rows"; do
    [ -x "$tool" ] || { echo "bench: $tool is missing: run 'make build' first" >&2; exit 1; }
done
command -v sqlite-utils >/dev/null || { echo "bench: missing sqlite-utils (scripts/deps.sh bench)" >&2; exit 1; }
data=$(mktemp -d)
trap 'rm -rf "$data"' EXIT
csv=$data/rows.csv
"$build/bench_gen_rows" "$rows" csv >"$csv"

# best CMD...: the least wall seconds of RUNS runs (each after a fresh database).
best() {
    local best= t start
    for _ in $(seq "${RUNS:-3}"); do
        rm -f "$data"/*.db*
        start=$(date +%s.%N)
        "$@" >/dev/null 2>"$data/err" || { cat "$data/err" >&2; exit 1; }
        t=$(echo "$(date +%s.%N) - $start" | bc -l)
        if [ -z "$best" ] || [ "$(echo "$t < $best" | bc -l)" = 1 ]; then best=$t; fi
    done
    printf '%.3f' "$best"
}
ratio() { printf '%.2fx' "$(echo "$1 / $2" | bc -l)"; }

"$bin" infer "$csv" --table t >"$data/spec.json"
t_infer=$(best "$bin" infer "$csv" --table t)
t_import=$(best "$bin" import "$csv" --spec "$data/spec.json" --db "sqlite:$data/a.db" --quiet)
t_create=$(best "$bin" import "$csv" --table t --create --db "sqlite:$data/a.db" --quiet)
t_su=$(best sqlite-utils insert "$data/b.db" t "$csv" --csv --detect-types)

"$bin" import "$csv" --table t --create --db "sqlite:$data/c.db" --quiet
loaded=$(sqlite3 "$data/c.db" 'SELECT count(*) FROM t')
[ "$loaded" = "$rows" ] || { echo "bench: the inferred table took $loaded of $rows rows" >&2; exit 1; }

echo "importq inference benchmark: $rows rows ($(du -h "$csv" | cut -f1)), $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg), $(date -u +%F)"
echo "inferred: $(jq -c '[.target.columns[] | "\(.name) \(.type)\(if .required then "" else " null" end)"]' "$data/spec.json")"
printf '%-52s %10s %10s %8s\n' "" "importq" "reference" "ratio"
printf '%-52s %10s %10s %8s\n' "importq infer / the import it feeds (s)" "$t_infer" "$t_import" "$(ratio "$t_infer" "$t_import")"
printf '%-52s %10s %10s %8s\n' "import --create (infer + load) / sqlite-utils (s)" "$t_create" "$t_su" "$(ratio "$t_create" "$t_su")"
echo "rows loaded with the inferred types: $loaded of $rows (zero rejects)"
