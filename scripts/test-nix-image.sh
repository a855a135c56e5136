#!/usr/bin/env bash
# Assemble the Nix image offline and run the container contract on it.
# Usage: scripts/test-nix-image.sh [COMPAT_IMAGE [NIX_TAG]]
#        (defaults tasks-backend:compat and tasks-backend:nix)
# No Nix store or cache is reachable here, so crane cannot compile the service:
# the static binary of the freshly built COMPAT_IMAGE stands in for it, and
# ../shared/nix-eval/assemble.sh (through scripts/nix-eval.sh) builds
# nix/image.nix around it with nixpkgs' real dockerTools, fakeNss and layering
# code, loads it as NIX_TAG, and scripts/test-image.sh checks it like the compat
# image. What this cannot show (the crane closure) is in README's Nix section.
# Where ../shared/nix-eval is absent outside CI it prints SKIP and exits 0;
# under CI=true that is a failure.
# Env: DOCKER (client), NIX_EVAL_DIR (see scripts/nix-eval.sh)
set -euo pipefail

# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
ensure_docker
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
compat="${1:-tasks-backend:compat}"
tag="${2:-tasks-backend:nix}"
work="$(mktemp -d "${TMPDIR:-/tmp}/nix-image.XXXXXX")"
container="nix-image-binary-$$"
trap '"$DOCKER" rm -f "$container" >/dev/null 2>&1 || true; rm -rf "$work"' EXIT

# The binary, taken out of the image without running it (it has no shell).
"$DOCKER" create --name "$container" "$compat" >/dev/null
"$DOCKER" cp -L "$container:/bin/tasks-backend" "$work/tasks-backend"
"$DOCKER" rm "$container" >/dev/null

start=$SECONDS
status=0
"$here/nix-eval.sh" assemble.sh . --binary "$work/tasks-backend" --tag "$tag" \
  --out "$work/image.tar.gz" >"$work/assemble.log" 2>&1 || status=$?
last="$(tail -n 1 "$work/assemble.log")"
if ((status == 77)); then
  echo "test-nix-image: $last"
  exit 0
fi
if ((status != 0)); then
  echo "test-nix-image: assemble failed (exit $status):"
  tail -n 20 "$work/assemble.log"
  exit 1
fi
echo "test-nix-image: $last ($((SECONDS - start)) s, binary from $compat)"
"$here/test-image.sh" --built-without-git "$tag"
