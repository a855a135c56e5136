#!/usr/bin/env python3
"""The dependency list cargo-auditable embedded in a binary, one "name version"
per line, sorted.

Usage: scripts/test/auditable-deps.py BINARY

cargo-auditable writes a zlib-compressed JSON document ({"packages": [{"name",
"version", ...}]}) into the ELF section `.dep-v0`; syft, trivy and `cargo audit
bin` read it. The section is taken out with binutils' objcopy rather than an
ELF parser of our own. Exit 1 (and a line on stderr) when the binary has no
such section or it does not decode.
"""

import json
import subprocess
import sys
import tempfile
import zlib
from pathlib import Path


def dependency_list(binary: str) -> list[str]:
    with tempfile.TemporaryDirectory() as work:
        section = Path(work) / "dep-v0"
        # --dump-section, not -O binary: the section is not loaded at run time
        # (no ALLOC flag), and -O binary writes only loaded ones.
        dumped = subprocess.run(
            ["objcopy", "--dump-section", f".dep-v0={section}", binary, str(Path(work) / "copy")],
            capture_output=True,
            text=True,
        )
        if dumped.returncode != 0 or not section.exists():
            raise ValueError(f"no .dep-v0 section (not built with cargo auditable): {dumped.stderr.strip()}")
        raw = section.read_bytes()
    if not raw:
        raise ValueError("no .dep-v0 section (not built with cargo auditable)")
    document = json.loads(zlib.decompress(raw))
    return sorted({f"{p['name']} {p['version']}" for p in document["packages"]})


def main() -> int:
    if len(sys.argv) != 2:
        print(__doc__.strip().splitlines()[2], file=sys.stderr)
        return 2
    try:
        packages = dependency_list(sys.argv[1])
    except (OSError, ValueError, KeyError, zlib.error, subprocess.CalledProcessError) as err:
        print(f"auditable-deps: {sys.argv[1]}: {err}", file=sys.stderr)
        return 1
    print("\n".join(packages))
    return 0


if __name__ == "__main__":
    sys.exit(main())
