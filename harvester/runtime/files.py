"""Writing a file so that readers (a node, a folder watcher, the next boot) see either the
old content or the new, whole: never a half-written file."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def write_atomically(path: Path, data: bytes | bytearray) -> None:
    """`data` into `path` by a temporary file beside it, fsynced, renamed over, then the
    folder fsynced.

    fsync before the rename: after a power cut (common on a Pi) ext4 could otherwise show
    the new name with empty content; the folder's fsync makes the rename itself durable.
    The temporary name starts with a dot and ends in `.tmp`, which watchers ignore.
    Raises OSError.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.chmod(tmp, 0o644)  # mkstemp makes it 0600: a component or record is not secret
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    folder = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(folder)
    finally:
        os.close(folder)
