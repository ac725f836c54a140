"""What a node reports as it runs: readings, log lines and plugin state changes.

The supervisor publishes; the CLI printer, tests and (later) the MQTT uplink subscribe.
Publishing is safe from any thread (plugin calls run in their own threads). The bus
stamps every event with the node's name and a per-node sequence number, in the order
subscribers receive them, so a receiver can order and de-duplicate by (node, seq).
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Literal

from harvester.constants import DeviceClass, LogLevel, StateClass

PluginState = Literal["starting", "running", "backoff", "quarantined", "stopped"]
# A subscriber that falls this far behind loses the newest events (counted in `dropped`).
DEFAULT_QUEUE = 10_000


@dataclass(frozen=True)
class Reading:
    metric: str
    value: float
    unit: str
    device_class: DeviceClass = DeviceClass.NONE
    state_class: StateClass = StateClass.MEASUREMENT


@dataclass(frozen=True)
class ReadingsEvent:
    plugin: str
    readings: tuple[Reading, ...]
    at: float = field(default_factory=time.time)
    node: str = ""  # stamped by the bus
    seq: int = 0  # stamped by the bus


@dataclass(frozen=True)
class LogEvent:
    """A log line. `origin` is "plugin" for what the plugin said, "host" for what we said."""

    plugin: str
    level: LogLevel
    message: str
    origin: Literal["plugin", "host"]
    at: float = field(default_factory=time.time)
    node: str = ""
    seq: int = 0


@dataclass(frozen=True)
class StateEvent:
    plugin: str
    state: PluginState
    reason: str = ""
    at: float = field(default_factory=time.time)
    node: str = ""
    seq: int = 0


Event = ReadingsEvent | LogEvent | StateEvent


class Subscription:
    """One subscriber's bounded queue. When it is full, new events are dropped and counted."""

    def __init__(self, maxsize: int) -> None:
        self._queue: asyncio.Queue[Event] = asyncio.Queue(maxsize)
        self.dropped = 0

    def offer(self, event: Event) -> None:
        try:
            self._queue.put_nowait(event)
        except asyncio.QueueFull:
            self.dropped += 1

    async def get(self) -> Event:
        return await self._queue.get()

    def get_nowait(self) -> Event:
        """The next queued event; raises asyncio.QueueEmpty if there is none."""
        return self._queue.get_nowait()

    def empty(self) -> bool:
        return self._queue.empty()


class EventBus:
    """Fan-out of events to subscribers, on the loop the bus was made on.

    `first_seq` lets a node continue its numbering across restarts (whoever persists
    events knows the last number used).
    """

    def __init__(
        self, node: str, *, first_seq: int = 1, loop: asyncio.AbstractEventLoop | None = None
    ) -> None:
        self.node = node
        self._next_seq = first_seq
        self._loop = loop or asyncio.get_running_loop()
        self._subscriptions: set[Subscription] = set()

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
        # Stamped here, on the loop thread, so numbers follow the order subscribers see.
        stamped = dataclasses.replace(event, node=self.node, seq=self._next_seq)
        self._next_seq += 1
        for subscription in self._subscriptions:
            subscription.offer(stamped)

    @asynccontextmanager
    async def subscribe(self, *, maxsize: int = DEFAULT_QUEUE) -> AsyncIterator[Subscription]:
        subscription = Subscription(maxsize)
        self._subscriptions.add(subscription)
        try:
            yield subscription
        finally:
            self._subscriptions.discard(subscription)

    async def wait_for(self, predicate: Callable[[Event], bool], *, timeout: float) -> Event:
        """The first event from now on that satisfies `predicate` (TimeoutError after `timeout`)."""
        async with self.subscribe() as subscription:
            async with asyncio.timeout(timeout):
                while True:
                    event = await subscription.get()
                    if predicate(event):
                        return event
