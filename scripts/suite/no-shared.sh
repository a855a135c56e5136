#!/usr/bin/env bash
# Issue 25, kept proven: README's test command in a clone without ../shared (as
# any user has it) reports every stage truthfully. Clones the repository (its
# last commit) into a temporary folder whose parent has no shared/, and runs
# that clone's scripts/test.sh with TASKS_SHARED_DIR and NIX_EVAL_DIR unset,
# KEEP_SERVICES=1 (nothing of the machine is stopped) and TEST_STAGES set to the
# stages that use ../shared, so it never runs the whole suite again:
#   run 1, outside CI: nix checks, cargo-deny, nix build, nix image and the three
#     stages on the Nix image. Asserts: no stage whose output has a SKIP line is
#     a PASS; every SKIP names its reason; cargo-deny is not a FAIL: a PASS on
#     the database cargo-deny fetched from its default source, or a SKIP saying
#     that source cannot be reached; the Nix stages are SKIPs naming what is
#     missing (or ran for real where a usable nix and network exist); the
#     closing line "N passed, M failed, K skipped" counts the stage lines; exit
#     status 0 (outside CI a skip is not a failure).
#   run 2, CI=true, cargo-deny alone: skipped there, so the run exits 1.
#   run 3, a stand-in `nix` 2.24 first on PATH (its `flake archive` and `flake
#     check` succeed, its build of the package fails): the nix checks stage asks
#     it for `nix flake check --no-build` and passes, the nix build stage asks it
#     for `nix build .#packages.x86_64-linux.default` and FAILs (never a SKIP),
#     the nix image stage is a SKIP naming that failure.
#   run 5, the same stand-in, whose `nix build .#image` gives a small
#     docker-archive as result: scripts/lib/nix-eval.sh assemble.sh asks for
#     `nix build .#image`, `docker load`s the result and tags it, as the nix image
#     stage has it done (needs a Docker engine: lib.sh's ensure_docker). No
#     networked nix runs on these machines: what a real one builds is not seen.
#   run 4, only where cargo-deny did not pass in run 1 and a snapshot exists
#     (this project's machines): a stand-in `git` first on PATH
#     serves cargo-deny's clone of that source from a local copy of the
#     snapshot, so the networked path runs to its end: the stage PASSes on the
#     database "fetched by cargo-deny from its default source".
# Usage: scripts/suite/no-shared.sh [--repo PATH] [--ref REF]
#   (default: this repository, its HEAD). Ends with "N passed, M failed, K skipped".
# About 25 s with the tools installed (deadnix, nixpkgs-fmt, cargo-deny, docker).
set -euo pipefail

# shellcheck source=scripts/lib/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib/lib.sh"
repo="$TB_ROOT" ref=""
while (($#)); do
  case "$1" in
    --repo) repo="$2" && shift 2 ;;
    --ref) ref="$2" && shift 2 ;;
    *) echo "usage: $0 [--repo PATH] [--ref REF]" >&2 && exit 2 ;;
  esac
done
snapshot="${TASKS_SHARED_DIR:-$TB_ROOT/../shared}/advisory-db"

began=$SECONDS
work="$(mktemp -d "${TMPDIR:-/tmp}/tasks-no-shared.XXXXXX")"
trap 'rm -rf "$work"' EXIT
clone="$work/parent/tasks-backend"
mkdir -p "$work/parent" "$work/bin-nix" "$work/bin-git" "$work/cache"
git clone -q "$repo" "$clone"
if [[ -n "$ref" ]]; then git -C "$clone" checkout -q "$ref"; fi
if [[ -e "$work/parent/shared" ]]; then
  result fail "the clone's parent has no shared/" "$work/parent/shared exists"
fi
echo "no-shared: $(git -C "$clone" log -1 --format='%h %s') in $clone (no $work/parent/shared)"

# suite LOG ENV...: the clone's test.sh, as a user without ../shared runs it.
suite() {
  local log="$1" status=0
  shift
  (cd "$clone" && env -u TASKS_SHARED_DIR -u NIX_EVAL_DIR -u CI -u TEST_IMAGE -u DOCKER \
    KEEP_SERVICES=1 XDG_CACHE_HOME="$work/cache" "$@" timeout 1200 scripts/test.sh) \
    </dev/null >"$log" 2>&1 || status=$?
  grep -E '^=== (PASS|FAIL|SKIP) ' "$log" | sed 's/^/    /' || true
  tail -n 1 "$log" | sed 's/^/    /'
  return "$status"
}

