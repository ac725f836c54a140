"""The parts of hot reload that need no plugin: the versions store, sidecars, the watcher."""

from __future__ import annotations

import asyncio
import hashlib
import os
from pathlib import Path

from harvester.node.reloads import ReloadOutcome
from harvester.node.versions import VersionStore, sidecar_problem
from harvester.node.watch import PluginFolderWatcher


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def put(folder: Path, name: str, data: bytes) -> None:
    tmp = folder / f".{name}.tmp"
    tmp.write_bytes(data)
    os.replace(tmp, folder / name)


def test_a_version_is_stored_by_the_hash_of_the_bytes_copied(tmp_path: Path) -> None:
    store = VersionStore(tmp_path / "versions")
    (tmp_path / "x.wasm").write_bytes(b"one")
    stored, digest, _ = store.take(tmp_path / "x.wasm")
    assert digest == sha(b"one") and stored == store.path(digest)
    assert stored.read_bytes() == b"one"
    assert [p.name for p in store.folder.iterdir()] == [stored.name]  # no temporary left


def test_keep_refuses_bytes_that_changed_since_they_were_loaded(tmp_path: Path) -> None:
    store = VersionStore(tmp_path / "versions")
    path = tmp_path / "x.wasm"
    path.write_bytes(b"first")
    fd = os.open(path, os.O_RDONLY)
    try:
        path.write_bytes(b"overwritten in place")  # same inode: the open file changed too
        assert not store.keep(fd, sha(b"first"))
        assert not store.path(sha(b"first")).exists()
        os.replace(tmp_path / "x.wasm", tmp_path / "moved")
        assert store.keep(fd, sha(b"overwritten in place"))
    finally:
        os.close(fd)


def test_restore_puts_a_version_back_with_its_sidecar(tmp_path: Path) -> None:
    store = VersionStore(tmp_path / "versions")
    folder = tmp_path / "plugins"
    folder.mkdir()
    put(folder, "x.wasm", b"good")
    store.take(folder / "x.wasm")
    put(folder, "x.wasm", b"bad")
    put(folder, "x.wasm.sha256", f"{sha(b'bad')}  x.wasm\n".encode())
    store.restore(sha(b"good"), folder / "x.wasm")
    assert (folder / "x.wasm").read_bytes() == b"good"
    assert (folder / "x.wasm.sha256").read_text() == f"{sha(b'good')}  x.wasm\n"
    assert sidecar_problem(folder / "x.wasm", sha(b"good")) is None
    assert sorted(p.name for p in folder.iterdir()) == ["x.wasm", "x.wasm.sha256"]


def test_prune_keeps_only_what_is_asked(tmp_path: Path) -> None:
    store = VersionStore(tmp_path / "versions")
    digests = []
    for data in (b"a", b"b", b"c"):
        (tmp_path / "f").write_bytes(data)
        digests.append(store.take(tmp_path / "f")[1])
    store.prune({digests[0], digests[2]})
    assert {p.stem for p in store.folder.glob("*.wasm")} == {digests[0], digests[2]}


def test_sidecar_problems_name_the_sidecar(tmp_path: Path) -> None:
    component = tmp_path / "x.wasm"
    component.write_bytes(b"x")
    assert sidecar_problem(component, sha(b"x")) is None  # no sidecar: nothing to check
    (tmp_path / "x.wasm.sha256").write_text(f"{sha(b'x').upper()}  x.wasm\n")
    assert sidecar_problem(component, sha(b"x")) is None  # sha256sum's format, any case
    (tmp_path / "x.wasm.sha256").write_text("not a hash\n")
    assert "x.wasm.sha256 holds no sha256" in (sidecar_problem(component, sha(b"x")) or "")
    (tmp_path / "x.wasm.sha256").write_text(f"{sha(b'y')}  x.wasm\n")
    problem = sidecar_problem(component, sha(b"x")) or ""
    assert problem.startswith(f"x.wasm (sha256 {sha(b'x')[:16]}) does not match its sidecar")
    assert "stale sidecar" in problem


async def test_the_watcher_reloads_the_plugins_of_a_changed_component(tmp_path: Path) -> None:
    calls: list[str] = []
    heard: asyncio.Queue[str] = asyncio.Queue()

    async def reload(plugin: str) -> ReloadOutcome:
        calls.append(plugin)
        await heard.put(plugin)
        return ReloadOutcome(plugin, "unchanged", "", "")

    components = {"shared.wasm": ("a", "b"), "y.wasm": ("y",)}
    async with PluginFolderWatcher(tmp_path, components, reload, settle_s=0.05):
        # A burst of writes to one component: one reload per plugin running it.
        for data in (b"1", b"2", b"3"):
            put(tmp_path, "shared.wasm", data)
        assert {await heard.get(), await heard.get()} == {"a", "b"}
        # Files that are not final component names are ignored; a sidecar counts.
        (tmp_path / "shared.wasm.part").write_bytes(b"half")
        (tmp_path / "other.wasm").write_bytes(b"not configured")
        put(tmp_path, "y.wasm.sha256", b"0" * 64)
        assert await heard.get() == "y"
    assert calls == ["a", "b", "y"] or calls == ["b", "a", "y"]


async def test_a_failing_reload_does_not_stop_the_watcher(tmp_path: Path) -> None:
    heard: asyncio.Queue[str] = asyncio.Queue()

    async def reload(plugin: str) -> ReloadOutcome:
        await heard.put(plugin)
        raise RuntimeError("a bug in a reload")

    async with PluginFolderWatcher(tmp_path, {"x.wasm": ("x",)}, reload, settle_s=0.01):
        put(tmp_path, "x.wasm", b"1")
        assert await heard.get() == "x"
        put(tmp_path, "x.wasm", b"2")
        assert await heard.get() == "x"
