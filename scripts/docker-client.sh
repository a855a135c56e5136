# Sourced by the scripts that talk to Docker: picks the client once for all of them.
# Debian's /usr/bin/docker (20.10) has a working BuildKit; the newer client first
# on PATH on these machines has no buildx. $DOCKER, when set, wins.
# shellcheck shell=bash
if [[ -z "${DOCKER:-}" ]]; then
  if [[ -x /usr/bin/docker ]]; then DOCKER=/usr/bin/docker; else DOCKER=docker; fi
fi
export DOCKER