# verdict LOG NAME-PREFIX: PASS, FAIL or SKIP of the first stage whose name
# starts with NAME-PREFIX, or "none".
verdict() {
  awk -v p="$2" '/^=== (PASS|FAIL|SKIP) / && index(substr($0, 10), p) == 1 { print $2; found = 1; exit }
    END { if (!found) print "none" }' "$1"
}
# stage_line LOG NAME-PREFIX: that stage's result line.
stage_line() { awk -v p="$2" '/^=== (PASS|FAIL|SKIP) / && index(substr($0, 10), p) == 1 { print; exit }' "$1"; }

# hidden_skips LOG: the PASS stages whose output holds a SKIP line.
hidden_skips() {
  awk '/^=== (PASS|FAIL|SKIP) / { if ($2 == "PASS" && inner) print substr($0, 10); inner = 0; next }
    /^=== / { inner = 0; next }
    /(^|[[:space:]:])SKIP / { inner = 1 }' "$1"
}
# unexplained_skips LOG: SKIP stage lines without a reason in parentheses.
unexplained_skips() { grep -E '^=== SKIP ' "$1" | grep -vE '\([^)]+' || true; }
# counts_agree LOG: the closing line's counts are the stage lines' counts.
counts_agree() {
  local line p f s
  line="$(grep -E '^[0-9]+ passed, [0-9]+ failed, [0-9]+ skipped' "$1" | tail -n 1)"
  p="$(grep -c '^=== PASS ' "$1" || true)" f="$(grep -c '^=== FAIL ' "$1" || true)"
  s="$(grep -c '^=== SKIP ' "$1" || true)"
  note "closing line '${line:-none}', stage lines $p/$f/$s"
  [[ "$line" == "$p passed, $f failed, $s skipped"* ]]
}

nix_stages='^nix|supply chain: cargo-deny|PostgreSQL by host name from the Nix image'
deny_stage="supply chain: cargo-deny"

# ---- run 1 -------------------------------------------------------------------
echo "no-shared: run 1, outside CI: TEST_STAGES='$nix_stages'"
start=$SECONDS
status=0
suite "$work/run1.log" TEST_STAGES="$nix_stages" || status=$?
echo "no-shared: run 1 took $((SECONDS - start)) s, exit $status"
hidden="$(hidden_skips "$work/run1.log")"
if [[ -z "$hidden" ]]; then
  result ok "no stage whose work skipped is counted as passed" "$(grep -c '^=== PASS ' "$work/run1.log" || true) PASS lines, none with a SKIP inside"
else
  result fail "no stage whose work skipped is counted as passed" "PASS with a SKIP inside: $(tr '\n' ';' <<<"$hidden")"
fi
n="$(grep -c '^=== \(PASS\|FAIL\|SKIP\) ' "$work/run1.log" || true)"
check "all 7 stages report PASS, FAIL or SKIP" "$n stage lines" test "$n" = 7
bad="$(unexplained_skips "$work/run1.log")"
check "every SKIP names its reason" "${bad:-all do}" test -z "$bad"
deny="$(stage_line "$work/run1.log" "$deny_stage")"
deny_ok() {
  case "$deny" in
    "=== PASS $deny_stage"*) grep -q 'fetched by cargo-deny from its default source' "$work/run1.log" ;;
    "=== SKIP $deny_stage (cargo-deny: cannot fetch the advisory database from its default source: "*) true ;;
    *) false ;;
  esac
}
check "cargo-deny takes its networked path: PASS on the fetched database, or SKIP naming the source it cannot reach" "${deny:-no stage line}" deny_ok
for name in "nix checks" "nix build:" "nix image: nix build .#image" "PostgreSQL by host name from the Nix image" "nix image: every operation" "nix image: bounded memory"; do
  line="$(stage_line "$work/run1.log" "$name")"
  case "$line" in
    "=== SKIP "*nix*) result ok "$name: a SKIP naming what is missing" "$line" ;;
    "=== PASS "*)
      if grep -qxF "${line#=== PASS }" <<<"$hidden"; then
        result fail "$name: a SKIP naming what is missing" "a PASS with a SKIP inside: $line"
      else
        result ok "$name: ran for real (a usable nix and network)" "$line"
      fi
      ;;
    *) result fail "$name: a SKIP naming what is missing" "${line:-no stage line}" ;;
  esac
