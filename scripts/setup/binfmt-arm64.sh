#!/usr/bin/env bash
# Lets this amd64 machine run arm64 binaries and containers: Debian's
# qemu-user-static, registered with the kernel's binfmt_misc from the entry the
# package ships (/usr/lib/binfmt.d/qemu-aarch64.conf). Its F flag opens the
# interpreter now, so it also runs inside containers, whose root has no qemu.
# The package registers nothing itself where no systemd runs (as here), hence
# this script. Idempotent: an existing registration is kept.
# Usage: scripts/setup/binfmt-arm64.sh       (root; prints the interpreter)
set -euo pipefail

# shellcheck source=scripts/lib/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib/lib.sh"
binfmt=/proc/sys/fs/binfmt_misc
entry="$binfmt/qemu-aarch64"
conf=/usr/lib/binfmt.d/qemu-aarch64.conf

[[ -f "$conf" ]] || apt_install qemu-user-static
if [[ ! -e "$binfmt/register" ]]; then
  mount -t binfmt_misc binfmt_misc "$binfmt"
fi
if [[ ! -e "$entry" ]]; then
  # One write of the whole line, as systemd-binfmt does.
  grep -v '^[#;]' "$conf" | grep -m 1 '^:qemu-aarch64:' >"$binfmt/register"
fi
if ! grep -qx enabled "$entry" || ! grep -q '^flags:.*F' "$entry"; then
  echo "binfmt-arm64: $entry is not enabled with the F flag:" >&2
  cat "$entry" >&2
  exit 1
fi
echo "binfmt-arm64: arm64 binaries run through $(sed -n 's/^interpreter //p' "$entry")"
