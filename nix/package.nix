# The service, built by crane the way its quick-start does it: the
# dependencies are compiled once (buildDepsOnly) and that target directory
# is reused by the package and by every cargo check below, so a source change
# rebuilds only this crate.
#
# root is the repository root (a path); the sources are filtered from it.
# advisory-db is the RustSec advisory database (the flake input) for checks.audit.
# revision is the commit the binary reports (build_info on /metrics), as the
# image's revision label does.
{ lib, pkgs, craneLib, root, advisory-db ? null, revision ? "unknown" }:
let
  cargoToml = lib.importTOML (root + "/Cargo.toml");
  denyToml = lib.importTOML (root + "/deny.toml");
  msrv = cargoToml.package.rust-version;

  # cleanCargoSource keeps only *.rs, *.toml and Cargo.lock, so editing the
  # README, the Nix files or the scripts does not rebuild the crate. Nothing in
  # src/ embeds another kind of file today (the migrations are Rust code). If
  # the code ever include_str!s SQL or JSON, switch to lib.fileset.toSource
  # with craneLib.fileset.commonCargoSources plus those files, or the
  # sandboxed build will not see them.
  src = craneLib.cleanCargoSource root;

  # The tests also read the data fixtures every release leaves (a SQLite file,
  # a SQL dump, JSON): only checks.tests sees them, so they rebuild nothing else.
  testSrc = lib.fileset.toSource {
    inherit root;
    fileset = lib.fileset.unions [
      (craneLib.fileset.commonCargoSources root)
      (root + "/tests/fixtures")
    ];
  };

  commonArgs = {
    inherit src;
    strictDeps = true;
    # No other buildInputs: SQLite is compiled in (libsqlite3-sys "bundled", via
    # sqlx's "sqlite" feature) and TLS is rustls with ring; both only need the
    # C compiler that stdenv already provides. No OpenSSL, no pkg-config.
  };

  # The service is linked as Dockerfile.compat links it: static glibc
  # (crt-static), so its runtime closure is the binary alone and the image
  # holds nothing a loader could resolve at run time. The explicit target
  # keeps the flag off build scripts and proc-macros (which must stay dynamic).
  releaseArgs = commonArgs // {
    CARGO_BUILD_TARGET = pkgs.stdenv.hostPlatform.rust.rustcTarget;
    CARGO_BUILD_RUSTFLAGS = "-C target-feature=+crt-static";
    # nixpkgs keeps glibc's static archives (libc.a) in its `static` output.
    # The offline builder CI uses (Debian's toolchain as leaves, README "Nix")
    # has no glibc package: its compiler finds Debian's libc.a by itself.
    buildInputs = lib.optionals (pkgs ? glibc) [ pkgs.glibc.static ];
  };

  # Dependencies only, for the package: `cargo build` in the release profile
  # and nothing else. crane's default also runs `cargo check --all-targets`
  # (for clippy) and `cargo test --no-run` (for the tests), which `nix build`
  # never needs: measured, they were 20 of the 38 minutes of a first build.
  cargoArtifacts = craneLib.buildDepsOnly (
    releaseArgs
    // {
      buildPhaseCargoCommand = "cargoWithProfile build --locked";
      doCheck = false;
    }
  );

  cargo-auditable = import ./cargo-auditable.nix { inherit lib craneLib; };

  tasks-backend = craneLib.buildPackage (
    releaseArgs
    // {
      inherit cargoArtifacts;
      # Read by option_env! in src/server/metrics.rs. On this derivation only:
      # the dependencies' build does not change with the commit.
      TASKS_BACKEND_REVISION = revision;
      # `cargo auditable build`: the binary carries its dependency list (crate
      # names and versions from Cargo.lock) in a `.dep-v0` section, which
      # syft, trivy and `cargo audit bin` read, so the FROM-scratch image can
      # be listed and audited. Only this crate is relinked; cargoArtifacts
      # stay as they are. Not `cargoWithProfile auditable build`: that helper
      # puts the profile flag after its first word (`cargo auditable --release
      # build`), which cargo refuses; crane appends --message-format and
      # cargoExtraArgs after this command.
      cargoBuildCommand = "cargo auditable build \${CARGO_PROFILE:+--profile $CARGO_PROFILE}";
      nativeBuildInputs = [ cargo-auditable ];
      # The suite runs once, in checks.tests, not a second time here.
      doCheck = false;
      # The image holds this package's runtime closure, so it must not keep a
      # path to the toolchain (crane's install hooks strip such references;
      # this makes the build fail if one survives). checks.closure also
      # checks by name and size.
      disallowedReferences = [
        pkgs.rustc
        pkgs.rustc.unwrapped
        pkgs.cargo
        cargo-auditable
      ];
      meta = {
        inherit (cargoToml.package) description;
        license = lib.licenses.mit;
        mainProgram = "tasks-backend";
        platforms = lib.platforms.linux;
      };
    }
  );

  # Toolchain: nixpkgs' own rustc, no rust-overlay. Cargo.toml asks for
  # rust-version 1.94 (sea-orm 2.0 needs it; config 0.15 needs 1.88). Rust 1.94
  # was released in March 2026, and nixpkgs' compiler files show 1.96.1 and
  # then 1.97.1 landing by mid-2026, so the nixpkgs-unstable pin of August 2026
  # is well past it. Should the pin ever fall behind Cargo.toml, evaluation
  # stops here with this message instead of the build failing half-way.
  toolchainIsNewEnough = lib.assertMsg (lib.versionAtLeast pkgs.rustc.version msrv)
    "nixpkgs' rustc ${pkgs.rustc.version} is older than Cargo.toml's rust-version ${msrv}: update the nixpkgs pin or add rust-overlay";

  # The test suite and clippy run in the dev profile, as CI's Rust stage and a
  # developer's `cargo test` do, on dependencies of their own: a release test
  # build would compile every dependency for the test harness again and relink
  # each test binary with fat LTO. Only `cargo test --no-run` here, which
  # compiles the dependencies and the dev-dependencies (reqwest, tempfile).
  devArgs = commonArgs // {
    CARGO_PROFILE = "";
  };
  devArtifacts = craneLib.buildDepsOnly (devArgs // { buildPhaseCargoCommand = ""; });
in
assert toolchainIsNewEnough;
{
  inherit tasks-backend cargo-auditable;

  # The cargo checks that `nix flake check` runs. Each is a separate
  # derivation, so a lint failure blocks CI but not building the package.
  checks = {
    clippy = craneLib.cargoClippy (
      devArgs
        // {
        cargoArtifacts = devArtifacts;
        cargoClippyExtraArgs = "--all-targets -- --deny warnings";
      }
    );

    fmt = craneLib.cargoFmt { inherit src; };

  }
  # The offline evaluator CI runs (shared/nix-eval) stubs nixpkgs without
  # cargo-audit or cargo-deny and passes no advisory-db input; real nixpkgs
  # and `nix flake check` always have all three. So these two checks exist
  # wherever they can be built, and nix-eval's output count says when they
  # were not evaluated (README, "Nix").
  #
  # The dependency audit, as crane's quick-start does it. cargo-audit reads
  # the pinned advisory-db flake input; the advisories deny.toml ignores
  # (each with its reason there) are ignored here too, read from that file
  # so there is one list. cargo-deny checks bans, licences and sources
  # against deny.toml; its advisories check runs in CI (scripts/check/deny.sh),
  # since the sandbox has no database at the path deny.toml names.
  // lib.optionalAttrs (advisory-db != null && pkgs ? cargo-audit) {
    audit = craneLib.cargoAudit {
      inherit src advisory-db;
      cargoAuditExtraArgs = lib.concatMapStringsSep " " (id: "--ignore ${id}") (
        [ "yanked" ] ++ map (entry: entry.id) denyToml.advisories.ignore
      );
    };
  }
  // lib.optionalAttrs (pkgs ? cargo-deny) {
    deny = craneLib.cargoDeny {
      # cleanCargoSource drops deny.toml (not a Cargo file); add it back.
      src = lib.fileset.toSource {
        inherit root;
        fileset = lib.fileset.unions [
          (craneLib.fileset.commonCargoSources root)
          (root + "/deny.toml")
        ];
      };
      cargoDenyChecks = "bans licenses sources";
    };
  }
  // {
    # The whole suite with cargo test, as the project's CI runs it. The
    # integration tests start the server on 127.0.0.1 (the Linux build
    # sandbox has a private loopback) and run the built binary. The
    # PostgreSQL tests skip: the sandbox sets no TASKS_TEST_POSTGRES_URL.
    tests = craneLib.cargoTest (
      devArgs
        // {
        src = testSrc;
        cargoArtifacts = devArtifacts;
        # The sandbox's HOME (/homeless-shelter) does not exist; TMPDIR is
        # already a writable build directory.
        preBuild = ''
          export HOME="$TMPDIR/home"
          mkdir -p "$HOME"
        '';
      }
    );
  };
}
