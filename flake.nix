{
  description = "tasks-backend: a small task-tracking HTTP API, built by crane and shipped as a minimal OCI image";

  inputs = {
    # nixpkgs' own rustc is new enough for Cargo.toml's rust-version (see
    # nix/package.nix), so there is no rust-overlay input.
    nixpkgs.url = "github:NixOS/nixpkgs/nixpkgs-unstable";
    crane.url = "github:ipetkov/crane";
    # The RustSec advisory database, for checks.audit (as in crane's
    # quick-start); `nix flake lock --update-input advisory-db` refreshes it.
    advisory-db = {
      url = "github:rustsec/advisory-db";
      flake = false;
    };
  };

  outputs =
    # inputs.advisory-db is only looked at when checks.audit is evaluated.
    { self
    , nixpkgs
    , crane
    , ...
    }@inputs:
    let
      inherit (nixpkgs) lib;

      # The image is a Linux image, so only Linux systems are offered; a plain
      # genAttrs keeps flake-utils (and its `systems` input) out of the lock.
      systems = [
        "x86_64-linux"
        "aarch64-linux"
      ];

      # Provenance labels of the image: the commit (with "-dirty" for a tree
      # with changes) and the commit's time, not the build's, so one commit
      # always gives the same image. lastModifiedDate is YYYYMMDDHHMMSS (UTC).
      stamp = self.lastModifiedDate or "19700101000000";
      part = start: len: builtins.substring start len stamp;
      provenance = {
        revision = self.rev or self.dirtyRev or "unknown";
        created = "${part 0 4}-${part 4 2}-${part 6 2}T${part 8 2}:${part 10 2}:${part 12 2}Z";
        version = (lib.importTOML ./Cargo.toml).package.version;
      };

      # Everything one system needs, in one place; each output picks from it.
      forAllSystems =
        f:
        lib.genAttrs systems (
          system:
          let
            pkgs = nixpkgs.legacyPackages.${system};
            craneLib = crane.mkLib pkgs;
            rust = import ./nix/package.nix {
              inherit lib pkgs craneLib;
              advisory-db = inputs.advisory-db or null;
              inherit (provenance) revision;
              root = ./.;
            };
            image = pkgs.callPackage ./nix/image.nix {
              inherit (rust) tasks-backend;
              inherit provenance;
            };
          in
          f {
            inherit
              pkgs
              craneLib
              rust
              image
              ;
          }
        );
    in
    {
      # nix build            -> the service (result/bin/tasks-backend)
      # nix build .#image    -> tasks-backend:nix, for `docker load < result`
      packages = forAllSystems (
        { rust, image, ... }:
        {
          default = rust.tasks-backend;
          inherit image;
        }
      );

      # nix flake check: the package, clippy, rustfmt, the test suite, the
      # dependency audit (cargo-audit, cargo-deny), the image, and the image's
      # closure guard.
      checks = forAllSystems (
        { pkgs, rust, image, ... }:
        rust.checks
        // {
          inherit (rust) tasks-backend;
          inherit image;
          closure = pkgs.callPackage ./nix/checks.nix { inherit (rust) tasks-backend; };
        }
      );

      # nix develop: the same rustc, cargo, clippy and rustfmt as the checks,
      # plus a PostgreSQL to point TASKS_TEST_POSTGRES_URL at, and jq.
      devShells = forAllSystems (
        { pkgs, craneLib, rust, ... }:
        {
          default = craneLib.devShell {
            inherit (rust) checks;
            packages = [
              pkgs.postgresql
              pkgs.jq
            ];
          };
        }
      );
    };
}
