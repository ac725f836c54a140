"""A node: its config, its hardware backend, its event bus and its plugins, run together."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from types import TracebackType

from harvester.config import NodeConfig
from harvester.hal import Backend, make_backend
from harvester.node.events import Event, EventBus
from harvester.node.native_monitor import NativeMonitor
from harvester.node.supervisor import Supervisor
from harvester.runtime.hub_data import HubData


class Node:
    """An async context manager: the node's plugins (and the native services its config
    enables) run while inside it. Layers above (the mesh, the web server) use its `bus`,
    `supervisor` and `backend`.

    `first_seq` continues the node's event numbering across restarts: whoever persists
    events (the mesh's outbox) knows the last number used. `hub_data` (the hub's fleet
    data, from the mesh layer) is what plugins granted `hub_data` read.
    """

    def __init__(
        self,
        config: NodeConfig,
        *,
        backend: Backend | None = None,
        first_seq: int = 1,
        hub_data: HubData | None = None,
    ) -> None:
        self.config = config
        self._owned = backend is None  # a backend handed in belongs to the caller
        self.backend = backend or make_backend(config)
        self.bus = EventBus(config.name, first_seq=first_seq)
        self.supervisor = Supervisor(config, backend=self.backend, bus=self.bus, hub_data=hub_data)
        self.native_monitor: NativeMonitor | None = None
        self._services = AsyncExitStack()

    async def __aenter__(self) -> Node:
        try:
            await self._services.enter_async_context(self.supervisor)
            if self.config.native.monitor:
                self.native_monitor = NativeMonitor(
                    self.backend.system,
                    self.bus,
                    interval_s=self.config.native.monitor_interval_s,
                )
                await self._services.enter_async_context(self.native_monitor)
        except BaseException:
            await self._close()
            raise
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self._close()

    async def _close(self) -> None:
        try:
            await self._services.aclose()
        finally:
            if self._owned:
                self.backend.close()


@asynccontextmanager
async def forwarding(bus: EventBus, deliver: Callable[[Event], None]) -> AsyncIterator[None]:
    """While inside, hand every event of `bus` to `deliver` (the CLI's printer); on leaving,
    the ones still queued too (the last events of a stop)."""
    async with bus.subscribe() as subscription:

        async def forward() -> None:
            while True:
                deliver(await subscription.get())

        task = asyncio.create_task(forward())
        try:
            yield
        finally:
            task.cancel()
            while not subscription.empty():
                deliver(subscription.get_nowait())


async def run_node(
    config: NodeConfig,
    *,
    stop: asyncio.Event,
    on_event: Callable[[Event], None] | None = None,
    backend: Backend | None = None,
) -> None:
    """Run every plugin of `config` (and the native services it enables) until `stop` is
    set, then shut down in reverse order."""
    node = Node(config, backend=backend)
    async with forwarding(node.bus, on_event or (lambda event: None)), node:
        await stop.wait()
