#!/usr/bin/env bash
# Contract check: syft, reading the image alone, finds every crate that the
# release binary links, at the version Cargo.lock holds.
# Usage: scripts/test/sbom.sh IMAGE
# Linked: `cargo tree` of the service for the image's target (its architecture:
# amd64 or arm64), normal edges without
# proc-macros (macros and build scripts run at build time and are not linked).
# Found: the pkg:cargo components of scripts/build/sbom.sh's CycloneDX file, which
# syft reads from the list cargo-auditable embedded in the binary.
# Passes when every linked crate is found at its Cargo.lock version (no margin)
# and every crate found is in Cargo.lock at that version. cargo-auditable
# records `cargo metadata`'s resolution, a superset of the build's (it unifies
# optional features across the whole lock file), so syft also lists some crates
# of Cargo.lock that are not linked; they are counted and named, not failed.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
if [[ $# -ne 1 ]]; then
  echo "usage: scripts/test/sbom.sh IMAGE" >&2
  exit 2
fi
image="$1"

work="$(mktemp -d "${TMPDIR:-/tmp}/tasks-test-sbom.XXXXXX")"
trap 'rm -rf "$work"' EXIT

sbom="$("$root/scripts/build/sbom.sh" "$image" | tail -n 1)"

# shellcheck source=scripts/lib/lib.sh
source "$root/scripts/lib/lib.sh"
docker_client
case "$("$DOCKER" image inspect -f '{{.Architecture}}' "$image")" in
  amd64) target=x86_64-unknown-linux-gnu ;;
  arm64) target=aarch64-unknown-linux-gnu ;;
  *)
    echo "test-sbom: FAIL $image: an architecture this test knows no Rust target for" >&2
    exit 1
    ;;
esac
# "name vX.Y.Z" per line (path crates carry their directory after the version).
(cd "$root" && cargo tree --locked --target "$target" -e normal,no-proc-macro \
  --prefix none -f '{p}') |
  awk '{ sub(/^v/, "", $2); print $1 " " $2 }' | sort -u >"$work/expected"

# Every cargo package syft reports, from its package URL (percent-decoded:
# "+" in a version comes as %2B).
jq -r '.components[]? | .purl // empty | select(startswith("pkg:cargo/"))
       | ltrimstr("pkg:cargo/") | split("?")[0] | split("@") | "\(.[0]) \(.[1])"' "$sbom" |
  sed 's/%2B/+/g' | sort -u >"$work/found"
# Every package of Cargo.lock, as "name version".
awk -F'"' '/^name = / { n = $2 } /^version = / { print n " " $2 }' "$root/Cargo.lock" |
  sort -u >"$work/locked"

linked=$(wc -l <"$work/expected")
found=$(wc -l <"$work/found")
matched=$(comm -12 "$work/expected" "$work/found" | wc -l)
comm -13 "$work/expected" "$work/found" >"$work/extra"
extra=$(wc -l <"$work/extra")
echo "test-sbom: $image: cargo tree: $linked linked crates; syft: $found crates," \
  "$matched of the linked ones at their Cargo.lock version, $extra more from Cargo.lock"
status=0
# An empty or tiny linked list would make the comparison meaningless.
if ((linked < 100)); then
  echo "test-sbom: FAIL cargo tree listed only $linked crates; the service links over 200"
  status=1
fi
if ((matched != linked)); then
  echo "test-sbom: FAIL $((linked - matched)) linked crates missing from the SBOM (or at another version):"
  comm -23 "$work/expected" "$work/found" | sed 's/^/  /'
  status=1
fi
if comm -23 "$work/found" "$work/locked" | grep -q .; then
  echo "test-sbom: FAIL the SBOM names crates or versions that Cargo.lock does not hold:"
  comm -23 "$work/found" "$work/locked" | sed 's/^/  /'
  status=1
fi
if ((extra > 0)); then
  echo "test-sbom: not linked but recorded by cargo-auditable (in Cargo.lock): $(cut -d' ' -f1 "$work/extra" | tr '\n' ' ')"
fi
if ((status == 0)); then
  echo "test-sbom: ok, all $linked linked crates found with their Cargo.lock versions; SBOM kept at $sbom"
fi
exit "$status"
