"""The hub's JSON API on a real hub (in this process: embedded broker child, collector,
history; only the native monitor, no WASM) and a real spoke beside it."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import aiohttp
import pytest

from harvester.config import NodeConfig
from harvester.config.mesh import (
    BrokerAddress,
    EmbeddedBroker,
    HubConfig,
    MeshConfig,
    WebConfig,
)
from harvester.config.secrets import write_private
from harvester.mesh.service import MeshNode
from harvester.web.server import node_web
from tests.mesh.brokers import free_port

# The hub fixture runs in the session's loop (the project's fixture loop scope): so must
# the tests that talk to it.
pytestmark = pytest.mark.asyncio(loop_scope="session")

TOKEN = "t0ken-for-the-api-test-0123456789"


@pytest.fixture(scope="module")
async def hub_url(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[str]:
    tmp_path = tmp_path_factory.mktemp("api")
    broker_port, web_port = free_port(), free_port()
    token_file = tmp_path / "token.toml"
    write_private(token_file, f'token = "{TOKEN}"\n')
    native = {"monitor": True, "monitor_interval_s": 0.2}
    hub = NodeConfig(
        name="revpi",
        role="hub",
        state_dir=tmp_path / "state",
        native=native,
        mesh=MeshConfig(keepalive_s=2),
        hub=HubConfig(
            embedded=EmbeddedBroker(port=broker_port),
            web=WebConfig(port=web_port, token_file=token_file),
            home_assistant=False,
        ),
    )
    spoke = NodeConfig(
        name="pizero",
        state_dir=tmp_path / "state",
        native=native,
        mesh=MeshConfig(broker=BrokerAddress(port=broker_port), keepalive_s=2),
    )
    async with MeshNode(hub) as mesh, node_web(mesh) as urls, MeshNode(spoke):
        assert mesh.collector is not None
        await mesh.collector.wait_for(
            lambda h: any(r.node == "pizero" for r in h.latest()), timeout=30
        )
        yield urls["web API"].removesuffix("/api/nodes")


async def get(url: str) -> tuple[int, dict]:  # type: ignore[type-arg]
    async with aiohttp.ClientSession() as session, session.get(url) as reply:
        return reply.status, await reply.json()


async def post(url: str, body: object, token: str | None = TOKEN) -> tuple[int, dict]:  # type: ignore[type-arg]
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with (
        aiohttp.ClientSession() as session,
        session.post(url, json=body, headers=headers) as reply,
    ):
        return reply.status, await reply.json()


async def test_reads_show_both_nodes_and_their_readings(hub_url: str) -> None:
    status, body = await get(f"{hub_url}/api/nodes")
    assert status == 200
    nodes = {n["name"]: n for n in body["nodes"]}
    assert nodes["pizero"]["state"] == "online" and nodes["pizero"]["role"] == "spoke"
    status, body = await get(f"{hub_url}/api/nodes/pizero/latest")
    metrics = {(r["plugin"], r["metric"]) for r in body["latest"]}
    assert ("pizero-monitor", "cpu_usage") in metrics
    now = time.time()
    status, body = await get(
        f"{hub_url}/api/series?node=pizero&plugin=pizero-monitor&metric=uptime"
        f"&start={now - 60}&end={now + 1}&resolution=1"
    )
    assert status == 200 and body["points"]


@pytest.mark.parametrize(
    "path,message",
    [
        ("/api/series?node=pizero&plugin=x&metric=y&resolution=0.1", "resolution"),
        ("/api/series?node=pizero&plugin=x&metric=y&start=abc", "start: 'abc' is not a number"),
        ("/api/series?plugin=x&metric=y", "node: required"),
        ("/api/series?node=pizero&plugin=x&metric=y&start=0&end=1e9&resolution=1", "limit"),
        ("/api/nodes/pizero/logs?level=loud", "level: 'loud'"),
        ("/api/nodes/pizero/logs?limit=0", "limit"),
        ("/api/nodes/Bad!/latest", "not a node name"),
    ],
)
async def test_bad_reads_get_a_400_naming_the_parameter(
    hub_url: str, path: str, message: str
) -> None:
    status, body = await get(hub_url + path)
    assert status == 400 and message in body["error"], body


async def test_an_unknown_node_is_a_404(hub_url: str) -> None:
    status, body = await get(f"{hub_url}/api/nodes/attic/latest")
    assert status == 404 and "attic" in body["error"]


async def test_writes_need_the_right_token(hub_url: str) -> None:
    url = f"{hub_url}/api/nodes/pizero/commands"
    body = {"command": "plugin.restart", "args": {"plugin": "x"}}
    assert (await post(url, body, token=None))[0] == 401
    assert (await post(url, body, token="wrong" * 8))[0] == 403


async def test_a_command_the_node_cannot_run_is_answered_not_crashed(hub_url: str) -> None:
    status, result = await post(
        f"{hub_url}/api/nodes/pizero/commands", {"command": "buzzer.beep", "args": {}}
    )
    assert status == 200 and result["ok"] is False
    assert result["error"]["code"] == "unknown-command"


@pytest.mark.parametrize(
    "body,message",
    [
        ({"command": "rm -rf"}, "command"),
        ({"command": "buzzer.beep", "args": []}, "args"),
        ({"command": "buzzer.beep", "timeout_s": 600}, "timeout_s"),
        ({"command": "buzzer.beep", "extra": 1}, "unknown keys extra"),
        ([1, 2], "JSON object"),
    ],
)
async def test_bad_commands_get_a_400(hub_url: str, body: object, message: str) -> None:
    status, reply = await post(f"{hub_url}/api/nodes/pizero/commands", body)
    assert status == 400 and message in reply["error"], reply


async def test_a_command_to_an_offline_node_fails_fast(hub_url: str) -> None:
    started = asyncio.get_running_loop().time()
    status, result = await post(
        f"{hub_url}/api/nodes/attic/commands", {"command": "buzzer.beep", "args": {}}
    )
    assert status == 503 and result["error"]["code"] == "offline"
    assert asyncio.get_running_loop().time() - started < 1.0