done
check "the closing line counts the stage lines" "" counts_agree "$work/run1.log"
if grep -q '^=== FAIL ' "$work/run1.log"; then
  check "exit status 1 when a stage failed" "exit $status" test "$status" = 1
else
  check "exit status 0: outside CI a skip is not a failure" "exit $status" test "$status" = 0
fi

# ---- run 2 -------------------------------------------------------------------
deny_verdict="$(verdict "$work/run1.log" "$deny_stage")"
if [[ "$deny_verdict" == SKIP ]]; then
  echo "no-shared: run 2, CI=true: TEST_STAGES='$deny_stage'"
  status=0
  suite "$work/run2.log" CI=true TEST_STAGES="$deny_stage" || status=$?
  check "under CI=true a skipped stage fails the run" "$(tail -n 1 "$work/run2.log"), exit $status" \
    test "$(verdict "$work/run2.log" "$deny_stage")/$status" = SKIP/1
elif [[ "$deny_verdict" == PASS ]]; then
  result na "under CI=true a skipped stage fails the run" "cargo-deny reached its source: nothing skipped to show it with"
else
  result fail "under CI=true a skipped stage fails the run" "cargo-deny was $deny_verdict in run 1, not a SKIP to show it with"
fi

# ---- run 3 -------------------------------------------------------------------
cat >"$work/bin-nix/nix" <<EOF
#!/usr/bin/env bash
# Stand-in for a real nix 2.24 with flakes: logs each call; fetching the inputs
# and evaluating succeed, building fails.
echo "nix \$*" >>"$work/nix-calls"
args=" \$* "
case "\$args" in
  *" --version "*) echo "nix (Nix) 2.24.9" ;;
  *" flake archive "*) exit 0 ;;
  *" flake check "*) echo "stand-in nix: every output evaluates" ;;
  *" build "*" .#image "*)
    # The image of run 5: a docker-archive made beforehand, as result.
    out="\$(sed -n 's/.* --out-link \([^ ]*\).*/\1/p' <<<"\$args")"
    ln -sfn "$work/stand-in-image.tar" "\$out" ;;
  *" build "*) echo "error: stand-in nix: builds nothing" >&2; exit 1 ;;
  *) echo "error: stand-in nix: \$*" >&2; exit 1 ;;
esac
EOF
chmod +x "$work/bin-nix/nix"
: >"$work/nix-calls"
echo "no-shared: run 3, a stand-in nix 2.24 on PATH: TEST_STAGES='^nix'"
status=0
suite "$work/run3.log" PATH="$work/bin-nix:$PATH" TEST_STAGES='^nix' || status=$?
sed 's/^/    /' "$work/nix-calls"
check "nix checks: a real nix's 'nix flake check --no-build' is asked, and passes" "$(stage_line "$work/run3.log" "nix checks")" \
  grep -q 'flake check --no-build' "$work/nix-calls"
nix_build_ok() {
  grep -q 'build -L .#packages.x86_64-linux.default' "$work/nix-calls" &&
    [[ "$(verdict "$work/run3.log" "nix build:")" == FAIL ]]
}
check "nix build: 'nix build .#packages.x86_64-linux.default' is asked, and its failure is a FAIL" \
  "$(stage_line "$work/run3.log" "nix build:")" nix_build_ok
check "nix image: a SKIP naming the failed build it needs" "$(stage_line "$work/run3.log" "nix image: nix build .#image")" \
  grep -qE '^=== SKIP nix image: nix build .#image.*which failed' "$work/run3.log"
check "exit status 1: a stage failed" "exit $status" test "$status" = 1

# ---- run 5 -------------------------------------------------------------------
# A docker-archive as `docker save` writes it: one layer with one file, a label.
python3 - "$work/stand-in-image.tar" <<'PY'
import hashlib, io, json, sys, tarfile
def add(tar, name, data):
    info = tarfile.TarInfo(name)
    info.size = len(data)
    tar.addfile(info, io.BytesIO(data))
layer = io.BytesIO()
with tarfile.open(fileobj=layer, mode="w") as t:
    add(t, "stand-in", b"made by scripts/suite/no-shared.sh\n")
layer = layer.getvalue()
diff_id = "sha256:" + hashlib.sha256(layer).hexdigest()
config = json.dumps({
    "architecture": "amd64", "os": "linux",
    "config": {"Labels": {"tasks-backend.stand-in": "nix build .#image"}},
    "rootfs": {"type": "layers", "diff_ids": [diff_id]},
    "history": [{"created_by": "scripts/suite/no-shared.sh"}],
}).encode()
config_name = hashlib.sha256(config).hexdigest() + ".json"
manifest = json.dumps([{"Config": config_name, "RepoTags": ["tasks-backend-stand-in:nix"],
                        "Layers": ["layer/layer.tar"]}]).encode()
