# Helpers shared by every script under scripts/ and bench/: sourced, never run.
#   set-up       PATH, apt_install, apt_tool, pip_install, pip_tool, cargo_install,
#                debian_mirror
#   Docker       ensure_docker, docker_client, dk, container_addr, wait_container_http,
#                wait_container_health, wait_container_exit, remove_prefixed,
#                debian_base
#   HTTP         free_port, http_code, wait_http
#   service      service_binary, start_service, stop_service
#   counting     tally, result, check (note, fail, not_applicable), summary
#   misc         wait_for, random_password
# Tools are looked up when they are needed, never once at start: on a fresh machine
# the suite installs them as it goes (issue 9).
# shellcheck shell=bash

# The scripts/ folder and the repository root, wherever the sourcing script is.
TB_SCRIPTS="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck disable=SC2034 # read by the scripts that source this file
TB_ROOT="$(dirname "$TB_SCRIPTS")"

# Where this suite installs tools: `cargo install` and `pip install --user`. The
# directories go on PATH now, even if empty, so a tool installed later is found.
export PATH="${CARGO_HOME:-$HOME/.cargo}/bin:${PYTHONUSERBASE:-$HOME/.local}/bin:$PATH"

# ---- set-up ------------------------------------------------------------------

# apt_install PACKAGE...: Debian packages (with their recommends, as a user's
# plain `apt-get install` would), quietly; the output goes to stderr only when it
# fails. Waits for the dpkg lock: other jobs on the machine may hold it.
tb_apt_updated=0
apt_install() {
  local log
  log="$(mktemp "${TMPDIR:-/tmp}/tasks-backend-apt.XXXXXX")"
  if ((tb_apt_updated == 0)); then
    if ! apt-get -o DPkg::Lock::Timeout=600 update -q >"$log" 2>&1; then
      tail -n 20 "$log" >&2
      rm -f "$log"
      return 1
    fi
    tb_apt_updated=1
  fi
  if ! DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 \
    install -y -q "$@" >"$log" 2>&1; then
    tail -n 20 "$log" >&2
    rm -f "$log"
    return 1
  fi
  rm -f "$log"
}

# apt_tool COMMAND PACKAGE: COMMAND, installed from PACKAGE when missing.
apt_tool() {
  command -v "$1" >/dev/null 2>&1 || apt_install "$2"
}

# pip_install SPEC...: PyPI packages into the user site (~/.local), where
# scripts/suite/fresh-machine-check.sh finds and removes them again. A Debian python3
# refuses even --user installs (PEP 668) unless told; only the user site is
# written, never the system's packages.
pip_install() {
  PIP_BREAK_SYSTEM_PACKAGES=1 PIP_ROOT_USER_ACTION=ignore python3 -m pip install -q --user "$@" >&2
}

# pip_tool COMMAND SPEC: prints the path of COMMAND, installing SPEC (pinned,
# name==version) into the user site when COMMAND is not on PATH. The path is
# taken after the install, from Python's own user scheme, so it is right even
# where ~/.local/bin was not on PATH when the caller started.
pip_tool() {
  local path
  if path="$(command -v "$1")"; then
    printf '%s\n' "$path"
    return 0
  fi
  pip_install "$2" || return 1
  path="$(python3 -m site --user-base)/bin/$1"
  if [[ ! -x "$path" ]]; then
    echo "pip_tool: installing $2 gave no $path" >&2
    return 1
  fi
  printf '%s\n' "$path"
}

# cargo_install CRATE VERSION: `cargo install --locked` into ~/.cargo/bin (on PATH
# above), one compile job at a time: the machine's two cores are shared.
cargo_install() {
  if ! command -v cargo >/dev/null; then
    echo "cargo_install: cargo is needed to install $1" >&2
    return 1
  fi
  cargo install --locked --jobs 1 --quiet --version "$2" "$1"
}

