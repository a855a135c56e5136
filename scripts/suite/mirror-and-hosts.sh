#!/usr/bin/env bash
# Checks of scripts/lib/lib.sh that need no service, and of the rule behind one of them:
#   1. debian_mirror picks, from apt sources written as this machine kind has them
#      (deb822 and one-line files, several vendors, security and updates suites,
#      comments, disabled entries), the source that serves Debian itself; honours
#      DEBIAN_MIRROR; refuses, naming DEBIAN_MIRROR, when there is none.
#   2. No package mirror's or registry's host name is written in a tracked file
#      (Cargo.lock excepted: cargo writes its registry's index URL there).
# Ends with "N passed, M failed, K skipped".
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=scripts/lib/lib.sh
source "$here/../lib/lib.sh"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

# case NAME EXPECTED FILE=CONTENT...: write the files into a fresh apt dir and
# compare debian_mirror's answer ("error" when it refuses) with EXPECTED.
case_() {
  local name="$1" want="$2" dir got spec
  shift 2
  dir="$(mktemp -d "$work/apt.XXXXXX")"
  mkdir -p "$dir/sources.list.d"
  for spec in "$@"; do
    printf '%s\n' "${spec#*=}" >"$dir/${spec%%=*}"
  done
  got="$(APT_SOURCES_DIR="$dir" DEBIAN_MIRROR="" debian_mirror 2>"$work/err")" || got=error
  if [[ "$got" == "$want" && ("$want" != error || "$(cat "$work/err")" == *DEBIAN_MIRROR*) ]]; then
    result ok "debian_mirror: $name" "$got"
  else
    result fail "debian_mirror: $name" "want $want, got $got $(cat "$work/err")"
  fi
}

# Host names below are placeholders under the reserved .example domain.
case_ "deb822 with comments, security and updates stanzas" "http://mirror.example/debian" \
  "sources.list.d/debian.sources=Types: deb
# http://archive.example/debian/20250520T000000Z
URIs: http://mirror.example/debian
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: http://mirror.example/debian-security
Suites: bookworm-security
Components: main"
case_ "another vendor listed first; one-line options; trailing slash" "http://mirror.example/pub/debian" \
  "sources.list=deb [arch=amd64 signed-by=/usr/share/keyrings/v.gpg] https://vendor.example/apt stable main
deb http://mirror.example/debian-security bookworm-security main
deb [ arch=amd64 ] http://mirror.example/pub/debian/ bookworm main contrib"
case_ "a disabled deb822 entry is not taken" "http://second.example/debian" \
  "sources.list.d/a.sources=Enabled: no
Types: deb
URIs: http://first.example/debian
Suites: trixie
Components: main" \
  "sources.list.d/b.sources=Types: deb-src deb
URIs: http://second.example/debian/
Suites: trixie
Components: contrib main
Signed-By:
 -----BEGIN PGP PUBLIC KEY BLOCK-----
 .
 -----END PGP PUBLIC KEY BLOCK-----"
case_ "deb-src only, or updates only: none" error \
  "sources.list=deb-src http://mirror.example/debian bookworm main
deb http://mirror.example/debian bookworm-updates main"
case_ "no apt sources at all: refused, naming DEBIAN_MIRROR" error
if [[ "$(DEBIAN_MIRROR=http://override.example/debian/ debian_mirror)" == http://override.example/debian ]]; then
  result ok "debian_mirror: DEBIAN_MIRROR overrides"
else
  result fail "debian_mirror: DEBIAN_MIRROR overrides"
fi

# 2. Host names of package mirrors and registries (the brief's rule).
hosts='deb\.debian\.org|security\.debian\.org|ftp\.[a-z.]*debian\.org|archive\.ubuntu\.com|pypi\.org|pythonhosted\.org|index\.crates\.io|static\.crates\.io|registry\.npmjs\.org|registry-1\.docker\.io|index\.docker\.io|ghcr\.io|quay\.io|gcr\.io'
repo="$TB_ROOT"
if hits="$(git -C "$repo" grep -nIE "$hosts" -- . ':!Cargo.lock' 2>/dev/null)"; then
  result fail "no package mirror or registry host name in a tracked file" "$(head -n 3 <<<"$hits" | tr '\n' ' ')"
else
  result ok "no package mirror or registry host name in a tracked file" "$(git -C "$repo" ls-files | wc -l) files"
fi

summary
