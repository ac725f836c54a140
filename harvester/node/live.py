"""What a runner drives: its clock, its live instance, and the errors of asking it."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from dataclasses import dataclass, field
from typing import Protocol

from harvester.runtime.actuator import ActuatorExport, Command
from harvester.runtime.errors import PluginError, PluginFault
from harvester.runtime.http import HttpHandlerExport
from harvester.runtime.plugin import PluginInstance
from harvester.runtime.sensor import SensorExport
from harvester.runtime.worker import InstanceThread

# Export interfaces a runner knows how to drive.
DRIVABLE = (SensorExport.INTERFACE, ActuatorExport.INTERFACE, HttpHandlerExport.INTERFACE)


class RunnerClock(Protocol):
    """Time as the runner sees it: the loop's clock in a node, a manual one in tests."""

    def now(self) -> float: ...

    def sleep(self, seconds: float) -> Awaitable[None]: ...


class LoopClock:
    def now(self) -> float:
        return asyncio.get_running_loop().time()

    def sleep(self, seconds: float) -> Awaitable[None]:
        return asyncio.sleep(seconds)


def _future() -> asyncio.Future[None]:
    return asyncio.get_running_loop().create_future()


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
    replace: asyncio.Future[None] = field(default_factory=_future)
    # Set when a hot reload swapped a new version in: the runner serves that one now.
    retired: asyncio.Future[None] = field(default_factory=_future)

    @property
    def ended(self) -> bool:
        return self.fault.done() or self.replace.done() or self.retired.done()


class CommandUnavailable(PluginError):
    """The plugin cannot take commands now: it exports no actuator, or is not running."""


class HttpUnavailable(PluginError):
    """The plugin cannot answer HTTP requests now: it exports no http-handler, is not
    running (starting, backing off, quarantined, stopped), or has too many waiting."""


class Replace(Exception):
    """The live instance is to be replaced by a fresh one on request (not a fault)."""
