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
