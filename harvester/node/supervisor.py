"""Runs a node's plugins: one runner task each, and an orderly stop that cannot hang.

Stopping takes at most STOP_WAIT_S whatever the plugins are doing: every live instance
is interrupted at once (waits end, host calls trap, the engine's epoch jumps past every
deadline so running wasm stops at its next check), the runner tasks are cancelled, and
threads still stuck in a host call after that are abandoned, not waited for.
"""

from __future__ import annotations

import asyncio
import logging
import time
from types import TracebackType

import wasmtime

from harvester.config import NodeConfig
from harvester.constants import STOP_WAIT_S
from harvester.hal import Backend
from harvester.node.events import EventBus
from harvester.node.latest import LatestReadings
from harvester.node.reloads import ReloadOutcome
from harvester.node.runner import CommandUnavailable, HttpUnavailable, PluginRunner, RunnerClock
from harvester.node.versions import VersionStore
from harvester.node.watch import PluginFolderWatcher
from harvester.runtime.actuator import ArgValue
from harvester.runtime.artifacts import ArtifactCache
from harvester.runtime.engine import EpochTicker, make_engine
from harvester.runtime.http import HttpRequest, HttpResponse
from harvester.runtime.hub_data import HubData
from harvester.runtime.worker import InstanceThread

log = logging.getLogger("harvester.node")


