#!/usr/bin/env bash
# `make run`: migrate the database, load the demo data set (demo/), and
# show what was done. Later issues add: create a token, serve the API + GUI.
# Usage: scripts/run.sh BINARY DB_URL LISTEN
set -euo pipefail
bin=$1 db=$2 listen=$3
cd "$(dirname "$0")/.."
mkdir -p var imports
"$bin" migrate --db "$db"
# Order matters: teams before the users, applications and steps that reference them.
for name in teams environments users applications steps; do
    spec=demo/specs/$name.json
    file=demo/data/$(sed -n 's/.*"path": *"\([^"]*\)".*/\1/p' "$spec" | head -n 1)
    "$bin" import "$file" --spec "$spec" --db "$db" --quiet
done
echo "importq: database ready at $db with the demo data (listen address for serve: $listen)"
