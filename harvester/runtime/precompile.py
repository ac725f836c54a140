"""Compile one component into a serialized artifact. Run as a child process.

    python -m harvester.runtime.precompile COMPONENT.wasm ARTIFACT.cwasm

Compiling costs 5-9 s and peaks at ~420 MB RSS (bench/), so a node never does it in
its own process: it asks this child (see artifacts.py) and then maps the result. The
caller holds the artifact's compile lock while this runs.
"""

from __future__ import annotations

import hashlib
import os
import sys
import tempfile
from pathlib import Path

from wasmtime import WasmtimeError
from wasmtime.component import Component

from harvester.runtime.artifacts import checksum_line, checksum_path
from harvester.runtime.engine import make_engine


def precompile(source: Path, target: Path) -> None:
    """Compile `source`; write the artifact's sha256 sidecar, then the artifact, atomically.

    The sidecar goes first, so whoever sees an artifact finds its checksum beside it.
    Raises OSError if a file cannot be written, WasmtimeError if `source` does not compile.
    """
    data = Component.from_file(make_engine(), str(source)).serialize()
    digest = hashlib.sha256(data).hexdigest()
    target.parent.mkdir(parents=True, exist_ok=True)
    _write_atomically(checksum_path(target), checksum_line(digest, target).encode())
    _write_atomically(target, data)


def _write_atomically(target: Path, data: bytes | bytearray) -> None:
    """Write `data` to `target` via a temporary file and a rename.

    fsync before the rename: after a power cut (common on a Pi) ext4 could otherwise
    show the new name with empty content. The checksum would catch it, at the price of
    a recompile.
    """
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=target.name, suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
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
