"""Precompiled artifacts: keyed by content and engine, made in a child, loaded mapped.

Compiled once per artifact across threads and processes, checked against a sha256
sidecar once per process, and rebuilt (not fatal) when damaged or foreign.
"""

from __future__ import annotations

import fcntl
import os
import re
import shutil
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import pytest
import wasmtime
from wasmtime.component import Component

from harvester.runtime import artifacts as artifacts_module
from harvester.runtime import engine as engine_module
from harvester.runtime.artifacts import (
    MISSING,
    ArtifactCache,
    checksum_line,
    checksum_path,
    file_sha256,
    lock_path,
)
from harvester.runtime.errors import PluginLoadError
from tests.conftest import ARTIFACTS, ROOT

pytestmark = pytest.mark.wasm

FIRST_START = f"precompiling raises.wasm: {MISSING}"


@pytest.fixture
def no_compiling_here(monkeypatch):
    """Make any compile in this process fail loudly: only deserializing is allowed."""

    def refuse(*args, **kwargs):
        raise AssertionError("the node process compiled a component")

    monkeypatch.setattr(Component, "from_file", classmethod(refuse))
    monkeypatch.setattr(Component, "__init__", refuse)


@pytest.fixture
def copying_compiles(monkeypatch) -> None:
    """Stand in for the 5-9 s child compile with a copy of the session's artifact.

    Only for tests about what happens around a compile (locks, retries), not the compile.
    """

    def compile_by_copying(self, component: Path, target: Path, plugin: str) -> None:
        with self._lock:
            self.compiles += 1
        _copy_artifact(ArtifactCache(ARTIFACTS).artifact_path(component), target)

    monkeypatch.setattr(ArtifactCache, "_compile", compile_by_copying)


def _copy_artifact(source: Path, target: Path) -> None:
    """Copy an artifact and its sidecar (same key, so the sidecar names the same file)."""
    shutil.copyfile(checksum_path(source), checksum_path(target))
    shutil.copyfile(source, target)


def _seed(cache: ArtifactCache, component: Path) -> Path:
    """Put the session's good artifact of `component` into `cache`; return its path."""
    target = cache.artifact_path(component)
    _copy_artifact(ArtifactCache(ARTIFACTS).artifact_path(component), target)
    return target


def _sidecar_digest(artifact: Path) -> str:
    return checksum_path(artifact).read_text().split()[0]


@contextmanager
def _holding_lock(artifact: Path) -> Iterator[None]:
    """Hold `artifact`'s compile lock as another process compiling it would."""
    with lock_path(artifact).open("a") as f:
        fcntl.flock(f.fileno(), fcntl.LOCK_EX)
        yield


def test_a_cold_cache_compiles_in_a_child_process(
    plugin_dir: Path, tmp_path: Path, engine, no_compiling_here
) -> None:
    cache = ArtifactCache(tmp_path)
    heard: list[str] = []
    component = cache.load(engine, plugin_dir / "raises.wasm", plugin="raises", report=heard.append)
    assert component.type.exports(engine)  # a usable component
    (artifact,) = tmp_path.glob("*.cwasm")
    assert artifact == cache.artifact_path(plugin_dir / "raises.wasm")
    assert not list(tmp_path.glob("*.tmp")), "precompile writes atomically"
    assert checksum_path(artifact).read_text() == checksum_line(file_sha256(artifact), artifact)
    assert cache.compiles == 1
    assert heard == [FIRST_START]


def test_a_warm_cache_only_deserializes(plugin_dir: Path, engine, no_compiling_here) -> None:
    cache = ArtifactCache(ARTIFACTS)
    assert cache.artifact_path(plugin_dir / "bme680.wasm").is_file()
    heard: list[str] = []
    cache.load(engine, plugin_dir / "bme680.wasm", plugin="bme680", report=heard.append)
    assert (cache.compiles, heard) == (0, [])


def test_threads_starting_one_component_on_a_cold_cache_compile_it_once(
    plugin_dir: Path, tmp_path: Path, engine
) -> None:
    cache = ArtifactCache(tmp_path)
    start_together = threading.Barrier(4)
    heard: list[str] = []

    def start() -> Component:
        start_together.wait(timeout=60)
        return cache.load(engine, plugin_dir / "raises.wasm", plugin="raises", report=heard.append)

    with ThreadPoolExecutor(max_workers=4) as pool:
        components = list(pool.map(lambda _: start(), range(4)))
    assert cache.compiles == 1
    assert heard == [FIRST_START]
    assert all(c.type.exports(engine) for c in components)


