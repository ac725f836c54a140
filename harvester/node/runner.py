"""The life of one configured plugin: load, start, drive its exports, answer its faults.

Each plugin has its own runner task, and each instance its own thread, so a plugin that
is slow, stuck until its deadline, blocked in a host call or restarting never delays
another. Any exception on the way (the guest's, a converter's, a backend's) becomes a
fault of this plugin with a log line naming it: a runner never dies silently.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import wasmtime

from harvester.config import PluginConfig, ReloadConfig, RestartPolicy
from harvester.constants import ABANDON_GRACE_MS, LogLevel
from harvester.hal import Backend, PluginHal, tap
from harvester.node.events import EventBus, PluginState, Reading, ReadingsEvent, StateEvent
from harvester.node.latest import LatestReadings
from harvester.node.live import (
    DRIVABLE,
    CommandUnavailable,
    HttpUnavailable,
    LiveInstance,
    LoopClock,
    Replace,
    RunnerClock,
)
from harvester.node.plugin_log import PluginLog
from harvester.node.reloads import ReloadOutcome
from harvester.node.requests import HTTP_MAX_WAITING, Requests
from harvester.node.swap import Reloader
from harvester.node.versions import VersionStore
from harvester.runtime.actuator import (
    ActuatorExport,
)
from harvester.runtime.artifacts import ArtifactCache
from harvester.runtime.errors import (
    HostError,
    PluginFault,
    PluginLoadError,
    PluginReportedError,
)
from harvester.runtime.host_api import ENDS_AT_DEADLINE
from harvester.runtime.http import HttpHandlerExport
from harvester.runtime.hub_data import HubData
from harvester.runtime.loader import LoadedComponent
from harvester.runtime.plugin import PluginInstance
from harvester.runtime.sensor import Metric, PluginReading, SensorExport
from harvester.runtime.worker import InstanceThread

T = TypeVar("T")
log = logging.getLogger("harvester.node")
__all__ = [
    "DRIVABLE",
    "HTTP_MAX_WAITING",
    "CommandUnavailable",
    "HttpUnavailable",
    "LiveInstance",
    "PluginRunner",
    "RunnerClock",
]


class PluginRunner(Requests):
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
        clock: RunnerClock | None = None,
        latest: LatestReadings | None = None,
        hub_data: HubData | None = None,
        reload: ReloadConfig | None = None,
        versions: VersionStore | None = None,
    ) -> None:
        self.config = config
        self.name = config.name
        self.state: PluginState = "stopped"
        self.instances_started = 0
        self.swaps = 0  # versions swapped in by a hot reload
        self.polls = 0
        self.faults: deque[float] = deque()
        self.component_path = component_path
        self._engine = engine
        self._artifacts = artifacts
        self._bus = bus
        self._restart = restart
        self._clock = clock or LoopClock()
        self.log = PluginLog(config.name, bus)
        self._latest = latest
        self._hub_data = hub_data
        # Recorded, replayed or faulted if the plugin's config asks (docs/recording.md).
        self.hardware = tap.for_plugin(
            backend,
            config,
            node=bus.node,
            report=lambda line: self.log.host_says(LogLevel.WARN, line),
        )
        self._hal = PluginHal(
            self.hardware, config.grants, on_refusal=self.log.refused, readings=latest
        )
        self._loaded: LoadedComponent | None = None
        self.live: LiveInstance | None = None
        # Every instance thread in use (a starting one too; two during a swap), with its
        # instance once made: what a stop must interrupt.
        self._active: dict[InstanceThread, PluginInstance | None] = {}
        self._metrics: dict[str, Metric] = {}
        self._polled_ok = False
        self._deadline_s = config.limits.call_timeout_ms / 1000
        self._http_waiting = 0
        # Loads, starts and version changes take turns: a reload, a rollback, a start.
        self.lock = asyncio.Lock()
        self.reloads = Reloader(self, reload or ReloadConfig(), versions)

    def _set_state(self, state: PluginState, reason: str = "") -> None:
        self.state = state
        self._bus.publish(StateEvent(self.name, state, reason))

    # -- loading and starting -------------------------------------------------------------

    async def load(self) -> LoadedComponent:
        """The version to run: the one loaded before, or else the component file as it is.

        A changed file is loaded by `reload` (beside the running version), never by a
        restart: a restart after a fault runs the same version again.
        Raises PluginLoadError (also if the file does not match its .sha256 sidecar).
        """
        if self._loaded is not None:
            return self._loaded
        loaded = await self.reloads.first_load()
        self._loaded = loaded
        return loaded

    async def start(
        self, loaded: LoadedComponent, *, beside: LiveInstance | None = None
    ) -> tuple[LiveInstance, tuple[Metric, ...]]:
        """A new instance of `loaded` in a thread of its own, initialised and described
        (its metrics, if it is a sensor; its commands, if an actuator).

        It runs beside any other instance (hot reload swaps them). `beside` is the version
        running now: the new one's init runs in its turn, because both talk to the same
        devices (a soft reset, a configuration) and a poll of the old version between the
        new one's transfers would read a half-configured chip. Raises PluginFault,
        PluginReportedError (init refused) or PluginLoadError; on any of them the new
        instance and its thread are gone.
        """
        thread = InstanceThread(self.name)
        self._active[thread] = None

        def make() -> tuple[PluginInstance, SensorExport | None, ActuatorExport | None]:
            made = PluginInstance(
                name=self.name,
                engine=self._engine,
                component=loaded.component,
                hal=self._hal,
                grants=self.config.grants,
                limits=self.config.limits,
                guest_log=self.log,
                imports=loaded.imports,
                exports=loaded.exports,
                hub_data=self._hub_data,
            )
            return made, made.export(SensorExport), made.export(ActuatorExport)

        settings = dict(self.config.settings)
        metrics: tuple[Metric, ...] = ()
        try:
            instance, sensor, actuator = await self.call(thread, None, make)
            self._active[thread] = instance
            http = await self.call(thread, instance, lambda: instance.export(HttpHandlerExport))
            if sensor is None and actuator is None and http is None:  # load_component checked
                raise PluginLoadError(self.name, f"exports none of {', '.join(DRIVABLE)}")
            live = LiveInstance(instance, thread, sensor, actuator, http)
            async with beside.turn if beside is not None else contextlib.nullcontext():
                if sensor is not None:
                    await self.call(thread, instance, lambda: sensor.init(settings))
                if actuator is not None:
                    await self.call(thread, instance, lambda: actuator.init(settings))
                if http is not None:
                    await self.call(thread, instance, lambda: http.init(settings))
            if sensor is not None:
                metrics = await self.call(thread, instance, sensor.describe)
            if actuator is not None:
                commands = await self.call(thread, instance, actuator.commands)
                live.commands = {c.name: c for c in commands}
        except BaseException:
            self.retire(thread)
            raise
        return live, metrics

    def retire(self, thread: InstanceThread) -> None:
        """The thread's instance is done with: let the thread end (it is not waited for)."""
        thread.close()
        self._active.pop(thread, None)

    async def call(
        self, thread: InstanceThread, instance: PluginInstance | None, fn: Callable[[], T]
    ) -> T:
        """`fn()` in the instance's thread, abandoned past the call's deadline + grace.

        Raises what `fn` raises; PluginTimeout when abandoned; HostError for anything that
        is not one of our errors.
        """

        def blocked_in() -> str | None:
            call = instance.deadline.host_call if instance is not None else None
            return None if call in ENDS_AT_DEADLINE else call

        def give_up() -> None:
            if instance is not None:
                instance.deadline.cancel()

        try:
            return await thread.run(
                fn,
                deadline_s=self._deadline_s,
                grace_s=ABANDON_GRACE_MS / 1000,
                blocked_in=blocked_in,
                on_abandon=give_up,
            )
        except (PluginFault, PluginLoadError, PluginReportedError):
            raise
        except Exception as exc:
            log.error("plugin %s: host error", self.name, exc_info=exc)
            raise HostError(self.name, f"{type(exc).__name__}: {exc}") from exc

    # -- running --------------------------------------------------------------------------

    async def run(self) -> None:
        """Run until cancelled, or until the plugin is quarantined."""
        if missing := self._hal.missing_capabilities:
            names = ", ".join(sorted(missing))
            self.log.host_says(
                LogLevel.WARN, f"granted {names}, which this node does not have: those calls fail"
            )
        backoff = self._restart.backoff_initial_s
        while True:
            self._set_state("starting")
            self._polled_ok = False
            try:
                async with self.lock:
                    adopted = self.reloads.take_adopted()
                    if adopted is not None:  # a reload started it, and it answered
                        live, metrics = adopted.live, adopted.metrics
                        self._loaded = adopted.loaded
                        # A sensor's first poll was the reload's: the next is an interval on.
                        first_poll = self._clock.now() + self.config.poll_interval_s
                        self._polled_ok = True
                    else:
                        live, metrics = await self.start(await self.load())
                        first_poll = self._clock.now()
                        self.instances_started += 1
                    self.live = live
                    self._metrics = {m.name: m for m in metrics}
                self._set_state("running", self.reloads.running_reason())
                await self._serve(self.live, first_poll)  # returns only by raising
            except Replace:
                self.log.host_says(LogLevel.INFO, "restarting on request")
                backoff = self._restart.backoff_initial_s
                continue  # at once: no back-off, no fault counted
            except PluginLoadError as exc:
                self.log.host_says(LogLevel.ERROR, f"cannot start: {exc.detail}")
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
            except Exception as exc:  # ours, outside any call: still only this plugin's fault
                log.error("plugin %s: runner error", self.name, exc_info=exc)
                fault = HostError(self.name, f"{type(exc).__name__}: {exc}")
                if not await self._after_fault(fault, backoff):
                    return
            finally:
                self._drop_live()
            if self.reloads.consume_at_once():  # rolled back, or a new version is waiting
                backoff = self._restart.backoff_initial_s
            else:
                backoff = min(backoff * 2, self._restart.backoff_max_s)

    def _drop_live(self) -> None:
        if self.live is not None:
            self.retire(self.live.thread)
            self.live = None

    async def _after_fault(self, fault: PluginFault, backoff: float) -> bool:
        """Log the fault; quarantine (False) or wait out the back-off (True)."""
        now = self._clock.now()
        self.faults.append(now)
        while self.faults and now - self.faults[0] > self._restart.fault_window_s:
            self.faults.popleft()
        count, limit = len(self.faults), self._restart.max_faults
        kind = fault.kind
        async with self.lock:  # not while a reload is deciding what runs
            if await self.reloads.instead_of_restart(fault, now):
                return True
        if count >= limit:
            reason = (
                f"quarantined after {count} faults in {self._restart.fault_window_s:g} s;"
                f" last: {kind}: {fault.detail}"
            )
            self.log.host_says(LogLevel.ERROR, reason)
            self._set_state("quarantined", reason)
            if self._latest is not None:
                self._latest.forget(self.name)
            return False
        self.log.host_says(
            LogLevel.WARN,
            f"{kind}: {fault.detail}; restarting in {backoff:g} s (fault {count} of {limit})",
        )
        self._set_state("backoff", f"{kind}: {fault.detail}")
        await self.reloads.pause(backoff)  # the designed pause before a restart
        return True

    async def _serve(self, live: LiveInstance, first_poll: float) -> None:
        """Poll a sensor, answer an actuator's commands; raise the first fault of either,
        or Replace when a restart is asked for. A hot reload may swap the live instance
        meanwhile (`retired`): then serve the new one, on the same poll cadence."""
        polling: asyncio.Future[None] | None = None
        try:
            while True:
                if live.sensor is not None and polling is None:
                    polling = asyncio.ensure_future(self._poll_loop(first_poll))
                elif live.sensor is None and polling is not None:
                    polling.cancel()
                    polling = None
                waits: list[asyncio.Future[Any]] = [live.fault, live.replace, live.retired]
                if polling is not None:
                    waits.append(polling)
                await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
                if live.fault.done():
                    raise live.fault.result()
                if live.replace.done():
                    raise Replace()
                if live.retired.done() and self.live is not None:
                    live = self.live  # swapped: a new sensor's first poll was the swap's
                    first_poll = self._clock.now() + self.config.poll_interval_s
                    continue
                assert polling is not None
                polling.result()  # raises the poll loop's fault
        finally:
            if polling is not None:
                polling.cancel()

    async def _poll_loop(self, next_at: float) -> None:
        """Poll the live instance on the cadence, whichever instance is live at each tick:
        a reload's new version may take a tick (its first poll) and stay."""
        interval = self.config.poll_interval_s
        tick = await self.reloads.pause_until(next_at) if next_at > self._clock.now() else next_at
        while True:
            if not await self.reloads.give_tick():
                live = self.live
                if live is None or live.sensor is None:
                    return
                await self._poll(live, live.sensor)
            next_at = max(tick + interval, self._clock.now())
            tick = await self.reloads.pause_until(next_at)

    async def _poll(self, live: LiveInstance, sensor: SensorExport) -> None:
        try:
            async with live.turn:
                readings = await self.call(live.thread, live.instance, sensor.poll)
        except PluginReportedError as exc:
            self.log.host_says(LogLevel.WARN, f"poll failed: {exc.detail}")
        else:
            self._polled_ok = True
            self.publish(readings)
        finally:
            self.log.flush()
            self.polls += 1

    def publish(self, readings: tuple[PluginReading, ...]) -> None:
        good, dropped = [], []
        for r in readings:
            metric = self._metrics.get(r.metric)
            if metric is None or not math.isfinite(r.value):
                dropped.append(f"{r.metric[:48]}={r.value!r}")
            else:
                good.append(
                    Reading(r.metric, r.value, metric.unit, metric.device_class, metric.state_class)
                )
        if dropped:  # one line per poll: host lines are not rate-limited, so never one per item
            shown = ", ".join(dropped[:5]) + (
                f" and {len(dropped) - 5} more" if len(dropped) > 5 else ""
            )
            self.log.host_says(
                LogLevel.WARN,
                f"dropped {len(dropped)} readings (not described or not finite): {shown}",
            )
        if good:
            if self._latest is not None:
                self._latest.update(self.name, good)
            self._bus.publish(ReadingsEvent(self.name, tuple(good)))

    # -- what the mesh reports -------------------------------------------------------------

    @property
    def version(self) -> str:
        """The running component's sha256, 16 hex digits ("" before a load)."""
        loaded = self._loaded
        return loaded.digest[:16] if loaded is not None else ""

    @property
    def metrics(self) -> tuple[Metric, ...]:
        """What the plugin described at its last start (empty before, or for an actuator)."""
        return tuple(self._metrics.values())

    @property
    def restarts(self) -> int:
        """Instances started after the first one (after a fault, or asked for; a version
        swapped in by a reload is not a restart)."""
        return max(0, self.instances_started - 1)

    async def reload(self) -> ReloadOutcome:
        """Load the component file again if it changed; swap the new version in once it
        answers (see swap.Reloader.reload)."""
        return await self.reloads.reload()

    # -- restarting on request ----------------------------------------------------------------

    def replace_live(self) -> bool:
        """Ask the run loop to replace the live instance with a fresh one at once (no
        back-off, not a fault). False when there is no live instance: the plugin is
        starting or backing off (a fresh instance is on its way), or its run has ended."""
        live = self.live
        if live is None or live.replace.done():
            return live is not None
        live.replace.set_result(None)
        return True

    def forget_faults(self) -> None:
        """Clear the fault history, before a quarantined or stopped plugin runs again."""
        self.faults.clear()

    # -- stopping -------------------------------------------------------------------------

    def interrupt(self) -> list[InstanceThread]:
        """End what this plugin's instances are doing now: their waits end, their host calls
        trap, their threads end after the current call. Returns the threads, for the
        caller to wait on (or not)."""
        threads = list(self._active)
        for thread, instance in self._active.items():
            if instance is not None:
                instance.deadline.cancel()
            thread.close()
        return threads

    def stopped(self) -> None:
        self.reloads.close()
        tap.close(self.hardware)  # a recording is complete on disk once the node stopped
        if self.state != "quarantined":
            self._set_state("stopped")
