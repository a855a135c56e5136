#!/usr/bin/env bash
# What a feature costs a request: GET /api/tasks/{id} (bench/load.sh's get-task
# scenario) against the release binary with FEATURE on and off, in the same run,
# interleaved (on, off, on, off, ...) so that a machine getting busier or quieter
# touches both alike. The server runs on CPU 1 and wrk on CPU 0 (one thread, 32
# connections), LOG_LEVEL=warn so that per-request log lines do not drown the
# difference. FEATURE is one of:
#   metrics  METRICS_ENABLED=true against =false; while on, /metrics is scraped
#            every second (Prometheus' usual pace is 5 to 15 s);
#   tokens   API_TOKENS_FILE set (100 tokens in the file) against unset; every
#            request sends a read token, ignored while off.
# Writes OUT/FEATURE-cost.json and OUT/FEATURE-cost.md (bench/cost-report.py) and
# prints the cost: the median req/s with FEATURE on against the median without
# (the target: at most 5 %).
# Usage: bench/cost.sh FEATURE [--rounds N] [--seconds S] [--out DIR]
#   defaults: 3 rounds of 10 s per setting, OUT bench/results
# Env: TASKS (10000 seeded tasks), TASKS_BIN (a release binary; default: built here)
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

feature="${1:-}"
case "$feature" in
  metrics | tokens) shift ;;
  -h | --help) sed -n '2,18p' "$0" && exit 0 ;;
  *) log "the first argument is the feature, metrics or tokens; got '$feature'" && exit 2 ;;
esac
rounds=3 seconds=10 out="$bench_dir/results"
bench_args 2,18 "$@"
export TASKS="${TASKS:-10000}"
apt_tool wrk wrk
apt_tool taskset util-linux
binary="$(release_binary "${TASKS_BIN:-}")"
work="$(mktemp -d "${TMPDIR:-/tmp}/tasks-backend-$feature-cost.XXXXXX")"
server_pid="" scraper_pid=""
stop_server() {
  if [[ -n "$scraper_pid" ]]; then kill "$scraper_pid" 2>/dev/null || true; fi
  if [[ -n "$server_pid" ]]; then
    kill "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
  fi
  server_pid="" scraper_pid=""
}
trap 'stop_server; rm -rf "$work"' EXIT
"$bench_dir/seed.sh" "$binary" "$work/seed" "$TASKS"
header=""
if [[ $feature == tokens ]]; then
  for ((i = 1; i < 100; i++)); do
    "$binary" token add "other-$i" read --file "$work/tokens" >/dev/null 2>&1
  done
  header="Authorization: Bearer $("$binary" token add bench read --file "$work/tokens" 2>/dev/null)"
fi

# feature_env on|off: the settings FEATURE runs with, as NAME=VALUE words.
feature_env() {
  case "$feature:$1" in
    metrics:on) echo METRICS_ENABLED=true ;;
    metrics:off) echo METRICS_ENABLED=false ;;
    tokens:on) echo "API_TOKENS_FILE=$work/tokens" ;;
    tokens:off) echo API_TOKENS_FILE= ;;
  esac
}

# measure on|off ROUND: one wrk run, its JSON line to $work/runs.
measure() {
  local state="$1" round="$2" port url result scrapes=0
  port="$(free_port)"
  url="http://127.0.0.1:$port"
  rm -rf "$work/db" && mkdir -p "$work/db" && cp "$work/seed/tasks.db" "$work/db/"
  # shellcheck disable=SC2046 # feature_env's words are NAME=VALUE settings
  env HOST=127.0.0.1 PORT="$port" DATABASE_URL="sqlite://$work/db/tasks.db" LOG_LEVEL=warn \
    $(feature_env "$state") taskset -c 1 "$binary" serve >"$work/server.log" 2>&1 &
  server_pid=$!
  wait_http "$url/health" 30 || { log "no 200 from $url/health within 30 s" && exit 1; }
  # Warm-up: the first requests open connections and fill SQLite's page cache.
  WRK_HEADER="$header" THREADS=1 WRK_CPUS=0 "$bench_dir/load.sh" "$url" get-task 2 >/dev/null
  if [[ $feature == metrics && $state == on ]]; then
    (while curl -s --noproxy '*' -o /dev/null "$url/metrics"; do sleep 1; done) &
    scraper_pid=$!
  fi
  result="$(WRK_HEADER="$header" THREADS=1 WRK_CPUS=0 "$bench_dir/load.sh" "$url" get-task "$seconds")"
  if [[ $feature == metrics && $state == on ]]; then
    scrapes=$(curl -s --noproxy '*' "$url/metrics" |
      awk -F'[{} ]' '$1 == "http_server_request_duration_seconds_count" && /http_route="\/metrics"/ { print $NF }')
  fi
  stop_server
  # The machine is shared: its load is kept beside each figure.
  printf '{"state":"%s","round":%d,"scrapes":%s,"loadavg_after":"%s","result":%s}\n' \
    "$state" "$round" "${scrapes:-0}" "$(cut -d' ' -f1-3 /proc/loadavg)" "$result" >>"$work/runs"
}

for ((round = 1; round <= rounds; round++)); do
  log "round $round of $rounds: $feature on, then off ($seconds s each)"
  measure on "$round"
  measure off "$round"
done

mkdir -p "$out"
commit="$(git -C "$repo_dir" rev-parse --short=12 HEAD 2>/dev/null || echo unknown)"
python3 "$bench_dir/cost-report.py" "$feature" "$work/runs" "$out" "$commit" "$seconds" "$(nproc)"
