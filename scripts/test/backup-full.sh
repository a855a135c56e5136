#!/usr/bin/env bash
# `tasks-backend backup DEST` onto a full volume, while the server serves: DEST
# on a 256 KiB tmpfs, the database about 1 MB. The command must exit 1 with one
# clear line, leave nothing on the volume, and leave the live database as it was
# (PRAGMA integrity_check ok, the same tasks, still writable).
# Needs root (mount); as another user it prints SKIP and exits 77.
# Usage: scripts/test/backup-full.sh   (TASKS_BIN: the binary; default the debug build)
set -euo pipefail

# shellcheck source=scripts/lib/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib/lib.sh"

if [[ $(id -u) -ne 0 ]]; then
  echo "SKIP backup onto a full volume: mounting a tmpfs needs root"
  exit "$TB_EXIT_SKIP"
fi
bin=$(service_binary)
work="$(mktemp -d "${TMPDIR:-/tmp}/tasks-backup-full.XXXXXX")"
full="$work/full"
cleanup() {
  stop_service
  mountpoint -q "$full" && umount "$full"
  rm -rf "$work"
}
trap cleanup EXIT
start_service "$bin" "$work"
mkdir "$full"
mount -t tmpfs -o size=256k tmpfs "$full"

description=$(printf 'x%.0s' {1..3000})
for i in {1..300}; do
  curl -sf --noproxy '*' -o /dev/null -H 'content-type: application/json' \
    --data-binary "{\"title\":\"task $i\",\"description\":\"$description\"}" "$service_url/api/tasks"
done

# total: the number of tasks the API answers.
total() { curl -sf --noproxy '*' "$service_url/api/tasks?limit=1" | python3 -c 'import json,sys; print(json.load(sys.stdin)["total"])'; }
# integrity: the live file as SQLite sees it, read-only.
integrity() {
  python3 -c 'import sqlite3,sys; print(sqlite3.connect(f"file:{sys.argv[1]}?mode=ro", uri=True).execute("PRAGMA integrity_check").fetchone()[0])' "$work/tasks.db"
}
before=$(total)

attempt() {
  local status=0
  DATABASE_URL="sqlite://$work/tasks.db" "$bin" backup "$full/copy.db" >"$work/backup.out" 2>"$work/backup.err" || status=$?
  ((status == 1)) || fail "exit $status, expected 1: $(cat "$work/backup.err")"
  [[ $(wc -l <"$work/backup.err") -eq 1 ]] || fail "not one line: $(cat "$work/backup.err")"
  grep -q "backup to $full/copy.db failed, nothing written" "$work/backup.err" || fail "unclear: $(cat "$work/backup.err")"
  grep -qi "full" "$work/backup.err" || fail "does not say the disk is full: $(cat "$work/backup.err")"
  note "$(cat "$work/backup.err")"
}
left_nothing() {
  local left
  left=$(find "$full" -mindepth 1 | wc -l)
  ((left == 0)) || fail "$left files left on the full volume"
  note "0 files left"
}
live_untouched() {
  local verdict after code
  verdict=$(integrity)
  [[ "$verdict" == ok ]] || fail "integrity_check: $verdict"
  after=$(total)
  ((after == before)) || fail "$after tasks, $before before"
  code=$(http_code "$service_url/api/tasks" -X POST -H 'content-type: application/json' --data-binary '{"title":"after"}')
  [[ "$code" == 201 ]] || fail "a create after the backup answered $code"
  note "integrity ok, $after tasks as before, still writable"
}

check --errexit "backup onto a full volume exits 1 with one clear line" "" attempt
check --errexit "nothing left on the full volume" "" left_nothing
check --errexit "the live database is untouched" "" live_untouched
summary
