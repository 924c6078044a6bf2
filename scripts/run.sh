#!/usr/bin/env bash
# `make run`: migrate the database, load the demo data set (demo/), create
# an admin token for this run, then serve the API and the admin GUI on
# LISTEN until Ctrl-C.
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
# The demo files are also the import root, so submitted demo specs work as they are.
cp -n demo/data/* imports/ 2>/dev/null || true
# A fresh admin token each run: a token is shown only once, when created.
token=$("$bin" token create --name "make-run-$(date +%Y%m%d-%H%M%S)" --role admin --db "$db" 2>/dev/null)
cat <<MSG

importq: database ready at $db with the demo data.
  GUI:    http://$listen/   (paste the token below when it asks)
  API:    http://$listen/api/v2/import-queue   (docs/api.md)
  token:  $token
  try:    curl -H "Authorization: Bearer $token" http://$listen/api/v2/import-queue/status
          IMPORTQ_TOKEN=$token $bin status --server http://$listen

MSG
exec "$bin" serve --db "$db" --listen "$listen" --import-root imports
