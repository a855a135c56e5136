#!/usr/bin/env bash
# Build the local stand-in for the official Rust builder image (air-gapped path).
# Usage: scripts/builder-image.sh [TAG]   (default tasks-backend-builder:trixie-rust)
# debootstrap's Debian trixie (minbase) + Debian's rustc-web/cargo-web (Rust 1.96),
# gcc, libc6-dev and Debian's own ca-certificates. Cached: does nothing when TAG exists.
# Everything comes from Debian's archive over http ($DEBIAN_MIRROR); no host
# file (in particular no host CA) is copied into the image.
set -euo pipefail

# shellcheck source=scripts/docker-client.sh
source "$(dirname "${BASH_SOURCE[0]}")/docker-client.sh"
tag="${1:-tasks-backend-builder:trixie-rust}"
base="${tag%%:*}-base:trixie"
mirror="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"

if "$DOCKER" image inspect "$tag" >/dev/null 2>&1; then
  echo "builder-image: $tag already present"
  exit 0
fi

if ! "$DOCKER" image inspect "$base" >/dev/null 2>&1; then
  if ! command -v debootstrap >/dev/null 2>&1; then
    echo "builder-image: installing debootstrap"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >/dev/null
    apt-get install -y -qq debootstrap >/dev/null
  fi
  rootfs="$(mktemp -d "${TMPDIR:-/tmp}/tasks-backend-rootfs.XXXXXX")"
  trap 'rm -rf "$rootfs"' EXIT
  log="${TMPDIR:-/tmp}/tasks-backend-debootstrap.log"
  echo "builder-image: debootstrap trixie into $rootfs (log $log)"
  if ! debootstrap --variant=minbase trixie "$rootfs" "$mirror" >"$log" 2>&1; then
    tail -n 20 "$log" >&2
    exit 1
  fi
  tar -C "$rootfs" -c . | "$DOCKER" import - "$base" >/dev/null
  rm -rf "$rootfs"
fi

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
