"""Serialized component artifacts on disk, keyed by content and engine.

A key is sha256(component) + the engine fingerprint (wasmtime version, settings,
machine), so a changed plugin, a wasmtime upgrade or other settings each get a new
artifact and a stale one is never loaded. Artifacts are loaded memory-mapped with
`Component.deserialize_file`: ~3 ms, and pages shared between processes.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path

import wasmtime
from wasmtime.component import Component

from harvester.runtime.engine import engine_fingerprint
from harvester.runtime.errors import PluginLoadError

PRECOMPILE_TIMEOUT_S = 600


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


class ArtifactCache:
    """Finds, makes (in a child process) and loads precompiled artifacts."""

    def __init__(self, cache_dir: Path) -> None:
        self._dir = cache_dir
        self._fingerprint = engine_fingerprint()
        # Hashing an 18 MB component costs ~20 ms; remember it while the file is unchanged.
        self._hashes: dict[Path, tuple[int, int, str]] = {}
        self._lock = threading.Lock()

    def _content_hash(self, component: Path) -> str:
        """sha256 of the component, remembered by (path, size, mtime) in memory and on disk.

        Hashing 18 MB costs ~15 ms here and far more on a Pi Zero; a node restart should
        not pay it again for every plugin. A changed file has a new mtime (builds replace
        files atomically), so a stale entry is never found.
        """
        stat = component.stat()
        stamp = (stat.st_size, stat.st_mtime_ns)
        with self._lock:
            known = self._hashes.get(component)
            if known and known[:2] == stamp:
                return known[2]
        key = hashlib.sha256(f"{component.resolve()}:{stamp[0]}:{stamp[1]}".encode()).hexdigest()
        index = self._dir / "index" / key[:32]
        try:
            digest = index.read_text().strip()
        except OSError:
            digest = ""
        if len(digest) != 64:
            digest = file_sha256(component)
            _write_atomically(index, digest)
        with self._lock:
            self._hashes[component] = (*stamp, digest)
        return digest

    def artifact_path(self, component: Path) -> Path:
        key = f"{self._content_hash(component)[:32]}-{self._fingerprint}"
        return self._dir / f"{key}.cwasm"

    def ensure(
        self, component: Path, *, plugin: str, report: Callable[[str], None] | None = None
    ) -> Path:
        """The artifact for `component`, compiling it in a child process if missing.

        Raises PluginLoadError if the component is missing or does not compile.
        """
        if not component.is_file():
            raise PluginLoadError(plugin, f"component {component} does not exist (build it?)")
        target = self.artifact_path(component)
        if target.is_file():
            return target
        if report:
            report(f"precompiling {component.name} (first start of this build)")
        cmd = [sys.executable, "-m", "harvester.runtime.precompile", str(component), str(target)]
        try:
            done = subprocess.run(
                cmd,
                capture_output=True,
                text=True,
                timeout=PRECOMPILE_TIMEOUT_S,
                env={**os.environ, "PYTHONPATH": _package_root()},
                check=False,
            )
        except subprocess.TimeoutExpired as exc:
            raise PluginLoadError(plugin, f"precompiling {component} timed out") from exc
        if done.returncode != 0:
            raise PluginLoadError(plugin, f"precompiling {component} failed: {done.stderr.strip()}")
        return target

    def load(
        self,
        engine: wasmtime.Engine,
        component: Path,
        *,
        plugin: str,
        report: Callable[[str], None] | None = None,
    ) -> Component:
        """Load the component's artifact memory-mapped (precompiling first if needed)."""
        artifact = self.ensure(component, plugin=plugin, report=report)
        try:
            return Component.deserialize_file(engine, str(artifact))
        except wasmtime.WasmtimeError as exc:
            # A damaged or foreign artifact: drop it so the next attempt recompiles.
            artifact.unlink(missing_ok=True)
            raise PluginLoadError(plugin, f"artifact {artifact.name} is unusable: {exc}") from exc


def _write_atomically(path: Path, text: str) -> None:
    """Best effort: a cache entry that cannot be written is only a missed shortcut."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
        tmp.write_text(text)
        os.replace(tmp, path)
    except OSError:
        pass


def _package_root() -> str:
    """The folder holding the `harvester` package, so the child imports this very copy."""
    root = str(Path(__file__).resolve().parents[2])
    existing = os.environ.get("PYTHONPATH")
    return f"{root}{os.pathsep}{existing}" if existing else root
