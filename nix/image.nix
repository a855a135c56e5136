# The OCI image: the service's runtime closure, CA certificates, and
# passwd/group entries for the service user. Nothing else: no shell, no
# coreutils, no /tmp (the service needs none).
#
# Every value of the container contract (user, ids, port, env, entrypoint,
# health check, labels, data directory) comes from ./contract.json, the one
# place it is written; scripts/test/image.sh checks this image and the
# Dockerfile.compat one against the same file.
#
# provenance: { revision, version, created } from flake.nix (the commit, the
# Cargo.toml version, the commit's time), set as the labels the contract's
# provenanceLabels name.
{ lib, dockerTools, tasks-backend, provenance ? { } }:
let
  contract = builtins.fromJSON (builtins.readFile ./contract.json);
  provenanceLabels = builtins.listToAttrs (
    map
      (key: {
        name = contract.provenanceLabels.${key};
        value = provenance.${key};
      })
      (builtins.attrNames provenance)
  );
  inherit (contract) user;
  uid = toString user.uid;
  gid = toString user.gid;

  # /etc/passwd, /etc/group (root, nobody and the service user) and
  # /etc/nsswitch.conf, so the uid has a name for anything that asks. The
  # user's line is the one Dockerfile.compat writes: home is the working
  # directory, no login shell. fakeNss writes root's and nobody's lines itself
  # with /bin/sh, which this image does not have; it takes no argument for
  # them, so the writeTextDir it is called with rewrites that shell to
  # /sbin/nologin (the function form of override hands us fakeNss's own
  # writeTextDir). Should fakeNss stop taking writeTextDir, this override
  # fails to evaluate; should its lines change, scripts/test/image.sh's
  # login-shell check fails on the image.
  passwd = dockerTools.fakeNss.override (nss: {
    extraPasswdLines = [ "${user.name}:x:${uid}:${gid}:${user.name}:${contract.workdir}:/sbin/nologin" ];
    extraGroupLines = [ "${user.name}:x:${gid}:" ];
    writeTextDir = path: text:
      nss.writeTextDir path (builtins.replaceStrings [ ":/bin/sh\n" ] [ ":/sbin/nologin\n" ] text);
  });

  # `contents` links the package's bin/ into /bin, so the contract's binary
  # path must be that of the package's main program.
  binaryIsThePackages = lib.assertMsg (contract.binary == "/bin/${tasks-backend.meta.mainProgram}")
    "contract.json's binary ${contract.binary} is not /bin/${tasks-backend.meta.mainProgram}";
in
assert binaryIsThePackages;
dockerTools.buildLayeredImage {
  inherit (contract) name;
  tag = "nix";

  contents = [
    tasks-backend
    # /etc/ssl/certs/ca-bundle.crt and ca-certificates.crt, for outbound TLS
    # (e.g. PostgreSQL with sslmode=verify-full).
    dockerTools.caCertificates
    passwd
    # No tzdata: nothing renders times in named zones (chrono, no chrono-tz);
    # add pkgs.tzdata here if that changes.
  ];

  # The data directory, owned by the service user so SQLite can create its
  # database there, and group 0 with the contract's group-writable mode so
  # that OpenShift, which runs images under an arbitrary uid in group 0, can
  # too (nothing is world-writable). Without enableFakechroot these commands
  # run in the root of the new layer, hence the relative path. fakeroot alone
  # is enough for chown, and it avoids proot and the /dev, /proc, /sys binds
  # that enableFakechroot brings into the build.
  fakeRootCommands = ''
    mkdir -p .${contract.dataDir}
    chown ${uid}:${toString contract.dataDirGroup} .${contract.dataDir}
    chmod ${contract.dataDirMode} .${contract.dataDir}
  '';

  config = import ./image-config.nix (contract // { labels = contract.labels // provenanceLabels; });

  # `created` stays at its default (1970-01-01T00:00:01Z): the image is
  # reproducible, bit for bit, from the same inputs.
}
