#!/usr/bin/env bash
# The Nix image, as `nix build .#image && docker load < result` gives it, under
# the container contract.
# Usage: scripts/test/nix-image.sh [ARCHIVE [NIX_TAG]]
#        (defaults target/nix/image.tar.gz, which scripts/test/nix-build.sh builds
#        from packages.x86_64-linux.image, and tasks-backend:nix)
# ARCHIVE is the docker-archive that nix-build made of the flake's image output:
# nixpkgs' dockerTools.buildLayeredImage, fakeNss and layering scripts around the
# package crane built in the same run. It is loaded, tagged NIX_TAG, checked to
# hold exactly the binary the nix build stage smoke-tested (target/nix/
# tasks-backend), then scripts/test/image.sh checks it like the compat image.
# Env: DOCKER (client)
set -euo pipefail

# shellcheck source=scripts/lib/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib/lib.sh"
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
archive="${1:-$here/../../target/nix/image.tar.gz}"
tag="${2:-tasks-backend:nix}"
binary="$(dirname "$archive")/tasks-backend"
if [[ ! -s "$archive" ]]; then
  echo "test-nix-image: no image archive at $archive (scripts/test/nix-build.sh makes it)"
  exit 1
fi
ensure_docker
work="$(mktemp -d "${TMPDIR:-/tmp}/nix-image.XXXXXX")"
container="nix-image-binary-$$"
trap '"$DOCKER" rm -f "$container" >/dev/null 2>&1 || true; rm -rf "$work"' EXIT

# `docker load` prints "Loaded image: NAME:TAG" for the archive's own tag.
loaded="$("$DOCKER" load -i "$archive" | sed -n 's/^Loaded image: //p' | tail -n 1)"
if [[ -z "$loaded" ]]; then
  echo "test-nix-image: docker load of $archive named no image"
  exit 1
fi
[[ "$loaded" == "$tag" ]] || "$DOCKER" tag "$loaded" "$tag"
layers="$("$DOCKER" image inspect -f '{{len .RootFS.Layers}}' "$tag")"
echo "test-nix-image: loaded $loaded as $tag ($(stat -c %s "$archive") bytes archived, $layers layers)"

# The image holds the very binary the nix build stage tested (its store path,
# linked into /bin by dockerTools).
"$DOCKER" create --name "$container" "$tag" >/dev/null
"$DOCKER" cp -L "$container:/bin/tasks-backend" "$work/tasks-backend"
same=fail
if [[ -f "$binary" ]] && cmp -s "$binary" "$work/tasks-backend"; then same=ok; fi
result "$same" "the image's /bin/tasks-backend is the crane-built binary" "$(sha256sum "$work/tasks-backend" | cut -c1-16)"
[[ "$same" == ok ]] || exit 1
"$here/image.sh" --built-without-git "$tag"
