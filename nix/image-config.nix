# The image's OCI config, derived from the container contract alone
# (nix/contract.json, passed in decoded). It uses builtins only, no nixpkgs,
# so scripts/check/nix.sh can evaluate it on a machine without a Nix store
# and compare it with the contract.
contract:
let
  inherit (contract) healthcheck user;

  # Docker stores health-check durations as integer nanoseconds.
  nanoseconds = seconds: seconds * 1000000000;
in
# Exec form only: "CMD-SHELL" would need a /bin/sh, and the image has none.
assert builtins.head healthcheck.test == "CMD"
  || throw "contract.json: the health check must be [\"CMD\", ...]; the image has no shell for CMD-SHELL";
# The entrypoint and the health check both run the one binary of the contract.
assert builtins.head contract.entrypoint == contract.binary
  || throw "contract.json: the entrypoint does not run ${contract.binary}";
assert builtins.elemAt healthcheck.test 1 == contract.binary
  || throw "contract.json: the health check does not run ${contract.binary}";
{
  User = "${toString user.uid}:${toString user.gid}";
  WorkingDir = contract.workdir;
  Env = map (name: "${name}=${contract.env.${name}}") (builtins.attrNames contract.env);
  ExposedPorts = {
    "${toString contract.port}/tcp" = { };
  };
  Entrypoint = contract.entrypoint;
  Cmd = contract.cmd;
  Healthcheck = {
    Test = healthcheck.test;
    Interval = nanoseconds healthcheck.intervalSeconds;
    Timeout = nanoseconds healthcheck.timeoutSeconds;
    StartPeriod = nanoseconds healthcheck.startPeriodSeconds;
    Retries = healthcheck.retries;
  };
  Labels = contract.labels;
}
