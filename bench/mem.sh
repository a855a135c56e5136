#!/usr/bin/env bash
# Memory of a container (from its cgroup, v1 or v2) or of a native process; one JSON object.
# Usage: bench/mem.sh container ID|pid PID [SECONDS]
#   Without SECONDS: the values now. With SECONDS: sampled every 0.2 s, each field's maximum.
# Fields, bytes: cgroup_usage (all memory charged to the cgroup, page cache included),
#   cgroup_anon (anonymous memory: heap, stacks), cgroup_file (page cache charged to it),
#   vm_rss / rss_anon / rss_file (the process's resident set, from /proc/PID/status).
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

kind="$1" id="$2" seconds="${3:-}"
cg="" pid="$id"
if [[ "$kind" == container ]]; then
  full="$("$DOCKER" inspect -f '{{.Id}}' "$id")"
  pid="$("$DOCKER" inspect -f '{{.State.Pid}}' "$id")"
  for dir in "/sys/fs/cgroup/memory/docker/$full" "/sys/fs/cgroup/system.slice/docker-$full.scope" \
    "/sys/fs/cgroup/docker/$full"; do
    if [[ -d "$dir" ]]; then cg="$dir" && break; fi
  done
  [[ -n "$cg" ]] || { log "no memory cgroup found for container $full" && exit 1; }
fi

declare -A max=()
keep_max() { if (($2 > ${max[$1]:-0})); then max[$1]=$2; fi; }

sample() {
  local key value _unit
  if [[ -n "$cg" ]]; then
    if [[ -f "$cg/memory.usage_in_bytes" ]]; then # cgroup v1
      keep_max cgroup_usage "$(<"$cg/memory.usage_in_bytes")"
      while read -r key value; do
        case "$key" in total_rss) keep_max cgroup_anon "$value" ;; total_cache) keep_max cgroup_file "$value" ;; esac
      done <"$cg/memory.stat"
    else # cgroup v2
      keep_max cgroup_usage "$(<"$cg/memory.current")"
      while read -r key value; do
        case "$key" in anon) keep_max cgroup_anon "$value" ;; file) keep_max cgroup_file "$value" ;; esac
      done <"$cg/memory.stat"
    fi
  fi
  while read -r key value _unit; do
    case "$key" in
      VmRSS:) keep_max vm_rss $((value * 1024)) ;;
      RssAnon:) keep_max rss_anon $((value * 1024)) ;;
      RssFile:) keep_max rss_file $((value * 1024)) ;;
    esac
  done <"/proc/$pid/status"
}

if [[ -z "$seconds" ]]; then
  sample
else
  end=$((SECONDS + seconds))
  while ((SECONDS < end)) && kill -0 "$pid" 2>/dev/null; do
    sample
    sleep 0.2
  done
fi

fields=()
for key in "${!max[@]}"; do fields+=("\"$key\":${max[$key]}"); done
printf '{%s}\n' "$(IFS=,; echo "${fields[*]}")"
