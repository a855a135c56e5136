#!/usr/bin/env python3
"""Check flake.lock against flake.nix without fetching anything.

No Nix store, binary cache or GitHub is reachable from the project's machines,
so `nix flake lock` cannot run there. This checks what can be checked offline:

  * flake.lock is JSON, lock-file version 7, with a root node;
  * the root node locks exactly the inputs flake.nix declares;
  * each input's `original` is the reference written in flake.nix
    (type, owner, repo, ref), and `flake = false` agrees;
  * every non-root node is reachable and locked: a 40-hex rev, an SRI
    sha256 narHash, a lastModified time, and the same owner/repo as its
    `original`;
  * with --reference (a JSON file of published pins), a locked rev that the
    reference knows carries the published narHash and lastModified: a hash
    can't be invented for a known revision. Other revisions (after a
    `nix flake update` somewhere with network) are reported, not failed.

flake.nix's inputs are read with `nix-instantiate --eval` (Debian's nix-bin),
which evaluates the `inputs` attribute alone: pure, nothing is fetched.

Prints one line per problem and a summary; exits 1 if anything is wrong.
"""

import argparse
import json
import os
import re
import sys

from nix_instantiate import eval_json

LOCK_VERSION = 7
REV_RE = re.compile(r"^[0-9a-f]{40}$")
NAR_HASH_RE = re.compile(r"^sha256-[A-Za-z0-9+/]{43}=$")
# github:OWNER/REPO or github:OWNER/REPO/REF (no query parameters).
GITHUB_URL_RE = re.compile(r"^github:([A-Za-z0-9_.-]+)/([A-Za-z0-9_.-]+)(?:/([^?#]+))?$")


class Problems:
    def __init__(self):
        self.items = []
        self.notes = []

    def add(self, message):
        self.items.append(message)

    def note(self, message):
        self.notes.append(message)


def flake_inputs(flake_dir):
    """flake.nix's `inputs`, evaluated by nix-instantiate (no fetching)."""
    flake_nix = os.path.join(flake_dir, "flake.nix")
    expr = "(import %s).inputs or { }" % json.dumps(os.path.abspath(flake_nix))
    return eval_json(expr, "check-flake-lock", "the inputs of %s" % flake_nix)


def expected_original(name, spec, problems):
    """The lock `original` that flake.nix's input `name` stands for."""
    if isinstance(spec, dict) and "url" in spec:
        url = spec["url"]
        match = GITHUB_URL_RE.match(url)
        if not match:
            problems.add(
                "flake.nix: input %r has url %r; this check understands github:OWNER/REPO[/REF] only" % (name, url)
            )
            return None
        owner, repo, ref = match.groups()
        original = {"type": "github", "owner": owner, "repo": repo}
        if ref:
            original["ref"] = ref
        return original
    if isinstance(spec, dict) and spec.get("type") == "github":
        return {k: spec[k] for k in ("type", "owner", "repo", "ref", "rev") if k in spec}
    problems.add("flake.nix: input %r has no explicit github reference (got %s)" % (name, json.dumps(spec)))
    return None


def describe(original):
    text = "github:%s/%s" % (original.get("owner"), original.get("repo"))
    if original.get("ref"):
        text += "/" + original["ref"]
    return text


def resolve(nodes, root_name, ref):
    """Resolve a node's input reference: a node name, or a `follows` path."""
    if isinstance(ref, str):
        return ref if ref in nodes else None
    if isinstance(ref, list):
        current = root_name
        for step in ref:
            inputs = nodes.get(current, {}).get("inputs", {})
            if step not in inputs:
                return None
            current = resolve(nodes, root_name, inputs[step])
            if current is None:
                return None
        return current
    return None


def check_locked(name, node, problems):
    locked = node.get("locked")
    original = node.get("original")
    if not isinstance(locked, dict):
        problems.add("flake.lock: node %r is not locked (no `locked`)" % name)
        return
    if not isinstance(original, dict):
        problems.add("flake.lock: node %r has no `original`" % name)
    narhash = locked.get("narHash")
    if not narhash:
        problems.add("flake.lock: node %r is locked without a narHash" % name)
    elif not NAR_HASH_RE.match(narhash):
        problems.add("flake.lock: node %r has narHash %r, not an SRI sha256 hash" % (name, narhash))
    if locked.get("type") == "github":
        if not REV_RE.match(str(locked.get("rev", ""))):
            problems.add("flake.lock: node %r has rev %r, not a 40-hex commit" % (name, locked.get("rev")))
        if not isinstance(locked.get("lastModified"), int) or locked["lastModified"] <= 0:
            problems.add("flake.lock: node %r has no lastModified time" % name)
        if isinstance(original, dict):
            for key in ("type", "owner", "repo"):
                if locked.get(key) != original.get(key):
                    problems.add(
                        "flake.lock: node %r is locked to %s %r but its original says %r"
                        % (name, key, locked.get(key), original.get(key))
                    )
            if original.get("rev") and original["rev"] != locked.get("rev"):
                problems.add("flake.lock: node %r pins rev %s but its original asks for %s" % (name, locked.get("rev"), original["rev"]))
    else:
        problems.add("flake.lock: node %r is of type %r; this check knows github inputs only" % (name, locked.get("type")))