CHILD = """
import sys
from pathlib import Path
from harvester.runtime.artifacts import ArtifactCache
component, cache = Path(sys.argv[1]), ArtifactCache(Path(sys.argv[2]))
print("ready", flush=True)
cache.ensure(component, plugin="raises")
print(cache.compiles, flush=True)
"""


def test_processes_starting_one_component_on_a_cold_cache_compile_it_once(
    plugin_dir: Path, tmp_path: Path
) -> None:
    component = plugin_dir / "raises.wasm"
    artifact = ArtifactCache(tmp_path).artifact_path(component)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    cmd = [sys.executable, "-c", CHILD, str(component), str(tmp_path)]
    # Hold the lock until both are about to ensure, so neither can finish before the
    # other has started: without the lock both would compile.
    children = [subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, text=True) for _ in range(2)]
    try:
        with _holding_lock(artifact):
            for child in children:
                assert child.stdout is not None
                assert child.stdout.readline() == "ready\n"
        outputs = [child.communicate(timeout=300)[0] for child in children]
    finally:
        for child in children:
            if child.poll() is None:
                child.kill()
                child.wait()
    assert [child.returncode for child in children] == [0, 0]
    assert sorted(int(out) for out in outputs) == [0, 1], "exactly one of them compiled"
    assert file_sha256(artifact) == _sidecar_digest(artifact)


def _truncate(artifact: Path, other: Path) -> None:
    artifact.write_bytes(artifact.read_bytes()[:4096])


def _flip_the_middle(artifact: Path, other: Path) -> None:
    # wasmtime loads this one without complaint: only the checksum notices.
    data = bytearray(artifact.read_bytes())
    middle = len(data) // 2
    data[middle : middle + 16] = bytes(b ^ 0xFF for b in data[middle : middle + 16])
    artifact.write_bytes(data)


def _overwrite_with_another_component(artifact: Path, other: Path) -> None:
    shutil.copyfile(other, artifact)  # a valid artifact, of the wrong component


def _drop_in_without_sidecar(artifact: Path, other: Path) -> None:
    checksum_path(artifact).unlink()
    shutil.copyfile(other, artifact)


@pytest.mark.parametrize(
    ("damage", "reason"),
    [
        (_truncate, "sha256 does not match its .sha256 sidecar"),
        (_flip_the_middle, "sha256 does not match its .sha256 sidecar"),
        (_overwrite_with_another_component, "sha256 does not match its .sha256 sidecar"),
        (_drop_in_without_sidecar, "no readable .sha256 sidecar; made by something else?"),
    ],
)
def test_a_damaged_or_foreign_artifact_is_deleted_reported_and_rebuilt(
    plugin_dir: Path,
    tmp_path: Path,
    engine,
    damage: Callable[[Path, Path], None],
    reason: str,
) -> None:
    component = plugin_dir / "raises.wasm"
    cache = ArtifactCache(tmp_path)
    artifact = _seed(cache, component)
    damage(artifact, ArtifactCache(ARTIFACTS).artifact_path(plugin_dir / "read-env.wasm"))
    damaged = file_sha256(artifact)
    heard: list[str] = []
    loaded = cache.load(engine, component, plugin="raises", report=heard.append)
    assert loaded.type.exports(engine)
    assert cache.compiles == 1
    assert heard == [
        f"artifact {artifact.name} of raises.wasm was unusable ({reason}); deleted, recompiling"
    ]
    assert file_sha256(artifact) == _sidecar_digest(artifact) != damaged


def test_an_artifact_wasmtime_rejects_is_rebuilt(plugin_dir: Path, tmp_path: Path, engine) -> None:
    """A checksum only proves the file is the one written; wasmtime may still refuse it."""
    component = plugin_dir / "raises.wasm"
    cache = ArtifactCache(tmp_path)
    artifact = cache.artifact_path(component)
    artifact.write_bytes(b"not an ELF file")
    checksum_path(artifact).write_text(checksum_line(file_sha256(artifact), artifact))
    heard: list[str] = []
    loaded = cache.load(engine, component, plugin="raises", report=heard.append)
    assert loaded.type.exports(engine)
    assert cache.compiles == 1
    (line,) = heard
    assert line.startswith(f"artifact {artifact.name} of raises.wasm was unusable (failed to ")
    assert line.endswith("); deleted, recompiling")
    assert "\n" not in line and "/proc/" not in line


