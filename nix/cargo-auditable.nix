# cargo-auditable, built by crane from its crates.io release and the Cargo.lock
# published inside that release (copied to ./cargo-auditable/Cargo.lock, so
# vendoring needs no import-from-derivation). nix/package.nix builds the
# service with `cargo auditable build`, which embeds the dependency list in
# the binary, as Dockerfile.compat does with the same version.
{ lib, craneLib }:
let
  cargoLock = ./cargo-auditable/Cargo.lock;
  # Its dependencies all come from crates.io; so does the tool itself. The
  # source id is read from the lock file rather than written again here.
  source = (builtins.head (lib.importTOML cargoLock).package).source;
  version = "0.7.7";
in
craneLib.buildPackage {
  pname = "cargo-auditable";
  inherit version;
  src = craneLib.downloadCargoPackage {
    name = "cargo-auditable";
    inherit version source;
    # sha256 of cargo-auditable-0.7.7.crate, as the crates.io index records it.
    checksum = "ccdd489bc94d1338cd04389a842e00661300331ec915fb376b4810ef7d480b5d";
  };
  cargoVendorDir = craneLib.vendorCargoDeps { inherit cargoLock; };
  # One crate: no separate dependency derivation worth caching.
  cargoArtifacts = null;
  strictDeps = true;
  # Its integration tests build fixture projects with cargo, which needs the
  # network; the tool is exercised by every build of the service instead.
  doCheck = false;
  meta = {
    description = "Make production Rust binaries auditable";
    license = [ lib.licenses.mit lib.licenses.asl20 ];
    mainProgram = "cargo-auditable";
  };
}
