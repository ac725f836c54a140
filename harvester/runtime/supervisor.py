"""Runs a node's plugins: start, poll on schedule, answer faults, quarantine repeat offenders.

Each plugin has its own runner task and its own worker thread, so a plugin that is
slow, stuck until its deadline, or restarting never delays another.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import TracebackType
from typing import TypeVar

import wasmtime
from wasmtime.component import Component

from harvester.config import NodeConfig, PluginConfig, RestartPolicy
from harvester.hal import Backend, PluginHal
from harvester.node.events import EventBus, PluginState, Reading, ReadingsEvent, StateEvent
from harvester.node.plugin_log import PluginLog
from harvester.runtime.artifacts import ArtifactCache
from harvester.runtime.engine import EpochTicker, make_engine
from harvester.runtime.errors import PluginFault, PluginLoadError, PluginReportedError
from harvester.runtime.host_api import build_linker, ungranted_imports
from harvester.runtime.plugin import Metric, PluginInstance, PluginReading

T = TypeVar("T")


class PluginRunner:
    """The life of one configured plugin, across however many instances it takes."""

    def __init__(
        self,
        config: PluginConfig,
        *,
        component_path: Path,
        engine: wasmtime.Engine,
        artifacts: ArtifactCache,
        backend: Backend,
        bus: EventBus,
        restart: RestartPolicy,
    ) -> None:
        self.config = config
        self.name = config.name
        self.state: PluginState = "stopped"
        self.instances_started = 0
        self.polls = 0
        self.faults: deque[float] = deque()
        self._component_path = component_path
        self._engine = engine
        self._artifacts = artifacts
        self._bus = bus
        self._restart = restart
        self.log = PluginLog(config.name, bus)
        self._hal = PluginHal(backend, config.grants, on_refusal=self.log.refused)
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"plugin-{self.name}")
        self._component: Component | None = None
        self._metrics: dict[str, Metric] = {}
        self._polled_ok = False

    def _set_state(self, state: PluginState, reason: str = "") -> None:
        self.state = state
        self._bus.publish(StateEvent(self.name, state, reason))

    async def _in_worker(self, fn: Callable[[], T]) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._executor, fn)

    def _load(self) -> Component:
        if self._component is None:
            path = self._component_path
            if path.is_file() and not self._artifacts.artifact_path(path).is_file():
                self.log.host_says("info", f"precompiling {path.name} (first start of this build)")
            component = self._artifacts.load(self._engine, path, plugin=self.name)
            imports = list(component.type.imports(self._engine))
            refused = ungranted_imports(imports, self.config.grants)
            if refused:
                raise PluginLoadError(
                    self.name,
                    f"imports {', '.join(refused)}, which its grants in the node config do not"
                    " cover",
                )
            self._component = component
        return self._component

    def _instantiate(self) -> tuple[PluginInstance, tuple[Metric, ...]]:
        component = self._load()
        linker = build_linker(self._engine, self._hal, self.config.grants, self.log)
        instance = PluginInstance(
            name=self.name,
            engine=self._engine,
            component=component,
            linker=linker,
            limits=self.config.limits,
            plugin_log=self.log,
        )
        instance.init(dict(self.config.settings))
        return instance, instance.describe()

    async def run(self) -> None:
        """Run until cancelled, or until the plugin is quarantined."""
        backoff = self._restart.backoff_initial_s
        while True:
            self._set_state("starting")
            self._polled_ok = False
            try:
                instance, metrics = await self._in_worker(self._instantiate)
                self.instances_started += 1
                self._metrics = {m.name: m for m in metrics}
                self._set_state("running")
                await self._poll_loop(instance)  # returns only by raising
            except PluginLoadError as exc:
                self.log.host_says("error", f"cannot start: {exc.detail}")
                self._set_state("quarantined", exc.detail)
                return
            except PluginReportedError as exc:
                # An error result from init: the plugin refuses to start; a fault like any other.
                fault = PluginFault(self.name, f"init failed: {exc.detail}")
                if not await self._after_fault(fault, backoff):
                    return
            except PluginFault as exc:
                if self._polled_ok:  # it worked for a while: start the back-off over
                    backoff = self._restart.backoff_initial_s
                if not await self._after_fault(exc, backoff):
                    return
            backoff = min(backoff * 2, self._restart.backoff_max_s)

    async def _after_fault(self, fault: PluginFault, backoff: float) -> bool:
        """Log the fault; quarantine (False) or wait out the back-off (True)."""
        now = time.monotonic()
        self.faults.append(now)
        while self.faults and now - self.faults[0] > self._restart.fault_window_s:
            self.faults.popleft()
        count, limit = len(self.faults), self._restart.max_faults
        kind = fault.kind
        if count >= limit:
            reason = (
                f"quarantined after {count} faults in {self._restart.fault_window_s:g} s;"
                f" last: {kind}: {fault.detail}"
            )
            self.log.host_says("error", reason)
            self._set_state("quarantined", reason)
            return False
        self.log.host_says(
            "warn",
            f"{kind}: {fault.detail}; restarting in {backoff:g} s (fault {count} of {limit})",
        )
        self._set_state("backoff", f"{kind}: {fault.detail}")
        await asyncio.sleep(backoff)  # the designed pause before a restart
        return True

    async def _poll_loop(self, instance: PluginInstance) -> None:
        loop = asyncio.get_running_loop()
        interval = self.config.poll_interval_s
        next_at = loop.time()
        while True:
            try:
                readings = await self._in_worker(instance.poll)
            except PluginReportedError as exc:
                self.log.host_says("warn", f"poll failed: {exc.detail}")
            else:
                self._polled_ok = True
                self._publish(readings)
            finally:
                self.log.flush()
                self.polls += 1
            next_at = max(next_at + interval, loop.time())
            await asyncio.sleep(next_at - loop.time())

    def _publish(self, readings: tuple[PluginReading, ...]) -> None:
        good, dropped = [], []
        for r in readings:
            metric = self._metrics.get(r.metric)
            if metric is None or not math.isfinite(r.value):
                dropped.append(f"{r.metric[:48]}={r.value!r}")
            else:
                good.append(Reading(r.metric, r.value, metric.unit))
        if dropped:  # one line per poll: host lines are not rate-limited, so never one per item
            shown = ", ".join(dropped[:5]) + (
                f" and {len(dropped) - 5} more" if len(dropped) > 5 else ""
            )
            self.log.host_says(
                "warn", f"dropped {len(dropped)} readings (not described or not finite): {shown}"
            )
        if good:
            self._bus.publish(ReadingsEvent(self.name, tuple(good)))

    def close(self) -> None:
        self._executor.shutdown(wait=True, cancel_futures=True)
        if self.state != "quarantined":
            self._set_state("stopped")


class Supervisor:
    """An async context manager that runs every plugin of a node config."""

    def __init__(
        self,
        config: NodeConfig,
        *,
        backend: Backend,
        bus: EventBus,
        engine: wasmtime.Engine | None = None,
    ) -> None:
        self._engine = engine or make_engine()
        self._ticker = EpochTicker(self._engine)
        artifacts = ArtifactCache(config.cache_dir)
        self.runners = {
            p.name: PluginRunner(
                p,
                component_path=config.plugin_dir / f"{p.component_name}.wasm",
                engine=self._engine,
                artifacts=artifacts,
                backend=backend,
                bus=bus,
                restart=config.restart,
            )
            for p in config.plugins
        }
        self._tasks: list[asyncio.Task[None]] = []

    async def __aenter__(self) -> Supervisor:
        self._ticker.__enter__()
        self._tasks = [
            asyncio.create_task(r.run(), name=f"plugin-{r.name}") for r in self.runners.values()
        ]
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        # A call still in wasm ends at its deadline (the ticker keeps running until then).
        await asyncio.gather(*(asyncio.to_thread(r.close) for r in self.runners.values()))
        self._ticker.__exit__(None, None, None)
