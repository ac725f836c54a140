"""Serialized component artifacts on disk, keyed by content and engine.

A key is sha256(component) + the engine fingerprint (wasmtime version, settings,
machine), so a changed plugin, a wasmtime upgrade or other settings each get a new
artifact and a stale one is never loaded. Artifacts are loaded memory-mapped with
`Component.deserialize_file`: ~3 ms, and pages shared between processes.

Beside each artifact `<key>.cwasm` live two small files:

- `<key>.cwasm.sha256`, the artifact's sha256 in `sha256sum` format, written by the
  compiling child before the artifact itself. wasmtime trusts a deserialized artifact
  (it is native code): a flipped bit in the middle loads fine and crashes later. So a
  process checks the artifact against this sidecar the first time it loads it, and an
  artifact without a valid sidecar is treated as foreign: deleted and rebuilt.
- `<key>.cwasm.lock`, an empty file whose `flock` serialises compiles of that artifact
  across processes (threads of one process first queue on an in-memory lock). It stays
  in place: deleting a lock file someone may be waiting on would break the exclusion.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import re
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

import wasmtime
from wasmtime.component import Component

from harvester.runtime.engine import engine_fingerprint
from harvester.runtime.errors import PluginLoadError

PRECOMPILE_TIMEOUT_S = 600
# The compiling child's niceness (see _lower_priority).
COMPILE_NICE = 10
# How long a start waits for another thread or process compiling the same artifact.
LOCK_TIMEOUT_S: float = PRECOMPILE_TIMEOUT_S
# flock has no timeout of its own; a compile takes seconds, so polling this often is free.
_LOCK_POLL_S = 0.1
_REASON_MAX = 160
# Said when a start finds no artifact for a component (after "precompiling <file>: ").
MISSING = (
    "no artifact for this build yet (first start); compiling it in a child process"
    " (`harvester precompile` makes artifacts ahead of time)"
)

Report = Callable[[str], None]
# (path, st_ino, st_size, st_mtime_ns): one version of one artifact file.
Identity = tuple[str, int, int, int]

# Artifacts whose sha256 this process has checked. Process-wide, not per cache: a second
# ArtifactCache (another supervisor, a hot reload) must not pay the check again.
_verified: set[Identity] = set()
_verified_lock = threading.Lock()
# Map the very file that was checked, not whatever the path names a moment later.
_PROC_FD = Path("/proc/self/fd")


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _stream_sha256(fd: int) -> str:
    """sha256 of an open file from its start, without moving its offset."""
    digest = hashlib.sha256()
    offset = 0
    while block := os.pread(fd, 1 << 20, offset):
        digest.update(block)
        offset += len(block)
    return digest.hexdigest()


def checksum_path(artifact: Path) -> Path:
    """The sidecar holding `artifact`'s sha256."""
    return artifact.with_name(f"{artifact.name}.sha256")


def checksum_line(digest: str, artifact: Path) -> str:
    """A sidecar's text: `sha256sum` format, so `sha256sum -c` checks it by hand too."""
    return f"{digest}  {artifact.name}\n"


def lock_path(artifact: Path) -> Path:
    """The file whose flock serialises compiles of `artifact`."""
    return artifact.with_name(f"{artifact.name}.lock")


