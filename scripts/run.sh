#!/usr/bin/env bash
# `make run`: migrate the database and show what was done. Later issues add:
# load the demo data, create a token, serve the API and GUI.
# Usage: scripts/run.sh BINARY DB_URL LISTEN
set -euo pipefail
bin=$1 db=$2 listen=$3
cd "$(dirname "$0")/.."
mkdir -p var imports
"$bin" migrate --db "$db"
echo "importq: database ready at $db (listen address for serve: $listen)"
