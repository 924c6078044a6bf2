#!/usr/bin/env bash
# Installs the Debian packages importq needs to build, test and benchmark.
# As root: installs what is missing (apt-get). Otherwise: prints the command.
# Usage: scripts/deps.sh [build|test|bench|all]   (default: all = build + test)
set -euo pipefail

# The GUI's end-to-end tests (tests/e2e): Debian's Chromium driven from node.
gui_test_pkgs=(chromium nodejs npm)

build_pkgs=(build-essential cmake pkg-config libjansson-dev libsqlite3-dev libpq-dev
            libsodium-dev libinih-dev libcsv-dev libyajl-dev libmicrohttpd-dev
            libcurl4-openssl-dev libicu-dev libpcre2-dev sqlite3)
# groff-base, zsh: tests/cli/test_cli_help.sh renders the man page and completes in zsh.
test_pkgs=(libcmocka-dev postgresql postgresql-client python3 python3-prometheus-client curl jq clang
           libclang-rt-14-dev groff-base zsh)
bench_pkgs=(pgloader time bc wrk nodejs npm python3-croniter sqlite-utils)  # node, npm: graphile-worker; croniter: bench/scheduler.sh; pgbench comes with postgresql (bench/engine.sh)

case "${1:-all}" in
    build) want=("${build_pkgs[@]}") ;;
    test|all) want=("${build_pkgs[@]}" "${test_pkgs[@]}" "${gui_test_pkgs[@]}") ;;
    bench) want=("${build_pkgs[@]}" "${test_pkgs[@]}" "${gui_test_pkgs[@]}" "${bench_pkgs[@]}") ;;
    *) echo "usage: $0 [build|test|bench|all]" >&2; exit 2 ;;
esac

missing=()
for pkg in "${want[@]}"; do
    # A nodejs from outside Debian (NodeSource) ships npm itself.
    [ "$pkg" = npm ] && command -v npm >/dev/null && continue
    if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed"; then
        missing+=("$pkg")
    fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
    echo "importq needs these Debian packages; run as root:" >&2
    echo "  apt-get install -y ${missing[*]}" >&2
    exit 1
fi
echo "deps: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