class _Unusable(Exception):
    """An artifact that must not be loaded; `identity` is the file version found so."""

    def __init__(self, reason: str, identity: Identity | None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.identity = identity


class ArtifactCache:
    """Finds, makes (in a child process, once per artifact) and loads precompiled artifacts.

    `compiles` counts the compiles this object started (successful or not).
    """

    def __init__(self, cache_dir: Path) -> None:
        self._dir = cache_dir
        self._fingerprint = engine_fingerprint()
        # Hashing an 18 MB component costs ~20 ms; remember it while the file is unchanged.
        self._hashes: dict[Path, tuple[int, int, str]] = {}
        self._lock = threading.Lock()
        self._compiling: dict[Path, threading.Lock] = {}
        self.compiles = 0

    def remember(self, component: Path, digest: str) -> None:
        """Note that `component`, as it is on disk now, has sha256 `digest` (the caller
        hashed it while copying it), so loading it does not read it a second time."""
        stat = component.stat()
        with self._lock:
            self._hashes[component] = (stat.st_size, stat.st_mtime_ns, digest)

    def content_hash(self, component: Path) -> str:
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
        key = f"{self.content_hash(component)[:32]}-{self._fingerprint}"
        return self._dir / f"{key}.cwasm"

    def ensure(self, component: Path, *, plugin: str, report: Report | None = None) -> Path:
        """The checked artifact for `component`, compiled in a child process if need be.

        At most one thread or process compiles a given artifact at a time; the others wait
        for it and use its result. An artifact that fails its checksum (or has none) is
        deleted, reported and rebuilt. `report` hears one line per compile.

        Raises PluginLoadError if the component is missing, does not compile, or another
        compile of the same artifact holds its lock longer than LOCK_TIMEOUT_S.
        """
        return self._ensure(component, plugin=plugin, report=report, bad=None)

    def load(
        self,
        engine: wasmtime.Engine,
        component: Path,
        *,
        plugin: str,
        report: Report | None = None,
    ) -> Component:
        """Load the component's artifact memory-mapped (precompiling first if needed).

        An artifact that fails its checksum or that wasmtime rejects is deleted, reported,
        recompiled once and loaded again.

        Raises PluginLoadError as `ensure` does, and if the freshly compiled artifact is
        unusable too (it is deleted, so the next start compiles again).
        """
        artifact = self._ensure(component, plugin=plugin, report=report, bad=None)
        try:
            return _deserialize(engine, artifact)
        except _Unusable as first:
            self._ensure(component, plugin=plugin, report=report, bad=first)
        try:
            return _deserialize(engine, artifact)
        except _Unusable as again:
            with suppress(OSError):
                _discard(artifact)
            raise PluginLoadError(
                plugin, f"artifact {artifact.name} is unusable even freshly compiled: {again}"
            ) from again

    def _ensure(
        self, component: Path, *, plugin: str, report: Report | None, bad: _Unusable | None
    ) -> Path:
        """`ensure`, also treating the file version `bad` names as unusable for its reason."""
        if not component.is_file():
            raise PluginLoadError(plugin, f"component {component} does not exist (build it?)")
        target = self.artifact_path(component)
        if _problem(target, bad) is None:
            return target
        with self._compile_lock(target, plugin):
            # Whoever held the lock before us may have made (or remade) it meanwhile.
            problem = _problem(target, bad)
            if problem is None:
                return target
            found = target.exists()
            try:
                _discard(target)  # also a stray sidecar: the child writes a new one
            except OSError as exc:
                raise PluginLoadError(
                    plugin,
                    f"artifact {target.name} is unusable ({problem}) and cannot be deleted: {exc}",
                ) from exc
            if found:
                why = f"artifact {target.name} of {component.name} was unusable ({problem})"
                _say(report, f"{why}; deleted, recompiling")
            else:
                # Says it is missing and how to avoid it: an image build or a deploy can
                # make artifacts ahead of time (docs/lifecycle-dev.md).
                _say(report, f"precompiling {component.name}: {MISSING}")
            self._compile(component, target, plugin)
        return target

    def _compile(self, component: Path, target: Path, plugin: str) -> None:
        """Run the precompile child. Call with the artifact's compile lock held.

        Raises PluginLoadError if the child fails or runs past PRECOMPILE_TIMEOUT_S.
        """
        with self._lock:
            self.compiles += 1
        cmd = [sys.executable, "-m", "harvester.runtime.precompile", str(component), str(target)]
        child = subprocess.Popen(
            cmd,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, "PYTHONPATH": _package_root()},
        )
        _lower_priority(child.pid)
        try:
            _, stderr = child.communicate(timeout=PRECOMPILE_TIMEOUT_S)
        except subprocess.TimeoutExpired as exc:
            child.kill()
            child.communicate()
            raise PluginLoadError(plugin, f"precompiling {component} timed out") from exc
        if child.returncode != 0:
            raise PluginLoadError(plugin, f"precompiling {component} failed: {stderr.strip()}")

    @contextmanager
    def _compile_lock(self, target: Path, plugin: str) -> Iterator[None]:
        """Hold `target`'s compile lock: this process's thread lock, then the file lock.

        Threads queue on the thread lock (no polling), processes on the flock; different
        artifacts have different locks and compile in parallel.

        Raises PluginLoadError naming the lock file if both are not held within
        LOCK_TIMEOUT_S, and if the lock file cannot be opened.
        """
        deadline = time.monotonic() + LOCK_TIMEOUT_S
        with self._lock:
            in_process = self._compiling.setdefault(target, threading.Lock())
        if not in_process.acquire(timeout=LOCK_TIMEOUT_S):
            raise _lock_timeout(plugin, target)
        try:
            with _file_lock(target, deadline, plugin):
                yield
        finally:
            in_process.release()


@contextmanager
def _file_lock(target: Path, deadline: float, plugin: str) -> Iterator[None]:
    """flock `target`'s lock file until the block ends; closing the file releases it.

    Raises PluginLoadError if the lock is not free by `deadline` or cannot be opened.
    """
    path = lock_path(target)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    except OSError as exc:
        raise PluginLoadError(plugin, f"cannot open the lock {path}: {exc}") from exc
    try:
        while not _try_flock(fd):
            if time.monotonic() >= deadline:
                raise _lock_timeout(plugin, target)
            time.sleep(_LOCK_POLL_S)
        yield
    finally:
        os.close(fd)


