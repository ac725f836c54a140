"""A node in the fleet: the Node and the mesh services its role runs, started and stopped
in order.

Every node: the outbox (numbering continues from it), the uplink (entered before the
node, so no event is missed; left after it, so the last ones are sent), the command
executor, the deploy receiver (after the node: installing reloads a plugin). The hub
also: its broker (unless the fleet has its own), history and the collector (feeding the
live feed), the queries over them (also handed to the node as the plugins' `hub-data`),
the command client, the deploy desk (holding deploys for nodes), Home Assistant
discovery. Leaving stops them in reverse.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from contextlib import AsyncExitStack
from types import TracebackType

from harvester.config import NodeConfig
from harvester.hal import Backend
from harvester.mesh.broker.embedded import EmbeddedBrokerProcess
from harvester.mesh.collector import Collector
from harvester.mesh.command_client import CommandClient
from harvester.mesh.command_executor import CommandExecutor
from harvester.mesh.connection import node_credentials
from harvester.mesh.deploy_desk import DeployDesk
from harvester.mesh.deploy_receiver import DeployReceiver
from harvester.mesh.discovery import Discovery
from harvester.mesh.history import History
from harvester.mesh.hub_data import HubDataProvider
from harvester.mesh.hub_queries import HubQueries
from harvester.mesh.live import LiveFeed
from harvester.mesh.outbox import Outbox
from harvester.mesh.uplink import Uplink
from harvester.node import Event, Node, forwarding
from harvester.node.deploy import AcceptedDeploys, Installer

StatsProvider = Callable[[], dict[str, float]]


class MeshNode:
    """An async context manager running `config`'s node as a member of the fleet."""

    def __init__(
        self,
        config: NodeConfig,
        *,
        backend: Backend | None = None,
        on_event: Callable[[Event], None] | None = None,
    ) -> None:
        if config.mesh is None:
            raise ValueError(f"node {config.name!r} has no [mesh] table: it runs alone")
        self.config = config
        self.state_dir = config.state_dir / config.name
        self._backend = backend
        self._on_event = on_event
        self._stack = AsyncExitStack()
        self.node: Node | None = None
        self.outbox: Outbox | None = None
        self.uplink: Uplink | None = None
        self.executor: CommandExecutor | None = None
        self.broker: EmbeddedBrokerProcess | None = None
        self.history: History | None = None
        self.live: LiveFeed | None = None
        self.queries: HubQueries | None = None
        self.hub_data: HubDataProvider | None = None  # what plugins granted hub_data read
        self.collector: Collector | None = None
        self.commands: CommandClient | None = None
        self.discovery: Discovery | None = None
        self.deploys: DeployReceiver | None = None
        self.deploy_desk: DeployDesk | None = None  # the hub's

    @property
    def is_hub(self) -> bool:
        return self.config.role == "hub"

    def stats_providers(self) -> list[StatsProvider]:
        """Every running part's `stats()`, for /metrics."""
        parts = (
            self.outbox, self.uplink, self.executor,
            self.history, self.collector, self.commands, self.discovery, self.live,
            self.deploys, self.deploy_desk,
        )  # fmt: skip
        return [part.stats for part in parts if part is not None]

    async def __aenter__(self) -> MeshNode:
        try:
            await self._start()
        except BaseException:
            await self._stack.aclose()
            raise
        return self

    async def _start(self) -> None:
        config, stack = self.config, self._stack
        credentials = node_credentials(config)
        self.state_dir.mkdir(parents=True, exist_ok=True)
        if self.is_hub:
            hub = config.hub_settings
            if hub.broker == "embedded":
                self.broker = await stack.enter_async_context(
                    EmbeddedBrokerProcess(hub, self.state_dir)
                )
            self.history = History(self.state_dir / "history.sqlite", hub.history)
            stack.callback(self.history.close)
            self.live = LiveFeed()
            self.live.bind(asyncio.get_running_loop())
            stack.callback(self.live.close)
            self.collector = await stack.enter_async_context(
                Collector(config, self.history, credentials=credentials, on_stored=self.live.post)
            )
            self.queries = HubQueries(self.history, self.collector.nodes)
            self.hub_data = HubDataProvider(self.queries)
            self.commands = await stack.enter_async_context(
                CommandClient(config, credentials=credentials, node_online=self._online)
            )
            desk = DeployDesk(
                config, credentials=credentials, folder=self.state_dir / "deploys",
                known=self._known,
            )  # fmt: skip
            self.deploy_desk = await stack.enter_async_context(desk)
            self.queries.pending_deploys = desk.pending
            if hub.home_assistant:
                self.discovery = await stack.enter_async_context(
                    Discovery(config, credentials=credentials)
                )
        assert config.mesh is not None
        self.outbox = Outbox(self.state_dir / "outbox.sqlite", config.mesh.outbox, node=config.name)
        stack.callback(self.outbox.close)
        self.node = Node(
            config, backend=self._backend, first_seq=self.outbox.next_seq, hub_data=self.hub_data
        )
        if self._on_event is not None:
            await stack.enter_async_context(forwarding(self.node.bus, self._on_event))
        accepted = AcceptedDeploys.of(config.state_dir, config.name)
        self.uplink = await stack.enter_async_context(
            Uplink(self.node, self.outbox, credentials=credentials, deploys=accepted)
        )
        self.executor = await stack.enter_async_context(
            CommandExecutor(self.node, credentials=credentials, state_dir=config.state_dir)
        )
        await stack.enter_async_context(self.node)
        # After the node: a held bundle may arrive at once, and installing reloads a plugin.
        installer = Installer(config, reload=self.node.supervisor.reload, record=accepted)
        self.deploys = await stack.enter_async_context(
            DeployReceiver(installer, credentials=credentials)
        )

    def _known(self, node: str) -> bool:
        assert self.collector is not None
        return self.collector.node_status(node) is not None

    def _online(self, node: str) -> bool:
        """What the hub's collector believes (a command to an offline node fails fast)."""
        assert self.collector is not None
        row = self.collector.node_status(node)
        return row is not None and row.state == "online"

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self._stack.aclose()
