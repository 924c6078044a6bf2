#!/usr/bin/env bash
# The store's layering, checked on the source tree (docs/architecture.md,
# "The store"):
#   - a backend's internals (src/store/sqlite/, src/store/postgres/) are
#     included by that backend's own files only;
#   - src/store/common/ is included by the store only, never above it;
#   - SQL text lives in the backends: common/ and the front door
#     (src/store/*.c) hold none.
# Prints each breach as file:line and exits 1 when there is any.
set -euo pipefail
cd "$(dirname "$0")/../.."
status=0
breach() { echo "layering: $1"; sed 's/^/    /'; status=1; }

for backend in sqlite postgres; do
    found=$(grep -rn --include='*.[ch]' "#include \"store/$backend/" src tests bench fuzz |
            grep -v "^src/store/$backend/" || true)
    [ -z "$found" ] || breach "the $backend backend's internals included from outside it" <<<"$found"
done
found=$(grep -rn --include='*.[ch]' '#include "store/common/' src tests bench fuzz |
        grep -v '^src/store/' || true)
[ -z "$found" ] || breach "store/common/ included from above the store" <<<"$found"
# the string literals of each line, left to right, that read like SQL
sql='\b(SELECT|INSERT INTO|UPDATE [a-z_]+ SET|DELETE FROM|CREATE (TABLE|INDEX)|BEGIN|COMMIT)\b'
found=$(grep -noE '"([^"\\]|\\.)*"' src/store/common/*.[ch] src/store/*.[ch] | grep -E "$sql" || true)
[ -z "$found" ] || breach "SQL text outside the backends" <<<"$found"
exit $status
