#!/usr/bin/env bash
# The benchmarks of issue 5, end to end: builds what it needs, measures, and writes
# OUT/latest.json and OUT/latest.md.
# Usage: bench/run.sh [--smoke] [--no-cold-build] [--seconds N] [--starts N] [--out DIR]
#   (full)           10 s load runs after a 2 s warm-up, 10 starts, cold build included;
#                    OUT defaults to bench/results
#   --smoke          1 s load runs, no warm-up, 2 starts, no cold build: every other code
#                    path still runs; OUT defaults to ${TMPDIR:-/tmp}/tasks-backend-bench-smoke
#   --no-cold-build  skip the `docker build --no-cache` (about 4-8 minutes here)
# Env: DOCKER (client), BENCH_IMAGE (tasks-backend:compat), TASKS (10000),
#      BENCH_QUIET_WAIT (full mode: seconds to wait for other rustc/cargo to finish, 900)
# Load runs: wrk, 32 connections, loopback only. Every server and container started
# here is stopped by the EXIT trap.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

mode=full seconds=10 warmup=2 starts=10 cold=1 out=""
while (($#)); do
  case "$1" in
    --smoke) mode=smoke seconds=1 warmup=0 starts=2 cold=0 ;;
    --no-cold-build) cold=0 ;;
    --seconds) seconds="$2" && shift ;;
    --starts) starts="$2" && shift ;;
    --out) out="$2" && shift ;;
    -h | --help) sed -n '2,13p' "${BASH_SOURCE[0]}" && exit 0 ;;
    *) log "unknown argument $1" && exit 2 ;;
  esac
  shift
done
if [[ -z "$out" ]]; then
  if [[ $mode == smoke ]]; then out="${TMPDIR:-/tmp}/tasks-backend-bench-smoke"; else out="$bench_dir/results"; fi
fi
image="${BENCH_IMAGE:-tasks-backend:compat}"
export TASKS="${TASKS:-10000}"
run_id="tasks-backend-bench=$$"
export BENCH_LABEL="$run_id"
work="$(mktemp -d "${TMPDIR:-/tmp}/tasks-backend-bench.XXXXXX")"
parts="$work/parts"
mkdir -p "$parts" "$out"
native_pid=""
started=$SECONDS

