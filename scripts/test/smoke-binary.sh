#!/usr/bin/env bash
# The service smoke test, run on a built binary: start it on a fresh SQLite file,
# GET /health, create a task, list it back, stop it with SIGTERM (exit 0 within
# 10 s), and check it is a static ELF of the expected machine (what both images
# ship).
# Usage: scripts/test/smoke-binary.sh [--arch ARCH] BINARY
#        scripts/test/smoke-binary.sh [--arch ARCH] --image IMAGE   (the image's /bin/tasks-backend)
#   ARCH  amd64 (ELF machine X86-64) or arm64 (AArch64); default this machine's.
#         With --image the image's configured architecture must be ARCH too.
#         An arm64 binary runs here through qemu-user-static
#         (scripts/setup/binfmt-arm64.sh registers it).
# Used on the compat image's binary and on the one crane builds
# (scripts/test/nix-build.sh), so both pass the same test.
set -euo pipefail

# shellcheck source=scripts/lib/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib/lib.sh"

usage() {
  echo "usage: scripts/test/smoke-binary.sh [--arch amd64|arm64] BINARY | --image IMAGE" >&2
  exit 2
}
arch="$(dpkg --print-architecture)"
if [[ "${1:-}" == --arch ]]; then
  [[ $# -ge 2 ]] || usage
  arch="$2"
  shift 2
fi
case "$arch" in
  amd64) machine=X86-64 ;;
  arm64) machine=AArch64 ;;
  *) usage ;;
esac
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
    image_arch="$("$DOCKER" image inspect -f '{{.Os}}/{{.Architecture}}' "$2")"
    check "image platform" "$image_arch" test "$image_arch" = "linux/$arch"
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

# elf_kind FILE: "MACHINE static" for a static (or static-pie) ELF, MACHINE as
# readelf names it (X86-64, AArch64).
elf_kind() {
  local header
  header="$(readelf -h "$1" 2>/dev/null)" || return 1
  header="$(sed -n 's/^ *Machine: *//p' <<<"$header" | awk '{ print $NF }')"
  if readelf -l "$1" 2>/dev/null | grep -q 'INTERP'; then echo "$header dynamic"; else echo "$header static"; fi
}

kind="$(elf_kind "$bin" || echo "not an ELF")"
check "static $machine ELF" "$what: $kind" test "$kind" = "$machine static"
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
