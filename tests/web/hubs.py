"""A real hub (embedded broker child, collector, history, web server) with a spoke beside
it, in this process, for the web tests: only the native monitor runs (no WASM)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from harvester.config import NodeConfig, SimConfig
from harvester.config.mesh import BrokerAddress, EmbeddedBroker, HubConfig, MeshConfig, WebConfig
from harvester.config.secrets import write_private
from harvester.hal.sim.backend import SimBackend
from harvester.mesh.service import MeshNode
from harvester.web.server import node_web
from tests.mesh.brokers import free_port

TOKEN = "t0ken-for-the-api-test-0123456789"


@dataclass
class Fleet:
    url: str  # http://127.0.0.1:<port>, no trailing slash
    hub: MeshNode
    spoke: MeshNode | None
    spoke_backend: SimBackend | None


@asynccontextmanager
async def fleet(
    tmp_path: Path,
    *,
    read_access: Literal["open", "token"] = "open",
    spoke_sim: SimConfig | None = None,
    token: str | None = TOKEN,
    with_spoke: bool = True,
) -> AsyncIterator[Fleet]:
    """A hub "revpi" and (unless `with_spoke` is false) a spoke "pizero" whose sim backend
    is built from `spoke_sim`, running until the block ends; the spoke's first readings are
    in history when it starts."""
    broker_port, web_port = free_port(), free_port()
    token_file = None
    if token is not None:
        token_file = tmp_path / "token.toml"
        write_private(token_file, f'token = "{token}"\n')
    native = {"monitor": True, "monitor_interval_s": 0.2}
    hub = NodeConfig(
        name="revpi",
        role="hub",
        state_dir=tmp_path / "state",
        native=native,
        mesh=MeshConfig(keepalive_s=2, health_interval_s=1),
        hub=HubConfig(
            embedded=EmbeddedBroker(port=broker_port),
            web=WebConfig(port=web_port, token_file=token_file, read_access=read_access),
            home_assistant=False,
        ),
    )
    spoke = NodeConfig(
        name="pizero",
        state_dir=tmp_path / "state",
        native=native,
        sim=spoke_sim or SimConfig(),
        mesh=MeshConfig(broker=BrokerAddress(port=broker_port), keepalive_s=2, health_interval_s=1),
    )
    async with MeshNode(hub) as mesh, node_web(mesh) as urls:
        url = urls["web API"].removesuffix("/api/nodes")
        if not with_spoke:
            yield Fleet(url, mesh, None, None)
            return
        backend = SimBackend(spoke.sim)  # ours to close: MeshNode leaves a given one open
        try:
            async with MeshNode(spoke, backend=backend) as spoke_mesh:
                assert mesh.collector is not None
                await mesh.collector.wait_for(
                    lambda h: any(r.node == "pizero" for r in h.latest()), timeout=30
                )
                yield Fleet(url, mesh, spoke_mesh, backend)
        finally:
            backend.close()