cleanup() {
  if [[ -n "$native_pid" ]]; then kill "$native_pid" 2>/dev/null || true; fi
  local ids
  ids="$("$DOCKER" ps -aq --filter "label=$run_id" 2>/dev/null || true)"
  if [[ -n "$ids" ]]; then
    # shellcheck disable=SC2086 # one id per word
    "$DOCKER" rm -f $ids >/dev/null 2>&1 || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# Other engineers' compilers share the two cores: record them (and the top CPU users
# over one second), and in full mode wait (up to BENCH_QUIET_WAIT s) until no compiler
# runs before a measured phase.
clean() { tr -d '"\134'; } # no quotes or backslashes inside JSON strings
busy() { ps -eo pid=,comm=,args= | awk '$2 ~ /^(rustc|cargo|cc1|cc|ld|collect2)$/ { print substr($0, 1, 70) }' | clean | paste -sd ';' -; }
top_cpu() { top -bn2 -d1 -w 120 | awk '/^ *PID/ { n++; next } n == 2 && $9 > 5 { printf "%s %s%%;", $12, $9 }' | clean; }
quiet() {
  local waited=0 limit="${BENCH_QUIET_WAIT:-900}"
  while [[ $mode == full && -n "$(busy)" && $waited -lt $limit ]]; do
    ((waited == 0)) && log "waiting for a quiet machine: $(busy)"
    sleep 10
    waited=$((waited + 10))
  done
  printf '{"loadavg":"%s","compilers":"%s","top_cpu":"%s","waited_s":%d}' \
    "$(cut -d' ' -f1-3 /proc/loadavg)" "$(busy)" "$(top_cpu)" "$waited"
}

# --- tools and builds -------------------------------------------------------------
apt_tool wrk wrk
apt_tool curl curl
apt_tool taskset util-linux
apt_tool python3 python3
log "building the release binary"
(cd "$repo_dir" && cargo build --release --locked)
binary="$repo_dir/target/release/tasks-backend"
"$repo_dir/scripts/setup/ensure-docker.sh" >&2
docker_client
log "building $image"
"$repo_dir/scripts/build/compat-image.sh" "$image" >"$work/build-image.log" 2>&1 \
  || { tail -n 30 "$work/build-image.log" >&2 && exit 1; }

# --- machine, image, builds ---------------------------------------------------------
commit="$(git -C "$repo_dir" rev-parse HEAD 2>/dev/null || echo unknown)"
if [[ -n "$(git -C "$repo_dir" status --porcelain -- . ':!bench/results' 2>/dev/null)" ]]; then commit="$commit-dirty"; fi
python3 - "$commit" "$mode" "$seconds" "$warmup" "$starts" >"$parts/machine.json" <<EOF
import json, os, platform, re, sys
cpu = re.search(r"model name\s*:\s*(.*)", open("/proc/cpuinfo").read())
mem = int(re.search(r"MemTotal:\s*(\d+)", open("/proc/meminfo").read()).group(1)) * 1024
osr = dict(l.split("=", 1) for l in open("/etc/os-release").read().split("\n") if "=" in l)
print(json.dumps({
    "commit": sys.argv[1], "mode": sys.argv[2], "seconds": int(sys.argv[3]),
    "warmup_s": int(sys.argv[4]), "starts": int(sys.argv[5]), "tasks": int("$TASKS"),
    "cores": os.cpu_count(), "memory_bytes": mem, "cpu": cpu.group(1) if cpu else platform.processor(),
    "kernel": platform.release(), "os": osr.get("PRETTY_NAME", "").strip('"'),
    "engine": "$("$DOCKER" version -f '{{.Server.Version}}')",
    "cgroup": "$([[ -f /sys/fs/cgroup/cgroup.controllers ]] && echo v2 || echo v1)",
    "logging_driver": "$("$DOCKER" info -f '{{.LoggingDriver}}')",
    "wrk": "$(wrk -v 2>&1 | head -n 1 | cut -d' ' -f1-2)",
    "rustc": "$(rustc -V)",
}))
EOF
"$bench_dir/image.sh" "$image" >"$parts/image.json"

if ((cold)); then
  log "cold build (docker build --no-cache), several minutes"
  q="$(quiet)"
  result="$("$bench_dir/build-time.sh" cold)"
  echo "${result%\}},\"machine\":$q}" >"$parts/build-cold.json"
fi
log "source-only rebuild"
q="$(quiet)"
result="$("$bench_dir/build-time.sh" rebuild)"
echo "${result%\}},\"machine\":$q}" >"$parts/build-rebuild.json"

# --- start --------------------------------------------------------------------------
q="$(quiet)"
log "start time: $starts starts on a published port (and to healthy), $starts on the host network"
"$bench_dir/start-time.py" "$image" published "$starts" --healthy >"$parts/start-published.json"
"$bench_dir/start-time.py" "$image" host "$starts" >"$parts/start-host.json"
echo "$q" >"$parts/start-machine.json"

# --- load ---------------------------------------------------------------------------
"$bench_dir/seed.sh" "$binary" "$work/seed" "$TASKS"

# run_target NAME KIND(native|host|published) LOG_LEVEL PINNED(0|1)
run_target() {
  local name="$1" kind="$2" level="$3" pinned="$4"
  local db="$work/db-$name" port mem_kind mem_id url cid="" logfile scenario q
  mkdir -p "$db" && cp "$work/seed/tasks.db" "$db/"
  port="$(free_port)"
  url="http://127.0.0.1:$port"
  local wrk_env=(THREADS=2)
  if ((pinned)); then wrk_env=(THREADS=1 WRK_CPUS=0); fi
  q="$(quiet)"
  log "target $name: $kind, LOG_LEVEL=$level, pinned=$pinned, $url"
  if [[ $kind == native ]]; then
    local pin=()
    if ((pinned)); then pin=(taskset -c 1); fi
    logfile="$work/$name.log"
    HOST=127.0.0.1 PORT="$port" DATABASE_URL="sqlite://$db/tasks.db" LOG_LEVEL="$level" \
      "${pin[@]}" "$binary" serve >"$logfile" 2>&1 &
    native_pid=$!
    mem_kind=pid mem_id=$native_pid
  else
    chown -R 10001:10001 "$db"
    local args=(run -d --label "$run_id" -v "$db:/app/data" -e "LOG_LEVEL=$level")
    if [[ $kind == host ]]; then
      args+=(--network host -e HOST=127.0.0.1 -e "PORT=$port")
    else
      args+=(-p "127.0.0.1:$port:8000")
    fi
    if ((pinned)); then args+=(--cpuset-cpus 1); fi
    cid="$("$DOCKER" "${args[@]}" "$image")"
    logfile="$("$DOCKER" inspect -f '{{.LogPath}}' "$cid")"
    mem_kind=container mem_id=$cid
  fi
  wait_http "$url/health" 30 || { log "no 200 from $url/health within 30 s"; exit 1; }
  sleep 1
  local idle
  idle="$("$bench_dir/mem.sh" "$mem_kind" "$mem_id")"
  {
    printf '{"name":"%s","kind":"%s","log_level":"%s","pinned":%s,"machine":%s,"memory_idle":%s,"load":{' \
      "$name" "$kind" "$level" "$([[ $pinned == 1 ]] && echo true || echo false)" "$q" "$idle"
    local first=1
    for scenario in health get-task list post; do
      if ((warmup > 0)); then env "${wrk_env[@]}" "$bench_dir/load.sh" "$url" "$scenario" "$warmup" >/dev/null; fi
      "$bench_dir/mem.sh" "$mem_kind" "$mem_id" "$seconds" >"$work/mem-$scenario.json" &
      local sampler=$!
      local result
      result="$(env "${wrk_env[@]}" "$bench_dir/load.sh" "$url" "$scenario" "$seconds")"
      wait "$sampler"
      ((first)) || printf ','
      first=0
      printf '"%s":%s' "$scenario" "${result%\}},\"memory_peak\":$(<"$work/mem-$scenario.json")}"
    done
    sleep 1
    printf '},"memory_after_load":%s,"log_bytes":%d}\n' "$("$bench_dir/mem.sh" "$mem_kind" "$mem_id")" "$(stat -c %s "$logfile")"
  } >"$parts/target-$name.json"
  if [[ $kind == native ]]; then
    kill "$native_pid"
    wait "$native_pid" || true
    native_pid=""
  else
    "$DOCKER" rm -f "$cid" >/dev/null
  fi
}

run_target native native info 0
run_target host host info 0
run_target published published info 0
run_target host-warn host warn 0
run_target native-warn native warn 0
run_target host-pinned host info 1
run_target native-pinned native info 1

# --- report -------------------------------------------------------------------------
echo "{\"seconds\":$((SECONDS - started))}" >"$parts/duration.json"
python3 "$bench_dir/report.py" "$parts" "$out"
log "done in $((SECONDS - started)) s: $out/latest.json, $out/latest.md"
