#!/usr/bin/env bash
# test_docs_examples.sh - every shell example of README.md and docs/*.md
# runs, so the docs cannot rot: the fenced sh/bash/shell/console blocks
# (tests/docs/extract_blocks.py says which, and the markers that skip one
# or run a hidden check) are run in order, file by file, each file against
# a fresh `make run`: scripts/run.sh itself (migrate, the demo data set,
# imports/) in a scratch copy of the checkout's layout, serving on a free
# port. A block fails when any command in it fails (bash -e -o pipefail;
# curl gets --fail-with-body, so an HTTP error fails it too), and the test
# names the file and line of the command that broke.
#
# The blocks see what a reader sees after `make run` from the checkout:
# build/importq (not on PATH), demo/, imports/, var/importq.db as the
# default database. Differences, all on purpose:
#   - the server listens on a free port: "127.0.0.1:8080" in a block is
#     replaced by it, and IMPORTQ_SERVER points at it (the default's stand-in);
#   - the variables a block sets (S, T, H, ID ...) carry over to the next
#     blocks of its file, as in a reader's shell;
#   - blocks marked <!-- docs-test: postgres --> run only when
#     IMPORTQ_TEST_PG_ADMIN_URL is set, against a database of their own
#     that replaces every postgres:// URL in them; else they are skipped.
# Skipped blocks are listed with their reason; the summary says how many
# ran and how many were skipped.
# Usage: test_docs_examples.sh BINARY [FILE.md ...]   (default: README.md docs/*.md)
set -u
bin=$(realpath "$1")
shift
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
files=("$@")
[ ${#files[@]} -gt 0 ] || files=(README.md docs/*.md)

work=$(mktemp -d)
server_pid=""
pg_name=""
cleanup() {
    [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null
    [ -n "$pg_name" ] && psql "$IMPORTQ_TEST_PG_ADMIN_URL" -qc "DROP DATABASE IF EXISTS $pg_name WITH (FORCE)" >/dev/null 2>&1
    rm -rf "$work"
}
trap cleanup EXIT

ran=0 skipped=0 failed=0
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

if [ -n "${IMPORTQ_TEST_PG_ADMIN_URL:-}" ]; then
    pg_name="importq_docs_$$"
    psql "$IMPORTQ_TEST_PG_ADMIN_URL" -qc "CREATE DATABASE $pg_name" >/dev/null || exit 1
    pg_url="${IMPORTQ_TEST_PG_ADMIN_URL%/*}/$pg_name"
elif [ "${IMPORTQ_REQUIRE_PG:-}" = 1 ]; then
    echo "FAIL: PostgreSQL required but IMPORTQ_TEST_PG_ADMIN_URL is not set"
    failed=$((failed + 1))
fi

# fresh_checkout DIR - the layout `make run` leaves, served on a free port:
# sets port and server_pid, or returns 1 with scripts/run.sh's output.
fresh_checkout() {
    local dir=$1
    mkdir -p "$dir/build" "$dir/scripts"
    ln -s "$bin" "$dir/build/importq"
    ln -s "$root/demo" "$dir/demo"
    cp "$root/scripts/run.sh" "$dir/scripts/run.sh"
    port=$(free_port)
    (cd "$dir" && exec scripts/run.sh build/importq sqlite:var/importq.db "127.0.0.1:$port") \
        >"$dir/run.log" 2>&1 &
    server_pid=$!
    for _ in $(seq 1 600); do # a bound on a hang (60 s), not a speed check
        curl -fsS "http://127.0.0.1:$port/readyz" >/dev/null 2>&1 && return 0
        kill -0 "$server_pid" 2>/dev/null || break
        sleep 0.1
    done
    echo "FAIL: make run (scripts/run.sh) did not come up:"
    sed 's/^/  | /' "$dir/run.log"
    return 1
}

stop_server() {
    [ -n "$server_pid" ] || return 0
    kill "$server_pid" 2>/dev/null
    wait "$server_pid" 2>/dev/null
    server_pid=""
}

# curl as the blocks run it: an HTTP error fails the command (a wrapper on
# the PATH rather than a function, so that the failing line is the block's).
mkdir -p "$work/bin"
real_curl=$(command -v curl)
printf '#!/bin/sh\nexec %s --fail-with-body --max-time 120 "$@"\n' "$real_curl" >"$work/bin/curl"
chmod +x "$work/bin/curl"

# The shell every block runs in (BASH_ENV): the previous blocks' variables,
# and on a failure the Markdown file and line.
cat >"$work/blockenv.sh" <<'ENV'
docs_baseline=" $(compgen -v | tr '\n' ' ') "
[ -f "$DOCS_STATE" ] && . "$DOCS_STATE"
docs_save_state() {
    local name
    for name in $(compgen -v); do
        case "$name" in
            BASH*|_|PIPESTATUS|FUNCNAME|COLUMNS|LINES|docs_*|DOCS_*|name) continue ;;
        esac
        case "$docs_baseline" in *" $name "*) case "$name" in IMPORTQ_*) ;; *) continue ;; esac ;; esac
        declare -p "$name" 2>/dev/null | grep -v '^declare -[a-zA-Z]*r'
    done >"$DOCS_STATE.new" && mv "$DOCS_STATE.new" "$DOCS_STATE"
}
trap 'docs_rc=$?; printf "\ndocs-test: %s:%s: exit %s: %s\n" "$DOCS_FILE" "$((DOCS_FIRST_LINE + LINENO - 1))" "$docs_rc" "$BASH_COMMAND" >&2' ERR
trap 'docs_rc=$?; [ "$docs_rc" = 0 ] && docs_save_state; exit "$docs_rc"' EXIT
set -o pipefail
ENV

