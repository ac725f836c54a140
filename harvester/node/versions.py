"""The versions of one plugin's component a node keeps on disk, for hot reload and rollback.

`<state_dir>/<node>/versions/<plugin>/<sha256>.wasm`: a reload copies the new file here
(hashing the very bytes it copies, so what is loaded is what was hashed, whatever
happens to the plugin folder meanwhile), and a rollback copies the previous version back
into the plugin folder, so the folder always says what runs. Only the running and the
previous version are kept.

A `<component>.wasm.sha256` sidecar beside a component (`sha256sum` format, as builds
and deploys may write it) must match the component, or the component is not loaded: a
file still being copied, or a hand-copied file whose sidecar is stale.

Everything here blocks (file I/O, hashing 18 MB): call it off the event loop.
"""

from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path

_BLOCK = 1 << 20
# (st_ino, st_size, st_mtime_ns): one version of one file, as far as a stat can tell
# (builds and deploys replace files by rename: a new inode).
FileIdentity = tuple[int, int, int]


def identity(st: os.stat_result) -> FileIdentity:
    return (st.st_ino, st.st_size, st.st_mtime_ns)


class VersionStore:
    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def path(self, digest: str) -> Path:
        return self.folder / f"{digest}.wasm"

    def take(self, source: Path) -> tuple[Path, str, FileIdentity]:
        """Copy `source` into the store; (the stored copy, sha256 of its bytes, the
        identity of the file that was copied).

        Raises FileNotFoundError if `source` is gone, OSError if it cannot be copied.
        """
        with source.open("rb") as f:
            stored, digest = self._write(f.fileno())
            return stored, digest, identity(os.fstat(f.fileno()))

    def keep(self, fd: int, digest: str) -> bool:
        """Store the bytes of the open file `fd` (from its start) if they still hash to
        `digest`; False if they do not (the file was overwritten in place since it was
        loaded) or cannot be stored."""
        if self.path(digest).is_file():
            return True
        try:
            stored, actual = self._write(fd)
        except OSError:
            return False
        if actual != digest:
            stored.unlink(missing_ok=True)
            return False
        return True

    def _write(self, fd: int) -> tuple[Path, str]:
        self.folder.mkdir(parents=True, exist_ok=True)
        tmp = self.folder / f".take-{os.getpid()}-{id(self)}.tmp"
        try:
            digest = _copy(fd, tmp)
            stored = self.path(digest)
            os.replace(tmp, stored)
        finally:
            tmp.unlink(missing_ok=True)
        return stored, digest

    def restore(self, digest: str, target: Path) -> None:
        """Put the stored version `digest` at `target` atomically (copy, then rename), and
        rewrite `target`'s sidecar, if it has one, to match.

        Raises OSError (FileNotFoundError if the version is not stored).
        """
        source = self.path(digest)
        tmp = target.with_name(f".{target.name}.restore-{os.getpid()}.tmp")
        try:
            with source.open("rb") as f:
                _copy(f.fileno(), tmp)
            os.replace(tmp, target)
            side = sidecar(target)
            if side.exists():
                side_tmp = side.with_name(f".{side.name}.restore-{os.getpid()}.tmp")
                side_tmp.write_text(f"{digest}  {target.name}\n")
                os.replace(side_tmp, side)
        finally:
            tmp.unlink(missing_ok=True)

    def prune(self, keep: set[str]) -> None:
        """Delete every stored version but those in `keep` (best effort)."""
        for path in self.folder.glob("*.wasm"):
            if path.stem not in keep:
                path.unlink(missing_ok=True)


def _copy(fd: int, target: Path) -> str:
    """Copy the open file `fd` (from its start) to `target`; sha256 of what was copied."""
    digest = hashlib.sha256()
    offset = 0
    with target.open("wb") as out:
        while block := os.pread(fd, _BLOCK, offset):
            digest.update(block)
            out.write(block)
            offset += len(block)
    return digest.hexdigest()


def sidecar(component: Path) -> Path:
    return component.with_name(f"{component.name}.sha256")


def sidecar_problem(component: Path, digest: str) -> str | None:
    """Why `component` (whose bytes hash to `digest`) must not be loaded because of its
    sidecar, or None (no sidecar, or it matches)."""
    side = sidecar(component)
    try:
        text = side.read_text()
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as exc:
        return f"its sidecar {side.name} cannot be read ({exc})"
    fields = text.split()
    expected = fields[0].lower() if fields else ""
    if not re.fullmatch(r"[0-9a-f]{64}", expected):
        return f"its sidecar {side.name} holds no sha256 (sha256sum format expected)"
    if expected != digest:
        return (
            f"{component.name} (sha256 {digest[:16]}) does not match its sidecar {side.name}"
            f" ({expected[:16]}): a copy still in progress, or a stale sidecar (update or"
            " delete it)"
        )
    return None