# debian_mirror: the Debian archive to debootstrap from. $DEBIAN_MIRROR wins;
# otherwise the machine's own apt sources (one-line *.list and deb822 *.sources
# under ${APT_SOURCES_DIR:-/etc/apt}). Machines list several sources (security,
# updates, other vendors), so the pick is a `deb` source that serves Debian
# proper: a release suite (no -security/-updates/-backports suffix) with the
# `main` component, preferring a URI whose path ends in /debian. No mirror's host
# name is written here: it is whatever this machine already uses.
debian_mirror() {
  if [[ -n "${DEBIAN_MIRROR:-}" ]]; then
    printf '%s\n' "${DEBIAN_MIRROR%/}"
    return 0
  fi
  local dir="${APT_SOURCES_DIR:-/etc/apt}" files=() f uri
  for f in "$dir/sources.list" "$dir"/sources.list.d/*.list "$dir"/sources.list.d/*.sources; do
    [[ -r "$f" ]] && files+=("$f")
  done
  # One line per source: "URI SUITE COMPONENTS..." (deb only, comments dropped).
  uri="$( ((${#files[@]})) && awk '
    function flush() {
      if (!off && types ~ /(^| )deb( |$)/ && uris != "")
        for (u = 1; u <= split(uris, us, " "); u++)
          for (s = 1; s <= split(suites, ss, " "); s++) print us[u], ss[s], comps
      types = uris = suites = comps = ""; off = 0
    }
    /^[ \t]*#/ { next }
    { sub(/#.*/, "") }
    FILENAME ~ /\.sources$/ {
      if (FILENAME != last) { flush(); last = FILENAME }
      if ($0 ~ /^[ \t]*$/) { flush(); next }
      key = tolower($1); $1 = ""; sub(/^ +/, "")
      if (key == "enabled:" && tolower($0) == "no") off = 1
      if (key == "types:") types = $0
      else if (key == "uris:") uris = $0
      else if (key == "suites:") suites = $0
      else if (key == "components:") comps = $0
      next
    }
    $1 == "deb" {
      i = 2
      if ($i ~ /^\[/) { while ($i !~ /\]$/ && i < NF) i++; i++ }
      line = $i " " $(i + 1)
      for (j = i + 2; j <= NF; j++) line = line " " $j
      print line
    }
    END { flush() }' "${files[@]}" |
    awk '$2 !~ /[-\/]/ && / main( |$)/ { uri = $1; sub(/\/+$/, "", uri)
           if (uri ~ /\/debian$/) { print uri; found = 1; exit }
           if (first == "") first = uri }
         END { if (!found && first != "") print first }')" || true
  if [[ -z "$uri" ]]; then
    echo "debian_mirror: no Debian archive among the apt sources in $dir; set DEBIAN_MIRROR" >&2
    return 1
  fi
  printf '%s\n' "$uri"
}

# ---- Docker ------------------------------------------------------------------

# The client is chosen when a script asks for it (docker_client), not when this
# file is sourced: on a fresh machine Debian's /usr/bin/docker appears only once
# ensure-docker.sh has installed docker.io. Debian's client (20.10) has a working
# BuildKit; the newer client some machines have first on PATH has no buildx.
# $DOCKER as given to the script wins. The value is never exported, so a child
# script chooses again for itself.
tb_docker_override="${DOCKER:-}"
docker_client() {
  if [[ -n "$tb_docker_override" ]]; then
    DOCKER="$tb_docker_override"
  elif [[ -x /usr/bin/docker ]]; then
    DOCKER=/usr/bin/docker
  else
    DOCKER=docker
  fi
}

# ensure_docker: an engine answers (scripts/setup/ensure-docker.sh installs and starts
# one when needed; its output is shown only when it fails), then docker_client.
ensure_docker() {
  local out
  if ! out="$("$TB_SCRIPTS/setup/ensure-docker.sh" 2>&1)"; then
    printf '%s\n' "$out" >&2
    return 1
  fi
  docker_client
}

# dk ARGS...: the client, bounded in time so a hung engine fails a check instead
# of hanging the suite.
dk() { timeout "${DK_TIMEOUT:-120}" "$DOCKER" "$@"; }

# container_addr CONTAINER PORT: the 127.0.0.1:PORT mapping of PORT/tcp.
container_addr() { dk port "$1" "$2/tcp" 2>/dev/null | grep '^127\.0\.0\.1:' | head -n 1; }

