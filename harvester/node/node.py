"""A node: its config, its hardware backend, its event bus and its plugins, run together."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from contextlib import AsyncExitStack

from harvester.config import NodeConfig
from harvester.hal import Backend, make_backend
from harvester.node.events import Event, EventBus
from harvester.node.native_monitor import NativeMonitor
from harvester.node.supervisor import Supervisor


async def run_node(
    config: NodeConfig,
    *,
    stop: asyncio.Event,
    on_event: Callable[[Event], None] | None = None,
    backend: Backend | None = None,
) -> None:
    """Run every plugin of `config` (and the native services it enables) until `stop` is
    set, then shut down in reverse order."""
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
            async with AsyncExitStack() as services:
                await services.enter_async_context(Supervisor(config, backend=backend, bus=bus))
                if config.native.monitor:
                    await services.enter_async_context(
                        NativeMonitor(
                            backend.system, bus, interval_s=config.native.monitor_interval_s
                        )
                    )
                await stop.wait()
        finally:
            if owned:
                backend.close()
            forwarder.cancel()
            while not subscription.empty():  # the last events of the stop itself
                deliver(subscription.get_nowait())
