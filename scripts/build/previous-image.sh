#!/usr/bin/env bash
# Builds the compat image of the previous schema version: the commit just before
# the one that added the newest migration (src/db/migrations/mod.rs's last
# change), so the Swarm stage can run it beside this commit's image on one
# database and roll back to it with the new migration applied. A test fixture:
# its release profile is relaxed (no LTO, opt-level 1) to build faster. It prints
# its time.
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
echo "previous-image: newest migration added by $(git log -1 --format='%h %s' "$added" | cut -c1-80)"
echo "previous-image: building $(git log -1 --format='%h' "$previous") as $tag (release profile relaxed: a fixture)"

context=$(mktemp -d "${TMPDIR:-/tmp}/tasks-previous.XXXXXX")
trap 'rm -rf "$context"' EXIT
git archive "$previous" | tar -x -C "$context"
# A test fixture, never shipped: built without the release profile's fat LTO and
# single codegen unit, whose one-threaded final link was most of this image's build
# (README, "Rolling update and rollback across a migration on Swarm"). Only
# [profile.release] changes: the same code, dependencies and lock file.
manifest="$context/Cargo.toml"
sed -i -e '/^\[profile\.release\]$/,/^\[/{s/^lto = "fat"$/lto = false\nopt-level = 1/;s/^codegen-units = 1$/codegen-units = 16/}' "$manifest"
if ! grep -qx 'opt-level = 1' "$manifest" || ! grep -qx 'codegen-units = 16' "$manifest"; then
  echo "previous-image: $manifest has no [profile.release] of fat LTO and one codegen unit to relax" >&2
  exit 1
fi
start=$SECONDS
BUILD_CONTEXT="$context" REVISION=$(git rev-parse "$previous") \
  CREATED=$(TZ=UTC0 git show -s --format=%cd --date=format-local:%Y-%m-%dT%H:%M:%SZ "$previous") \
  scripts/build/compat-image.sh "$tag"
echo "previous-image: $tag built in $((SECONDS - start)) s"
