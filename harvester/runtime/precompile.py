"""Compile one component into a serialized artifact. Run as a child process.

    python -m harvester.runtime.precompile COMPONENT.wasm ARTIFACT.cwasm

Compiling costs 5-9 s and peaks at ~420 MB RSS (bench/), so a node never does it in
its own process: it asks this child (see artifacts.py) and then maps the result. The
caller holds the artifact's compile lock while this runs.
"""

from __future__ import annotations

import hashlib
import sys
from pathlib import Path

from wasmtime import WasmtimeError
from wasmtime.component import Component

from harvester.runtime.artifacts import checksum_line, checksum_path
from harvester.runtime.engine import make_engine
from harvester.runtime.files import write_atomically


def precompile(source: Path, target: Path) -> None:
    """Compile `source`; write the artifact's sha256 sidecar, then the artifact, atomically.

    The sidecar goes first, so whoever sees an artifact finds its checksum beside it.
    Raises OSError if a file cannot be written, WasmtimeError if `source` does not compile.
    """
    data = Component.from_file(make_engine(), str(source)).serialize()
    digest = hashlib.sha256(data).hexdigest()
    target.parent.mkdir(parents=True, exist_ok=True)
    write_atomically(checksum_path(target), checksum_line(digest, target).encode())
    write_atomically(target, data)


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    try:
        precompile(Path(argv[0]), Path(argv[1]))
    except (OSError, WasmtimeError) as exc:
        print(f"precompile {argv[0]}: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
