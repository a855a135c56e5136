#!/usr/bin/env bash
# Build the local stand-in for the official HAProxy image, for machines that reach
# no container registry: Debian trixie (debian_base in scripts/lib/lib.sh) + Debian's
# `haproxy` package, laid out like the official image: configuration read from
# /usr/local/etc/haproxy/haproxy.cfg, master-worker mode in the foreground, run
# as the unprivileged user haproxy (so listen on ports above 1023), SIGUSR1 as
# stop signal (soft stop: finish open connections).
# Tags: tasks-backend-haproxy:X.Y and haproxy:X.Y, X.Y being the version Debian
# ships (read from the built image).
# Usage: scripts/setup/haproxy-image.sh     Cached: does nothing when both tags exist.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=scripts/lib/lib.sh
source "$here/../lib/lib.sh"
ensure_docker
base="tasks-backend-builder-base:trixie"
work_tag="tasks-backend-haproxy:build"

standin_present haproxy '[0-9]+\.[0-9]+' && exit 0

debian_base "$base"
echo "haproxy-image: installing Debian's haproxy"
DOCKER_BUILDKIT=1 "$DOCKER" build -q -t "$work_tag" - >/dev/null <<DOCKERFILE
FROM $base
RUN apt-get update \\
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends haproxy \\
 && rm -rf /var/lib/apt/lists/* /var/cache/apt/archives/*.deb \\
 && install -d -m 0755 /usr/local/etc/haproxy \\
 && cp /etc/haproxy/haproxy.cfg /usr/local/etc/haproxy/haproxy.cfg
USER haproxy
STOPSIGNAL SIGUSR1
CMD ["haproxy", "-W", "-db", "-f", "/usr/local/etc/haproxy/haproxy.cfg"]
DOCKERFILE
version=$("$DOCKER" run --rm "$work_tag" haproxy -v | sed -n 's/^HAProxy version \([0-9]*\.[0-9]*\).*/\1/p')
standin_tag haproxy "$work_tag" "$version" '[0-9]+\.[0-9]+'
