#!/usr/bin/env bash
# Container faults for any image of the service (issue 6):
#   1. SIGTERM (docker stop) under a steady stream of creates, restart on the same
#      named volume: every create that was answered 201 is there, unchanged.
#   2. The same with SIGKILL (docker kill -s KILL); the database file left by the
#      kill passes PRAGMA integrity_check.
#   3. The data volume mounted read-only under an existing database, under
#      compose.yaml's restart policy (on-failure:3): every start exits 2 with one
#      line naming DATABASE_URL, Docker gives up after exactly 3 restarts (no
#      loop), the database file intact.
#   4. The data volume full (a 1 MiB tmpfs volume): writes are refused with a 503
#      problem+json, reads and /health (200) go on, nothing acknowledged is lost,
#      the database file passes PRAGMA integrity_check.
# (An unwritable bind mount, setuid files, world-writable paths and secrets in
# layers are checks 10, 14, 15 and 16 of scripts/test/image.sh.)
# Containers run with the hardened profile of compose.yaml and are reached only on
# 127.0.0.1. Usage: scripts/test/faults.sh IMAGE. Ends with "N passed, M failed, K skipped".
set -euo pipefail

if [[ $# -ne 1 ]]; then
  echo "usage: $0 IMAGE" >&2
  exit 64
fi
image="$1"
# shellcheck source=scripts/lib/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib/lib.sh"
ensure_docker
apt_tool jq jq
run_id="tbfault-$$-$RANDOM"
work="$(mktemp -d)"
# compose.yaml's policy: a failing start is retried three times, not forever.
restart_policy=on-failure:3
restarts=3

trap 'end_run "$run_id" "$work"' EXIT

# start NAME VOLUME-SPEC: a detached hardened container, port 8000 on 127.0.0.1
start() {
  dk run -d --name "$run_id-$1" "${HARDENED_RUN[@]}" -v "$2" -p 127.0.0.1::8000 "$image" >/dev/null
}
base() { echo "http://$(container_addr "$run_id-$1" 8000)"; }
wait_health() {
  wait_container_http "$run_id-$1" 8000 15 && return 0
  echo "container $1 not healthy: $(dk logs "$run_id-$1" 2>&1 | tail -n 3)" >&2
  return 1
}
state() { dk inspect -f "$2" "$run_id-$1"; }

# writer N URL: creates tasks until 400 are done, 3 in a row fail, or 20 s pass;
# logs "id<TAB>title" for each create answered 201.
writer() {
  local n=0 fails=0 code title end=$((SECONDS + 20))
  while ((n < 400 && fails < 3 && SECONDS < end)); do
    n=$((n + 1))
    title="writer $1 task $n"
    code=$(curl -s --noproxy '*' --max-time 5 -o "$work/body.$1" -w '%{http_code}' \
      -H 'content-type: application/json' --data "{\"title\":\"$title\"}" "$2/api/tasks") || code=000
    if [[ "$code" == 201 ]]; then
      printf '%s\t%s\n' "$(jq -r .id "$work/body.$1")" "$title" >>"$work/acked.$1"
      fails=0
    else
      fails=$((fails + 1))
    fi
  done
}

# stored URL: every task as "id<TAB>title<TAB>status", paging through the API
stored() {
  local offset=0 page
  while ((offset < 100000)); do
    page=$(curl -sf --noproxy '*' --max-time 10 "$1/api/tasks?limit=500&offset=$offset")
    [[ $(jq '.items | length' <<<"$page") -gt 0 ]] || return 0
    jq -r '.items[] | "\(.id)\t\(.title)\t\(.status)"' <<<"$page"
    offset=$((offset + 500))
  done
}

# compare ACKED STORED: prints "missing changed extra"
compare() {
  awk -F'\t' 'NR == FNR { have[$1] = $2 "\t" $3; n++; next }
    { seen[$1] = 1; if (!($1 in have)) m++; else if (have[$1] != $2 "\ttodo") c++ }
    END { printf "%d %d %d\n", m, c, n - length(seen) }' "$2" "$1"
}

# integrity DIR: PRAGMA integrity_check and the row count of DIR/tasks.db (a copy)
integrity() {
  python3 - "$1/tasks.db" <<'EOF'
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
print(db.execute("PRAGMA integrity_check").fetchone()[0], db.execute("SELECT count(*) FROM tasks").fetchone()[0])
EOF
}

# kill_under_load NAME SIGNAL EXPECTED-EXIT
kill_under_load() {
  local name="$1" signal="$2" want="$3" url t0 took code missing changed extra i integ="" rows=""
  dk volume create "$run_id-$name" >/dev/null
  start "$name-1" "$run_id-$name:/app/data"
  wait_health "$name-1" || return 1
  url=$(base "$name-1")
  rm -f "$work"/acked.*
  for i in 1 2 3 4; do writer "$i" "$url" & done
  sleep 4
  t0=$(date +%s%N)
  if [[ "$signal" == TERM ]]; then dk stop -t 10 "$run_id-$name-1" >/dev/null; else dk kill -s KILL "$run_id-$name-1" >/dev/null; fi
  took=$((($(date +%s%N) - t0) / 1000000))
  wait
  code=$(state "$name-1" '{{.State.ExitCode}}')
  cat "$work"/acked.* >"$work/acked" 2>/dev/null || : >"$work/acked"
  if [[ "$signal" == KILL ]]; then
    dk cp "$run_id-$name-1:/app/data" "$work/$name-data"
    read -r integ rows < <(integrity "$work/$name-data")
  fi
  start "$name-2" "$run_id-$name:/app/data"
  wait_health "$name-2" || return 1
  stored "$(base "$name-2")" >"$work/stored"
  read -r missing changed extra < <(compare "$work/acked" "$work/stored")
  echo "SIG$signal: $(wc -l <"$work/acked") creates answered 201 before the signal; stopped in $took ms with exit status $code;" \
    "after a restart on the same volume $(wc -l <"$work/stored") tasks stored: $missing missing, $changed changed," \
    "$extra stored whose answer was lost${integ:+; database file left by the kill: integrity_check $integ, $rows rows}"
  [[ "$code" == "$want" && "$missing" == 0 && "$changed" == 0 && -s "$work/acked" ]] || return 1
  # Stored but unanswered: at most one create in flight per writer (4) at the signal.
  ((extra <= 4)) || return 1
  # docker stop -t 10 sends SIGKILL after 10 s: a graceful stop stays under that
  # (exit status 0 above says the same; the figure is asserted as printed).
  [[ "$signal" == KILL ]] || ((took < 10000)) || return 1
  # The killed file holds exactly what the restarted service serves.
  [[ "$signal" == TERM ]] || [[ "$integ" == ok && "$rows" == "$(wc -l <"$work/stored")" ]]
}

read_only_volume() {
  local code err lines named integ rows before
  dk volume create "$run_id-ro" >/dev/null
  start ro-1 "$run_id-ro:/app/data"
  wait_health ro-1 || return 1
  for i in 1 2 3; do
    curl -sf --noproxy '*' -o /dev/null -H 'content-type: application/json' \
      --data "{\"title\":\"before read-only $i\"}" "$(base ro-1)/api/tasks"
  done
  before=$(curl -sf --noproxy '*' "$(base ro-1)/api/tasks?limit=1" | jq .total)
  dk stop "$run_id-ro-1" >/dev/null
  dk run -d --name "$run_id-ro-2" --restart "$restart_policy" "${HARDENED_RUN[@]}" \
    -v "$run_id-ro:/app/data:ro" "$image" >/dev/null
  # Docker's restart delay doubles from 100 ms: three restarts take about 1 s.
  wait_container_exit "$run_id-ro-2" 30 "$restarts" || true
  # Then it must stay down: a fourth start would be a loop.
  sleep 3
  code=$(state ro-2 '{{.State.ExitCode}} {{.State.Status}} {{.RestartCount}}')
  err=$(dk logs "$run_id-ro-2" 2>&1 >/dev/null)
  lines=$(grep -c . <<<"$err" || true)
  named=$(grep -c DATABASE_URL <<<"$err" || true)
  dk cp "$run_id-ro-2:/app/data" "$work/ro-data"
  read -r integ rows < <(integrity "$work/ro-data")
  echo "read-only data volume under --restart $restart_policy: exit status, state, restarts: $code;" \
    "$lines stderr lines over $((restarts + 1)) starts, $named naming DATABASE_URL: $(tail -n 1 <<<"$err");" \
    "database file: integrity_check $integ, $rows of $before rows"
  [[ "$code" == "2 exited $restarts" && "$lines" == $((restarts + 1)) && "$named" == "$lines" && "$err" != *panick* ]] &&
    [[ "$integ" == ok && "$rows" == "$before" ]]
}

full_volume() {
  local url code acked=0 refused=0 first="" i pad reads health integ rows missing running
  dk volume create --driver local --opt type=tmpfs --opt device=tmpfs \
    --opt o=size=1m,uid=10001,gid=10001 "$run_id-full" >/dev/null
  start full "$run_id-full:/app/data"
  wait_health full || return 1
  url=$(base full)
  pad=$(head -c 6000 /dev/zero | tr '\0' x)
  : >"$work/acked"
  for i in $(seq 400); do
    code=$(curl -s --noproxy '*' --max-time 10 -o "$work/body" -w '%{http_code}' \
      -H 'content-type: application/json' \
      --data "{\"title\":\"full $i\",\"description\":\"$pad\"}" "$url/api/tasks") || code=000
    if [[ "$code" == 201 ]]; then
      acked=$((acked + 1))
      printf '%s\tfull %s\n' "$(jq -r .id "$work/body")" "$i" >>"$work/acked"
    else
      refused=$((refused + 1))
      [[ -n "$first" ]] || first="$code $(cat "$work/body")"
      ((refused < 20)) || break
    fi
  done
  reads=$(http_code "$url/api/tasks?limit=5")
  health=$(http_code "$url/health")
  stored "$url" >"$work/stored"
  read -r missing _ _ < <(compare "$work/acked" "$work/stored")
  running=$(state full '{{.State.Status}}')
  # The tmpfs goes with the last container using it: copy the files while it runs.
  dk cp "$run_id-full:/app/data" "$work/full-data"
  read -r integ rows < <(integrity "$work/full-data")
  echo "full data volume (1 MiB): $acked creates answered 201, then refused: first answer '$first';" \
    "$refused refused in all; afterwards reads $reads, /health $health, container $running;" \
    "$missing acknowledged tasks missing; database file: integrity_check $integ, $rows rows"
  [[ "$acked" -gt 0 && "$refused" -gt 0 && "$first" == 503\ *'"status":503'* ]] &&
    [[ "$reads" == 200 && "$health" == 200 && "$running" == running && "$missing" == 0 && "$integ" == ok ]] &&
    [[ "$rows" == "$(wc -l <"$work/stored")" ]]
}

for scenario in "sigterm TERM 0" "sigkill KILL 137"; do
  read -r name signal want <<<"$scenario"
  if kill_under_load "$name" "$signal" "$want"; then r=ok; else r=fail; fi
  result "$r" "SIG$signal under a stream of creates: every answered create survives a restart"
done
if read_only_volume; then r=ok; else r=fail; fi
result "$r" "a read-only data volume under on-failure:3: exit 2 naming DATABASE_URL, exactly 3 restarts, database intact"
if full_volume; then r=ok; else r=fail; fi
result "$r" "a full data volume: writes refused with problem+json, reads and /health 200, the database survives"

summary
