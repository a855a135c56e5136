#!/usr/bin/env bash
# deploy/swarm/stack.yaml run for real on a one-node Swarm: 3 replicas of IMAGE on
# the PostgreSQL stand-in, behind HAProxy, with a load generator
# (scripts/test/loadgen.py: 4 workers, POST then GET, ~20 ms pause) going through the
# published port on 127.0.0.1 the whole time. Measures, prints and asserts:
#   0. requests spread over all 3 replicas (X-Replica-Id; each >= 15 % of them)
#   1. rolling update to a new tag: 0 failed requests, every replica replaced,
#      within 120 s; with --previous PREVIOUS, the stack starts on PREVIOUS (the
#      image of the schema version before IMAGE's, scripts/build/previous-image.sh)
#      and the update goes to IMAGE: IMAGE's first replica applies its new
#      migration while PREVIOUS's replicas serve on the same database; then
#      1b. the rollback to PREVIOUS with the new migration applied, and
#      1c. forward to IMAGE again: each 0 failed requests, every replica replaced,
#      and the list's total equal to count(*) in PostgreSQL after them;
#   2. one replica SIGKILLed: Swarm replaces it within 60 s; failed requests at
#      most 4 (the load generator's concurrency: only requests in flight on the
#      killed replica may fail);
#   3. PostgreSQL stopped 20 s then started: no replica replaced or restarted,
#      503 problem+json and nothing else during the outage, 2xx again within 30 s
#      of PostgreSQL being healthy, with no manual step;
#   4. update to a broken image (exits 2 at start): Swarm rolls back by itself
#      within 120 s, 0 failed requests;
#   and at the end, every acknowledged write (201) reads back.
# SWARM_BENCH=1 adds requests/s through HAProxy with 3 replicas then 1 (wrk;
# figures for README, not assertions: see bench/).
# Initialises a Swarm only when the engine is in none, and then leaves it; removes
# the stack, its secrets, config, network, volume and the tags it made, even on
# failure. Takes about 3-4 minutes (1b and 1c: about 1 more).
# Usage: scripts/test/swarm.sh [--previous PREVIOUS] IMAGE
# Ends with "N passed, M failed, K skipped".
set -euo pipefail

