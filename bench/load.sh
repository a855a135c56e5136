#!/usr/bin/env bash
# One wrk run against one target; prints one JSON object.
# Usage: bench/load.sh BASE_URL SCENARIO SECONDS
#   SCENARIO: health | get-task | list | post | get (GET of BENCH_PATH)
# Env: CONNS (32), THREADS (2), WRK_CPUS (taskset CPU list for wrk; unset: any),
#      TASKS (ids for get-task: 1..TASKS, 10000), WRK_HEADER (one more request
#      header, `Name: value`, such as a bearer token)
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

base="$1" scenario="$2" seconds="$3"
conns="${CONNS:-32}" threads="${THREADS:-2}"
case "$scenario" in
  health) path=/health script=plain.lua ;;
  get-task) path='/api/tasks/{id}' script=get-task.lua ;; # get-task.lua makes the paths
  list) path='/api/tasks?limit=100' script=plain.lua ;;
  post) path=/api/tasks script=post.lua ;;
  get) path="${BENCH_PATH:?get needs BENCH_PATH}" script=plain.lua ;;
  *) log "unknown scenario $scenario" && exit 2 ;;
esac

cmd=(wrk -t "$threads" -c "$conns" -d "${seconds}s" --timeout 5s -s "$bench_dir/lua/$script" "$base${path%%\{id\}}")
if [[ -n "${WRK_HEADER:-}" ]]; then cmd+=(-H "$WRK_HEADER"); fi
if [[ -n "${WRK_CPUS:-}" ]]; then cmd=(taskset -c "$WRK_CPUS" "${cmd[@]}"); fi
out="$(BENCH_LUA="$bench_dir/lua" "${cmd[@]}")"
result="$(grep '^{' <<<"$out" | tail -n 1)"
if [[ -z "$result" ]]; then
  log "wrk gave no report: $out"
  exit 1
fi
printf '{"scenario":"%s","path":"%s","connections":%d,"threads":%d,"wrk_cpus":"%s","wrk":%s}\n' \
  "$scenario" "$path" "$conns" "$threads" "${WRK_CPUS:-any}" "$result"