class Supervisor:
    """An async context manager that runs every plugin of a node config.

    It owns the engine's epoch (its ticker drives deadlines, and a stop expires them all),
    so give it an engine no other supervisor uses.
    """

    def __init__(
        self,
        config: NodeConfig,
        *,
        backend: Backend,
        bus: EventBus,
        engine: wasmtime.Engine | None = None,
        clock: RunnerClock | None = None,
        hub_data: HubData | None = None,
    ) -> None:
        self._engine = engine or make_engine()
        self._ticker = EpochTicker(self._engine)
        self.artifacts = ArtifactCache(config.cache_dir)
        self.latest = LatestReadings(config.name)
        self.runners = {
            p.name: PluginRunner(
                p,
                component_path=config.plugin_dir / f"{p.component_name}.wasm",
                engine=self._engine,
                artifacts=self.artifacts,
                backend=backend,
                bus=bus,
                restart=config.restart,
                clock=clock,
                latest=self.latest,
                hub_data=hub_data,
                reload=config.reload,
                versions=VersionStore(config.state_dir / config.name / "versions" / p.name),
            )
            for p in config.plugins
        }
        self._config = config
        self._watcher: PluginFolderWatcher | None = None
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._running = False
        self.abandoned_at_stop = 0

    async def command(
        self, plugin: str, name: str, arguments: dict[str, ArgValue]
    ) -> dict[str, ArgValue]:
        """Run command `name` of actuator plugin `plugin` (see PluginRunner.command).

        Raises CommandUnavailable for a plugin this node does not run, and what
        PluginRunner.command raises."""
        runner = self.runners.get(plugin)
        if runner is None:
            raise CommandUnavailable(plugin, "no such plugin on this node")
        return await runner.command(name, arguments)

    async def handle_http(self, plugin: str, request: HttpRequest) -> HttpResponse:
        """Answer `request` with HTTP handler plugin `plugin` (see PluginRunner.handle_http).

        Raises HttpUnavailable for a plugin this node does not run, and what
        PluginRunner.handle_http raises."""
        runner = self.runners.get(plugin)
        if runner is None:
            raise HttpUnavailable(plugin, "no such plugin on this node")
        return await runner.handle_http(request)

    async def reload(self, plugin: str) -> ReloadOutcome:
        """Load `plugin`'s component file again if its content changed, and swap the new
        version in once it answers; the old one keeps running if it does not
        (docs/lifecycle-reload.md). The plugin-folder watcher and deploys call this;
        calls for one plugin take turns (the second of two finds it "unchanged").

        A plugin that is quarantined (or whose start failed) runs the new version if it
        answers. Raises CommandUnavailable for a plugin this node does not run, or when
        the supervisor is not running.
        """
        runner = self.runners.get(plugin)
        if runner is None:
            raise CommandUnavailable(plugin, "no such plugin on this node")
        if not self._running:
            raise CommandUnavailable(plugin, "the node's supervisor is not running")
        outcome = await runner.reload()
        task = self._tasks.get(plugin)
        if runner.reloads.waiting and self._running and (task is None or task.done()):
            log.info("plugin %s: starting version %s (was %s)", plugin, outcome.version,
                     runner.state)  # fmt: skip
            runner.forget_faults()
            self._tasks[plugin] = asyncio.create_task(runner.run(), name=f"plugin-{plugin}")
        return outcome

    def restart(self, plugin: str) -> None:
        """Restart `plugin`: a running one gets a fresh instance (not a fault, no back-off);
        a quarantined or stopped one runs again with its fault history cleared; one that
        is starting or backing off is left to it (a fresh instance is on its way). Returns
        once the restart is under way; the plugin's state events tell how it went.

        Raises CommandUnavailable for a plugin this node does not run, or when the
        supervisor is not running."""
        runner = self.runners.get(plugin)
        if runner is None:
            raise CommandUnavailable(plugin, "no such plugin on this node")
        if not self._running:
            raise CommandUnavailable(plugin, "the node's supervisor is not running")
        task = self._tasks.get(plugin)
        if task is not None and not task.done():
            if runner.replace_live():
                log.info("plugin %s: restarting on request", plugin)
            else:
                log.info(
                    "plugin %s: restart asked while %s; a fresh instance is on its way",
                    plugin,
                    runner.state,
                )
            return
        log.info("plugin %s: starting again on request (was %s)", plugin, runner.state)
        runner.forget_faults()
        self._tasks[plugin] = asyncio.create_task(runner.run(), name=f"plugin-{plugin}")

    async def __aenter__(self) -> Supervisor:
        self._ticker.__enter__()
        self._tasks = {
            name: asyncio.create_task(r.run(), name=f"plugin-{name}")
            for name, r in self.runners.items()
        }
        self._running = True
        if self._config.reload.watch and self.runners:
            try:
                self._watcher = await PluginFolderWatcher(
                    self._config.plugin_dir,
                    self._components(),
                    self.reload,
                    settle_s=self._config.reload.settle_ms / 1000,
                ).__aenter__()
            except BaseException:
                await self.__aexit__(None, None, None)
                raise
        return self

    def _components(self) -> dict[str, tuple[str, ...]]:
        """Each component file name, with the plugins that run it."""
        files: dict[str, tuple[str, ...]] = {}
        for name, runner in self.runners.items():
            file = runner.component_path.name
            files[file] = (*files.get(file, ()), name)
        return files

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._running = False
        if self._watcher is not None:  # no reload begins from here on
            watcher, self._watcher = self._watcher, None
            await watcher.__aexit__(None, None, None)
        # All at once, with no await in between, so no runner sees its interrupted call
        # fail as a fault before it is cancelled.
        threads = [t for r in self.runners.values() for t in r.interrupt()]
        self._ticker.expire_all()
        tasks = list(self._tasks.values())
        for task in tasks:
            task.cancel()
        for task, outcome in zip(
            tasks, await asyncio.gather(*tasks, return_exceptions=True), strict=True
        ):
            if isinstance(outcome, Exception):  # run() handles everything; say so if not
                log.error("%s ended with an error", task.get_name(), exc_info=outcome)
        stuck = await asyncio.to_thread(_wait_all, threads, STOP_WAIT_S)
        self.abandoned_at_stop = len(stuck)
        for thread in stuck:
            log.warning("plugin %s: thread still in a host call at stop; abandoned", thread.plugin)
        for runner in self.runners.values():
            runner.stopped()
        self._ticker.__exit__(None, None, None)


def _wait_all(threads: list[InstanceThread], seconds: float) -> list[InstanceThread]:
    """Wait until every thread has finished or `seconds` passed; the ones still running."""
    until = time.monotonic() + seconds
    for thread in threads:
        thread.finished.wait(max(0.0, until - time.monotonic()))
    return [t for t in threads if not t.finished.is_set()]