def test_a_fresh_artifact_that_fails_too_is_an_error(
    plugin_dir: Path, tmp_path: Path, engine, monkeypatch, copying_compiles
) -> None:
    def reject(engine, path):
        raise wasmtime.WasmtimeError("failed to load code\n\nCaused by:\n    0: rejected by a test")

    monkeypatch.setattr(Component, "deserialize_file", reject)
    component = plugin_dir / "raises.wasm"
    cache = ArtifactCache(tmp_path)
    artifact = _seed(cache, component)
    with pytest.raises(PluginLoadError, match="unusable even freshly compiled: rejected by a test"):
        cache.load(engine, component, plugin="raises")
    assert cache.compiles == 1, "one rebuild, not a loop"
    assert not artifact.exists(), "the next start compiles again"


def test_a_compile_lock_held_too_long_is_an_error_and_other_artifacts_go_on(
    plugin_dir: Path, tmp_path: Path, monkeypatch, copying_compiles
) -> None:
    monkeypatch.setattr(artifacts_module, "LOCK_TIMEOUT_S", 0.3)
    cache = ArtifactCache(tmp_path)
    raises = cache.artifact_path(plugin_dir / "raises.wasm")
    names_the_lock = re.escape(f"waiting for the lock {lock_path(raises)}")
    with _holding_lock(raises):
        with pytest.raises(PluginLoadError, match=names_the_lock):
            cache.ensure(plugin_dir / "raises.wasm", plugin="raises")
        # Locks are per artifact: another one compiles while this one is held.
        cache.ensure(plugin_dir / "read-env.wasm", plugin="read-env")
    assert cache.compiles == 1
    assert not raises.exists()


def test_the_checksum_is_checked_once_per_artifact_per_process(
    plugin_dir: Path, tmp_path: Path, engine, monkeypatch
) -> None:
    component = plugin_dir / "raises.wasm"
    _seed(ArtifactCache(tmp_path), component)
    hashed: list[int] = []
    real = artifacts_module._stream_sha256

    def counting(fd: int) -> str:
        hashed.append(fd)
        return real(fd)

    monkeypatch.setattr(artifacts_module, "_stream_sha256", counting)
    for _ in range(3):  # a later start, even by another cache object, costs nothing
        ArtifactCache(tmp_path).load(engine, component, plugin="raises")
    assert len(hashed) == 1


def test_the_key_changes_with_content_and_engine_settings(plugin_dir: Path, monkeypatch) -> None:
    cache = ArtifactCache(ARTIFACTS)
    a = cache.artifact_path(plugin_dir / "raises.wasm")
    b = cache.artifact_path(plugin_dir / "read-env.wasm")
    assert a != b
    monkeypatch.setitem(engine_module.ENGINE_SETTINGS, "cranelift_opt_level", "none")
    assert ArtifactCache(ARTIFACTS).artifact_path(plugin_dir / "raises.wasm") != a


def test_a_missing_component_says_so(tmp_path: Path, engine) -> None:
    with pytest.raises(
        PluginLoadError, match=r"plugin 'ghost': component .*ghost.wasm does not exist"
    ):
        ArtifactCache(tmp_path).load(engine, tmp_path / "ghost.wasm", plugin="ghost")


def test_the_component_hash_is_remembered_on_disk(
    plugin_dir: Path, tmp_path: Path, monkeypatch
) -> None:
    component = tmp_path / "c.wasm"
    shutil.copyfile(plugin_dir / "raises.wasm", component)
    first = ArtifactCache(tmp_path / "cache").artifact_path(component)

    def no_hashing(path: Path) -> str:
        raise AssertionError("hashed again")

    monkeypatch.setattr("harvester.runtime.artifacts.file_sha256", no_hashing)
    # A new process (a new cache object) finds the hash without reading the component.
    assert ArtifactCache(tmp_path / "cache").artifact_path(component) == first
    monkeypatch.undo()
    # A changed component is hashed afresh and gets another artifact.
    component.write_bytes(component.read_bytes() + b"changed")
    assert ArtifactCache(tmp_path / "cache").artifact_path(component) != first
