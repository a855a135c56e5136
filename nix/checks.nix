# Guards on what the image ships: the runtime closure of the service must hold
# no toolchain, vendored crate sources or build-only inputs, and stay small.
# A glibc-linked Rust service should need glibc, libgcc and itself; public
# images that carried rustc or rust-src have weighed 244-333 MB.
#
# maxClosureBytes is the budget for the service's closure (what the image holds
# besides a few kilobytes of CA certificates and passwd files).
{ lib, runCommand, closureInfo, tasks-backend, maxClosureBytes ? 100 * 1024 * 1024 }:
let
  closure = closureInfo { rootPaths = [ tasks-backend ]; };

  # Store path names that must never appear at run time (a version suffix
  # such as "-1.97.1" is allowed for by the pattern below).
  forbidden = lib.concatStringsSep "|" [
    "rustc"
    "rustc-wrapper"
    "rust-src"
    "rust-lib-src"
    "rust-std"
    "rust-docs"
    "cargo"
    "cargo-auditable"
    "clippy"
    "rustfmt"
    "vendor-cargo-deps"
    "vendor-registry"
    "cargo-package-[^/]*"
    "${tasks-backend.pname}-deps-[^/]*"
    "binutils[^/]*"
    "gcc-wrapper[^/]*"
    "stdenv-linux"
  ];
in
runCommand "${tasks-backend.pname}-closure-check" { } ''
  echo "runtime closure of ${tasks-backend.name}:"
  cat ${closure}/store-paths
  size=$(cat ${closure}/total-nar-size)
  echo "total: $size bytes (budget ${toString maxClosureBytes})"

  if grep -E '^${builtins.storeDir}/[a-z0-9]{32}-(${forbidden})(-[0-9][^/]*)?$' ${closure}/store-paths; then
    echo "error: build-only paths (above) leaked into the runtime closure" >&2
    exit 1
  fi
  if [ "$size" -gt ${toString maxClosureBytes} ]; then
    echo "error: the runtime closure is $size bytes, over the ${toString maxClosureBytes} budget" >&2
    exit 1
  fi
  touch $out
''
