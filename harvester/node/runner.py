"""The life of one configured plugin: load, start, drive its exports, answer its faults.

Each plugin has its own runner task, and each instance its own thread, so a plugin that
is slow, stuck until its deadline, blocked in a host call or restarting never delays
another. Any exception on the way (the guest's, a converter's, a backend's) becomes a
fault of this plugin with a log line naming it: a runner never dies silently.
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, TypeVar

import wasmtime

from harvester.config import PluginConfig, RestartPolicy
from harvester.constants import ABANDON_GRACE_MS, LogLevel
from harvester.hal import Backend, PluginHal, tap
from harvester.node.events import EventBus, PluginState, Reading, ReadingsEvent, StateEvent
from harvester.node.latest import LatestReadings
from harvester.node.plugin_log import PluginLog
from harvester.runtime.actuator import (
    ActuatorExport,
    ArgValue,
    Command,
    CommandRejected,
    check_arguments,
)
from harvester.runtime.artifacts import ArtifactCache
from harvester.runtime.errors import (
    HostError,
    PluginContractError,
    PluginError,
    PluginFault,
    PluginLoadError,
    PluginReportedError,
)
from harvester.runtime.host_api import ENDS_AT_DEADLINE
from harvester.runtime.http import HttpHandlerExport, HttpRequest, HttpResponse
from harvester.runtime.hub_data import HubData
from harvester.runtime.loader import LoadedComponent, load_component
from harvester.runtime.plugin import PluginInstance
from harvester.runtime.sensor import Metric, PluginReading, SensorExport
from harvester.runtime.worker import InstanceThread, detached

T = TypeVar("T")
log = logging.getLogger("harvester.node")
# Export interfaces a runner knows how to drive.
DRIVABLE = (SensorExport.INTERFACE, ActuatorExport.INTERFACE, HttpHandlerExport.INTERFACE)
# Requests that may wait for one HTTP handler instance (they take turns: one Store);
# more are refused at once rather than queued behind a slow plugin.
HTTP_MAX_WAITING = 32


class RunnerClock(Protocol):
    """Time as the runner sees it: the loop's clock in a node, a manual one in tests."""

    def now(self) -> float: ...

    def sleep(self, seconds: float) -> Awaitable[None]: ...


class LoopClock:
    def now(self) -> float:
        return asyncio.get_running_loop().time()

    def sleep(self, seconds: float) -> Awaitable[None]:
        return asyncio.sleep(seconds)


@dataclass
class LiveInstance:
    """An instance, the thread that owns it and what it exports. Its calls take turns
    (`turn`): a command waits for a poll to end, an HTTP request for the one before it,
    so none waits inside another's deadline."""

    instance: PluginInstance
    thread: InstanceThread
    sensor: SensorExport | None
    actuator: ActuatorExport | None
    http: HttpHandlerExport | None = None
    commands: dict[str, Command] = field(default_factory=dict)
    turn: asyncio.Lock = field(default_factory=asyncio.Lock)
    # Set when a command faults the instance: the run loop restarts it.
    fault: asyncio.Future[PluginFault] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )
    # Set when a restart is asked for (Supervisor.restart): replaced, not a fault.
    replace: asyncio.Future[None] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )


class CommandUnavailable(PluginError):
    """The plugin cannot take commands now: it exports no actuator, or is not running."""


class HttpUnavailable(PluginError):
    """The plugin cannot answer HTTP requests now: it exports no http-handler, is not
    running (starting, backing off, quarantined, stopped), or has too many waiting."""


class _Replace(Exception):
    """The live instance is to be replaced by a fresh one on request (not a fault)."""


