"""The plugin-folder watcher: a changed component file is hot-reloaded, once it settles.

watchfiles (inotify on Linux) runs in a thread of its own, which a stop ends within its
`step` (50 ms): asyncio's and anyio's worker threads would outlive the supervisor. Only
the final names of configured components count, `<component>.wasm` and its
`<component>.wasm.sha256` sidecar (a sidecar written after its component makes a
refused file loadable); temporary files of a copy in progress are ignored. After the
last change to a component, `settle_ms` of quiet, then one reload per plugin using it.
A reload in progress is never cancelled by a new change: another follows it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path
from types import TracebackType

from watchfiles._rust_notify import RustNotify  # watchfiles' documented low-level watcher

from harvester.node.reloads import ReloadOutcome

log = logging.getLogger("harvester.node")
# How long a stop waits for the watcher thread (it checks its stop event every 50 ms).
STOP_WAIT_S = 1.0

Reload = Callable[[str], Awaitable[ReloadOutcome]]


class PluginFolderWatcher:
    """An async context manager: while inside, changes in `folder` reload plugins.

    `components` maps a component file name (`bme680.wasm`) to the plugins that run it.
    """

    def __init__(
        self,
        folder: Path,
        components: Mapping[str, tuple[str, ...]],
        reload: Reload,
        *,
        settle_s: float,
    ) -> None:
        self._folder = folder
        self._plugins = {
            name: plugins
            for file, plugins in components.items()
            for name in (file, f"{file}.sha256")
        }
        self._reload = reload
        self._settle_s = settle_s
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._timers: dict[str, asyncio.TimerHandle] = {}
        self._reloading: dict[str, asyncio.Task[None]] = {}
        self._again: set[str] = set()

    async def __aenter__(self) -> PluginFolderWatcher:
        loop = asyncio.get_running_loop()
        ready: asyncio.Future[None] = loop.create_future()
        self._thread = threading.Thread(
            target=self._watch, args=(loop, ready), name="watch-plugins", daemon=True
        )
        self._thread.start()
        await ready  # changes from now on are seen
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._stop.set()
        for timer in self._timers.values():
            timer.cancel()
        self._timers.clear()
        tasks = list(self._reloading.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if self._thread is not None:
            await asyncio.to_thread(self._thread.join, STOP_WAIT_S)

    def _watch(self, loop: asyncio.AbstractEventLoop, ready: asyncio.Future[None]) -> None:
        """The watcher thread: hand the names of changed files to the loop."""
        try:
            with RustNotify([str(self._folder)], False, False, 300, False, False) as notify:
                loop.call_soon_threadsafe(_settle, ready)
                while True:
                    # Group a burst for at most 1.6 s, yielded after 50 ms of quiet; the
                    # stop event is checked every step.
                    raw = notify.watch(1600, 50, 0, self._stop)
                    if raw == "stop":
                        return
                    if isinstance(raw, str):  # "signal" or "timeout": nothing changed
                        continue
                    names = {Path(path).name for _, path in raw} & self._plugins.keys()
                    if names:
                        loop.call_soon_threadsafe(self._changed, names)
        except Exception as exc:  # the node runs on; its plugin folder is not watched
            log.error("not watching %s for new plugin versions: %s", self._folder, exc)
        finally:
            with contextlib.suppress(RuntimeError):  # the loop closed: nobody waits
                loop.call_soon_threadsafe(_settle, ready)

    def _changed(self, names: set[str]) -> None:
        """On the loop: (re)start the quiet period of every plugin a changed file runs."""
        if self._stop.is_set():
            return
        loop = asyncio.get_running_loop()
        for plugin in {p for name in names for p in self._plugins.get(name, ())}:
            if timer := self._timers.pop(plugin, None):
                timer.cancel()
            self._timers[plugin] = loop.call_later(self._settle_s, self._settled, plugin)

    def _settled(self, plugin: str) -> None:
        self._timers.pop(plugin, None)
        if plugin in self._reloading:
            self._again.add(plugin)  # after the one in progress
            return
        self._reloading[plugin] = asyncio.create_task(
            self._reload_once(plugin), name=f"reload-{plugin}"
        )

    async def _reload_once(self, plugin: str) -> None:
        try:
            await self._reload(plugin)  # its outcome is logged and published by the runner
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # never the watcher's end, nor the node's
            log.error("plugin %s: reload failed: %s", plugin, exc, exc_info=exc)
        finally:
            self._reloading.pop(plugin, None)
            if plugin in self._again and not self._stop.is_set():
                self._again.discard(plugin)
                self._settled(plugin)


def _settle(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)
