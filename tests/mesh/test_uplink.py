"""The uplink against a real mosquitto: status, plugins, readings with seq; an outage loses
nothing; numbering survives a restart; a killed node's last will says "will"."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path

import aiomqtt

from harvester.config import NodeConfig
from harvester.config.mesh import BrokerAddress, MeshConfig, OutboxConfig
from harvester.constants import NATIVE_MONITOR
from harvester.mesh import topics
from harvester.mesh.outbox import Outbox
from harvester.mesh.payloads import (
    MODELS,
    Health,
    Payload,
    Plugins,
    PluginState,
    ReadingsBatch,
    Status,
    decode,
)
from harvester.mesh.uplink import Uplink
from harvester.node import Node
from tests.mesh.brokers import MosquittoProcess

NODE = "pizero"
WAIT_S = 15.0


def node_config(tmp_path: Path, port: int, *, interval_s: float = 0.02) -> NodeConfig:
    """pizero's case: the native monitor only (no WASM), fast, to the test's broker."""
    return NodeConfig(
        name=NODE,
        state_dir=tmp_path / "state",
        native={"monitor": True, "monitor_interval_s": interval_s},  # type: ignore[arg-type]
        mesh=MeshConfig(
            broker=BrokerAddress(port=port),
            keepalive_s=2,
            health_interval_s=0.5,
            outbox=OutboxConfig(linger_ms=5),
        ),
    )


def open_outbox(config: NodeConfig) -> Outbox:
    assert config.mesh is not None
    return Outbox(config.state_dir / NODE / "outbox.sqlite", config.mesh.outbox, node=NODE)


class Listener:
    """Every message under the node's tree, decoded; `wait(predicate)` awaits one."""

    def __init__(self) -> None:
        self.messages: list[tuple[str, Payload, bool]] = []  # topic, payload, retained
        self._changed = asyncio.Condition()

    async def take(self, message: aiomqtt.Message) -> None:
        parsed = topics.parse(str(message.topic))
        assert parsed is not None, message.topic
        assert isinstance(message.payload, bytes)
        payload = decode(MODELS[parsed.kind], message.payload)  # raises if it is invalid
        async with self._changed:
            self.messages.append((str(message.topic), payload, bool(message.retain)))
            self._changed.notify_all()

    async def wait(self, predicate: Callable[[str, Payload], bool]) -> Payload:
        async with asyncio.timeout(WAIT_S), self._changed:
            while True:
                for topic, payload, _ in self.messages:
                    if predicate(topic, payload):
                        return payload
                await self._changed.wait()

    def seqs(self) -> list[int]:
        out: list[int] = []
        for topic, payload, _ in self.messages:
            if topic.rsplit("/", 1)[-1] in topics.OUTBOX_KINDS:
                out.extend(item.seq for item in payload.items)  # type: ignore[attr-defined]
        return out


@asynccontextmanager
async def listening(port: int, *, client_id: str = "listener") -> AsyncIterator[Listener]:
    """A subscriber to the node's tree, QoS 1, with a persistent session (clean_session
    False): what the broker queued for it while it was away reaches it too. It follows
    the broker through restarts."""
    listener = Listener()
    subscribed = asyncio.Event()

    async def run() -> None:
        while True:
            try:
                async with aiomqtt.Client(
                    "127.0.0.1", port, identifier=client_id, clean_session=False
                ) as client:
                    await client.subscribe(topics.own_tree(NODE), qos=1)
                    subscribed.set()
                    async for message in client.messages:
                        await listener.take(message)
            except aiomqtt.MqttError:
                await asyncio.sleep(0.1)  # back-off while the broker is down

    task = asyncio.create_task(run())
    try:
        async with asyncio.timeout(WAIT_S):
            await subscribed.wait()
        yield listener
    finally:
        task.cancel()


async def retained(port: int, topic: str) -> Payload:
    """What a newcomer subscribing to `topic` gets at once: its retained message."""
    async with aiomqtt.Client("127.0.0.1", port, identifier="newcomer") as client:
        await client.subscribe(topic, qos=1)
        async with asyncio.timeout(WAIT_S):
            message = await anext(aiter(client.messages))
    assert message.retain and isinstance(message.payload, bytes)
    parsed = topics.parse(topic)
    assert parsed is not None
    return decode(MODELS[parsed.kind], message.payload)


def is_status(state: str, reason: str = "") -> Callable[[str, Payload], bool]:
    return lambda _, p: isinstance(p, Status) and p.state == state and p.reason == reason