# wait_container_http CONTAINER PORT SECONDS [PATH]: until PATH (default /health)
# answers 200 through the published port.
wait_container_http() {
  local a i
  for ((i = 0; i < $3 * 5; i++)); do
    if a="$(container_addr "$1" "$2")" && [[ -n "$a" ]] &&
      [[ "$(http_code "http://$a${4:-/health}")" == 200 ]]; then
      return 0
    fi
    sleep 0.2
  done
  return 1
}

# wait_container_health CONTAINER SECONDS: until Docker's health check says healthy.
wait_container_health() {
  local i
  for ((i = 0; i < $2 * 5; i++)); do
    [[ "$(dk inspect -f '{{if .State.Health}}{{.State.Health.Status}}{{end}}' "$1")" == healthy ]] && return 0
    sleep 0.2
  done
  return 1
}

# wait_container_exit CONTAINER SECONDS [RESTARTS]: until it has exited and, when
# RESTARTS is given, Docker has restarted it that many times (its policy's bound).
wait_container_exit() {
  local i
  for ((i = 0; i < $2 * 5; i++)); do
    [[ "$(dk inspect -f '{{.State.Status}} {{.RestartCount}}' "$1")" == "exited ${3:-}"* ]] && return 0
    sleep 0.2
  done
  return 1
}

# remove_prefixed PREFIX: containers, then volumes and networks, named PREFIX-*
# (what one test run created; nothing else is touched).
remove_prefixed() {
  local id
  for id in $("$DOCKER" ps -aq --filter "name=^$1-"); do
    "$DOCKER" rm -f "$id" >/dev/null 2>&1 || true
  done
  for id in $("$DOCKER" volume ls -q --filter "name=^$1-"); do
    "$DOCKER" volume rm -f "$id" >/dev/null 2>&1 || true
  done
  for id in $("$DOCKER" network ls -q --filter "name=^$1-"); do
    "$DOCKER" network rm "$id" >/dev/null 2>&1 || true
  done
}

# The hardened profile the container tests run the image under (compose.yaml's).
# shellcheck disable=SC2034 # read by the scripts that source this file
HARDENED_RUN=(--read-only --cap-drop ALL --security-opt no-new-privileges --user 10001:10001)

# end_run PREFIX DIR: a test script's exit: stops its background jobs, removes its
# containers, volumes and networks (remove_prefixed PREFIX) and its work DIR.
end_run() {
  local job
  for job in $(jobs -p); do kill "$job" 2>/dev/null || true; done
  remove_prefixed "$1"
  rm -rf "$2"
}

# debian_base TAG: a Debian trixie minbase image, made with debootstrap from
# debian_mirror and `docker import`, unless TAG exists. The stand-ins for
# official images (builder, PostgreSQL, HAProxy) all start from it.
debian_base() {
  local tag="$1" mirror rootfs log
  if "$DOCKER" image inspect "$tag" >/dev/null 2>&1; then
    return 0
  fi
  mirror="$(debian_mirror)" || return 1
  apt_tool debootstrap debootstrap || return 1
  rootfs="$(mktemp -d "${TMPDIR:-/tmp}/tasks-backend-rootfs.XXXXXX")"
  log="${TMPDIR:-/tmp}/tasks-backend-debootstrap.log"
  echo "debian_base: debootstrap trixie from $mirror into $rootfs (log $log)"
  if ! debootstrap --variant=minbase trixie "$rootfs" "$mirror" >"$log" 2>&1; then
    tail -n 20 "$log" >&2
    rm -rf "$rootfs"
    return 1
  fi
  tar -C "$rootfs" -c . | "$DOCKER" import - "$tag" >/dev/null
  rm -rf "$rootfs"
}

# Stand-ins for official images (PostgreSQL, HAProxy), built from debian_base and
# tagged twice: tasks-backend-NAME:VERSION and NAME:VERSION, so compose and stack
# files can name the official image and still run here.

# standin_present NAME VERSION_RE: true, and says so, when both tags of a version
# matching VERSION_RE exist (the build is then skipped).
standin_present() {
  local existing
  existing=$("$DOCKER" image ls --format '{{.Tag}}' "tasks-backend-$1" | grep -E "^$2\$" | head -n 1 || true)
  [[ -n "$existing" ]] && "$DOCKER" image inspect "$1:$existing" >/dev/null 2>&1 || return 1
  echo "$1-image: tasks-backend-$1:$existing and $1:$existing already present"
}

# standin_tag NAME WORK_TAG VERSION VERSION_RE: tags WORK_TAG with both names once
# VERSION (read from the built image, never assumed) matches VERSION_RE, then drops
# WORK_TAG.
standin_tag() {
  local name="$1" work_tag="$2" version="$3"
  if [[ ! "$version" =~ ^$4$ ]]; then
    echo "$name-image: cannot read the version from the built image (got '$version')" >&2
    return 1
  fi
  "$DOCKER" tag "$work_tag" "tasks-backend-$name:$version"
  "$DOCKER" tag "$work_tag" "$name:$version"
  "$DOCKER" rmi "$work_tag" >/dev/null
  echo "$name-image: $version from Debian trixie, tagged tasks-backend-$name:$version and $name:$version"
}

# ---- HTTP --------------------------------------------------------------------

# free_port: a TCP port free on 127.0.0.1 right now.
free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# http_code URL [CURL-ARGS...]: the status code, 000 when nothing answered.
# Only loopback is ever asked, so no proxy.
http_code() {
  local url="$1"
  shift
  curl -s --noproxy '*' --connect-timeout 2 --max-time 5 -o /dev/null -w '%{http_code}' "$@" "$url" 2>/dev/null || true
}

# wait_http URL SECONDS: until URL answers 200.
wait_http() {
  local i
  for ((i = 0; i < $2 * 5; i++)); do
    [[ "$(http_code "$1")" == 200 ]] && return 0
    sleep 0.2
  done
  return 1
}

# ---- the service, from outside -----------------------------------------------

# service_binary: the executable under test: TASKS_BIN, or the debug build (built
# when missing).
service_binary() {
  if [[ -n "${TASKS_BIN:-}" ]]; then
    echo "$TASKS_BIN"
    return
  fi
  cargo build --locked -q >&2 || return 1
  echo "${CARGO_TARGET_DIR:-target}/debug/tasks-backend"
}

# start_service BIN DIR: runs BIN on DIR/tasks.db and a free loopback port,
# logging to DIR/server.log. Sets service_pid and service_url; fails when /health
# does not answer within 10 s. stop_service stops it.
start_service() {
  local bin="$1" dir="$2" port
  port=$(free_port)
  service_url="http://127.0.0.1:$port"
  HOST=127.0.0.1 PORT="$port" DATABASE_URL="sqlite://$dir/tasks.db" LOG_FORMAT=json \
    "$bin" >"$dir/server.log" 2>&1 &
  service_pid=$!
  wait_http "$service_url/health" 10 && return 0
  echo "the service did not answer /health within 10 s; its log:" >&2
  tail -20 "$dir/server.log" >&2
  return 1
}

stop_service() {
  if [[ -n "${service_pid:-}" ]]; then
    kill "$service_pid" 2>/dev/null || true
    wait "$service_pid" 2>/dev/null || true
    service_pid=""
  fi
}

# start_service_until_exit BIN DIR: start_service, and when the script exits, stop
# the service and remove DIR.
start_service_until_exit() {
  # shellcheck disable=SC2064 # DIR is fixed now, on purpose
  trap "stop_service; rm -rf '$2'" EXIT
  start_service "$1" "$2"
}

# service_log_clean DIR: true when the log start_service wrote in DIR has no 5xx
# answer and no panic.
service_log_clean() { ! grep -E '"status":5[0-9][0-9]|panicked' "$1/server.log"; }

# ---- counting ----------------------------------------------------------------
# Every script reports its checks in one vocabulary, one line each:
#   PASS NAME (DETAIL)   the check ran and held
#   FAIL NAME (DETAIL)   the check ran and did not hold, or could not be set up
#   SKIP NAME (REASON)   the check's work could not run here (a missing ../shared
#                        folder outside CI, an unreachable database source): not
#                        a pass; the reason says why
#   n/a NAME (REASON)    the check does not apply to what is tested (a check of
#                        Dockerfile.compat on the Nix image), or no machine of
#                        this project can run it (statix); counted apart
# and closes with summary's line. A script whose work could not run at all prints
# one "SKIP reason" line and exits 77 (TB_EXIT_SKIP); summary exits 77 too when
# something was skipped and nothing failed, so a runner above it (scripts/test.sh
# and its stage) reports the whole as SKIP, never as PASS.

TB_EXIT_SKIP=77 TB_EXIT_NA=78
passed=0 failed=0 skipped=0 not_applicable=0

# tally ok|fail|skip|na LINE: count one outcome and print LINE as it is.
tally() {
  case "$1" in
    ok) passed=$((passed + 1)) ;;
    skip) skipped=$((skipped + 1)) ;;
    na) not_applicable=$((not_applicable + 1)) ;;
    *) failed=$((failed + 1)) ;;
  esac
  printf '%s\n' "$2"
}

