#!/usr/bin/env bash
# Builds the compat image of the previous schema version: the commit just before
# the one that added the newest migration (src/db/migrations/mod.rs's last
# change), so the Swarm stage can run it beside this commit's image on one
# database and roll back to it with the new migration applied. The build reuses
# the cached dependency layer whenever that commit's Cargo.toml and Cargo.lock
# are this commit's; it prints its time.
# Usage: scripts/build/previous-image.sh [TAG]   (default tasks-backend:previous)
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/../.."
# shellcheck source=scripts/lib/lib.sh
source scripts/lib/lib.sh
tag="${1:-tasks-backend:previous}"

added=$(git log -1 --format=%H -- src/db/migrations/mod.rs)
previous=$(git rev-parse --verify -q "$added^") || {
  echo "previous-image: $added has no parent (a shallow clone?): cannot build the previous schema's image" >&2
  exit 1
}
same_deps=no
git diff --quiet "$previous" HEAD -- Cargo.toml Cargo.lock && same_deps=yes
echo "previous-image: newest migration added by $(git log -1 --format='%h %s' "$added" | cut -c1-80)"
echo "previous-image: building $(git log -1 --format='%h' "$previous") as $tag (same Cargo.toml and Cargo.lock as HEAD: $same_deps)"

context=$(mktemp -d "${TMPDIR:-/tmp}/tasks-previous.XXXXXX")
trap 'rm -rf "$context"' EXIT
git archive "$previous" | tar -x -C "$context"
start=$SECONDS
BUILD_CONTEXT="$context" REVISION=$(git rev-parse "$previous") \
  CREATED=$(TZ=UTC0 git show -s --format=%cd --date=format-local:%Y-%m-%dT%H:%M:%SZ "$previous") \
  scripts/build/compat-image.sh "$tag"
echo "previous-image: $tag built in $((SECONDS - start)) s"
