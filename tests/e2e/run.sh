#!/usr/bin/env bash
# The admin GUI's end-to-end tests (gui.test.mjs) for ctest: playwright-core
# and axe-core at the versions package-lock.json pins (installed here by
# `npm ci` when missing, never a browser: PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD),
# driving Debian's Chromium against a real `importq serve` on SQLite
# (sqlite3 seeds the 100k-job database of the first-render measurement).
# Screenshots go to ARTEFACTS (default build/e2e-artefacts).
# Usage: run.sh BINARY [ARTEFACTS]
set -euo pipefail
bin=$(realpath "$1")
here=$(cd "$(dirname "$0")" && pwd)
artefacts=$(realpath -m "${2:-$here/../../build/e2e-artefacts}")
export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1
for tool in node npm sqlite3; do
    command -v $tool >/dev/null || { echo "FAIL: $tool is not installed (scripts/deps.sh test)"; exit 1; }
done
[ -x /usr/bin/chromium ] || { echo "FAIL: /usr/bin/chromium is not installed (scripts/deps.sh test)"; exit 1; }
cd "$here"
# node_modules/.importq-lock: the package-lock.json it was installed from.
if ! cmp -s package-lock.json node_modules/.importq-lock 2>/dev/null; then
    npm ci --no-audit --no-fund --loglevel=error >/dev/null
    cp package-lock.json node_modules/.importq-lock
fi
out=$(mktemp)
trap 'rm -f "$out"' EXIT
rc=0
IMPORTQ_BIN=$bin E2E_ARTEFACTS=$artefacts node --test --test-reporter=spec gui.test.mjs >"$out" 2>&1 || rc=$?
cat "$out"
# One summary line, as the other suites print (scripts/test.sh collects them).
echo "gui e2e: $(sed -n 's/^ℹ pass //p' "$out") passed, $(sed -n 's/^ℹ fail //p' "$out") failed"
exit $rc
