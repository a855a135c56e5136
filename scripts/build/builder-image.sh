#!/usr/bin/env bash
# Build the local stand-in for the official Rust builder image (air-gapped path).
# Usage: scripts/build/builder-image.sh [TAG]   (default tasks-backend-builder:trixie-rust)
# debootstrap's Debian trixie (minbase) + Debian's rustc-web/cargo-web (Rust 1.96),
# gcc, libc6-dev and Debian's own ca-certificates. Cached: does nothing when TAG exists.
# Everything comes from the Debian archive this machine's apt already uses
# ($DEBIAN_MIRROR overrides it; see debian_mirror in scripts/lib/lib.sh); no host
# file (in particular no host CA) is copied into the image.
set -euo pipefail

# shellcheck source=scripts/lib/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib/lib.sh"
ensure_docker
tag="${1:-tasks-backend-builder:trixie-rust}"
base="${tag%%:*}-base:trixie"

if "$DOCKER" image inspect "$tag" >/dev/null 2>&1; then
  echo "builder-image: $tag already present"
  exit 0
fi

debian_base "$base"

echo "builder-image: installing rustc-web/cargo-web into $tag"
# Same layout as the official image: CARGO_HOME=/usr/local/cargo, cargo on PATH.
DOCKER_BUILDKIT=1 "$DOCKER" build -q -t "$tag" - >/dev/null <<DOCKERFILE
FROM $base
ENV CARGO_HOME=/usr/local/cargo
ENV PATH=/usr/local/cargo/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
RUN apt-get update \\
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \\
      rustc-web cargo-web gcc libc6-dev pkg-config ca-certificates \\
 && rm -rf /var/lib/apt/lists/* /var/cache/apt/archives/*.deb \\
 && mkdir -p /usr/local/cargo \\
 && rustc --version && cargo --version
DOCKERFILE
echo "builder-image: built $tag ($("$DOCKER" run --rm "$tag" rustc --version))"
