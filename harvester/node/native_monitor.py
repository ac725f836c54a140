"""pizero-monitor: the node's health, read by the host itself, for a board too small for the
sandbox (the Pi Zero 2 W's 512 MB).

It reports what pi4-monitor reports (plugins/sdk/harvester_sdk/health.py), in the same
shape: the same metric names, units, device and state classes, published as a
ReadingsEvent under the name `pizero-monitor`, so whatever consumes a node's readings
cannot tell it from a plugin. tests/node/test_native_monitor.py holds the two to the same
metrics. It reads through the backend's SystemInfo, so the sim and linux backends serve it
alike.

It lives in the node layer because it is a part of a running node beside the supervisor:
it needs the HAL below (SystemInfo) and the node's EventBus, and nothing above.

Enabled by the node config's `[native] monitor = true` (`monitor_interval_s`, default 30).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from types import TracebackType

from harvester.constants import NATIVE_MONITOR, DeviceClass, LogLevel, StateClass
from harvester.hal import HalError
from harvester.hal.capabilities import SystemInfo
from harvester.node.events import EventBus, LogEvent, Reading, ReadingsEvent, StateEvent
from harvester.runtime.sensor import Metric

M, DC, SC = Metric, DeviceClass, StateClass
# In pi4-monitor's order (its describe()); the test compares the two tuples.
HEALTH_METRICS: tuple[Metric, ...] = (
    M("cpu_usage", "%", DC.NONE, SC.MEASUREMENT),
    M("memory_used_percent", "%", DC.NONE, SC.MEASUREMENT),
    M("memory_used", "B", DC.DATA_SIZE, SC.MEASUREMENT),
    M("soc_temperature", "°C", DC.TEMPERATURE, SC.MEASUREMENT),
    M("uptime", "s", DC.DURATION, SC.TOTAL_INCREASING),
    M("disk_used_percent", "%", DC.NONE, SC.MEASUREMENT),
    M("disk_used", "B", DC.DATA_SIZE, SC.MEASUREMENT),
)
_BY_NAME = {m.name: m for m in HEALTH_METRICS}


def _reading(name: str, value: float) -> Reading:
    m = _BY_NAME[name]
    return Reading(name, float(value), m.unit, m.device_class, m.state_class)


def read_health(
    system: SystemInfo, missing: Callable[[str, HalError], None]
) -> tuple[Reading, ...]:
    """One reading of every metric `system` can give. A part that raises HalError (a board
    without a SoC sensor, say) is left out and reported to `missing(part, error)`; the
    rest still comes, as in the plugin."""
    out: list[Reading] = []

    def part(what: str, read: Callable[[], list[Reading]]) -> None:
        try:
            out.extend(read())
        except HalError as exc:
            missing(what, exc)

    def memory() -> list[Reading]:
        m = system.memory_usage()
        if m.total_bytes <= 0:
            return []
        return [
            _reading("memory_used_percent", 100.0 * m.used_bytes / m.total_bytes),
            _reading("memory_used", m.used_bytes),
        ]

    def disk() -> list[Reading]:
        d = system.disk_usage()
        if d.total_bytes <= 0:
            return []
        return [
            _reading("disk_used_percent", 100.0 * d.used_bytes / d.total_bytes),
            _reading("disk_used", d.used_bytes),
        ]

    part("the CPU usage", lambda: [_reading("cpu_usage", system.cpu_usage_percent())])
    part("the memory usage", memory)
    part("the SoC temperature", lambda: [_reading("soc_temperature", system.cpu_temp_c())])
    part("the uptime", lambda: [_reading("uptime", system.uptime_s())])
    part("the root file system's usage", disk)
    return tuple(out)


class NativeMonitor:
    """Publishes `read_health` on `bus` at once and then every `interval_s`, as an async
    context manager: entering starts it, leaving stops it (and says so on the bus)."""

    def __init__(
        self,
        system: SystemInfo | None,
        bus: EventBus,
        *,
        interval_s: float,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.name = NATIVE_MONITOR
        self._system = system
        self._bus = bus
        self._interval_s = interval_s
        self._sleep = sleep
        self._said: set[str] = set()
        self._task: asyncio.Task[None] | None = None

    @staticmethod
    def describe() -> tuple[Metric, ...]:
        return HEALTH_METRICS

    def _say(self, level: LogLevel, message: str) -> None:
        self._bus.publish(LogEvent(self.name, level, message, origin="host"))

    def _missing(self, what: str, exc: HalError) -> None:
        if what not in self._said:  # once: a board without a SoC sensor stays without one
            self._said.add(what)
            self._say(
                LogLevel.WARN, f"{what} is not available on this node ({exc}); reporting the rest"
            )

    async def _run(self, system: SystemInfo) -> None:
        self._bus.publish(StateEvent(self.name, "running"))
        while True:
            try:  # in a thread: sysfs and psutil read files, which can stall on an SD card
                readings = await asyncio.to_thread(read_health, system, self._missing)
            except Exception as exc:  # a backend bug: say so and keep monitoring
                self._say(LogLevel.ERROR, f"reading the node's health failed: {exc!r}")
            else:
                if readings:
                    self._bus.publish(ReadingsEvent(self.name, readings))
            await self._sleep(self._interval_s)

    async def __aenter__(self) -> NativeMonitor:
        if self._system is None:
            self._say(LogLevel.ERROR, "this node's backend has no system info: not monitoring")
        else:
            self._task = asyncio.create_task(self._run(self._system), name=self.name)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._task is None:
            return
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        self._task = None
        self._bus.publish(StateEvent(self.name, "stopped"))
