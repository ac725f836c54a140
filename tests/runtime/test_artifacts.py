"""Precompiled artifacts: keyed by content and engine, made in a child, loaded mapped."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from wasmtime.component import Component

from harvester.runtime import engine as engine_module
from harvester.runtime.artifacts import ArtifactCache
from harvester.runtime.errors import PluginLoadError
from tests.conftest import ARTIFACTS

pytestmark = pytest.mark.wasm


@pytest.fixture
def no_compiling_here(monkeypatch):
    """Make any compile in this process fail loudly: only deserializing is allowed."""

    def refuse(*args, **kwargs):
        raise AssertionError("the node process compiled a component")

    monkeypatch.setattr(Component, "from_file", classmethod(refuse))
    monkeypatch.setattr(Component, "__init__", refuse)


def test_a_cold_cache_compiles_in_a_child_process(
    plugin_dir: Path, tmp_path: Path, engine, no_compiling_here
) -> None:
    cache = ArtifactCache(tmp_path)
    component = cache.load(engine, plugin_dir / "raises.wasm", plugin="raises")
    assert component.type.exports(engine)  # a usable component
    (artifact,) = tmp_path.glob("*.cwasm")
    assert artifact == cache.artifact_path(plugin_dir / "raises.wasm")
    assert not list(tmp_path.glob("*.tmp")), "precompile writes atomically"


def test_a_warm_cache_only_deserializes(plugin_dir: Path, engine, no_compiling_here) -> None:
    cache = ArtifactCache(ARTIFACTS)
    assert cache.artifact_path(plugin_dir / "bme680.wasm").is_file()
    cache.load(engine, plugin_dir / "bme680.wasm", plugin="bme680")


def test_a_damaged_artifact_is_dropped_with_a_clear_error(
    plugin_dir: Path, tmp_path: Path, engine
) -> None:
    component = plugin_dir / "raises.wasm"
    good = ArtifactCache(ARTIFACTS).artifact_path(component)
    cache = ArtifactCache(tmp_path)
    damaged = cache.artifact_path(component)
    shutil.copyfile(good, damaged)
    damaged.write_bytes(damaged.read_bytes()[:4096])
    with pytest.raises(PluginLoadError, match=r"artifact .* is unusable"):
        cache.load(engine, component, plugin="raises")
    assert not damaged.exists(), "the next start must recompile, not fail again"


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
