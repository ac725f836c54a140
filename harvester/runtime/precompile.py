"""Compile one component into a serialized artifact. Run as a child process.

    python -m harvester.runtime.precompile COMPONENT.wasm ARTIFACT.cwasm

Compiling costs 5-9 s and peaks at ~420 MB RSS (bench/), so a node never does it in
its own process: it asks this child (see artifacts.py) and then maps the result.
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

from wasmtime import WasmtimeError
from wasmtime.component import Component

from harvester.runtime.engine import make_engine


def precompile(source: Path, target: Path) -> None:
    """Compile `source` and write the artifact to `target` atomically."""
    component = Component.from_file(make_engine(), str(source))
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=target.name, suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(component.serialize())
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


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
