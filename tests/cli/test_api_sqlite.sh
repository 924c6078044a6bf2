#!/usr/bin/env bash
# The HTTP API black-box suite (tests/api/test_api.py) against `importq
# serve` on SQLite: every route, every error of CONTRACT §3, 400 jobs from
# 8 threads. Prints "api tests: N on sqlite, F failed".
# Usage: test_api_sqlite.sh BINARY
set -u
bin=$1
here=$(cd "$(dirname "$0")" && pwd)
command -v python3 >/dev/null || { echo "FAIL: python3 is not installed (scripts/deps.sh test)"; exit 1; }
command -v sqlite3 >/dev/null || { echo "FAIL: sqlite3 is not installed (scripts/deps.sh)"; exit 1; }
exec python3 "$here/../api/test_api.py" --bin "$bin" --backend sqlite
