#!/usr/bin/env python3
"""Check what nix/image.nix would build against nix/contract.json, offline.

nix/image.nix cannot be built here (no Nix store, no binary cache), but it can
be evaluated: this calls it with small stand-ins for nixpkgs' `lib`,
`dockerTools` and the service package (the stand-in buildLayeredImage returns
its arguments), so `nix-instantiate --eval` yields the exact arguments the real
build would get: name, tag, contents, the passwd lines, the fakeRootCommands
and the OCI config. Each is compared with a value computed here, in Python,
from contract.json, so the Nix derivation of every value is checked by an
independent reading of the contract.

Also checks the contract's own consistency (PORT agrees with the port, the
database lives in the data directory, the health check is exec form).

Prints one line per problem and a summary; exits 1 if anything is wrong.
"""

import argparse
import json
import os
import sys

from nix_instantiate import eval_json

# The stand-ins. lib.assertMsg behaves as nixpkgs' does; fakeNss.override and
# buildLayeredImage hand back their arguments for inspection. override takes an
# attribute set or, as nixpkgs' does, a function of fakeNss's own arguments;
# whatever writeTextDir the override passes is applied to fakeNss's root and
# nobody lines (as fakeNss writes them) and the result is handed back instead.
STUB_EXPR = """
let
  lib = { assertMsg = pred: msg: pred || builtins.throw msg; };
  nssPasswd = "root:x:0:0:root user:/var/empty:/bin/sh\\nnobody:x:65534:65534:nobody:/var/empty:/bin/sh\\n";
  nssArgs = { writeTextDir = path: text: { inherit path text; }; };
  dockerTools = {
    fakeNss.override = new:
      let args = nssArgs // (if builtins.isFunction new then new nssArgs else new);
      in { fakeNss = builtins.removeAttrs args [ "writeTextDir" ] // { passwdFile = args.writeTextDir "etc/passwd" nssPasswd; }; };
    caCertificates = "<dockerTools.caCertificates>";
    buildLayeredImage = args: args;
  };
  tasks-backend = { name = "<tasks-backend>"; meta.mainProgram = "tasks-backend"; };
in
import %(image)s { inherit lib dockerTools tasks-backend; }
"""


def evaluate(image_nix):
    expr = STUB_EXPR % {"image": json.dumps(os.path.abspath(image_nix))}
    return eval_json(expr, "check-image-config", image_nix)


def expected_config(contract):
    health = contract["healthcheck"]
    second = 1_000_000_000
    return {
        "User": "%d:%d" % (contract["user"]["uid"], contract["user"]["gid"]),
        "WorkingDir": contract["workdir"],
        "Env": sorted("%s=%s" % item for item in contract["env"].items()),
        "ExposedPorts": {"%d/tcp" % contract["port"]: {}},
        "Entrypoint": contract["entrypoint"],
        "Cmd": contract["cmd"],
        "Healthcheck": {
            "Test": health["test"],
            "Interval": health["intervalSeconds"] * second,
            "Timeout": health["timeoutSeconds"] * second,
            "StartPeriod": health["startPeriodSeconds"] * second,
            "Retries": health["retries"],
        },
        "Labels": contract["labels"],
    }


