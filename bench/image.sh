#!/usr/bin/env bash
# Size of an image and of each of its layers (uncompressed, as the engine reports); one JSON object.
# Usage: bench/image.sh IMAGE
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

image="$1"
read -r id size nlayers < <("$DOCKER" image inspect -f '{{.Id}} {{.Size}} {{len .RootFS.Layers}}' "$image")
"$DOCKER" history --no-trunc --human=false --format '{{json .}}' "$image" \
  | python3 -c '
import json, sys
rows = [json.loads(line) for line in sys.stdin]
# History rows oldest first; rows of instructions that change no files (ENV, USER...) are
# metadata, not layers.
rows = [{"size_bytes": int(r["Size"]), "created_by": r["CreatedBy"]} for r in reversed(rows)]
layers = [r for r in rows if r["created_by"].split()[0] in ("COPY", "ADD", "RUN", "WORKDIR") or r["size_bytes"]]
print(json.dumps({"image": sys.argv[1], "id": sys.argv[2], "size_bytes": int(sys.argv[3]),
                  "rootfs_layers": int(sys.argv[4]), "layers": layers}))
' "$image" "$id" "$size" "$nlayers"