def check_reference(nodes, reference_path, problems):
    with open(reference_path, encoding="utf-8") as handle:
        reference = json.load(handle)
    published = {}
    for entry in reference.get("inputs", {}).values():
        locked = entry.get("locked", {})
        if "rev" in locked:
            published[locked["rev"]] = locked
    for name, node in sorted(nodes.items()):
        locked = node.get("locked")
        if not isinstance(locked, dict) or "rev" not in locked:
            continue
        known = published.get(locked["rev"])
        if known is None:
            problems.note("%s: rev %s is not among the reference pins (not compared)" % (name, locked["rev"][:12]))
            continue
        for key in ("owner", "repo", "narHash", "lastModified"):
            if locked.get(key) != known.get(key):
                problems.add(
                    "flake.lock: node %r rev %s has %s %r, but the published pin has %r"
                    % (name, locked["rev"][:12], key, locked.get(key), known.get(key))
                )


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--flake", default=".", help="directory holding flake.nix and flake.lock (default: .)")
    parser.add_argument("--reference", help="JSON file of published pins to compare revs and hashes with")
    args = parser.parse_args()

    problems = Problems()
    lock_path = os.path.join(args.flake, "flake.lock")
    try:
        with open(lock_path, encoding="utf-8") as handle:
            lock = json.load(handle)
    except OSError as err:
        print("flake.lock: cannot read %s: %s" % (lock_path, err.strerror))
        return 1
    except json.JSONDecodeError as err:
        print("flake.lock: not valid JSON: %s" % err)
        return 1

    if lock.get("version") != LOCK_VERSION:
        problems.add("flake.lock: version is %r, expected %d" % (lock.get("version"), LOCK_VERSION))
    nodes = lock.get("nodes")
    root_name = lock.get("root")
    if not isinstance(nodes, dict) or root_name not in nodes:
        problems.add("flake.lock: no `nodes` with the root node %r" % root_name)
        nodes, root_name = {}, None

    declared = flake_inputs(args.flake)
    root_inputs = nodes.get(root_name, {}).get("inputs", {}) if root_name else {}

    for name in sorted(set(declared) - set(root_inputs)):
        problems.add("flake.lock: input %r is declared in flake.nix but not locked" % name)
    for name in sorted(set(root_inputs) - set(declared)):
        problems.add("flake.lock: root input %r is not declared in flake.nix" % name)

    for name in sorted(set(declared) & set(root_inputs)):
        want = expected_original(name, declared[name], problems)
        target = resolve(nodes, root_name, root_inputs[name])
        if target is None:
            problems.add("flake.lock: root input %r points at a missing node %r" % (name, root_inputs[name]))
            continue
        node = nodes[target]
        if want is not None and node.get("original") != want:
            problems.add(
                "flake.lock: input %r: original is %s, but flake.nix says %s (%s)"
                % (name, json.dumps(node.get("original"), sort_keys=True), json.dumps(want, sort_keys=True), describe(want))
            )
        wants_flake = not (isinstance(declared[name], dict) and declared[name].get("flake") is False)
        if node.get("flake", True) != wants_flake:
            problems.add(
                "flake.lock: input %r: flake.nix has flake = %s, the lock has flake = %s"
                % (name, str(wants_flake).lower(), str(node.get("flake", True)).lower())
            )

    # Every non-root node: reachable from the root, its own inputs resolvable,
    # and locked with a narHash.
    reachable, stack = set(), [root_name] if root_name else []
    while stack:
        current = stack.pop()
        if current in reachable:
            continue
        reachable.add(current)
        for input_name, ref in nodes[current].get("inputs", {}).items():
            target = resolve(nodes, root_name, ref)
            if target is None:
                problems.add("flake.lock: node %r input %r points at nothing (%s)" % (current, input_name, json.dumps(ref)))
            else:
                stack.append(target)
    for name in sorted(nodes):
        if name == root_name:
            continue
        if name not in reachable:
            problems.add("flake.lock: node %r is not used by any input" % name)
        check_locked(name, nodes[name], problems)

    if args.reference:
        check_reference(nodes, args.reference, problems)

    for note in problems.notes:
        print("note: " + note)
    for item in problems.items:
        print(item)
    locked_names = sorted(n for n in nodes if n != root_name)
    if problems.items:
        print("flake.lock: %d problem(s)" % len(problems.items))
        return 1
    print("flake.lock: OK, version %d, %d locked input(s): %s" % (LOCK_VERSION, len(locked_names), ", ".join(locked_names)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
