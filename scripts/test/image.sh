#!/usr/bin/env bash
# Container contract tests for any local image of the service.
# Usage: scripts/test/image.sh [--built-from-compat] IMAGE
# Prints `PASS N ...` / `FAIL N ... (reason)` / `n/a N ... (reason)` per check and
# ends with `N passed, M failed, 0 skipped[, K not applicable]`.
#   --built-from-compat  IMAGE was built from this repository's Dockerfile.compat
#             (with its .dockerignore): checks 1 and 4, which read those files,
#             apply to it. Without it they report `n/a`: they say nothing about
#             an image made otherwise (e.g. the Nix one). The caller states it
#             because nothing in an image proves which file it was built from.
#   --built-without-git  IMAGE was built from a copy of the tree without git
#             metadata (shared/nix-eval's assemble.sh copies the files only):
#             its revision label is `unknown` and its created label the epoch,
#             so check 19 checks only the version label, and says so.
# Env:
#   DOCKER    client (default: Debian's /usr/bin/docker, installed when missing)
#   CA_BUNDLE the CA bundle given to builds as a secret (default the host bundle);
#             check 16 asserts that its locally added CAs are in no image layer
#   SKIP_NO_DOCKERIGNORE_BUILD=1  skip check 4's rebuild of Dockerfile.compat
#             from a copy of the repo without .dockerignore (CI never sets it);
#             check 4 is then reported SKIP, and the script exits 77
# Checks 1 and 4 read Dockerfile.compat and .dockerignore in this repository;
# every other check looks only at the image, so a Nix-built image is judged alike:
# files are read from the image's merged filesystem, following symlinks inside
# it (the Nix image's /etc/passwd links into a store path in another layer).
# Containers are reached only through ports published on 127.0.0.1.
set -euo pipefail

from_compat=0 without_git=0
while [[ "${1:-}" == --* ]]; do
  case "$1" in
    --built-from-compat) from_compat=1 ;;
    --built-without-git) without_git=1 ;;
    *) break ;;
  esac
  shift
done
if [[ $# -ne 1 ]]; then
  echo "usage: $0 [--built-from-compat] [--built-without-git] IMAGE" >&2
  exit 64
fi
image="$1"
# shellcheck source=scripts/lib/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib/lib.sh"
ensure_docker
apt_tool jq jq
repo="$(dirname "$TB_SCRIPTS")"
contract="$repo/nix/contract.json"
run_id="tbtest-$$-$RANDOM"
work="$(mktemp -d "${TMPDIR:-/tmp}/$run_id.XXXXXX")"

# Checks run in subshells, so what they create is recorded in a file.
track() { echo "$1 $2" >>"$work/resources"; }
cleanup() {
  local kind name
  for kind in container volume image; do
    while read -r name; do
      case "$kind" in
        container) "$DOCKER" rm -f "$name" ;;
        volume) "$DOCKER" volume rm -f "$name" ;;
        image) "$DOCKER" rmi "$name" ;;
      esac >/dev/null 2>&1 || true
    done < <(sed -n "s/^$kind //p" "$work/resources" 2>/dev/null)
  done
  rm -rf "$work"
}
trap cleanup EXIT

