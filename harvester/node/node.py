"""A node: its config, its hardware backend, its event bus and its plugins, run together."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from harvester.config import NodeConfig
from harvester.hal import Backend, make_backend
from harvester.node.events import Event, EventBus
from harvester.node.supervisor import Supervisor


async def run_node(
    config: NodeConfig,
    *,
    stop: asyncio.Event,
    on_event: Callable[[Event], None] | None = None,
    backend: Backend | None = None,
) -> None:
    """Run every plugin of `config` until `stop` is set, then shut down in order."""
    bus = EventBus(config.name)
    owned = backend is None  # a backend handed in belongs to the caller, who closes it
    backend = backend or make_backend(config)
    deliver = on_event or (lambda event: None)
    async with bus.subscribe() as subscription:

        async def forward() -> None:
            while True:
                deliver(await subscription.get())

        forwarder = asyncio.create_task(forward())
        try:
            async with Supervisor(config, backend=backend, bus=bus):
                await stop.wait()
        finally:
            if owned:
                backend.close()
            forwarder.cancel()
            while not subscription.empty():  # the last events of the stop itself
                deliver(subscription.get_nowait())
