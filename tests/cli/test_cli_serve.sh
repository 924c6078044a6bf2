#!/usr/bin/env bash
# `importq serve` end to end through the real binary on SQLite: it
# migrates, registers its node, runs a job already QUEUED in the database
# (inserted with sqlite3 until the API can submit it), lands its rows once,
# and stops cleanly on SIGTERM with the node marked stopped.
# Usage: test_cli_serve.sh BINARY
set -u
bin=$1
. "$(dirname "$0")/lib.sh"
dir=$(mktemp -d)
log=$dir/serve.log
pid=
trap '[ -n "$pid" ] && kill -9 "$pid" 2>/dev/null; rm -rf "$dir" "$out"' EXIT
db="$dir/q.db"
mkdir -p "$dir/in"
printf 'id,name\n1,a\n2,b\n3,c\n' >"$dir/in/t.csv"

"$bin" migrate --db "sqlite:$db" >/dev/null
# One QUEUED job, as the API will create it (the spec is the normalised form).
now=$(date -u +%Y-%m-%dT%H:%M:%S.000Z)
sqlite3 "$db" "INSERT INTO stg_import_queue (id, name, status, priority, available_at, resources,
  source, target, on_error, target_table, created_at, updated_at) VALUES
  ('01900000-0000-7000-8000-000000000001', 'cli serve', 'QUEUED', 5, '$now',
   '[{\"name\":\"table:t\",\"mode\":\"exclusive\"}]',
   '{\"format\":\"csv\",\"path\":\"t.csv\"}',
   '{\"table\":\"t\",\"mode\":\"insert\",\"create\":true,\"columns\":[{\"name\":\"id\",\"type\":\"integer\"},{\"name\":\"name\",\"type\":\"text\"}]}',
   '{\"action\":\"abort\",\"max_rejects\":0}', 't', '$now', '$now')"

"$bin" serve --db "sqlite:$db" --import-root "$dir/in" --listen 127.0.0.1:0 2>"$log" &
pid=$!
for _ in $(seq 100); do
    [ "$(sqlite3 "$db" "SELECT status FROM stg_import_queue" 2>/dev/null)" = COMPLETED ] && break
    sleep 0.1
done
check "queued job completed" [ "$(sqlite3 "$db" "SELECT status FROM stg_import_queue")" = COMPLETED ]
check "rows landed once" [ "$(sqlite3 "$db" "SELECT count(*) FROM t")" = 3 ]
check "node registered alive" [ "$(sqlite3 "$db" "SELECT status FROM stg_import_coordination WHERE kind = 'node'")" = alive ]
kill -TERM "$pid"
wait "$pid"; rc=$?
pid=
check "SIGTERM exits 0" [ "$rc" -eq 0 ]
check "node marked stopped" [ "$(sqlite3 "$db" "SELECT status FROM stg_import_coordination WHERE kind = 'node'")" = stopped ]
check "logfmt lines" grep -q 'level=info msg="node started"' "$log"
check "bad setting exits 2" bash -c "'$bin' serve --db 'sqlite:$db' --max-concurrent lots 2>/dev/null; [ \$? -eq 2 ]"
[ "$fail" -eq 0 ] || sed 's/^/  | /' "$log"
summary cli_serve
