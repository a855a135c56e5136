#!/usr/bin/env bash
# Instructions per request, the service against bench/lean/, counted by valgrind's
# callgrind: a figure the machine's load and CPU steal do not move, so a change of
# a few per cent in per-request work shows (wrk's rates on a shared machine swing
# more than that). Each server runs under callgrind twice on a fresh copy of one
# seeded database (TASKS tasks), serving SMALL then LARGE sequential keep-alive
# requests of one kind; (total(LARGE) - total(SMALL)) / (LARGE - SMALL) is the
# per-request count, start-up and shutdown cancelling out. User space only, every
# thread (SQLite's worker threads too); the kernel's share (about the same for
# both, bench/lean.sh) is not counted. Kinds: GET one task, POST one task, and
# a probe (the service's /livez, the reference's static /health: the HTTP layers
# without the database). The service runs at its defaults and again with
# LOG_LEVEL=warn and with LOG_FORMAT=json, which price its log line. Writes
# OUT/instructions.md and asserts only that every answer was 2xx.
# Usage: bench/instructions.sh [--out DIR]   (default bench/results)
# Env: PROFILE (release), TASKS (10000), SMALL (200), LARGE (1200),
#      SERVICE_BIN (a service binary already built: not built here)
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# shellcheck disable=SC2034 # bench_args also parses --seconds and --rounds; unused here
rounds=1 seconds=1 out="$bench_dir/results"
bench_args 2,14 "$@"
profile="${PROFILE:-release}" tasks="${TASKS:-10000}" small="${SMALL:-200}" large="${LARGE:-1200}"
apt_tool valgrind valgrind
service_and_lean "$profile"
work="$(mktemp -d "${TMPDIR:-/tmp}/tasks-backend-instructions.XXXXXX")"
trap 'stop_server; rm -rf "$work"' EXIT
"$bench_dir/seed.sh" "$service" "$work/seed" "$tasks"

# count SERVER KIND N: the server's total instructions for N requests of KIND.
count() {
  local server="$1" kind="$2" n="$3" port binary="$service" path=/livez env=()
  case "$server" in
    lean) binary="$lean" path=/health ;;
    warn) env=(LOG_LEVEL=warn) ;;
    json) env=(LOG_FORMAT=json) ;;
  esac
  port="$(free_port)"
  rm -rf "$work/db" && mkdir -p "$work/db" && cp "$work/seed/tasks.db" "$work/db/"
  env "${env[@]}" HOST=127.0.0.1 PORT="$port" DATABASE_URL="sqlite://$work/db/tasks.db" \
    valgrind --tool=callgrind --callgrind-out-file="$work/callgrind.out" "$binary" serve \
    >"$work/server.log" 2>&1 &
  server_pid=$!
  # Under valgrind start-up takes seconds.
  wait_http "http://127.0.0.1:$port/health" 120 || { log "no 200 from $binary under valgrind" && exit 1; }
  python3 "$bench_dir/sequential.py" "$port" "$kind" "$n" "$tasks" "$path"
  stop_server
  grep -o 'Collected : [0-9]*' "$work/server.log" | awk '{print $3}'
}

rows=()
for kind in get post path; do
  declare -A per=()
  for server in service warn json lean; do
    a="$(count "$server" "$kind" "$small")"
    b="$(count "$server" "$kind" "$large")"
    per[$server]=$(((b - a) / (large - small)))
    log "$kind $server: ${per[$server]} instructions per request"
  done
  case "$kind" in
    get) label='GET /api/tasks/{id}' ;;
    post) label='POST /api/tasks' ;;
    path) label='probe: /livez (reference: a static /health)' ;;
  esac
  rows+=("| $label | ${per[service]} | ${per[warn]} | ${per[json]} | ${per[lean]} | $(awk -v s="${per[service]}" -v l="${per[lean]}" 'BEGIN{printf "%.2f", s / l}') |")
  unset per
done

mkdir -p "$out"
{
  printf '# Instructions per request (%s, commit %s, %s build)\n\n' \
    "$(date -u +%Y-%m-%dT%H:%MZ)" "$(git -C "$repo_dir" rev-parse --short=12 HEAD)" "$profile"
  printf 'valgrind callgrind, user space, every thread; (count for %d requests - count for %d) / %d;\n' "$large" "$small" "$((large - small))"
  printf 'one keep-alive connection, sequential requests, %d seeded tasks, SQLite. Lower is better.\n\n' "$tasks"
  echo '| request | service | service, LOG_LEVEL=warn | service, LOG_FORMAT=json | lean reference | service / reference |'
  echo '| --- | --- | --- | --- | --- | --- |'
  printf '%s\n' "${rows[@]}"
} >"$out/instructions.md"
cat "$out/instructions.md"