# result ok|fail|skip|na NAME [DETAIL]: "PASS|FAIL|SKIP|n/a NAME (DETAIL)".
result() {
  local word
  case "$1" in
    ok) word=PASS ;;
    skip) word=SKIP ;;
    na) word=n/a ;;
    *) word=FAIL ;;
  esac
  tally "$1" "$word $2${3:+ ($3)}"
}

# check [--quiet] [--errexit] NAME DETAIL COMMAND...: runs COMMAND and reports
# one result from its exit status: 0 PASS, 77 SKIP, 78 n/a, anything else FAIL.
#   --quiet    COMMAND's output is held back and shown, indented, only when the
#              check did not pass (tools that print pages when all is well)
#   --errexit  COMMAND runs in a subshell with errexit on, so any failing step
#              fails the check, and `fail MSG` / `not_applicable MSG` end it
# Inside COMMAND, `note MSG` replaces DETAIL (a measured figure, the reason of a
# failure); with --quiet, a failure without a note gets COMMAND's last 3 lines.
tb_check_note=""
check() {
  local tb_quiet=0 tb_errexit=0 tb_name tb_detail tb_status=0 tb_out tb_kind
  while [[ "$1" == --quiet || "$1" == --errexit ]]; do
    [[ "$1" == --quiet ]] && tb_quiet=1 || tb_errexit=1
    shift
  done
  tb_name="$1" tb_detail="$2"
  shift 2
  tb_check_note="$(mktemp "${TMPDIR:-/tmp}/tasks-backend-note.XXXXXX")"
  tb_out="$tb_check_note.out"
  if ((tb_errexit)); then
    set +e
    if ((tb_quiet)); then (set -e && "$@") >"$tb_out" 2>&1; else (set -e && "$@"); fi
    tb_status=$?
    set -e
  elif ((tb_quiet)); then
    "$@" >"$tb_out" 2>&1 || tb_status=$?
  else
    "$@" || tb_status=$?
  fi
  case "$tb_status" in
    0) tb_kind=ok ;;
    "$TB_EXIT_SKIP") tb_kind=skip ;;
    "$TB_EXIT_NA") tb_kind=na ;;
    *) tb_kind=fail ;;
  esac
  if [[ -s "$tb_check_note" ]]; then
    tb_detail="$(cat "$tb_check_note")"
  elif [[ "$tb_kind" == fail ]] && ((tb_quiet)) && [[ -s "$tb_out" ]]; then
    tb_detail+="${tb_detail:+; }exit $tb_status: $(tail -n 3 "$tb_out" | tr '\n' ' ' | sed 's/ $//')"
  fi
  result "$tb_kind" "$tb_name" "$tb_detail"
  if ((tb_quiet)) && [[ "$tb_kind" != ok && -s "$tb_out" ]]; then
    sed 's/^/     /' "$tb_out"
  fi
  rm -f "$tb_check_note" "$tb_out"
  tb_check_note=""
  return 0
}

