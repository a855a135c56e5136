#!/usr/bin/env bash
# Make a SQLite database of N tasks at DIR/tasks.db, fast.
# Usage: bench/seed.sh BINARY DIR N
# The service itself creates the schema (its migrations) and the first task (a POST);
# the other N-1 rows are copies of that row made in one SQL transaction, so every
# value is in exactly the format the service writes. The WAL is checkpointed into
# tasks.db, so copying that one file copies the database.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

binary="$1" dir="$2" n="$3"
mkdir -p "$dir"
port="$(free_port)"
PORT="$port" HOST=127.0.0.1 DATABASE_URL="sqlite://$dir/tasks.db" LOG_LEVEL=warn "$binary" serve >"$dir/seed.log" 2>&1 &
pid=$!
trap 'kill "$pid" 2>/dev/null || true' EXIT
wait_http "http://127.0.0.1:$port/health" 30 || { log "no 200 from http://127.0.0.1:$port/health within 30 s"; exit 1; }
curl -sf -o /dev/null -H 'Content-Type: application/json' -d '{"title":"task 1"}' "http://127.0.0.1:$port/api/tasks"
kill "$pid"
wait "$pid" || true
trap - EXIT

python3 - "$dir/tasks.db" "$n" <<'EOF'
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
with db:
    db.execute("""
        WITH RECURSIVE n(i) AS (SELECT 2 UNION ALL SELECT i + 1 FROM n WHERE i < ?)
        INSERT INTO tasks (title, description, status, due_date, created_at, updated_at)
        SELECT 'task ' || i,
               CASE WHEN i % 2 = 0 THEN 'seeded by bench/seed.sh, number ' || i END,
               CASE i % 3 WHEN 0 THEN 'todo' WHEN 1 THEN 'in_progress' ELSE 'done' END,
               due_date, created_at, updated_at
        FROM n, tasks WHERE tasks.id = 1""", (int(sys.argv[2]),))
count = db.execute("SELECT count(*) FROM tasks").fetchone()[0]
db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
db.close()
assert count == int(sys.argv[2]), count
EOF
rm -f "$dir/tasks.db-wal" "$dir/tasks.db-shm" "$dir/seed.log"
