#!/usr/bin/env bash
# Contract check: syft, reading the image alone, finds every crate that the
# release binary links, at the version Cargo.lock holds, and nothing else.
# Usage: scripts/test-sbom.sh IMAGE
# Expected list: `cargo tree` of the service for the host target, normal edges
# without proc-macros (macros and build scripts run at build time and are not
# linked), which is what cargo-auditable embeds. Found list: the pkg:cargo
# components of scripts/sbom.sh's CycloneDX file. Prints both counts and the
# differences; passes only when the two sets are equal (no margin: a missing,
# extra or mismatched crate fails).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
if [[ $# -ne 1 ]]; then
  echo "usage: scripts/test-sbom.sh IMAGE" >&2
  exit 2
fi
image="$1"

work="$(mktemp -d "${TMPDIR:-/tmp}/tasks-test-sbom.XXXXXX")"
trap 'rm -rf "$work"' EXIT

sbom="$("$root/scripts/sbom.sh" "$image" | tail -n 1)"

host="$(rustc -vV | sed -n 's/^host: //p')"
# "name vX.Y.Z" per line (path crates carry their directory after the version).
(cd "$root" && cargo tree --locked --target "$host" -e normal,no-proc-macro \
  --prefix none -f '{p}') |
  awk '{ sub(/^v/, "", $2); print $1 " " $2 }' | sort -u >"$work/expected"

# Every cargo package syft reports, from its package URL.
jq -r '.components[]? | .purl // empty | select(startswith("pkg:cargo/"))
       | ltrimstr("pkg:cargo/") | split("?")[0] | split("@") | "\(.[0]) \(.[1])"' "$sbom" |
  sort -u >"$work/found"

expected=$(wc -l <"$work/expected")
found=$(wc -l <"$work/found")
both=$(comm -12 "$work/expected" "$work/found" | wc -l)
echo "test-sbom: $image: cargo tree lists $expected linked crates, syft finds $found, $both match by name and version"
status=0
if comm -23 "$work/expected" "$work/found" | grep -q .; then
  echo "test-sbom: FAIL linked but not in the SBOM (or at another version):"
  comm -23 "$work/expected" "$work/found" | sed 's/^/  /'
  status=1
fi
if comm -13 "$work/expected" "$work/found" | grep -q .; then
  echo "test-sbom: FAIL in the SBOM but not linked (or at another version):"
  comm -13 "$work/expected" "$work/found" | sed 's/^/  /'
  status=1
fi
# An empty expected list would make equality meaningless.
if ((expected < 50)); then
  echo "test-sbom: FAIL cargo tree listed only $expected crates; the service links well over 100"
  status=1
fi
if ((status == 0)); then
  echo "test-sbom: ok, all $expected crates found with their Cargo.lock versions; SBOM kept at $sbom"
fi
exit "$status"