def _try_flock(fd: int) -> bool:
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


def _lock_timeout(plugin: str, target: Path) -> PluginLoadError:
    return PluginLoadError(
        plugin,
        f"gave up after {LOCK_TIMEOUT_S:g} s waiting for the lock {lock_path(target)}"
        " (another thread or process is compiling this artifact)",
    )


def _problem(artifact: Path, bad: _Unusable | None) -> str | None:
    """Why `artifact` cannot be used as it is on disk now, or None if it can."""
    try:
        fd, _ = _open_checked(artifact, bad)
    except _Unusable as exc:
        return exc.reason
    os.close(fd)
    return None


def _open_checked(artifact: Path, bad: _Unusable | None = None) -> tuple[int, Identity]:
    """Open `artifact` and check it against its sidecar, once per file version per process.

    Returns the open descriptor (the caller closes it) and the version's identity.
    Raises _Unusable if the artifact is missing or unreadable (an SD card's EIO, say), is
    the version `bad` names, has no well-formed sidecar, or does not match it.
    """
    try:
        fd = os.open(artifact, os.O_RDONLY | os.O_CLOEXEC)
    except FileNotFoundError as exc:
        raise _Unusable("missing", None) from exc
    except OSError as exc:
        raise _Unusable(f"unreadable: {exc.strerror}", None) from exc
    try:
        st = os.fstat(fd)
        identity = (str(artifact), st.st_ino, st.st_size, st.st_mtime_ns)
        if bad is not None and identity == bad.identity:
            raise _Unusable(bad.reason, identity)
        with _verified_lock:
            known = identity in _verified
        if not known:
            _verify(fd, artifact, identity)
            with _verified_lock:
                _verified.add(identity)
    except BaseException:
        os.close(fd)
        raise
    return fd, identity


def _verify(fd: int, artifact: Path, identity: Identity) -> None:
    """Raises _Unusable unless the open artifact's sha256 is the one in its sidecar."""
    try:
        expected = checksum_path(artifact).read_text().split(maxsplit=1)[0]
    except (OSError, UnicodeDecodeError, IndexError):
        raise _Unusable("no readable .sha256 sidecar; made by something else?", identity) from None
    if not re.fullmatch(r"[0-9a-f]{64}", expected):
        raise _Unusable("malformed .sha256 sidecar", identity)
    try:
        actual = _stream_sha256(fd)
    except OSError as exc:
        raise _Unusable(f"unreadable: {exc.strerror}", identity) from exc
    if actual != expected:
        raise _Unusable("sha256 does not match its .sha256 sidecar", identity)


def _deserialize(engine: wasmtime.Engine, artifact: Path) -> Component:
    """Map the checked artifact. Raises _Unusable if it fails the check or wasmtime rejects it."""
    fd, identity = _open_checked(artifact)
    try:
        source = str(_PROC_FD / str(fd)) if _PROC_FD.is_dir() else str(artifact)
        return Component.deserialize_file(engine, source)
    except wasmtime.WasmtimeError as exc:
        raise _Unusable(_short_reason(exc), identity) from exc
    finally:
        os.close(fd)  # the mapping outlives the descriptor


def _short_reason(exc: wasmtime.WasmtimeError) -> str:
    """wasmtime's causes on one line, without the first line (it only names the path)."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    causes = [re.sub(r"^\d+:\s*", "", line) for line in lines[1:] if line != "Caused by:"]
    text = ": ".join(causes) or (lines[0] if lines else type(exc).__name__)
    return text if len(text) <= _REASON_MAX else text[: _REASON_MAX - 1] + "…"


def _discard(artifact: Path) -> None:
    """Delete the artifact and its sidecar; processes that mapped it keep their copy."""
    artifact.unlink(missing_ok=True)
    checksum_path(artifact).unlink(missing_ok=True)


def _say(report: Report | None, line: str) -> None:
    if report is not None:
        report(line)


def _write_atomically(path: Path, text: str) -> None:
    """Best effort: a cache entry that cannot be written is only a missed shortcut."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
        tmp.write_text(text)
        os.replace(tmp, path)
    except OSError:
        pass


def _lower_priority(pid: int) -> None:
    """A compile beside running plugins (a hot reload, a first start) takes every core
    wasmtime finds for seconds; at a lower priority it gets what the node leaves, so
    the plugins' polls keep their cadence (bench/bench_swap.py)."""
    with suppress(OSError):  # it may have ended already, or nice may be refused
        os.setpriority(os.PRIO_PROCESS, pid, COMPILE_NICE)


def _package_root() -> str:
    """The folder holding the `harvester` package, so the child imports this very copy."""
    root = str(Path(__file__).resolve().parents[2])
    existing = os.environ.get("PYTHONPATH")
    return f"{root}{os.pathsep}{existing}" if existing else root
