# Shared by the bench scripts (sourced, not run): the repository's helpers
# (scripts/lib/lib.sh: free_port, wait_http, apt_tool, docker_client, ...) plus
# the bench's paths and its log line.
# shellcheck shell=bash

bench_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck disable=SC2034 # used by the scripts that source this
repo_dir="$(dirname "$bench_dir")"
# shellcheck source=scripts/lib/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../scripts/lib/lib.sh"
# The client is chosen now for the bench scripts run after ensure-docker.sh;
# run.sh, which runs ensure-docker.sh itself, chooses again after it.
docker_client

log() { echo "bench: $*" >&2; }

# bench_args HELP_LINES ARG...: the options the bench scripts share, parsed into
# the caller's variables `seconds`, `rounds` and `out` (set the defaults first):
# --seconds S, --rounds N (whole numbers from 1), --out DIR; -h prints lines
# HELP_LINES (a sed range such as 2,13) of the calling script. Anything else, or a
# bad number, exits 2 naming it.
# shellcheck disable=SC2034 # the caller's variables
bench_args() {
  local help="$1"
  shift
  while (($#)); do
    case "$1" in
      --seconds | --rounds)
        [[ "${2:-}" =~ ^[1-9][0-9]*$ ]] || { log "$1 needs a whole number from 1, got '${2:-}'" && exit 2; }
        if [[ $1 == --seconds ]]; then seconds="$2"; else rounds="$2"; fi
        shift
        ;;
      --out)
        [[ -n "${2:-}" ]] || { log "--out needs a directory" && exit 2; }
        out="$2" && shift
        ;;
      -h | --help) sed -n "${help}p" "$0" && exit 0 ;;
      *) log "unknown argument $1" && exit 2 ;;
    esac
    shift
  done
}

# release_binary [PATH]: prints PATH when given (a release binary built already),
# else builds the release binary here and prints where it is.
release_binary() {
  if [[ -n "${1:-}" ]]; then
    echo "$1"
    return
  fi
  log "building the release binary"
  (cd "$repo_dir" && cargo build --release --locked) >&2
  echo "${CARGO_TARGET_DIR:-$repo_dir/target}/release/tasks-backend"
}

# service_and_lean PROFILE: builds the service (unless SERVICE_BIN names a binary
# built already) and bench/lean/ with cargo profile PROFILE, and sets the caller's
# `service` and `lean` to the two binaries.
# shellcheck disable=SC2034 # the caller's variables
service_and_lean() {
  local profile="$1" target="${CARGO_TARGET_DIR:-$repo_dir/target}"
  service="${SERVICE_BIN:-$target/$profile/tasks-backend}" lean="$target/$profile/tasks-lean"
  if [[ -z "${SERVICE_BIN:-}" ]]; then
    log "building the service ($profile)"
    (cd "$repo_dir" && cargo build --profile "$profile" --locked)
  fi
  log "building the reference ($profile)"
  # Its own workspace: without --target-dir its binary would land in bench/lean/target.
  (cd "$bench_dir/lean" && cargo build --profile "$profile" --locked --target-dir "$target")
}

# The one server a script runs at a time: `server_pid=$!` after starting it in the
# background; stop_server stops it, and does nothing when none runs.
server_pid=""
stop_server() {
  if [[ -n "$server_pid" ]]; then
    kill "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
  fi
  server_pid=""
}
