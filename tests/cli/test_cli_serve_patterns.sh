#!/usr/bin/env bash
# Hostile column patterns against the real `importq serve` (issue 12 §3):
# 100 job specs whose target column has a costly `pattern` - nested
# counted repetition, catastrophic backtracking, huge alternations, very
# long and deeply nested patterns - submitted one after another. Each must
# get its answer (422 naming target.columns[0].pattern, or 201 for the
# backtracking shapes, which are cheap to compile and bounded when they
# run; held, so none runs) and the server's resident memory (VmRSS) must
# stay under 100 MB throughout. regcomp took ~1 GB for each nested one.
# On SQLite, and on PostgreSQL when IMPORTQ_TEST_PG_ADMIN_URL is set (a
# fresh database, dropped afterwards; IMPORTQ_REQUIRE_PG=1 makes it
# required).
# Usage: test_cli_serve_patterns.sh BINARY
set -u
bin=$1
. "$(dirname "$0")/lib.sh"
for tool in curl jq python3; do
    command -v "$tool" >/dev/null || { echo "FAIL: $tool is not installed (scripts/deps.sh test)"; exit 1; }
done
dir=$(mktemp -d)
pid=
pg_db=
rss_limit_kb=102400
requests=100
cleanup() {
    [ -n "$pid" ] && kill -9 "$pid" 2>/dev/null
    [ -n "$pg_db" ] && psql -XAtq "$IMPORTQ_TEST_PG_ADMIN_URL" \
        -c "DROP DATABASE IF EXISTS $pg_db WITH (FORCE)" >/dev/null 2>&1
    rm -rf "$dir" "$out"
}
trap cleanup EXIT
mkdir -p "$dir/in"

# The patterns, one "STATUS PATTERN" line each (made once: some are long).
python3 - "$requests" >"$dir/patterns" <<'PY'
import sys
for i in range(int(sys.argv[1])):
    n = 90 + i % 10
    shape = i % 6
    if shape == 0:   # nested counted repetition (the issue's)
        print("422 ((a{1,%d}){1,%d}){1,%d}" % (n, n, n))
    elif shape == 1: # a repeated group
        print("422 (x{1,%d}y{1,%d}){1,3000}" % (n * 10, n * 10))
    elif shape == 2: # catastrophic backtracking: cheap to compile, bounded per value
        print("201 ^(a+)+$")
    elif shape == 3: # a huge alternation
        print("422 ^(%s)$" % "|".join("w%d" % k for k in range(n * 50)))
    elif shape == 4: # very long
        print("422 " + "a" * (n * 1000))
    else:            # deeply nested
        print("422 " + "(" * n + "a" + ")" * n)
PY
mapfile -t patterns <"$dir/patterns"

rss_kb() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status" 2>/dev/null; }

# run_backend NAME DB: start serve on DB, submit the patterns, check answers and RSS.
run_backend() {
    local name=$1 db=$2 log="$dir/serve-$1.log"
    "$bin" migrate --db "$db" >/dev/null 2>&1 || { failed "$name: migrate"; return; }
    local token
    token=$("$bin" token create --name hostile --role operator --db "$db" 2>/dev/null)
    [ -n "$token" ] || { failed "$name: token create"; return; }
    "$bin" serve --db "$db" --import-root "$dir/in" --spool-dir "$dir/spool-$name" \
        --listen 127.0.0.1:0 >"$log" 2>&1 &
    pid=$!
    local port=
    for _ in $(seq 200); do
        port=$(sed -n 's/.*msg="serving the API".* port=\([0-9]*\).*/\1/p' "$log" | head -n 1)
        [ -n "$port" ] && break
        sleep 0.1
    done
    [ -n "$port" ] || { failed "$name: serve did not start"; sed 's/^/  | /' "$log"; return; }
    local url="http://127.0.0.1:$port/api/v2/import-queue"
    local start_kb max_kb wrong=0 i
    start_kb=$(rss_kb "$pid")
    max_kb=$start_kb
    for i in $(seq 0 $((requests - 1))); do
        local line want pattern got kb
        line=${patterns[$i]}
        want=${line%% *}
        pattern=${line#* }
        jq -n --arg p "$pattern" '{name: "hostile", hold: true, source: {path: "h.csv"},
            target: {table: "h", columns: [{name: "v", pattern: $p}]}}' >"$dir/body.json"
        got=$(curl -s -o "$dir/answer.json" -w '%{http_code}' --max-time 60 \
            -H "Authorization: Bearer $token" -H 'Content-Type: application/json' \
            --data-binary "@$dir/body.json" "$url")
        if [ "$got" != "$want" ]; then
            wrong=$((wrong + 1))
            [ "$wrong" -le 3 ] && echo "  $name: pattern $i (${pattern:0:60}): HTTP $got, want $want: $(head -c 300 "$dir/answer.json")"
        elif [ "$want" = 422 ] && ! jq -e '.errors[] | select(.field == "target.columns[0].pattern")' \
            "$dir/answer.json" >/dev/null; then
            wrong=$((wrong + 1))
            [ "$wrong" -le 3 ] && echo "  $name: pattern $i: 422 does not name the pattern: $(head -c 300 "$dir/answer.json")"
        fi
        kb=$(rss_kb "$pid")
        [ -z "$kb" ] && { failed "$name: the server died at pattern $i"; sed 's/^/  | /' "$log"; pid=; return; }
        [ "$kb" -gt "$max_kb" ] && max_kb=$kb
        # Stop at the first breach: the old regcomp took a gigabyte a request.
        [ "$kb" -ge "$rss_limit_kb" ] && break
    done
    echo "$name: VmRSS ${start_kb} kB at start, at most ${max_kb} kB over $((i + 1)) hostile patterns"
    check "$name: every pattern got its answer" [ "$wrong" -eq 0 ]
    check "$name: VmRSS stayed under $((rss_limit_kb / 1024)) MB" [ "$max_kb" -lt "$rss_limit_kb" ]
    check "$name: the server still answers" \
        [ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/healthz")" = 200 ]
    kill -TERM "$pid"
    wait "$pid" 2>/dev/null
    pid=
}

run_backend sqlite "sqlite:$dir/q.db"

admin=${IMPORTQ_TEST_PG_ADMIN_URL:-}
if [ -n "$admin" ] && command -v psql >/dev/null; then
    pg_db="importq_patterns_$$"
    if psql -XAtq "$admin" -c "CREATE DATABASE $pg_db" >/dev/null 2>&1; then
        run_backend postgres "${admin%/*}/$pg_db"
    else
        failed "postgres: cannot create database $pg_db on $admin"
    fi
elif [ "${IMPORTQ_REQUIRE_PG:-}" = 1 ]; then
    failed "postgres: IMPORTQ_TEST_PG_ADMIN_URL is not set but IMPORTQ_REQUIRE_PG=1"
else
    echo "postgres: skipped (IMPORTQ_TEST_PG_ADMIN_URL is not set)"
fi
summary cli_serve_patterns
