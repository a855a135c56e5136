#!/usr/bin/env bash
# A real Prometheus (Debian's `prometheus` package) scrapes IMAGE's /metrics every
# second while a known load is sent: N successes, M requests shed past
# MAX_IN_FLIGHT_REQUESTS=1 (a stalled upload holds the one permit, then gets its
# 408), K not found on made-up paths. Prometheus' HTTP API must then answer exactly
# those counts under their labels and reasons, no made-up path may be a series,
# and the histogram's count (and its +Inf bucket) must equal the requests sent.
# Prometheus and the container log to files in a work directory and are stopped
# at the end. Usage: scripts/test/prometheus.sh IMAGE
# Ends with "N passed, M failed, K skipped".
set -euo pipefail

if [[ $# -ne 1 ]]; then
  echo "usage: $0 IMAGE" >&2
  exit 64
fi
image="$1"
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=scripts/lib/lib.sh
source "$here/../lib/lib.sh"
ensure_docker
# Without recommends: prometheus-node-exporter is not needed here.
command -v prometheus >/dev/null 2>&1 || apt_install --no-install-recommends prometheus

successes=7 shed=5 not_found=4
name="tbprom-$$"
work="$(mktemp -d "${TMPDIR:-/tmp}/tasks-backend-prometheus.XXXXXX")"
prometheus_pid=""
finish() {
  if [[ -n "$prometheus_pid" ]]; then
    kill "$prometheus_pid" 2>/dev/null || true
    wait "$prometheus_pid" 2>/dev/null || true
  fi
  end_run "$name" "$work"
}
trap finish EXIT

dk run -d --name "$name-app" -p 127.0.0.1::8000 "${HARDENED_RUN[@]}" \
  -v "$name-data:/app/data" -e MAX_IN_FLIGHT_REQUESTS=1 -e BODY_READ_TIMEOUT_SECS=5 \
  "$image" >/dev/null
if ! wait_container_http "$name-app" 8000 30 /metrics; then
  result fail "the container serves /metrics" "$(dk logs --tail 5 "$name-app" 2>&1 | tr '\n' ' ')"
  summary
fi
app="$(container_addr "$name-app" 8000)"
base="http://$app"

prom_port=$(free_port)
prom="http://127.0.0.1:$prom_port"
cat >"$work/prometheus.yml" <<EOF
global:
  scrape_interval: 1s
  scrape_timeout: 1s
scrape_configs:
  - job_name: tasks-backend
    static_configs:
      - targets: ["$app"]
EOF
prometheus --config.file="$work/prometheus.yml" --storage.tsdb.path="$work/data" \
  --web.listen-address="127.0.0.1:$prom_port" >"$work/prometheus.log" 2>&1 &
prometheus_pid=$!

# query PROMQL: the instant query's one value, "none" when it returns no series,
# "many" when it returns several.
query() {
  curl -s --noproxy '*' --max-time 5 "$prom/api/v1/query" --data-urlencode "query=$1" |
    python3 -c '
import json, sys
result = json.load(sys.stdin)["data"]["result"]
print("none" if not result else "many" if len(result) > 1 else result[0]["value"][1])'
}
scraping() { [[ "$(query 'up{job="tasks-backend"}' 2>/dev/null)" == 1 ]]; }
check "Prometheus $(prometheus --version 2>&1 | awk 'NR == 1 {print $3}') scrapes the container" \
  "up == 1 within 30 s" wait_for 30 scraping

# The load. A stalled upload holds the only permit: a POST whose body never ends.
holding() { curl -s --noproxy '*' --max-time 5 "$base/metrics" | grep -qx 'tasks_backend_requests_in_flight 1'; }
curl_code() { curl -s --noproxy '*' --max-time 10 -o /dev/null -w '%{http_code}' "$@"; }
load() {
  local id i code
  id=$(curl -s --noproxy '*' --max-time 10 -H 'content-type: application/json' \
    -d '{"title":"scraped"}' "$base/api/tasks" | python3 -c 'import json, sys; print(json.load(sys.stdin)["id"])')
  for ((i = 0; i < successes; i++)); do
    code=$(curl_code "$base/api/tasks/$id")
    [[ "$code" == 200 ]] || fail "GET /api/tasks/$id answered $code"
  done
  for ((i = 0; i < not_found; i++)); do
    code=$(curl_code "$base/no-such-$i/$RANDOM")
    [[ "$code" == 404 ]] || fail "a made-up path answered $code"
  done
  exec 3<>"/dev/tcp/${app%:*}/${app#*:}"
  printf 'POST /api/tasks HTTP/1.1\r\nhost: t\r\ncontent-type: application/json\r\ncontent-length: 40\r\n\r\n{' >&3
  wait_for 5 holding || fail "the stalled upload never held its permit"
  for ((i = 0; i < shed; i++)); do
    code=$(curl_code "$base/api/tasks/$id")
    [[ "$code" == 503 ]] || fail "request $i past the bound answered $code"
  done
  # The 408 comes within BODY_READ_TIMEOUT_SECS (5 s) plus a margin.
  read -r -t 15 line <&3 || fail "no answer to the stalled upload"
  [[ "$line" == "HTTP/1.1 408"* ]] || fail "the stalled upload got: $line"
  exec 3<&-
  note "1 created, $successes found, $not_found not found, $shed shed, 1 timed out"
}
check --errexit "the load is answered as planned" "" load

total=$((1 + successes + not_found + shed + 1))
ours='http_route=~"/api/.*|unmatched"'
all_scraped() { [[ "$(query "sum(http_server_request_duration_seconds_count{$ours})")" == "$total" ]]; }
wait_for 30 all_scraped || true

# expect NAME PROMQL WANT
expect() {
  local got
  got=$(query "$2")
  check "$1" "$2 = $got" test "$got" == "$3"
}
duration='http_server_request_duration_seconds_count'
expect "created" "$duration{http_request_method=\"POST\",http_route=\"/api/tasks\",http_response_status_code=\"201\"}" 1
expect "successes under the route pattern" "$duration{http_request_method=\"GET\",http_route=\"/api/tasks/{id}\",http_response_status_code=\"200\"}" "$successes"
expect "shed requests under 503" "$duration{http_request_method=\"GET\",http_route=\"/api/tasks/{id}\",http_response_status_code=\"503\"}" "$shed"
expect "not found under one route label" "$duration{http_request_method=\"GET\",http_route=\"unmatched\",http_response_status_code=\"404\"}" "$not_found"
expect "the stalled upload under 408" "$duration{http_request_method=\"POST\",http_route=\"/api/tasks\",http_response_status_code=\"408\"}" 1
expect "shed, by reason" 'tasks_backend_rejections_total{reason="in_flight_requests"}' "$shed"
expect "body timeouts, by reason" 'tasks_backend_rejections_total{reason="body_timeout"}' 1
expect "no made-up path is a series" 'count({__name__=~"http_.*",http_route=~".*no-such.*"})' none
expect "the histogram's count equals the requests sent" "sum($duration{$ours})" "$total"
expect "its +Inf bucket too" "sum(http_server_request_duration_seconds_bucket{$ours,le=\"+Inf\"})" "$total"
expect "ready" 'tasks_backend_ready' 1
expect "build info" 'count(tasks_backend_build_info{version!="",revision!=""})' 1

summary
