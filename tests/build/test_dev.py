"""`harvester run --dev`'s source watcher: a save rebuilds the plugin into the node's
plugin folder; a build error is told once and leaves the running version's file alone.

The watcher is driven directly and awaited on its events (never on sleeps). It works on
the scaffolded sensor of test_scaffold.py (same name and world: its first build is
cached) and one change to it, also cached by content hash after the first run.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from harvester.build.dev import DevEvent, SourceWatcher
from harvester.build.scaffold import scaffold
from tests.build.test_scaffold import SENSOR, USER_CACHE

BUILDS = USER_CACHE / "harvester" / "builds"  # the scaffold test's build cache
NAME = SENSOR[0]


class Heard:
    def __init__(self) -> None:
        self.queue: asyncio.Queue[DevEvent] = asyncio.Queue()

    async def next(self, timeout: float = 600) -> DevEvent:
        async with asyncio.timeout(timeout):
            return await self.queue.get()


@pytest.fixture
async def watched(tmp_path: Path) -> AsyncIterator[tuple[SourceWatcher, Heard, Path]]:
    folder = scaffold(*SENSOR, plugins_dir=tmp_path / "plugins")
    heard = Heard()
    watcher = SourceWatcher(
        {NAME: folder}, out_dir=tmp_path / "node-plugins", build_cache=BUILDS,
        report=heard.queue.put_nowait,
    )  # fmt: skip
    yield watcher, heard, folder


@pytest.mark.wasm
@pytest.mark.slow
async def test_a_save_rebuilds_and_a_syntax_error_is_told_once(
    watched: tuple[SourceWatcher, Heard, Path],
) -> None:
    watcher, heard, folder = watched
    output = watcher.out_dir / f"{NAME}.wasm"
    await watcher.rebuild({NAME}, why="start")
    assert (await heard.next()).kind == "rebuilding"
    built = await heard.next()
    assert (built.kind, built.output) == ("built", output)
    running = output.read_bytes()

    stop = asyncio.Event()
    task = asyncio.create_task(watcher.run(stop))
    try:
        assert (await heard.next()).kind == "watching"
        app = folder / "app.py"
        source = app.read_text()

        app.write_text(source + "\ndef broken(:\n")
        assert (await heard.next()).kind == "rebuilding"
        failed = await heard.next()
        assert (failed.kind, failed.plugin) == ("failed", NAME)
        assert "SyntaxError" in failed.detail and "app.py" in failed.detail
        assert "Stack backtrace" not in failed.detail
        assert output.read_bytes() == running  # the node keeps what it runs

        # Saved again as it was: not built again, not told again.
        app.write_text(source + "\ndef broken(:\n")
        assert (await heard.next()).kind == "unchanged"
        # Bytecode and the plugin's tests are not part of the component.
        (folder / "tests" / "notes.py").write_text("# a note\n")
        assert (await heard.next()).kind == "unchanged"

        app.write_text(source + "\n# saved with a change\n")
        assert (await heard.next()).kind == "rebuilding"
        rebuilt = await heard.next()
        assert (rebuilt.kind, rebuilt.plugin, rebuilt.output) == ("built", NAME, output)
        assert output.read_bytes() != running
        assert not list(output.parent.glob("*.tmp"))  # replaced by a rename
    finally:
        stop.set()
        await asyncio.wait_for(task, 30)


def test_a_change_to_the_sdk_or_the_wit_concerns_every_plugin(tmp_path: Path) -> None:
    plugins = {n: scaffold(n, "dht22-plugin", plugins_dir=tmp_path) for n in ("one", "two")}
    watcher = SourceWatcher(
        plugins, out_dir=tmp_path / "out", build_cache=tmp_path / "cache", report=print
    )
    assert watcher.affected({plugins["one"] / "app.py"}) == {"one"}
    assert watcher.affected({watcher.sdk_dir / "harvester_sdk" / "log.py"}) == {"one", "two"}
    assert watcher.affected({watcher.wit_dir / "worlds.wit"}) == {"one", "two"}
    assert watcher.affected({tmp_path / "elsewhere.py"}) == set()
    assert os.fspath(watcher.sources["one"]) == os.fspath(plugins["one"].resolve())