class PluginRunner:
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
    ) -> None:
        self.config = config
        self.name = config.name
        self.state: PluginState = "stopped"
        self.instances_started = 0
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

    def _set_state(self, state: PluginState, reason: str = "") -> None:
        self.state = state
        self._bus.publish(StateEvent(self.name, state, reason))

    # -- loading and starting -------------------------------------------------------------

    async def load(self) -> LoadedComponent:
        """The component at `component_path`, loaded again only if its content changed.

        Raises PluginLoadError.
        """
        path = self.component_path
        current = self._loaded
        if current is not None and path.is_file():
            artifact = await detached(lambda: self._artifacts.artifact_path(path), name="hash")
            if artifact == current.artifact:
                return current

        def report(line: str) -> None:
            self.log.host_says(LogLevel.INFO, line)

        loaded = await detached(
            lambda: load_component(
                self._engine,
                self._artifacts,
                path,
                plugin=self.name,
                grants=self.config.grants,
                drivable=DRIVABLE,
                report=report,
            ),
            name=f"load-{self.name}",
        )
        self._loaded = loaded
        return loaded

    async def start(self, loaded: LoadedComponent) -> tuple[LiveInstance, tuple[Metric, ...]]:
        """A new instance of `loaded` in a thread of its own, initialised and described
        (its metrics, if it is a sensor; its commands, if an actuator).

        It runs beside any other instance (hot reload swaps them). Raises PluginFault,
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
            if sensor is not None:
                await self.call(thread, instance, lambda: sensor.init(settings))
                metrics = await self.call(thread, instance, sensor.describe)
            if actuator is not None:
                await self.call(thread, instance, lambda: actuator.init(settings))
                commands = await self.call(thread, instance, actuator.commands)
                live.commands = {c.name: c for c in commands}
            if http is not None:
                await self.call(thread, instance, lambda: http.init(settings))
        except BaseException:
            self._retire(thread)
            raise
        self.instances_started += 1
        return live, metrics

    def _retire(self, thread: InstanceThread) -> None:
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
                loaded = await self.load()
                self.live, metrics = await self.start(loaded)
                self._metrics = {m.name: m for m in metrics}
                self._set_state("running")
                await self._serve(self.live)  # returns only by raising
            except _Replace:
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
            backoff = min(backoff * 2, self._restart.backoff_max_s)

    def _drop_live(self) -> None:
        if self.live is not None:
            self._retire(self.live.thread)
            self.live = None

    async def _after_fault(self, fault: PluginFault, backoff: float) -> bool:
        """Log the fault; quarantine (False) or wait out the back-off (True)."""
        now = self._clock.now()
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
        await self._clock.sleep(backoff)  # the designed pause before a restart
        return True

    async def _serve(self, live: LiveInstance) -> None:
        """Poll a sensor, answer an actuator's commands; raise the first fault of either,
        or _Replace when a restart is asked for."""
        waits: list[asyncio.Future[Any]] = [live.fault, live.replace]
        polling = None
        if live.sensor is not None:
            polling = asyncio.ensure_future(self._poll_loop(live, live.sensor))
            waits.append(polling)
        try:
            await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
        finally:
            if polling is not None:
                polling.cancel()
        if live.fault.done():
            raise live.fault.result()
        if live.replace.done():
            raise _Replace()
        assert polling is not None
        polling.result()  # raises the poll loop's fault

    async def _poll_loop(self, live: LiveInstance, sensor: SensorExport) -> None:
        interval = self.config.poll_interval_s
        next_at = self._clock.now()
        while True:
            try:
                async with live.turn:
                    readings = await self.call(live.thread, live.instance, sensor.poll)
            except PluginReportedError as exc:
                self.log.host_says(LogLevel.WARN, f"poll failed: {exc.detail}")
            else:
                self._polled_ok = True
                self._publish(readings)
            finally:
                self.log.flush()
                self.polls += 1
            next_at = max(next_at + interval, self._clock.now())
            await self._clock.sleep(next_at - self._clock.now())

    def _publish(self, readings: tuple[PluginReading, ...]) -> None:
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
        """The loaded component's content hash (16 hex digits; "" before a load): the
        artifact is named by sha256(component)."""
        loaded = self._loaded
        return loaded.artifact.name[:16] if loaded is not None else ""

    @property
    def metrics(self) -> tuple[Metric, ...]:
        """What the plugin described at its last start (empty before, or for an actuator)."""
        return tuple(self._metrics.values())

    @property
    def restarts(self) -> int:
        """Instances started after the first one (after a fault, or asked for)."""
        return max(0, self.instances_started - 1)

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

    # -- commands -------------------------------------------------------------------------

    @property
    def commands(self) -> dict[str, Command]:
        """The commands the live instance answers (empty when it is not running)."""
        return dict(self.live.commands) if self.live is not None else {}

    async def command(self, name: str, arguments: dict[str, ArgValue]) -> dict[str, ArgValue]:
        """Run command `name` in the live instance, under its grants and deadline.

        Raises CommandUnavailable (not an actuator, or not running), CommandRejected (the
        host refused the request: unknown command or argument, wrong kind),
        PluginReportedError (the plugin refused or failed it; it is fine) or PluginFault
        (the command killed the instance; it is restarted as after any fault).
        """
        live = self.live
        if live is None or live.actuator is None or self.state != "running":
            what = "is not running" if live is None else "answers no commands"
            raise CommandUnavailable(self.name, f"{what} (state {self.state})")
        spec = live.commands.get(name)
        if spec is None:
            known = ", ".join(sorted(live.commands)) or "none"
            raise CommandRejected(self.name, f"unknown command {name!r} (it answers: {known})")
        args = check_arguments(self.name, spec, arguments)
        actuator = live.actuator
        try:
            async with live.turn:
                if live.fault.done() or live is not self.live:
                    raise CommandUnavailable(self.name, "was restarting; try again")
                result = await self.call(
                    live.thread, live.instance, lambda: actuator.invoke(name, args)
                )
        except PluginReportedError as exc:
            self.log.host_says(LogLevel.WARN, f"command {name} failed: {exc.detail}")
            raise
        except PluginFault as exc:
            if not live.fault.done():
                live.fault.set_result(exc)
            raise
        finally:
            self.log.flush()
        self.log.host_says(LogLevel.INFO, f"command {name} done")
        return result

    # -- HTTP -------------------------------------------------------------------------------

    async def handle_http(self, request: HttpRequest) -> HttpResponse:
        """Answer `request` with the live instance's http-handler, in its thread, under its
        deadline. Requests take turns (one Store): at most HTTP_MAX_WAITING wait.

        Raises HttpUnavailable (not an HTTP handler, not running, or too busy: try again
        later), PluginContractError (the plugin answered what the contract forbids; it
        keeps running: the request failed, not the instance) or another PluginFault (the
        request killed the instance; it is restarted as after any fault).
        """
        live = self.live
        if live is not None and live.http is None:
            raise HttpUnavailable(self.name, "serves no HTTP: it exports no http-handler")
        if live is None or live.http is None or self.state != "running":
            raise HttpUnavailable(self.name, f"is not running (state {self.state})")
        if self._http_waiting >= HTTP_MAX_WAITING:
            raise HttpUnavailable(self.name, f"has {self._http_waiting} requests waiting")
        http = live.http
        self._http_waiting += 1
        try:
            await live.turn.acquire()
        finally:
            self._http_waiting -= 1
        try:
            if live.fault.done() or live is not self.live:
                raise HttpUnavailable(self.name, "was restarting; try again")
            response = await self.call(live.thread, live.instance, lambda: http.handle(request))
        except PluginContractError as exc:
            self.log.host_says(
                LogLevel.WARN, f"bad response to {request.method} {request.path}: {exc.detail}"
            )
            raise
        except PluginFault as exc:
            if not live.fault.done():
                live.fault.set_result(exc)
            raise
        finally:
            live.turn.release()
            self.log.flush()
        self._polled_ok = True  # it served: a later fault starts the back-off over
        return response

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
        tap.close(self.hardware)  # a recording is complete on disk once the node stopped
        if self.state != "quarantined":
            self._set_state("stopped")