with tarfile.open(sys.argv[1], "w") as t:
    add(t, "layer/layer.tar", layer)
    add(t, config_name, config)
    add(t, "manifest.json", manifest)
PY
ensure_docker
tag="tasks-backend-no-shared:$$"
: >"$work/nix-calls"
echo "no-shared: run 5, the stand-in nix's image: scripts/lib/nix-eval.sh assemble.sh . --tag $tag"
status=0
(cd "$clone" && env -u NIX_EVAL_DIR -u TASKS_SHARED_DIR -u CI PATH="$work/bin-nix:$PATH" \
  scripts/lib/nix-eval.sh assemble.sh . --binary /nonexistent --tag "$tag" --out "$work/image-out.tar") \
  >"$work/run5.log" 2>&1 || status=$?
sed 's/^/    /' "$work/run5.log" "$work/nix-calls"
label="$("$DOCKER" image inspect -f '{{index .Config.Labels "tasks-backend.stand-in"}}' "$tag" 2>/dev/null || true)"
assembled_ok() {
  ((status == 0)) && grep -q 'build -L .#image' "$work/nix-calls" &&
    [[ "$(tail -n 1 "$work/run5.log")" == "assembled $tag "* && "$label" == "nix build .#image" ]] &&
    cmp -s "$work/image-out.tar" "$work/stand-in-image.tar"
}
check "a real nix's image: nix build .#image, docker load < result, tagged" "exit $status, label '$label'" assembled_ok
"$DOCKER" rmi "$tag" tasks-backend-stand-in:nix >/dev/null 2>&1 || true

# ---- run 4 -------------------------------------------------------------------
if [[ "$deny_verdict" == PASS ]]; then
  result na "cargo-deny's networked path to its end" "run 1 reached the real source"
elif [[ ! -f "$snapshot/SNAPSHOT" ]]; then
  result skip "cargo-deny's networked path to its end" "its source is unreachable and there is no snapshot at $snapshot to serve instead"
else
  # A git repository with the snapshot's files, served instead of the network.
  mkdir -p "$work/adb"
  cp -R "$snapshot/." "$work/adb/"
  chmod -R u+w "$work/adb"
  git -C "$work/adb" init -q -b main
  git -C "$work/adb" add -A
  GIT_COMMITTER_DATE="$(date -u +%Y-%m-%dT00:00:00Z)" git -C "$work/adb" -c user.name=stand-in \
    -c user.email=stand-in@localhost -c commit.gpgsign=false commit -q -m "advisory-db stand-in"
  real_git="$(command -v git)"
  cat >"$work/bin-git/git" <<EOF
#!/usr/bin/env bash
# Stand-in for the network: cargo-deny's clone of RustSec's advisory-db is
# served from a local repository; every other git command is git's own.
if [[ "\$1" == clone && " \$* " == *"/advisory-db "* ]]; then
  echo "git \$*" >>"$work/git-calls"
  args=()
  for a in "\$@"; do
    case "\$a" in
      http*://*advisory-db) args+=("file://$work/adb") ;;
      *) args+=("\$a") ;;
    esac
  done
  exec "$real_git" "\${args[@]}"
fi
exec "$real_git" "\$@"
EOF
  chmod +x "$work/bin-git/git"
  echo "no-shared: run 4, cargo-deny's clone served by a stand-in git: TEST_STAGES='$deny_stage'"
  status=0
  suite "$work/run4.log" PATH="$work/bin-git:$PATH" TEST_STAGES="$deny_stage" || status=$?
  grep -E '^deny: ' "$work/run4.log" | sed 's/^/    /'
  fetched_ok() {
    [[ -s "$work/git-calls" ]] && [[ "$(verdict "$work/run4.log" "$deny_stage")" == PASS ]] &&
      grep -q 'fetched by cargo-deny from its default source' "$work/run4.log" &&
      grep -q 'canary advisory against serde_json is refused' "$work/run4.log"
  }
  check "cargo-deny's networked path to its end: fetch, canary refused, PASS" \
    "$(stage_line "$work/run4.log" "$deny_stage"), exit $status" fetched_ok
fi

echo "no-shared: $((SECONDS - began)) s in all"
summary
