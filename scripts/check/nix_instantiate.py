"""One Nix expression evaluated to JSON by nix-instantiate (no fetching, no build),
for the checks in this folder that read what a .nix file says."""

import json
import subprocess
import sys


def eval_json(expr, who, what):
    """The value of `expr` as JSON; exits naming `who` (the check) and `what` (the
    file evaluated) when nix-instantiate is missing or the evaluation fails."""
    try:
        out = subprocess.run(
            ["nix-instantiate", "--eval", "--strict", "--json", "--expr", expr],
            check=True,
            capture_output=True,
            text=True,
        )
    except FileNotFoundError:
        sys.exit("%s: nix-instantiate not found (Debian: apt-get install nix-bin)" % who)
    except subprocess.CalledProcessError as err:
        sys.exit("%s: could not evaluate %s:\n%s" % (who, what, err.stderr.strip()))
    return json.loads(out.stdout)