def contract_problems(contract):
    found = []
    env = contract["env"]
    if env.get("PORT") != str(contract["port"]):
        found.append("contract: env PORT %r does not match port %r" % (env.get("PORT"), contract["port"]))
    data_dir = contract["dataDir"].rstrip("/")
    if not env.get("DATABASE_URL", "").startswith("sqlite://" + data_dir + "/"):
        found.append("contract: DATABASE_URL %r is not a SQLite file in dataDir %s" % (env.get("DATABASE_URL"), data_dir))
    if not data_dir.startswith(contract["workdir"].rstrip("/") + "/"):
        found.append("contract: dataDir %s is not under workdir %s" % (data_dir, contract["workdir"]))
    test = contract["healthcheck"]["test"]
    if not test or test[0] != "CMD":
        found.append("contract: healthcheck test must be exec form [\"CMD\", ...] (the image has no shell), got %r" % test)
    if contract["entrypoint"][:1] != [contract["binary"]]:
        found.append("contract: entrypoint %r does not run binary %s" % (contract["entrypoint"], contract["binary"]))
    # OpenShift runs the image under an arbitrary uid in group 0: the data
    # directory must be writable by group 0, and by nobody else beyond its owner.
    mode = int(contract["dataDirMode"], 8)
    if contract["dataDirGroup"] != 0 or mode & 0o070 != 0o070 or mode & 0o002:
        found.append("contract: dataDir must be group 0, group-rwx, not world-writable; got group %r mode %s" % (contract["dataDirGroup"], contract["dataDirMode"]))
    return found


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--nix-dir", default="nix", help="directory holding image.nix and contract.json (default: nix)")
    args = parser.parse_args()

    with open(os.path.join(args.nix_dir, "contract.json"), encoding="utf-8") as handle:
        contract = json.load(handle)
    image = evaluate(os.path.join(args.nix_dir, "image.nix"))

    problems = contract_problems(contract)

    def compare(what, got, want):
        if got != want:
            problems.append("image.nix: %s is %s, expected %s" % (what, json.dumps(got, sort_keys=True), json.dumps(want, sort_keys=True)))

    config = dict(image.get("config", {}))
    if "Env" in config:
        config["Env"] = sorted(config["Env"])
    want = expected_config(contract)
    for key in sorted(set(want) | set(config)):
        compare("config.%s" % key, config.get(key), want.get(key))

    compare("name", image.get("name"), contract["name"])
    compare("tag", image.get("tag"), "nix")
    compare("created", image.get("created", "<default>"), "<default>")

    user = contract["user"]
    passwd_line = "%s:x:%d:%d:%s:%s:" % (user["name"], user["uid"], user["gid"], user["name"], contract["workdir"])
    group_line = "%s:x:%d:" % (user["name"], user["gid"])
    nss = [item["fakeNss"] for item in image.get("contents", []) if isinstance(item, dict) and "fakeNss" in item]
    if len(nss) != 1:
        problems.append("image.nix: contents should hold exactly one fakeNss (passwd/group), found %d" % len(nss))
    else:
        if not any(line.startswith(passwd_line) for line in nss[0].get("extraPasswdLines", [])):
            problems.append("image.nix: no passwd line starting %r" % passwd_line)
        if group_line not in nss[0].get("extraGroupLines", []):
            problems.append("image.nix: no group line %r" % group_line)
        # The image has no shell: fakeNss's own root and nobody lines must not name one.
        shells = sorted({line.rsplit(":", 1)[-1] for line in nss[0].get("passwdFile", {}).get("text", "").splitlines()})
        if shells != ["/sbin/nologin"]:
            problems.append("image.nix: fakeNss's root/nobody lines name shell(s) %s, expected /sbin/nologin" % shells)
    others = sorted(
        item.get("name", "?") if isinstance(item, dict) else item
        for item in image.get("contents", [])
        if not (isinstance(item, dict) and "fakeNss" in item)
    )
    compare("contents (besides passwd)", others, sorted(["<tasks-backend>", "<dockerTools.caCertificates>"]))

    # Without enableFakechroot, fakeRootCommands run in the layer root: paths
    # must be relative. With it, absolute paths would be right instead.
    commands = image.get("fakeRootCommands", "")
    data_dir = contract["dataDir"]
    prefix = data_dir if image.get("enableFakechroot") else "." + data_dir
    for line in (
        "mkdir -p %s" % prefix,
        "chown %d:%d %s" % (user["uid"], contract["dataDirGroup"], prefix),
        "chmod %s %s" % (contract["dataDirMode"], prefix),
    ):
        if line not in commands:
            problems.append("image.nix: fakeRootCommands lack %r (enableFakechroot=%s)" % (line, bool(image.get("enableFakechroot"))))

    for item in problems:
        print(item)
    if problems:
        print("image config: %d problem(s)" % len(problems))
        return 1
    print(
        "image config: OK, %s:%s runs %s as %s, health check every %ss"
        % (image["name"], image["tag"], " ".join(config["Entrypoint"] + config["Cmd"]), config["User"], contract["healthcheck"]["intervalSeconds"])
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
