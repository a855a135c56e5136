#!/usr/bin/env bash
# Build the compat image from Dockerfile.compat with BuildKit.
# Usage: scripts/build/compat-image.sh [--platform PLATFORM] [TAG]
#   TAG       default tasks-backend:compat
#   PLATFORM  the image's platform (docker build --platform), e.g. linux/arm64:
#             cross-compiled by the builder on this machine's own platform;
#             default this machine's
# Env:
#   DOCKER         client (default: Debian's /usr/bin/docker, installed when missing)
#   RUST_IMAGE     builder image; default: rust:1.95-slim-bookworm when present
#                  or pullable, else the local stand-in from scripts/build/builder-image.sh
#   CA_BUNDLE      CA bundle passed as BuildKit secret `cacert` (used only while
#                  crates are fetched); default /etc/ssl/certs/ca-certificates.crt
#                  when it exists; set CA_BUNDLE= (empty) to pass none
#   BUILD_CONTEXT  build context directory (default: the repository root)
#   REVISION, CREATED  provenance labels; default: the commit checked out
#                  (with "-dirty" when the work tree has changes) and that
#                  commit's time in UTC; outside git "unknown" and the time
#                  of SOURCE_DATE_EPOCH (default 0)

# TAG is removed before the build, so a failed build leaves no older image under
# TAG for later checks to test by mistake.
set -euo pipefail

# shellcheck source=scripts/lib/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib/lib.sh"
ensure_docker
here="$TB_SCRIPTS"
platform=()
if [[ "${1:-}" == --platform ]]; then
  [[ $# -ge 2 ]] || { echo "usage: scripts/build/compat-image.sh [--platform PLATFORM] [TAG]" >&2; exit 2; }
  platform=(--platform "$2")
  shift 2
fi
tag="${1:-tasks-backend:compat}"
context="${BUILD_CONTEXT:-$(dirname "$here")}"
official="rust:1.95-slim-bookworm"
standin="tasks-backend-builder:trixie-rust"

if [[ -z "${RUST_IMAGE:-}" ]]; then
  if "$DOCKER" image inspect "$official" >/dev/null 2>&1 \
    || timeout 60 "$DOCKER" pull -q "$official" >/dev/null 2>&1; then
    RUST_IMAGE="$official"
  else
    echo "build-image: $official cannot be pulled; using local stand-in $standin"
    "$here/build/builder-image.sh" "$standin"
    RUST_IMAGE="$standin"
  fi
fi

# Provenance labels (org.opencontainers.image.*): the commit and its time, not
# the build's, so rebuilding one commit gives one set of labels.
if git -C "$context" rev-parse --verify -q HEAD >/dev/null 2>&1; then
  revision="${REVISION:-$(git -C "$context" rev-parse HEAD)}"
  if [[ -z "${REVISION:-}" && -n "$(git -C "$context" status --porcelain --untracked-files=no)" ]]; then
    revision="$revision-dirty"
  fi
  created="${CREATED:-$(TZ=UTC0 git -C "$context" show -s --format=%cd \
    --date=format-local:%Y-%m-%dT%H:%M:%SZ HEAD)}"
else
  revision="${REVISION:-unknown}"
  created="${CREATED:-$(date -u -d "@${SOURCE_DATE_EPOCH:-0}" +%Y-%m-%dT%H:%M:%SZ)}"
fi
version="$(sed -n '/^\[package\]/,/^\[/s/^version = "\(.*\)"/\1/p' "$context/Cargo.toml" | head -n 1)"

args=(build "${platform[@]}" -f "$context/Dockerfile.compat" --build-arg "RUST_IMAGE=$RUST_IMAGE" -t "$tag"
  --build-arg "REVISION=$revision" --build-arg "CREATED=$created" --build-arg "VERSION=$version")
ca="${CA_BUNDLE-/etc/ssl/certs/ca-certificates.crt}"
if [[ -n "$ca" && -f "$ca" ]]; then
  args+=(--secret "id=cacert,src=$ca")
fi

# -f: untags TAG even while a container still uses it (the image then stays,
# untagged, for that container only).
"$DOCKER" rmi -f "$tag" >/dev/null 2>&1 || true
echo "build-image: building $tag${platform[1]:+ for ${platform[1]}} from $context with RUST_IMAGE=$RUST_IMAGE (revision $revision, $created, version $version)"
start=$SECONDS
DOCKER_BUILDKIT=1 "$DOCKER" "${args[@]}" "$context"
size="$("$DOCKER" image inspect -f '{{.Size}}' "$tag")"
echo "build-image: $tag built in $((SECONDS - start))s, size $size bytes ($(awk -v s="$size" 'BEGIN { printf "%.1f", s / 1e6 }') MB)"