# note MSG: inside a check's COMMAND, the detail its line shows.
note() {
  if [[ -n "$tb_check_note" ]]; then printf '%s\n' "$*" >"$tb_check_note"; fi
}

# fail MSG / not_applicable MSG: inside a check's COMMAND run with --errexit, end
# it as failed or not applicable, with MSG as its detail.
fail() {
  note "$*"
  exit 1
}
not_applicable() {
  note "$*"
  exit "$TB_EXIT_NA"
}

# summary: "N passed, M failed, K skipped" (", L not applicable" when some
# were). Exit status: 1 when a check failed, 77 when none failed but one was
# skipped (so the stage running this script is a SKIP, not a PASS), else 0.
summary() {
  local line="$passed passed, $failed failed, $skipped skipped"
  ((not_applicable == 0)) || line+=", $not_applicable not applicable"
  echo "$line"
  if ((failed > 0)); then return 1; fi
  if ((skipped > 0)); then return "$TB_EXIT_SKIP"; fi
  return 0
}

# ---- Nix -----------------------------------------------------------------------

# nix_store_file PATH: where a store PATH that scripts/lib/nix-eval.sh's build.sh
# printed is on this machine: inside the chroot of ../shared/nix-eval
# ($NIX_EVAL_ROOT, default /var/cache/nix-eval/trixie) when those tools built
# it, PATH itself when a real nix did.
nix_store_file() {
  local chroot="${NIX_EVAL_ROOT:-/var/cache/nix-eval/trixie}"
  if [[ -e "$chroot$1" ]]; then
    printf '%s\n' "$chroot$1"
  else
    printf '%s\n' "$1"
  fi
}

# ---- misc --------------------------------------------------------------------

# wait_for SECONDS COMMAND...: true once COMMAND succeeds, tried every 0.5 s.
wait_for() {
  local deadline=$((SECONDS + $1))
  shift
  until "$@"; do
    ((SECONDS < deadline)) || return 1
    sleep 0.5
  done
}

# random_password: 32 hex digits, safe inside a URL unquoted.
random_password() {
  python3 -c 'import secrets; print(secrets.token_hex(16))'
}