previous=""
if [[ "${1:-}" == --previous && $# -ge 2 ]]; then
  previous="$2"
  shift 2
fi
if [[ $# -ne 1 ]]; then
  echo "usage: $0 [--previous PREVIOUS] IMAGE" >&2
  exit 64
fi
image="$1"
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
# shellcheck source=scripts/lib/lib.sh
source "$here/../lib/lib.sh"
ensure_docker

stack="tbswarm$$"
svc="${stack}_tasks"
work="$(mktemp -d)"
new_tag="${image%%:*}:swarm-update-$$"
broken_tag="${image%%:*}:swarm-broken-$$"
inited=0
load_pid=""
workers=4

cleanup() {
  touch "$work/stop"
  [[ -z "$load_pid" ]] || wait "$load_pid" 2>/dev/null || true
  if "$DOCKER" stack ls --format '{{.Name}}' 2>/dev/null | grep -qx "$stack"; then
    "$DOCKER" stack rm "$stack" >/dev/null 2>&1 || true
    # The network and volume go only once the stack's containers are gone.
    wait_for 60 bash -c "[[ -z \"\$('$DOCKER' ps -aq --filter label=com.docker.stack.namespace=$stack)\" ]]" || true
  fi
  local n
  for n in $("$DOCKER" network ls -q --filter "label=com.docker.stack.namespace=$stack"); do
    wait_for 20 "$DOCKER" network rm "$n" >/dev/null 2>&1 || true
  done
  "$DOCKER" volume rm -f "${stack}_postgres-data" >/dev/null 2>&1 || true
  "$DOCKER" rmi "$new_tag" "$broken_tag" >/dev/null 2>&1 || true
  if ((inited)); then
    "$DOCKER" swarm leave --force >/dev/null 2>&1 || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT

now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", b - a }'; }
load_summary() { python3 "$here/loadgen.py" summary "$work/load.log" --since "$1" --until "$2"; }
field() { jq -r "$1" <<<"$2"; }
fieldc() { jq -c "$1" <<<"$2"; }

running_tasks() {
  "$DOCKER" service ps -q --filter desired-state=running "$svc" | sort
}
healthy_replicas() {
  "$DOCKER" ps -q --filter "label=com.docker.swarm.service.name=$svc" --filter health=healthy | wc -l
}
three_healthy() { [[ "$(healthy_replicas)" -eq 3 && "$(running_tasks | wc -l)" -eq 3 ]]; }
update_state() {
  "$DOCKER" service inspect -f '{{if .UpdateStatus}}{{.UpdateStatus.State}}{{end}}' "$svc"
}
update_state_is() { [[ "$(update_state)" == "$1" ]]; }
# The image of every running task, one a line.
task_images() {
  local t
  for t in $(running_tasks); do
    "$DOCKER" inspect -f '{{.Spec.ContainerSpec.Image}}' "$t"
  done
}

# Images: the app's, and the stand-ins for postgres and haproxy (built when
# missing, from Debian's packages).
"$here/../setup/postgres-image.sh"
"$here/../setup/haproxy-image.sh"
pg_major=$("$DOCKER" image ls --format '{{.Tag}}' tasks-backend-postgres | grep -E '^[0-9]+$' | head -n 1)
ha_version=$("$DOCKER" image ls --format '{{.Tag}}' tasks-backend-haproxy | grep -E '^[0-9]+\.[0-9]+$' | head -n 1)
export POSTGRES_IMAGE="postgres:$pg_major" HAPROXY_IMAGE="haproxy:$ha_version" TASKS_IMAGE="${previous:-$image}"
apt_tool jq jq

# The Swarm: ours only if the engine was in none.
state=$("$DOCKER" info -f '{{.Swarm.LocalNodeState}}')
if [[ "$state" == inactive ]]; then
  "$DOCKER" swarm init --advertise-addr 127.0.0.1 >/dev/null
  inited=1
  echo "swarm: initialised a one-node Swarm (left again at the end)"
elif [[ "$("$DOCKER" info -f '{{.Swarm.ControlAvailable}}')" != true ]]; then
  echo "swarm: the engine is in a Swarm ($state) but not a manager; cannot deploy" >&2
  exit 1
else
  echo "swarm: using the engine's existing Swarm (left as it is at the end)"
fi

# Secrets as files, readable inside the containers only through /run/secrets.
export TASKS_SECRETS_DIR="$work/secrets"
mkdir -m 0700 "$TASKS_SECRETS_DIR"
password=$(random_password)
printf '%s' "$password" >"$TASKS_SECRETS_DIR/postgres-password"
printf 'postgres://tasks:%s@postgres:5432/tasks' "$password" >"$TASKS_SECRETS_DIR/database-url"
chmod 0644 "$TASKS_SECRETS_DIR"/*
TASKS_PORT=$(free_port)
export TASKS_PORT
base="http://127.0.0.1:$TASKS_PORT"

start=$(now)
"$DOCKER" stack deploy --resolve-image never -c "$repo/deploy/swarm/stack.yaml" "$stack" >"$work/deploy.log" 2>&1 \
  || { cat "$work/deploy.log" >&2; exit 1; }
grep -i 'ignoring\|unsupported' "$work/deploy.log" || true
ready() { [[ "$(http_code "$base/readyz")" == 200 ]] && three_healthy; }
if wait_for 150 ready; then
  result ok "stack deployed: 3 healthy replicas behind HAProxy on 127.0.0.1:$TASKS_PORT" "$(elapsed "$start" "$(now)") s"
else
  result fail "stack deployed: 3 healthy replicas behind HAProxy" "$("$DOCKER" service ls --filter "label=com.docker.stack.namespace=$stack" --format '{{.Name}} {{.Replicas}}' | tr '\n' ' ')"
  "$DOCKER" service ps --no-trunc "$svc" | tail -n 5
  summary
  exit 1
fi

python3 "$here/loadgen.py" run "$base" "$work/load.log" --workers "$workers" --pause 0.02 \
  --max-seconds 420 --stop-file "$work/stop" &
load_pid=$!

# 0. Where requests go.
t0=$(now)
sleep 8
s=$(load_summary "$t0" "$(now)")
shares=$(jq -r '.by_replica | to_entries | map("\(.key)=\(.value)") | join(" ")' <<<"$s")
spread_ok() {
  jq -e '(.by_replica | length) == 3 and ([.by_replica[]] | min) >= 0.15 * .requests and .failed == 0' <<<"$s" >/dev/null
}
check "0. requests spread over the 3 replicas (X-Replica-Id), none failed" \
  "$(field .requests "$s") requests in 8 s: $shares" spread_ok

# update_to TAG STATE: updates the service to TAG under the running load and waits
# (up to 120 s) for the update to reach STATE, then for 3 healthy replicas. Sets t0
# and t1 (the update's start and end) and s (the load summary since t0).
update_to() {
  t0=$(now)
  "$DOCKER" service update --detach --no-resolve-image --image "$1" "$svc" >/dev/null
  wait_for 120 update_state_is "$2" || true
  t1=$(now)
  wait_for 20 three_healthy || true
  sleep 2
  s=$(load_summary "$t0" "$(now)")
}

# 1. Rolling update to a new tag.
before=$(running_tasks)
"$DOCKER" tag "$image" "$new_tag"
update_to "$new_tag" completed
after=$(running_tasks)
replaced=$(comm -12 <(echo "$before") <(echo "$after") | wc -l)
rolled_ok() {
  [[ "$(update_state)" == completed && "$replaced" -eq 0 && "$(field .failed "$s")" -eq 0 ]] \
    && [[ "$(task_images | sort -u)" == "$new_tag" ]]
}
check "1. rolling update ${previous:+from $previous }to $new_tag: every replica replaced, 0 failed requests, within 120 s" \
  "took $(elapsed "$t0" "$t1") s; state $(update_state); $(field .requests "$s") requests, $(field .failed "$s") failed $(fieldc .by_status "$s"); $replaced old tasks left" rolled_ok

# psql SQL: one value from the stack's PostgreSQL.
psql_value() {
  local pg
  pg=$("$DOCKER" ps -q --filter "label=com.docker.swarm.service.name=${stack}_postgres" | head -n 1)
  dk exec "$pg" psql -U tasks -d tasks -Atc "$1"
}
# The statuses whose kept count (task_counts, which the list's total reads)
# differs from count(*), in one statement: one snapshot, exact under the load.
count_drift() {
  psql_value "SELECT count(*) FROM (SELECT status, count(*) AS n FROM tasks GROUP BY status) c
    FULL JOIN task_counts t USING (status) WHERE coalesce(c.n, 0) <> coalesce(t.total, 0)"
}
# roll TAG NAME: a rolling update to TAG under the load, checked like step 1, and
# the kept counts against the rows afterwards (old replicas' writes included).
roll() {
  local before after replaced drift
  before=$(running_tasks)
  update_to "$1" completed
  after=$(running_tasks)
  replaced=$(comm -12 <(echo "$before") <(echo "$after") | wc -l)
  drift=$(count_drift)
  roll_ok() {
    [[ "$(update_state)" == completed && "$replaced" -eq 0 && "$(field .failed "$s")" -eq 0 ]] \
      && [[ "$(task_images | sort -u)" == "$1" && "$drift" == 0 ]]
  }
  check "$2" "took $(elapsed "$t0" "$t1") s; $(field .requests "$s") requests, $(field .failed "$s") failed $(fieldc .by_status "$s"); $replaced old tasks left; $drift statuses whose kept count is off" roll_ok "$1"
}
if [[ -n "$previous" ]]; then
  newest=$(psql_value 'SELECT max(version) FROM seaql_migrations')
  roll "$previous" "1b. rollback to $previous with $newest applied: every replica replaced, 0 failed requests"
  roll "$new_tag" "1c. forward again to $new_tag: every replica replaced, 0 failed requests"
fi

# 2. One replica SIGKILLed.
victim=$("$DOCKER" ps -q --filter "label=com.docker.swarm.service.name=$svc" | head -n 1)
t0=$(now)
"$DOCKER" kill -s KILL "$victim" >/dev/null
# Wait until Swarm noticed (the killed task is no longer running) and replaced it.
gone() { ! "$DOCKER" ps -q --no-trunc | grep -q "^$victim"; }
wait_for 10 gone || true
replaced_in_time=0
wait_for 60 three_healthy && replaced_in_time=1
t1=$(now)
sleep 2
s=$(load_summary "$t0" "$(now)")
kill_ok() { ((replaced_in_time)) && [[ "$(field .failed "$s")" -le "$workers" ]]; }
check "2. SIGKILL of one replica: replaced within 60 s, at most $workers failed requests (those in flight)" \
  "recovered (3 healthy) in $(elapsed "$t0" "$t1") s; $(field .requests "$s") requests, $(field .failed "$s") failed $(fieldc .by_status "$s")" kill_ok

# 3. PostgreSQL stopped for 20 s, then started again.
tasks_before=$(running_tasks)
containers_before=$("$DOCKER" ps -q --filter "label=com.docker.swarm.service.name=$svc" | sort)
pg_running() {
  [[ -n "$("$DOCKER" ps -q --filter "label=com.docker.swarm.service.name=${stack}_postgres")" ]]
}
"$DOCKER" service scale --detach "${stack}_postgres=0" >/dev/null
# The outage starts when the container is gone: Swarm dispatches the stop, and
# PostgreSQL writes a shutdown checkpoint first (seconds under load).
pg_gone() { ! pg_running; }
wait_for 30 pg_gone || true
t0=$(now)
sleep 20
t_back=$(now)
"$DOCKER" service scale --detach "${stack}_postgres=1" >/dev/null
pg_healthy() {
  [[ -n "$("$DOCKER" ps -q --filter "label=com.docker.swarm.service.name=${stack}_postgres" --filter health=healthy)" ]]
}
wait_for 60 pg_healthy || true
t_pg=$(now)
write_ok() {
  [[ "$(http_code "$base/api/tasks" -X POST -H 'content-type: application/json' --data '{"title":"after outage"}')" == 201 ]]
}
back_in_time=0
wait_for 30 write_ok && back_in_time=1
t_ok=$(now)
sleep 3
# The outage proper: from 2 s after the container is gone (requests in flight
# then may still have succeeded) to the start command.
during=$(load_summary "$(awk -v t="$t0" 'BEGIN { printf "%.3f", t + 2 }')" "$t_back")
after=$(load_summary "$(awk -v t="$t_ok" 'BEGIN { printf "%.3f", t + 1 }')" "$(now)")
tasks_after=$(running_tasks)
containers_after=$("$DOCKER" ps -q --filter "label=com.docker.swarm.service.name=$svc" | sort)
outage_ok() {
  ((back_in_time)) \
    && [[ "$tasks_before" == "$tasks_after" && "$containers_before" == "$containers_after" ]] \
    && jq -e '.by_status["503"] > 0 and .by_status["503"] == .requests and .non_2xx_not_problem_json == 0' <<<"$during" >/dev/null \
    && jq -e '.requests > 0 and .failed == 0' <<<"$after" >/dev/null
}
check "3. PostgreSQL down 20 s: no replica restarted, only 503 problem+json meanwhile, 2xx within 30 s of its return" \
  "during: $(fieldc .by_status "$during"), not problem+json $(field .non_2xx_not_problem_json "$during"); back to 2xx $(elapsed "$t_pg" "$t_ok") s after PostgreSQL was healthy ($(elapsed "$t_back" "$t_ok") s after its start); after: $(field .requests "$after") requests, $(field .failed "$after") failed; same tasks and containers: $([[ "$tasks_before" == "$tasks_after" && "$containers_before" == "$containers_after" ]] && echo yes || echo no)" outage_ok

# 4. Update to a broken image: PORT is not a port, so it exits 2 at start.
printf 'FROM %s\nENV PORT=not-a-port\n' "$new_tag" | DOCKER_BUILDKIT=1 "$DOCKER" build -q -t "$broken_tag" - >/dev/null
code=$("$DOCKER" run --rm "$broken_tag" >/dev/null 2>&1; echo $?)
update_to "$broken_tag" rollback_completed
spec_image=$("$DOCKER" service inspect -f '{{.Spec.TaskTemplate.ContainerSpec.Image}}' "$svc")
rollback_ok() {
  [[ "$code" == 2 && "$(update_state)" == rollback_completed && "$spec_image" == "$new_tag" ]] \
    && [[ "$(task_images | sort -u)" == "$new_tag" && "$(field .failed "$s")" -eq 0 ]]
}
check "4. broken image (exit $code at start): Swarm rolled back by itself within 120 s, 0 failed requests" \
  "state $(update_state) after $(elapsed "$t0" "$t1") s; spec back to $spec_image; $(field .requests "$s") requests, $(field .failed "$s") failed $(fieldc .by_status "$s")" rollback_ok

# Every acknowledged write reads back (through the outage and the kill).
touch "$work/stop"
wait "$load_pid" || true
load_pid=""
v=$(python3 "$here/loadgen.py" verify "$base" "$work/load.log")
total=$(load_summary 0 "$(now)")
none_lost() { jq -e '.acknowledged > 0 and (.missing | length) == 0' <<<"$v" >/dev/null; }
check "no acknowledged write lost" \
  "$(field .acknowledged "$v") tasks acknowledged (201), $(field '.missing | length' "$v") missing $(fieldc '.missing[:5]' "$v"); whole run: $(field .requests "$total") requests, $(fieldc .by_status "$total")" \
  none_lost

# Secrets: the password never in a service's spec (environment) or in the logs
# of any container the stack ran (`docker logs`: `docker service logs` can hang).
leaks=0
for name in "$svc" "${stack}_postgres" "${stack}_lb"; do
  if "$DOCKER" service inspect "$name" | grep -qF "$password"; then
    leaks=$((leaks + 1))
  fi
done
for c in $("$DOCKER" ps -aq --filter "label=com.docker.stack.namespace=$stack"); do
  if timeout 20 "$DOCKER" logs "$c" 2>&1 | grep -qF "$password"; then
    leaks=$((leaks + 1))
  fi
done
check "the password is in no service spec, environment or container log" "$leaks specs or logs leak it" test "$leaks" -eq 0

if [[ "${SWARM_BENCH:-0}" == 1 ]]; then
  apt_tool wrk wrk
  id=$(curl -sf --noproxy '*' -H 'content-type: application/json' --data '{"title":"bench"}' "$base/api/tasks" | jq -r .id)
  for n in 3 1; do
    "$DOCKER" service scale "$svc=$n" >/dev/null 2>&1
    sleep 4
    wrk -t 2 -c 16 -d 10s "$base/api/tasks/$id" >"$work/wrk-$n.txt"
    echo "bench: $n replica(s): $(awk '/Requests\/sec/ { print $2 }' "$work/wrk-$n.txt") req/s GET /api/tasks/ID through HAProxy (non-2xx: $(awk '/Non-2xx/ { n = $NF } END { print n + 0 }' "$work/wrk-$n.txt"))"
  done
fi

summary
