"""What a node reports as it runs: readings, log lines and plugin state changes.

The supervisor publishes; the CLI printer, tests and (later) the MQTT uplink subscribe.
Publishing is safe from any thread (plugin calls run in worker threads).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Literal

Level = Literal["trace", "debug", "info", "warn", "error"]
PluginState = Literal["starting", "running", "backoff", "quarantined", "stopped"]


@dataclass(frozen=True)
class Reading:
    metric: str
    value: float
    unit: str


@dataclass(frozen=True)
class ReadingsEvent:
    plugin: str
    readings: tuple[Reading, ...]
    at: float = field(default_factory=time.time)


@dataclass(frozen=True)
class LogEvent:
    """A log line. `origin` is "plugin" for what the plugin said, "host" for what we said."""

    plugin: str
    level: Level
    message: str
    origin: Literal["plugin", "host"]
    at: float = field(default_factory=time.time)


@dataclass(frozen=True)
class StateEvent:
    plugin: str
    state: PluginState
    reason: str = ""
    at: float = field(default_factory=time.time)


Event = ReadingsEvent | LogEvent | StateEvent


class EventBus:
    """Fan-out of events to subscribers' queues, on the loop the bus was made on."""

    def __init__(self, loop: asyncio.AbstractEventLoop | None = None) -> None:
        self._loop = loop or asyncio.get_running_loop()
        self._queues: set[asyncio.Queue[Event]] = set()

    def publish(self, event: Event) -> None:
        """Deliver to every subscriber. Callable from any thread."""
        try:
            on_loop = asyncio.get_running_loop() is self._loop
        except RuntimeError:
            on_loop = False
        if on_loop:
            self._deliver(event)
            return
        try:
            self._loop.call_soon_threadsafe(self._deliver, event)
        except RuntimeError:
            pass  # the loop closed while a plugin thread was finishing: nobody is listening

    def _deliver(self, event: Event) -> None:
        for queue in self._queues:
            queue.put_nowait(event)

    @asynccontextmanager
    async def subscribe(self) -> AsyncIterator[asyncio.Queue[Event]]:
        queue: asyncio.Queue[Event] = asyncio.Queue()
        self._queues.add(queue)
        try:
            yield queue
        finally:
            self._queues.discard(queue)

    async def wait_for(self, predicate: Callable[[Event], bool], *, timeout: float) -> Event:
        """The first event from now on that satisfies `predicate` (TimeoutError after `timeout`)."""
        async with self.subscribe() as queue:
            async with asyncio.timeout(timeout):
                while True:
                    event = await queue.get()
                    if predicate(event):
                        return event