# start NAME [docker run options...] IMAGE [ARGS]: detached container $run_id-NAME
start() {
  local name="$run_id-$1"
  shift
  track container "$name"
  dk run -d --name "$name" "$@" >/dev/null
}
volume() { track volume "$run_id-$1"; dk volume create "$run_id-$1" >/dev/null; }
addr() { container_addr "$run_id-$1" "$2"; }
# http METHOD URL [JSON]: prints "<status> <body>"; bounded by curl's timeouts
http() {
  local code data=()
  [[ $# -lt 3 ]] || data=(-H 'content-type: application/json' --data "$3")
  rm -f "$work/body"
  code="$(curl -sS --connect-timeout 2 --max-time 3 -o "$work/body" -w '%{http_code}' \
    -X "$1" "${data[@]}" "$2" 2>/dev/null)" || code="000"
  echo "$code $(cat "$work/body" 2>/dev/null)"
}
# wait_health CONTAINER PORT SECONDS: until GET /health answers 200
wait_health() { wait_container_http "$run_id-$1" "$2" "$3"; }
state() { dk inspect -f "$2" "$run_id-$1"; }
# wait_exit CONTAINER SECONDS [RESTARTS]
wait_exit() { wait_container_exit "$run_id-$1" "$2" "${3:-}"; }
# contract_check N DESCRIPTION FUNCTION: lib.sh's check, FUNCTION run with errexit
# on and its output held back; inside it `fail MSG` ends the check, `note MSG`
# gives the line its detail, and `compat_only` ends it as not applicable unless
# --built-from-compat was given.
contract_check() { check --quiet --errexit "$1 $2" "" "$3"; }
compat_only() {
  ((from_compat)) && return 0
  not_applicable "not applicable: $image is not stated to be built from Dockerfile.compat (--built-from-compat)"
}

# The image's files, layer by layer (docker save works for any image and shows
# files that a later layer deletes too), for the scans of everything an image
# ships; and a created, never started container ($run_id-fs) whose merged
# filesystem image_file and image_entry read.
prepare() {
  mkdir -p "$work/save" "$work/fs"
  dk image inspect "$image" >"$work/inspect.json"
  track container "$run_id-fs"
  dk create --name "$run_id-fs" "$image" >/dev/null
  dk save "$image" | tar -x -C "$work/save"
  local layer i=0
  : >"$work/listing"
  while read -r layer; do
    i=$((i + 1))
    mkdir -p "$work/fs/$i"
    # -P: dockerTools writes store paths as /nix/store/...; keep them as they are.
    tar -tvP --numeric-owner -f "$work/save/$layer" >>"$work/listing"
    tar -x --no-same-owner -f "$work/save/$layer" -C "$work/fs/$i" 2>/dev/null || true
  done < <(jq -r '.[0].Layers[]' "$work/save/manifest.json")
  awk '{ $1 = $2 = $3 = $4 = $5 = ""; sub(/^ +/, ""); sub(/ -> .*/, ""); print "/" $0 }' \
    "$work/listing" | sed 's|^//*|/|; s|/\./|/|; s|/$||' | sort -u >"$work/paths"
}

# image_file PATH: the file's content in the merged filesystem, symlinks followed
# within the image (docker cp -L resolves them inside the container's root).
image_file() { dk cp -L "$run_id-fs:$1" - | tar -xO; }
# image_entry PATH: its `tar -tv` line (type, mode, uid/gid, ...), symlinks followed.
image_entry() { dk cp -L "$run_id-fs:$1" - | tar -tv --numeric-owner | head -n 1; }
# mode_string OCTAL: 0770 -> rwxrwx--- (permission bits only)
mode_string() {
  local m=$((8#$1)) s="" i bits=(--- --x -w- -wx r-- r-x rw- rwx)
  for i in 6 3 0; do s+="${bits[(m >> i) & 7]}"; done
  echo "$s"
}

c1_multistage() {
  compat_only
  local f="$repo/Dockerfile.compat"
  [[ -f "$f" ]] || fail "no Dockerfile.compat"
  local stages
  stages="$(grep -ciE '^FROM[[:space:]]' "$f")"
  ((stages >= 2)) || fail "$stages FROM lines"
  grep -qiE '^FROM .* AS builder' "$f" || fail "no builder stage"
  grep -qiE '^COPY --from=' "$f" || fail "runtime stage copies nothing from the builder"
  note "$stages stages"
}

c2_no_tooling() {
  local hits
  hits="$(grep -E '/(cargo|rustc|rustup|rustdoc|gcc|cc|c\+\+|g\+\+|clang|ld|ld\.bfd|ld\.gold|make|sh|bash|dash|ash|zsh|busybox|apt|apt-get|dpkg|rpm|perl|python3?)$|/rustlib(/|$)|/\.cargo(/|$)' \
    "$work/paths" || true)"
  [[ -z "$hits" ]] || fail "found: $(echo "$hits" | head -n 5 | tr '\n' ' ')"
  note "$(wc -l <"$work/paths") paths scanned"
}

c3_minimal_files() {
  local hits
  hits="$(grep -E '/(tests|\.git|target)(/|$)|\.md$|/Cargo\.(toml|lock)$|\.rs$|/registry/src(/|$)' \
    "$work/paths" || true)"
  [[ -z "$hits" ]] || fail "found: $(echo "$hits" | head -n 5 | tr '\n' ' ')"
}

c4_dockerignore() {
  compat_only
  [[ -f "$repo/.dockerignore" ]] || fail "no .dockerignore"
  # Let the engine apply .dockerignore to a sample context; list what got in.
  local ctx="$work/ignore-ctx" p leaked=""
  mkdir -p "$ctx"
  cp "$repo/.dockerignore" "$ctx/"
  for p in target/release/x .git/HEAD result/x result-bin data/tasks.db README.md docs/x.md \
    .env .env.local tests/api.rs .vscode/x .idea/x src/main.rs Cargo.toml Cargo.lock; do
    mkdir -p "$ctx/$(dirname "$p")"
    echo x >"$ctx/$p"
  done
  printf 'FROM scratch\nCOPY . /ctx/\n' >"$work/ignore.Dockerfile"
  track image "$run_id-ignore"
  DOCKER_BUILDKIT=1 dk build -q -f "$work/ignore.Dockerfile" -t "$run_id-ignore" "$ctx" >/dev/null
  track container "$run_id-ignore"
  dk create --name "$run_id-ignore" "$run_id-ignore" true >/dev/null
  dk export "$run_id-ignore" | tar -t | grep '^ctx/' >"$work/ignore-list"
  for p in target .git result data README.md docs/x.md .env .env.local tests .vscode .idea; do
    grep -q "^ctx/$p" "$work/ignore-list" && leaked+="$p "
  done
  [[ -z "$leaked" ]] || fail ".dockerignore lets in: $leaked"
  for p in src/main.rs Cargo.toml Cargo.lock; do
    grep -qx "ctx/$p" "$work/ignore-list" || fail ".dockerignore drops needed $p"
  done
  if [[ "${SKIP_NO_DOCKERIGNORE_BUILD:-0}" == 1 ]]; then
    # Half of the check did not run: a SKIP, never a PASS.
    note "the .dockerignore list holds; the build without it not run (SKIP_NO_DOCKERIGNORE_BUILD=1)"
    exit "$TB_EXIT_SKIP"
  fi
  local copy="$work/no-ignore-ctx" start=$SECONDS revision
  mkdir -p "$copy"
  if git -C "$repo" rev-parse --git-dir >/dev/null 2>&1; then
    git -C "$repo" ls-files -z -co --exclude-standard | tar -C "$repo" --null -T - -c | tar -C "$copy" -x
  else
    tar -C "$repo" --exclude=./target -c . | tar -C "$copy" -x
  fi
  rm -f "$copy/.dockerignore"
  track image "$run_id-noignore"
  # The copy has no .git: name the same commit as the image under test, so the
  # build-info ARG (set before the service's compile) does not turn this check
  # into a second full compile of an unchanged source. For IMAGE's platform (an
  # arm64 image: the arm64 build).
  revision=$(git -C "$repo" rev-parse HEAD 2>/dev/null || echo unknown)
  BUILD_CONTEXT="$copy" REVISION="$revision" timeout 1800 "$repo/scripts/build/compat-image.sh" \
    --platform "$(jq -r '.[0].Os + "/" + .[0].Architecture' "$work/inspect.json")" \
    "$run_id-noignore" >"$work/noignore.log" 2>&1 ||
    fail "build without .dockerignore failed: $(tail -n 2 "$work/noignore.log" | tr '\n' ' ')"
  note "built without .dockerignore in $((SECONDS - start))s"
}

c5_uid() {
  local user pid ids
  user="$(jq -r '.[0].Config.User' "$work/inspect.json")"
  [[ "${user%%:*}" == 10001 && "${user#*:}" == 10001 ]] || fail "config User is '$user'"
  start uid -p 127.0.0.1::8000 "$image"
  wait_health uid 8000 10 || fail "service did not answer"
  pid="$(state uid '{{.State.Pid}}')"
  ids="$(awk '/^(Uid|Gid):/ { print $2, $3, $4, $5 }' "/proc/$pid/status" | tr '\n' ' ')"
  [[ "$ids" == "10001 10001 10001 10001 10001 10001 10001 10001 " ]] || fail "process uid/gid: $ids"
  note "config $user, process uid/gid 10001"
}

c6_health() {
  local a r
  start main -p 127.0.0.1::8000 "$image"
  wait_health main 8000 10 || fail "no 200 from /health within 10s"
  a="$(addr main 8000)"
  r="$(http GET "http://$a/health")"
  [[ "$r" == 200* ]] || fail "got $r"
  jq -e '. == {"status": "healthy"}' <<<"${r#* }" >/dev/null || fail "body ${r#* }"
  note "$a"
}

c7_healthcheck() {
  local t=0 status=""
  jq -e '.[0].Config.Healthcheck.Test[0] == "CMD"' "$work/inspect.json" >/dev/null ||
    fail "no exec-form HEALTHCHECK"
  start hc "$image"
  while ((t < 150)); do
    status="$(state hc '{{.State.Health.Status}}')"
    [[ "$status" == healthy ]] && break
    sleep 0.1
    t=$((t + 1))
  done
  [[ "$status" == healthy ]] || fail "health '$status' after 15s"
  note "healthy after ~$((t / 10))s"
}

c8_size() {
  local size
  size="$(jq -r '.[0].Size' "$work/inspect.json")"
  ((size < 200000000)) || fail "$size bytes"
  note "$size bytes, $(awk -v s="$size" 'BEGIN { printf "%.1f", s / 1e6 }') MB"
}

# cp_exists CONTAINER PATH: the file exists in the container (no shell needed)
cp_exists() { dk cp "$run_id-$1:$2" - 2>/dev/null | tar -t >/dev/null 2>&1; }

c9_settings() {
  local a r err
  # Defaults: the check 6 container, no settings given, keeps data in /app/data/tasks.db.
  a="$(addr main 8000)"
  r="$(http POST "http://$a/api/tasks" '{"title":"default db"}')"
  [[ "$r" == 201* ]] || fail "default create: $r"
  cp_exists main /app/data/tasks.db || fail "no /app/data/tasks.db with defaults"
  # PORT and DATABASE_URL.
  start port -e PORT=9000 -e DATABASE_URL=sqlite:///app/data/other.db -p 127.0.0.1::9000 "$image"
  wait_health port 9000 10 || fail "PORT=9000: no /health on 9000"
  r="$(http POST "http://$(addr port 9000)/api/tasks" '{"title":"other db"}')"
  [[ "$r" == 201* ]] || fail "create with DATABASE_URL: $r"
  cp_exists port /app/data/other.db || fail "DATABASE_URL: no /app/data/other.db"
  ! cp_exists port /app/data/tasks.db || fail "DATABASE_URL ignored: tasks.db created"
  # HOST=127.0.0.1: healthy inside, unreachable through the published port.
  start host -e HOST=127.0.0.1 -p 127.0.0.1::8000 "$image"
  local t
  for ((t = 0; t < 150; t++)); do
    [[ "$(state host '{{.State.Health.Status}}')" == healthy ]] && break
    sleep 0.1
  done
  [[ "$(state host '{{.State.Health.Status}}')" == healthy ]] || fail "HOST=127.0.0.1: not healthy"
  r="$(http GET "http://$(addr host 8000)/health")"
  [[ "$r" != 200* ]] || fail "HOST=127.0.0.1 still reachable from outside"
  # A bad setting: exit status 2 and an error naming it.
  err="$(timeout 20 "$DOCKER" run --rm -e PORT=abc "$image" 2>&1 >/dev/null)" && fail "PORT=abc exited 0"
  r=$?
  [[ $r == 2 ]] || fail "PORT=abc exit status $r"
  grep -q PORT <<<"$err" || fail "PORT=abc error does not name PORT: $err"
  note "defaults→tasks.db, PORT=9000, DATABASE_URL→other.db, HOST=127.0.0.1, PORT=abc→exit 2"
}

# The settings error line, preferring the plain one over a timestamped log line.
settings_line() {
  { grep -iE 'DATABASE_URL|data dir' <<<"$1" | grep -vE '^[0-9]{4}-[0-9]{2}-' ||
    grep -iE 'DATABASE_URL|data dir' <<<"$1"; } | head -n 1
}

c10_volumes() {
  local r id code err
  volume data
  start vol1 -v "$run_id-data:/app/data" -p 127.0.0.1::8000 "$image"
  wait_health vol1 8000 10 || fail "not serving with a named volume"
  r="$(http POST "http://$(addr vol1 8000)/api/tasks" '{"title":"survives docker rm"}')"
  [[ "$r" == 201* ]] || fail "create: $r"
  id="$(jq -r .id <<<"${r#* }")"
  dk rm -f "$run_id-vol1" >/dev/null
  start vol2 -v "$run_id-data:/app/data" -p 127.0.0.1::8000 "$image"
  wait_health vol2 8000 10 || fail "second container not serving"
  r="$(http GET "http://$(addr vol2 8000)/api/tasks/$id")"
  [[ "$r" == 200* ]] || fail "task $id lost: $r"
  jq -e '.title == "survives docker rm"' <<<"${r#* }" >/dev/null || fail "task $id changed: $r"
  # A host directory owned by root, mode 0755: appuser cannot write it.
  # Under compose.yaml's restart policy: Docker retries exit 2 three times, then
  # gives up; without a policy "no restart" could never fail.
  mkdir -m 0755 "$work/ro-data"
  start ro --restart on-failure:3 -v "$work/ro-data:/app/data" "$image"
  wait_exit ro 30 3 || fail "not exited after 3 restarts: $(state ro '{{.State.Status}} {{.RestartCount}}')"
  code="$(state ro '{{.State.ExitCode}}')"
  err="$(dk logs "$run_id-ro" 2>&1)"
  [[ "$code" == 2 ]] || fail "exit status $code: $err"
  grep -qiE 'DATABASE_URL|data dir' <<<"$err" || fail "error does not name the setting: $err"
  ! grep -qi panick <<<"$err" || fail "panicked: $err"
  sleep 3
  [[ "$(state ro '{{.State.Status}} {{.RestartCount}}')" == "exited 3" ]] || fail "restart loop: $(state ro '{{.State.Status}} {{.RestartCount}}')"
  note "task $id kept; unwritable dir: exit 2, 3 restarts then stopped, '$(settings_line "$err" | cut -c1-100)'"
}

c11_stop() {
  local t0 t1 code
  t0="$(date +%s%N)"
  dk stop -t 10 "$run_id-main" >/dev/null
  t1="$(date +%s%N)"
  code="$(state main '{{.State.ExitCode}}')"
  (((t1 - t0) < 10000000000)) || fail "took $(((t1 - t0) / 1000000)) ms"
  [[ "$code" == 0 ]] || fail "exit status $code"
  note "stopped in $(((t1 - t0) / 1000000)) ms, exit 0"
}

c12_hardened() {
  local r
  volume ro
  start hard --read-only --cap-drop ALL --security-opt no-new-privileges \
    -v "$run_id-ro:/app/data" -p 127.0.0.1::8000 "$image"
  wait_health hard 8000 10 || fail "no 200 from /health"
  r="$(http POST "http://$(addr hard 8000)/api/tasks" '{"title":"hardened"}')"
  [[ "$r" == 201* ]] || fail "create: $r"
}

c13_contract() {
  local bad
  bad="$(jq -r --slurpfile c "$contract" '
    .[0].Config as $g | $c[0] as $c | [
      (if $g.User != "\($c.user.uid):\($c.user.gid)" then "User=\($g.User)" else empty end),
      (if $g.WorkingDir != $c.workdir then "WorkingDir=\($g.WorkingDir)" else empty end),
      ($c.env | to_entries[] | "\(.key)=\(.value)" | select(. as $e | ($g.Env // []) | any(. == $e) | not) | "Env lacks \(.)"),
      (if ($g.ExposedPorts // {}) | has("\($c.port)/tcp") | not then "ExposedPorts lacks \($c.port)/tcp" else empty end),
      (if $g.Entrypoint != $c.entrypoint then "Entrypoint=\($g.Entrypoint)" else empty end),
      (if $g.Cmd != $c.cmd then "Cmd=\($g.Cmd)" else empty end),
      (if $g.Healthcheck.Test != $c.healthcheck.test then "Healthcheck.Test=\($g.Healthcheck.Test)" else empty end),
      (if $g.Healthcheck.Interval != $c.healthcheck.intervalSeconds * 1e9 then "Interval=\($g.Healthcheck.Interval)" else empty end),
      (if $g.Healthcheck.Timeout != $c.healthcheck.timeoutSeconds * 1e9 then "Timeout=\($g.Healthcheck.Timeout)" else empty end),
      (if $g.Healthcheck.StartPeriod != $c.healthcheck.startPeriodSeconds * 1e9 then "StartPeriod=\($g.Healthcheck.StartPeriod)" else empty end),
      (if $g.Healthcheck.Retries != $c.healthcheck.retries then "Retries=\($g.Healthcheck.Retries)" else empty end),
      ($c.labels | to_entries[] | select(($g.Labels // {})[.key] != .value) | "Label \(.key)")
    ] | join(", ")' "$work/inspect.json")"
  # The files, in the merged filesystem with symlinks followed.
  local binary data_dir want got user
  binary="$(jq -r .binary "$contract")"
  data_dir="$(jq -r .dataDir "$contract")"
  want="d$(mode_string "$(jq -r .dataDirMode "$contract")") $(jq -r '"\(.user.uid)/\(.dataDirGroup)"' "$contract")"
  user="$(jq -r '.user | "\(.name):x:\(.uid):\(.gid):"' "$contract")"
  got="$(image_entry "$binary" 2>/dev/null | awk '{ print $1 }')" || true
  [[ "$got" == -??x* ]] || bad+=" $binary is not an executable file (${got:-missing})"
  got="$(image_entry "$data_dir" 2>/dev/null | awk '{ print $1, $2 }')" || true
  [[ "$got" == "$want" ]] || bad+=" $data_dir is '${got:-missing}', contract says '$want'"
  image_file /etc/passwd 2>/dev/null | grep -q "^$user" || bad+=" no ${user%%:*} line $user in /etc/passwd"
  image_file /etc/group 2>/dev/null | grep -q "^${user%%:*}:x:$(jq -r .user.gid "$contract"):" ||
    bad+=" no ${user%%:*} group in /etc/group"
  [[ -z "$bad" ]] || fail "$bad"
  note "$data_dir $want; /etc/passwd and /etc/group name ${user%%:*}"
}

c14_setuid() {
  local hits
  hits="$(awk '$1 ~ /^-..[sS]|^-.....[sS]/ { print $6 }' "$work/listing" | head -n 5 | tr '\n' ' ')"
  [[ -z "$hits" ]] || fail "$hits"
}

c15_world_writable() {
  local hits
  hits="$(awk '$1 ~ /^[-d].......w/ { print $6 }' "$work/listing" | head -n 5 | tr '\n' ' ')"
  [[ -z "$hits" ]] || fail "$hits"
}

# One line per certificate body, to compare bundles.
pem_lines() { awk '/-----BEGIN CERTIFICATE-----/ { c = ""; next } /-----END CERTIFICATE-----/ { print c; next } { c = c $0 }' "$@" | sort -u; }

c16_secrets() {
  local hits bundle="${CA_BUNDLE:-/etc/ssl/certs/ca-certificates.crt}"
  hits="$(grep -E '/run/secrets|/(\.netrc|\.git-credentials|credentials(\.toml)?|config\.json|id_rsa|id_ed25519)$|\.key$' \
    "$work/paths" || true)"
  [[ -z "$hits" ]] || fail "credential-like files: $hits"
  dk history --no-trunc --format '{{.CreatedBy}}' "$image" >"$work/history"
  ! grep -qE 'BEGIN CERTIFICATE|CARGO_HTTP_CAINFO=|PASSWORD=|TOKEN=|SECRET=' "$work/history" ||
    fail "secret material in docker history"
  ! jq -r '.[0].Config.Env[]?' "$work/inspect.json" | grep -qiE '^[^=]*(PASSWORD|TOKEN|SECRET|CAINFO|CREDENTIAL|API_KEY)[^=]*=' ||
    fail "secret-like ENV"
  # CAs that the bundle adds to Debian's own (e.g. a proxy's) must be in no layer.
  if [[ -f "$bundle" && -d /usr/share/ca-certificates ]]; then
    pem_lines "$bundle" >"$work/bundle.pem"
    find /usr/share/ca-certificates -name '*.crt' -exec cat {} + | pem_lines >"$work/debian.pem"
    comm -23 "$work/bundle.pem" "$work/debian.pem" >"$work/local.pem"
    { grep -rlZ -- '-----BEGIN CERTIFICATE-----' "$work/fs" || true; } | xargs -0r cat | pem_lines >"$work/image.pem"
    [[ -z "$(comm -12 "$work/local.pem" "$work/image.pem")" ]] || fail "a locally added CA from $bundle is in the image"
    note "$(wc -l <"$work/local.pem") local CA(s) checked"
  fi
}

# Provenance labels (names in the contract's provenanceLabels): the version is
# Cargo.toml's; the revision is a commit of this repository (or that commit
# plus "-dirty"); created is that commit's time in UTC, not the build's. The
# binary reports the label's revision.
provenance_label() {
  jq -r --arg k "$(jq -r --arg key "$1" '.provenanceLabels[$key]' "$contract")" \
    '.[0].Config.Labels[$k] // empty' "$work/inspect.json"
}
c19_provenance() {
  local key rev version created want_version want_created binary_rev
  for key in revision version created; do
    [[ -n "$(provenance_label "$key")" ]] ||
      fail "no $(jq -r --arg key "$key" '.provenanceLabels[$key]' "$contract") label"
  done
  rev="$(provenance_label revision)" version="$(provenance_label version)"
  created="$(provenance_label created)"
  want_version="$(sed -n '/^\[package\]/,/^\[/s/^version = "\(.*\)"/\1/p' "$repo/Cargo.toml" | head -n 1)"
  [[ "$version" == "$want_version" ]] || fail "version label $version, Cargo.toml says $want_version"
  # The binary says the same revision as the label (/metrics' build_info).
  start provenance -p 127.0.0.1::8000 "$image"
  wait_health provenance 8000 10 || fail "no 200 from /health within 10s"
  binary_rev="$(curl -sS --max-time 3 "http://$(addr provenance 8000)/metrics" |
    sed -n 's/^tasks_backend_build_info{.*revision="\([^"]*\)".*/\1/p')"
  [[ "$binary_rev" == "$rev" ]] || fail "the binary says revision '${binary_rev}', the label '$rev'"
  if ((without_git)) && [[ "$rev" == unknown ]]; then
    note "version $version; revision and created not checked: built from a copy without git metadata"
    return 0
  fi
  [[ "$rev" =~ ^[0-9a-f]{40}(-dirty)?$ ]] || fail "revision label '$rev' is not a commit id"
  [[ "$created" =~ ^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z$ ]] ||
    fail "created label '$created' is not an RFC 3339 UTC time"
  git -C "$repo" cat-file -e "${rev%-dirty}^{commit}" 2>/dev/null ||
    fail "revision ${rev:0:12} is not a commit of $repo"
  want_created="$(TZ=UTC0 git -C "$repo" show -s --format=%cd \
    --date=format-local:%Y-%m-%dT%H:%M:%SZ "${rev%-dirty}")"
  [[ "$created" == "$want_created" ]] || fail "created $created, but commit ${rev:0:12} is of $want_created"
  note "revision ${rev:0:12}, version $version, created $created"
}

# OpenShift runs an image under an arbitrary uid in group 0, whatever USER says:
# the data directory (group 0, group-writable) must let it create its database,
# on a fresh named volume (Docker copies the directory's owner and mode into it)
# and in the image's own directory.
c17_arbitrary_uid() {
  local where r pid ids
  volume os
  for where in volume image; do
    if [[ "$where" == volume ]]; then
      start "os-$where" --user 12345:0 -v "$run_id-os:/app/data" -p 127.0.0.1::8000 "$image"
    else
      start "os-$where" --user 12345:0 -p 127.0.0.1::8000 "$image"
    fi
    wait_health "os-$where" 8000 10 ||
      fail "uid 12345:0, $where: not serving: $(dk logs "$run_id-os-$where" 2>&1 | tail -n 1 | cut -c1-160)"
    r="$(http POST "http://$(addr "os-$where" 8000)/api/tasks" '{"title":"arbitrary uid"}')"
    [[ "$r" == 201* ]] || fail "uid 12345:0, $where: create: $r"
    cp_exists "os-$where" /app/data/tasks.db || fail "uid 12345:0, $where: no /app/data/tasks.db"
    pid="$(state "os-$where" '{{.State.Pid}}')"
    ids="$(awk '/^(Uid|Gid):/ { print $2 }' "/proc/$pid/status" | tr '\n' ' ')"
    [[ "$ids" == "12345 0 " ]] || fail "uid 12345:0, $where: process uid/gid $ids"
  done
  note "uid 12345 gid 0: 201 on a fresh named volume and on the image's /app/data"
}

# The image has no shell, so no /etc/passwd entry may name one as its login
# shell (fakeNss writes /bin/sh for root and nobody unless told otherwise).
c18_login_shells() {
  local name shell bad="" n=0
  image_file /etc/passwd >"$work/passwd" || fail "no /etc/passwd"
  while IFS=: read -r name _ _ _ _ _ shell; do
    n=$((n + 1))
    case "$shell" in
      /sbin/nologin | /usr/sbin/nologin) continue ;;
    esac
    image_entry "$shell" >/dev/null 2>&1 || bad+="$name:$shell "
  done <"$work/passwd"
  ((n > 0)) || fail "/etc/passwd is empty"
  [[ -z "$bad" ]] || fail "login shells missing from the image: $bad"
  note "$n entries"
}

if ! prepare; then
  result fail "0 cannot inspect/save image $image"
  summary
  exit 1
fi
contract_check 1 "multi-stage build: builder and runtime stages in Dockerfile.compat" c1_multistage
contract_check 2 "no build or dev tooling (cargo, rustc, gcc, sh, bash, apt, dpkg) in any layer" c2_no_tooling
contract_check 3 "minimal files: no tests/, .git, *.md, target/, Cargo sources" c3_minimal_files
contract_check 4 ".dockerignore excludes target/.git/result/data/*.md/.env/tests; build works without it" c4_dockerignore
contract_check 5 "runs as uid 10001, never 0 (image config and running process)" c5_uid
contract_check 6 "GET /health -> 200 {\"status\":\"healthy\"} through a published port" c6_health
contract_check 7 "HEALTHCHECK declared and engine reports healthy within 15s" c7_healthcheck
contract_check 8 "image size under 200 MB" c8_size
contract_check 9 "PORT, HOST, DATABASE_URL change behaviour; default data in /app/data/tasks.db" c9_settings
contract_check 10 "named volume keeps tasks across docker rm; unwritable bind mount exits 2, no loop" c10_volumes
contract_check 11 "docker stop ends the container within 10s with exit status 0" c11_stop
contract_check 12 "runs with --read-only --cap-drop ALL --security-opt no-new-privileges" c12_hardened
contract_check 13 "docker inspect config and files (binary, data dir, passwd) match nix/contract.json" c13_contract
contract_check 14 "no setuid/setgid files" c14_setuid
contract_check 15 "no world-writable files or directories" c15_world_writable
contract_check 16 "no CA secret or credentials in layers, history or env" c16_secrets
contract_check 17 "OpenShift: --user 12345:0 creates tasks on a fresh volume and in the image's data dir" c17_arbitrary_uid
contract_check 18 "every /etc/passwd login shell is nologin or exists in the image" c18_login_shells
contract_check 19 "provenance labels: revision (a commit), version (Cargo.toml), created (the commit's time); the binary says the same revision" c19_provenance
summary
