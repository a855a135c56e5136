#!/usr/bin/env bash
# The service smoke test, run on a built binary: start it on a fresh SQLite file,
# GET /health, create a task, list it back, stop it with SIGTERM (exit 0 within
# 10 s), and check it is a static x86-64 ELF (what both images ship).
# Usage: scripts/test/smoke-binary.sh BINARY
#        scripts/test/smoke-binary.sh --image IMAGE   (the image's /bin/tasks-backend)
# Used on the compat image's binary and on the one crane builds
# (scripts/test/nix-build.sh), so both pass the same test.
set -euo pipefail

# shellcheck source=scripts/lib/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib/lib.sh"

usage() {
  echo "usage: scripts/test/smoke-binary.sh BINARY | --image IMAGE" >&2
  exit 2
}
work="$(mktemp -d "${TMPDIR:-/tmp}/tasks-smoke.XXXXXX")"
container="smoke-binary-$$"
cleanup() {
  stop_service
  [[ -z "${DOCKER:-}" ]] || "$DOCKER" rm -f "$container" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

case "${1:-}" in
  --image)
    [[ $# -eq 2 ]] || usage
    ensure_docker
    # The image has no shell: the binary is copied out of a created container.
    "$DOCKER" create --name "$container" "$2" >/dev/null
    "$DOCKER" cp -L "$container:/bin/tasks-backend" "$work/tasks-backend"
    bin="$work/tasks-backend"
    what="$2:/bin/tasks-backend"
    ;;
  '' | -*) usage ;;
  *)
    [[ $# -eq 1 ]] || usage
    bin="$1"
    what="$1"
    ;;
esac

# elf_kind FILE: "x86-64 static" for a static (or static-pie) x86-64 ELF.
elf_kind() {
  local header
  header="$(readelf -h "$1" 2>/dev/null)" || return 1
  grep -q 'Machine:.*X86-64' <<<"$header" || {
    echo "not x86-64"
    return 0
  }
  if readelf -l "$1" 2>/dev/null | grep -q 'INTERP'; then echo "x86-64 dynamic"; else echo "x86-64 static"; fi
}

kind="$(elf_kind "$bin" || echo "not an ELF")"
check "static x86-64 ELF" "$what: $kind" test "$kind" = "x86-64 static"
version="$("$bin" --version 2>&1 || true)"
check "--version" "$version" grep -qx "tasks-backend $(awk -F'"' '/^version = / { print $2; exit }' "$TB_ROOT/Cargo.toml")" <<<"$version"

if ! start_service "$bin" "$work"; then
  result fail "starts and answers /health"
  summary
  exit 1
fi
health="$(curl -s --noproxy '*' --max-time 5 "$service_url/health")"
check "GET /health" "$health" test "$health" = '{"status":"healthy"}'

created="$(curl -s --noproxy '*' --max-time 5 -w '\n%{http_code}' -H 'content-type: application/json' \
  -d '{"title":"smoke test"}' "$service_url/api/tasks")"
check "POST /api/tasks: 201" "$(tail -n 1 <<<"$created")" test "$(tail -n 1 <<<"$created")" = 201
id="$(head -n 1 <<<"$created" | jq -r '.id // empty' 2>/dev/null || true)"
listed="$(curl -s --noproxy '*' --max-time 5 "$service_url/api/tasks")"
found="$(jq -r --arg id "$id" '[.items[] | select((.id | tostring) == $id and .title == "smoke test")] | length' <<<"$listed" 2>/dev/null || echo 0)"
check "GET /api/tasks lists the new task" "task ${id:-?}: found $found time(s)" test "$found" = 1

kill -TERM "$service_pid"
status=0
stopped=0
for ((i = 0; i < 50; i++)); do
  if ! kill -0 "$service_pid" 2>/dev/null; then
    stopped=1
    break
  fi
  sleep 0.2
done
if ((stopped)); then wait "$service_pid" || status=$?; else status=timeout; fi
service_pid=""
check "SIGTERM: exits 0 within 10 s" "exit status $status" test "$status" = 0
check "log: no 5xx, no panic" "$work/server.log" service_log_clean "$work"
summary
