#!/usr/bin/env bash
# Make a PostgreSQL database of N tasks, fast: bench/seed.sh's way on PostgreSQL.
# Usage: bench/seed-postgres.sh BINARY SERVER_URL DATABASE N
# SERVER_URL names any database of the server (postgres://USER@HOST:PORT/postgres);
# DATABASE is dropped if it exists and created. The service creates the schema (its
# migrations) and the first task (a POST); the other N-1 rows are copies of that
# row made in one transaction, so every value is in the format the service writes.
# The counts' trigger is off during the copy and the counts are set from count(*)
# at its end, in the same transaction: a million trigger updates of one row in one
# transaction would leave a million versions of it to walk. Then VACUUM ANALYZE,
# as autovacuum would after such a load.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

binary="$1" server="$2" database="$3" n="$4"
[[ "$database" =~ ^[a-z_][a-z0-9_]*$ ]] || { log "database name '$database': lower case letters, digits, _" && exit 2; }
[[ "$n" =~ ^[1-9][0-9]*$ ]] || { log "N must be a whole number from 1, got '$n'" && exit 2; }
url="${server%/*}/$database"
# No NOTICE lines for what does not exist yet.
export PGOPTIONS="-c client_min_messages=warning"
psql -q -X -v ON_ERROR_STOP=1 "$server" -c "DROP DATABASE IF EXISTS $database WITH (FORCE)" -c "CREATE DATABASE $database"

dir="$(mktemp -d "${TMPDIR:-/tmp}/tasks-backend-seed.XXXXXX")"
port="$(free_port)"
PORT="$port" HOST=127.0.0.1 DATABASE_URL="$url" LOG_LEVEL=warn "$binary" serve >"$dir/seed.log" 2>&1 &
pid=$!
trap 'kill "$pid" 2>/dev/null || true; rm -rf "$dir"' EXIT
wait_http "http://127.0.0.1:$port/health" 30 || { log "no 200 from http://127.0.0.1:$port/health within 30 s" && exit 1; }
curl -sf -o /dev/null -H 'Content-Type: application/json' -d '{"title":"task 1"}' "http://127.0.0.1:$port/api/tasks"
kill "$pid"
wait "$pid" || true

psql -q -X -v ON_ERROR_STOP=1 "$url" <<SQL
BEGIN;
ALTER TABLE tasks DISABLE TRIGGER task_counts_insert_delete;
INSERT INTO tasks (title, description, status, due_date, created_at, updated_at)
SELECT 'task ' || i,
       CASE WHEN i % 2 = 0 THEN 'seeded by bench/seed-postgres.sh, number ' || i END,
       CASE i % 3 WHEN 0 THEN 'todo' WHEN 1 THEN 'in_progress' ELSE 'done' END,
       t.due_date, t.created_at, t.updated_at
FROM generate_series(2, $n) AS i, tasks t WHERE t.id = 1;
ALTER TABLE tasks ENABLE TRIGGER task_counts_insert_delete;
UPDATE task_counts SET total = (SELECT count(*) FROM tasks WHERE tasks.status = task_counts.status);
COMMIT;
VACUUM ANALYZE tasks;
VACUUM ANALYZE task_counts;
SQL
count="$(psql -X -At "$url" -c "SELECT count(*) FROM tasks")"
[[ "$count" == "$n" ]] || { log "seeded $count tasks, not $n" && exit 1; }