# run_block FILE LINE SCRIPT FIRST_LINE DIR - one block in DIR.
run_block() {
    local file=$1 line=$2 script=$3 first=$4 dir=$5
    sed -i "s/127\.0\.0\.1:8080/127.0.0.1:$port/g" "$script"
    local log="$script.log"
    if (cd "$dir" && env BASH_ENV="$work/blockenv.sh" DOCS_STATE="$dir/.docs-state" \
            DOCS_FILE="$file" DOCS_FIRST_LINE="$first" IMPORTQ_SERVER="http://127.0.0.1:$port" \
            PATH="$work/bin:$PATH" \
            timeout 300 bash -e "$script") >"$log" 2>&1; then
        ran=$((ran + 1))
        echo "ok   $file:$line"
    else
        failed=$((failed + 1))
        echo "FAIL $file:$line: the example broke:"
        grep '^docs-test: ' "$log" | tail -n 1 | sed 's/^docs-test: /  at /'
        tail -n 30 "$log" | grep -v '^docs-test: ' | sed 's/^/  | /'
    fi
}

mkdir -p "$work/blocks"
for file in "${files[@]}"; do
    [ -f "$file" ] || { echo "FAIL: no such file $file"; failed=$((failed + 1)); continue; }
    out="$work/blocks/$(echo "$file" | tr '/.' '__')"
    mkdir -p "$out"
    if ! manifest=$(python3 tests/docs/extract_blocks.py "$out" "$file" 2>"$out.err"); then
        echo "FAIL $(cat "$out.err")"
        failed=$((failed + 1))
        continue
    fi
    [ -n "$manifest" ] || continue
    dir="$work/run/$(basename "$out")"
    if ! fresh_checkout "$dir"; then
        failed=$((failed + 1))
        stop_server
        continue
    fi
    while IFS=$'\x1f' read -r path line kind reason script first; do
        case "$kind" in
            skip)
                skipped=$((skipped + 1))
                echo "skip $path:$line ($reason)" ;;
            postgres)
                if [ -z "$pg_name" ]; then
                    skipped=$((skipped + 1))
                    echo "skip $path:$line (PostgreSQL: IMPORTQ_TEST_PG_ADMIN_URL is not set)"
                else
                    sed -i -E "s#postgres(ql)?://[^ '\"]*#$pg_url#g" "$script"
                    run_block "$path" "$line" "$script" "$first" "$dir"
                fi ;;
            *)
                run_block "$path" "$line" "$script" "$first" "$dir" ;;
        esac
    done <<<"$manifest"
    stop_server
done

# "NAME: N passed" is the line scripts/test.sh collects from every suite
echo "docs examples: $ran passed, $failed failed; $((ran + failed)) blocks ran, $skipped skipped"
[ "$failed" -eq 0 ]