async def test_a_node_publishes_status_plugins_state_health_and_numbered_readings(
    tmp_path: Path, mosquitto: MosquittoProcess
) -> None:
    config = node_config(tmp_path, mosquitto.port)
    outbox = open_outbox(config)
    node = Node(config, first_seq=outbox.next_seq)
    async with listening(mosquitto.port) as listener:
        async with Uplink(node, outbox, credentials=None) as uplink, node:
            online = await listener.wait(is_status("online"))
            assert isinstance(online, Status) and online.version and online.role == "spoke"
            await listener.wait(lambda t, p: isinstance(p, ReadingsBatch) and p.items[-1].seq > 5)
            plugins = await listener.wait(
                lambda _, p: isinstance(p, Plugins) and p.plugins[0].state == "running"
            )
            assert isinstance(plugins, Plugins)
            (monitor,) = plugins.plugins
            assert (monitor.name, monitor.version) == (NATIVE_MONITOR, "native")
            assert "cpu_usage" in {m.name for m in monitor.metrics}
            state = await listener.wait(lambda _, p: isinstance(p, PluginState))
            assert isinstance(state, PluginState) and "uptime" in state.values
            health = await listener.wait(lambda _, p: isinstance(p, Health))
            assert isinstance(health, Health)
            assert health.metrics["plugins_total"] == 1.0 and health.metrics["host_rss_bytes"] > 0
            assert "cpu_usage" in health.metrics
            await uplink.drained()
            stats = uplink.stats()
            assert stats["uplink_connected"] == 1.0 and stats["uplink_published_total"] > 5
        # Leaving says goodbye, after sending what was left.
        await listener.wait(is_status("offline", "stop"))
        next_seq = open_outbox(config).next_seq
        seqs = listener.seqs()
        assert seqs == sorted(seqs), "readings must arrive in seq order"
        assert set(seqs) == set(range(1, next_seq)), "every event, no gap"
    # Status, plugins and state are retained: a newcomer learns them.
    status = await retained(mosquitto.port, topics.status(NODE))
    assert isinstance(status, Status) and (status.state, status.reason) == ("offline", "stop")
    assert isinstance(await retained(mosquitto.port, topics.plugins(NODE)), Plugins)
    state_topic = topics.state(NODE, NATIVE_MONITOR)
    assert isinstance(await retained(mosquitto.port, state_topic), PluginState)


async def test_a_broker_outage_loses_nothing(tmp_path: Path, mosquitto: MosquittoProcess) -> None:
    config = node_config(tmp_path, mosquitto.port)
    outbox = open_outbox(config)
    node = Node(config, first_seq=outbox.next_seq)
    async with listening(mosquitto.port) as listener:
        async with Uplink(node, outbox, credentials=None) as uplink, node:
            await listener.wait(lambda t, p: isinstance(p, ReadingsBatch))
            mosquitto.stop()
            # The node goes on: its events wait in the outbox.
            rows = await asyncio.wait_for(uplink.wait_outbox(lambda rows: rows >= 30), WAIT_S)
            assert rows >= 30 and uplink.stats()["uplink_connected"] == 0.0
            mosquitto.start()
            await asyncio.wait_for(uplink.drained(), WAIT_S)
            sent = outbox.next_seq - 1  # every one of these was acknowledged
            await listener.wait(lambda _, p: max(listener.seqs(), default=0) >= sent)
        await listener.wait(is_status("offline", "stop"))
    seqs = listener.seqs()
    assert set(seqs) == set(range(1, max(seqs) + 1)), "at least once, with no gap"
    assert max(seqs) >= sent


async def test_numbering_continues_after_a_restart(
    tmp_path: Path, mosquitto: MosquittoProcess
) -> None:
    config = node_config(tmp_path, mosquitto.port)
    firsts = []
    for _ in range(2):
        outbox = open_outbox(config)
        node = Node(config, first_seq=outbox.next_seq)
        firsts.append(outbox.next_seq)
        async with Uplink(node, outbox, credentials=None) as uplink, node:
            await asyncio.wait_for(uplink.wait_outbox(lambda rows: rows >= 1), WAIT_S)
            await asyncio.wait_for(uplink.drained(), WAIT_S)
        last = outbox.next_seq
    assert firsts[0] == 1 and firsts[1] > 3
    assert last > firsts[1]


CHILD = """
import asyncio, sys
from harvester.config import NodeConfig
from harvester.mesh.outbox import Outbox
from harvester.mesh.uplink import Uplink
from harvester.node import Node

async def main() -> None:
    config = NodeConfig.model_validate_json(open(sys.argv[1]).read())
    outbox = Outbox(config.state_dir / "outbox.sqlite", config.mesh.outbox, node=config.name)
    node = Node(config, first_seq=outbox.next_seq)
    async with Uplink(node, outbox, credentials=None), node:
        await asyncio.Event().wait()

asyncio.run(main())
"""


async def test_a_killed_node_is_declared_offline_by_its_will(
    tmp_path: Path, mosquitto: MosquittoProcess
) -> None:
    config = node_config(tmp_path, mosquitto.port, interval_s=1.0)
    config_file = tmp_path / "node.json"
    config_file.write_text(config.model_dump_json())
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parents[2])}
    async with listening(mosquitto.port) as listener:
        child = subprocess.Popen([sys.executable, "-c", CHILD, str(config_file)], env=env)
        try:
            await listener.wait(is_status("online"))
            child.send_signal(signal.SIGKILL)
            loop = asyncio.get_running_loop()
            killed_at = loop.time()
            will = await listener.wait(is_status("offline", "will"))
            assert isinstance(will, Status) and will.node == NODE
            # keepalive 2 s: the broker gives up after 1.5 keep-alives (3 s).
            assert loop.time() - killed_at < 5.0
        finally:
            child.kill()
            child.wait()
    # The will is retained: a newcomer learns the node is offline.
    will = await retained(mosquitto.port, topics.status(NODE))
    assert isinstance(will, Status) and (will.state, will.reason) == ("offline", "will")
