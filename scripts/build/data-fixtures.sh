#!/usr/bin/env bash
# Writes the data fixtures of this release into tests/fixtures/releases/VERSION/:
# a SQLite file and a PostgreSQL plain SQL dump, each written by this commit's
# binary through its API, and the list each API answered then. Every later
# version must open them and answer the same tasks (tests/api/fixtures.rs).
# Run it once per release, at the release's commit, before the next migration
# lands; never regenerate an existing release's folder (that would hide a
# break). Needs PostgreSQL (scripts/ensure-postgres.sh starts it) and pg_dump.
# Usage: scripts/build/data-fixtures.sh VERSION [sqlite|postgres]... (default:
# both). TASKS_BIN names the release's binary (default: this tree's debug build;
# made-by.txt names this tree's commit: with TASKS_BIN, correct it if it differs).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/../.."
# shellcheck source=scripts/lib/lib.sh
source scripts/lib/lib.sh

version="${1:?usage: data-fixtures.sh VERSION [sqlite|postgres]...}"
shift
backends=("$@")
((${#backends[@]} > 0)) || backends=(sqlite postgres)
out="tests/fixtures/releases/$version"
for backend in "${backends[@]}"; do
  [[ "$backend" == sqlite || "$backend" == postgres ]] || {
    echo "unknown backend $backend: sqlite or postgres" >&2
    exit 2
  }
  [[ ! -e "$out/tasks.$backend.json" ]] || {
    echo "$out/tasks.$backend.json exists: a release's fixtures are never rewritten" >&2
    exit 2
  }
done
bin=$(service_binary)
work=$(mktemp -d)
trap 'stop_service; rm -rf "$work"' EXIT

# api METHOD PATH [JSON]: one request to the service started last; fails on an
# answer other than 2xx.
api() {
  curl -sf --noproxy '*' -X "$1" -H 'content-type: application/json' \
    ${3:+--data-binary "$3"} "$service_url$2"
}

# The same data on both backends: every field set and unset, every status,
# non-ASCII text, a deleted task (a gap in the ids) and a patched one.
fill() {
  local long
  long=$(printf 'x%.0s' {1..200})
  api POST /api/tasks '{"title":"Write the report","due_date":"2026-12-01"}' >/dev/null
  api POST /api/tasks '{"title":"Ünïcødé ✓ tâche «x»","description":"line one\nline two\ttab \"quoted\" \\ backslash"}' >/dev/null
  api POST /api/tasks '{"title":"deleted later"}' >/dev/null
  api POST /api/tasks '{"title":"started","status":"in_progress","due_date":"2027-02-28"}' >/dev/null
  api POST /api/tasks "{\"title\":\"$long\",\"status\":\"done\",\"description\":\"\"}" >/dev/null
  api POST /api/tasks '{"title":"patched later","description":"cleared by the patch","due_date":"2026-12-24"}' >/dev/null
  api DELETE /api/tasks/3 >/dev/null
  api PATCH /api/tasks/6 '{"status":"done","description":null}' >/dev/null
  api GET '/api/tasks?limit=500'
}

# serve URL LOG: starts the binary on URL (sets service_pid, service_url).
serve() {
  local port
  port=$(free_port)
  service_url="http://127.0.0.1:$port"
  HOST=127.0.0.1 PORT="$port" DATABASE_URL="$1" LOG_LEVEL=warn "$bin" >"$2" 2>&1 &
  service_pid=$!
  wait_http "$service_url/health" 10 || {
    cat "$2" >&2
    exit 1
  }
}

sqlite_fixture() {
  serve "sqlite://$work/tasks.db" "$work/sqlite.log"
  fill >"$out/tasks.sqlite.json"
  stop_service
  # The last connection's close checkpoints the WAL into the file: the file
  # alone is the database.
  [[ ! -s "$work/tasks.db-wal" ]] || {
    echo "the WAL was not checkpointed at shutdown" >&2
    exit 1
  }
  cp "$work/tasks.db" "$out/tasks.sqlite"
  echo "sqlite: release $version, commit $(git rev-parse --short=12 HEAD)" >>"$out/made-by.txt"
}

postgres_fixture() {
  local admin pg_bin db url
  admin=$(scripts/ensure-postgres.sh)
  pg_bin=$(dirname "$(find /usr/lib/postgresql -path '*/bin/pg_dump' | sort -V | tail -n 1)")
  db="tasks_fixture_$$"
  "$pg_bin/psql" -X -q -d "$admin" -c "CREATE DATABASE $db"
  url="${admin%/*}/$db"
  serve "$url" "$work/postgres.log"
  fill >"$out/tasks.postgres.json"
  stop_service
  # Plain SQL, no owner or grants: it restores with psql into any database.
  "$pg_bin/pg_dump" --no-owner --no-privileges -d "$url" -f "$out/tasks.postgres.sql"
  "$pg_bin/psql" -X -q -d "$admin" -c "DROP DATABASE $db"
  echo "postgres: release $version, commit $(git rev-parse --short=12 HEAD), $("$pg_bin/pg_dump" --version)" >>"$out/made-by.txt"
}

mkdir -p "$out"
for backend in "${backends[@]}"; do
  "${backend}_fixture"
done
ls -l "$out"
