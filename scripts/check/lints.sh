#!/usr/bin/env bash
# Lints every shell, Python and Lua file of the repository (tracked, and new
# files not ignored by git), one check per language:
#   shell   shellcheck -x (Debian's shellcheck): every *.sh and every file whose
#           first line names bash or sh (.ci/run)
#   Python  ruff check (PyPI, pinned below, installed with lib.sh's pip_tool) with
#           scripts/check/ruff.toml: every *.py and every file whose first line
#           names python
#   Lua     luacheck (Debian's lua-check) with scripts/check/luacheckrc: every
#           *.lua (the wrk scripts)
# Each line names how many files were linted; a language with no file at all
# fails (the file listing broke, not the code). Missing tools are installed.
# Ends with "N passed, M failed, K skipped". Usage: scripts/check/lints.sh
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/../.."
# shellcheck source=scripts/lib/lib.sh
source scripts/lib/lib.sh

RUFF_VERSION=0.17.6

shell_files=() python_files=() lua_files=()
while IFS= read -r -d '' f; do
  [[ -f "$f" ]] || continue
  case "$f" in
    *.sh) shell_files+=("$f") ;;
    *.py) python_files+=("$f") ;;
    *.lua) lua_files+=("$f") ;;
    *)
      case "$(head -n 1 "$f" 2>/dev/null | tr -d '\0' || true)" in
        '#!'*bash* | '#!'*/sh | '#!'*' sh') shell_files+=("$f") ;;
        '#!'*python*) python_files+=("$f") ;;
      esac
      ;;
  esac
done < <(git ls-files -z -co --exclude-standard)

# some FILE...: fails the check when no file was found.
some() { (($# > 0)) || fail "no file found"; }

shell_lint() {
  some "${shell_files[@]}"
  apt_tool shellcheck shellcheck
  shellcheck -x "${shell_files[@]}"
}
python_lint() {
  local ruff
  some "${python_files[@]}"
  ruff="$(pip_tool ruff "ruff==$RUFF_VERSION")"
  "$ruff" check --no-cache --config scripts/check/ruff.toml "${python_files[@]}"
}
lua_lint() {
  some "${lua_files[@]}"
  apt_tool luacheck lua-check
  luacheck --no-color --codes --config scripts/check/luacheckrc "${lua_files[@]}"
}

check --quiet --errexit "shell: shellcheck -x" "${#shell_files[@]} files" shell_lint
check --quiet --errexit "Python: ruff check ($RUFF_VERSION)" "${#python_files[@]} files" python_lint
check --quiet --errexit "Lua: luacheck" "${#lua_files[@]} files" lua_lint
summary
