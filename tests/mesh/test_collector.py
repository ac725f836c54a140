"""The hub's collector against a real mosquitto: telemetry into history exactly once,
bad messages dropped with a log line, last wills, and the broker's persistent session."""

from __future__ import annotations

import asyncio
import getpass
import json
import logging
import sqlite3
import sys
import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from pathlib import Path

import aiomqtt
import pytest

from harvester.config import NodeConfig
from harvester.config.mesh import BrokerAddress, HistoryConfig, HubConfig, MeshConfig
from harvester.constants import LogLevel
from harvester.mesh import topics
from harvester.mesh.collector import Collector, LiveItems
from harvester.mesh.history import History
from harvester.mesh.payloads import (
    LogBatch,
    LogItem,
    ReadingItem,
    ReadingsBatch,
    ReadingsItem,
    Status,
    encode,
)
from tests.mesh.brokers import MosquittoProcess, free_port

# When this module was imported: in a long run that can be minutes before a test, so a
# test whose outcome depends on the readings' age takes its own time.
NOW = time.time()


def hub_config(tmp_path: Path, port: int) -> NodeConfig:
    return NodeConfig(
        name="revpi",
        role="hub",
        state_dir=tmp_path / "state",
        mesh=MeshConfig(broker=BrokerAddress(port=port), keepalive_s=2, health_interval_s=1),
        hub=HubConfig(broker="external", history=HistoryConfig()),
    )


def batch(seqs: list[int], node: str = "pi4", *, at: float | None = None) -> bytes:
    start = NOW if at is None else at
    return encode(
        ReadingsBatch(
            node=node,
            items=tuple(
                ReadingsItem(seq=s, plugin="dht22", at=start + s, readings=(
                    ReadingItem(metric="temperature", value=20.0 + s, unit="°C"),))
                for s in seqs
            ),
        )
    )  # fmt: skip


@asynccontextmanager
async def collecting(
    tmp_path: Path,
    broker: MosquittoProcess,
    busy_timeout_s: float = 5.0,
    history_config: HistoryConfig | None = None,
    on_stored: Callable[[LiveItems], None] | None = None,
) -> AsyncIterator[Collector]:
    """A collector and its history on tmp_path's file, subscribed before it is handed over."""
    config = hub_config(tmp_path, broker.port)
    if history_config is not None:
        assert config.hub is not None
        hub = config.hub.model_copy(update={"history": history_config})
        config = config.model_copy(update={"hub": hub})
    history = History(
        tmp_path / "history.db", config.hub_settings.history, busy_timeout_s=busy_timeout_s
    )
    try:
        async with Collector(config, history, credentials=None, on_stored=on_stored) as c:
            await asyncio.wait_for(c.subscribed.wait(), 10)
            yield c
    finally:
        history.close()


@asynccontextmanager
async def spoke(broker: MosquittoProcess, name: str = "pi4") -> AsyncIterator[aiomqtt.Client]:
    async with aiomqtt.Client("127.0.0.1", broker.port, identifier=f"{name}-test") as client:
        yield client


def stored(node: str, seqs: list[int]) -> Callable[[History], bool]:
    return lambda history: history.seqs(node) == seqs


async def test_telemetry_is_stored_once_across_duplicates_and_a_hub_restart(
    tmp_path: Path, mosquitto: MosquittoProcess
) -> None:
    async with collecting(tmp_path, mosquitto) as collector, spoke(mosquitto) as pi4:
        await pi4.publish(topics.readings("pi4"), batch([1, 2]), qos=1)
        await pi4.publish(topics.readings("pi4"), batch([2, 3, 3]), qos=1)
        await pi4.publish(topics.readings("pi4"), batch([1, 2, 3, 4]), qos=1)
        await collector.wait_for(stored("pi4", [1, 2, 3, 4]))
        assert collector.history.counts()["readings"] == 4
        assert collector.stats()["ingest_duplicates_total"] == 5
        assert collector.node_status("pi4") is not None

    async with collecting(tmp_path, mosquitto) as collector, spoke(mosquitto) as pi4:
        await pi4.publish(topics.readings("pi4"), batch([3, 4, 5]), qos=1)
        await collector.wait_for(stored("pi4", [1, 2, 3, 4, 5]))
        assert collector.history.counts()["readings"] == 5
        assert [p.value for p in collector.history.latest("pi4")] == [25.0]


async def test_the_live_feed_gets_each_stored_item_once_after_its_commit(
    tmp_path: Path, mosquitto: MosquittoProcess
) -> None:
    live: LiveItems = []
    async with (
        collecting(tmp_path, mosquitto, on_stored=live.extend) as collector,
        spoke(mosquitto) as pi4,
    ):
        await pi4.publish(topics.readings("pi4"), batch([1, 2]), qos=1)
        await pi4.publish(topics.readings("pi4"), batch([2, 3, 3]), qos=1)
        await pi4.publish(topics.readings("pi4"), batch([1, 2, 3, 4]), qos=1)
        await collector.wait_for(stored("pi4", [1, 2, 3, 4]))
    assert [data["seq"] for kind, data in live if kind == "readings"] == [1, 2, 3, 4]


async def test_bad_messages_are_dropped_with_a_log_line_and_the_next_one_is_stored(
    tmp_path: Path, mosquitto: MosquittoProcess, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="harvester.mesh.collector")
    good = json.loads(batch([7]))
    bad = {
        "not-json": b"{nope",
        "oversized": b" " * (1024 * 1024 + 1),
        "version": json.dumps({**good, "v": 2}).encode(),
        "schema": json.dumps({**good, "items": []}).encode(),
        "node-mismatch": batch([8], node="pizero"),
    }
    async with collecting(tmp_path, mosquitto) as collector, spoke(mosquitto) as pi4:
        for payload in bad.values():
            await pi4.publish(topics.readings("pi4"), payload, qos=1)
        await pi4.publish(topics.readings("pi4"), batch([7]), qos=1)
        await collector.wait_for(stored("pi4", [7]))
        stats = collector.stats()
        assert collector.history.seqs("pizero") == []
    for reason in bad:
        assert stats[f'ingest_dropped_total{{reason="{reason}"}}'] == 1, reason
        assert any(
            reason in r.message and "harvester/pi4/readings" in r.message and "pi4" in r.message
            for r in caplog.records if r.levelno == logging.WARNING
        ), reason  # fmt: skip
    assert stats["ingest_dropped_total"] == len(bad)


WILL_CLIENT = """
import asyncio, sys, aiomqtt
async def main():
    will = aiomqtt.Will(sys.argv[2], sys.argv[3].encode(), qos=1, retain=True)
    async with aiomqtt.Client("127.0.0.1", int(sys.argv[1]), identifier="pi4", will=will,
                              keepalive=60) as client:
        await client.publish(sys.argv[2], sys.argv[4].encode(), qos=1, retain=True)
        print("online", flush=True)
        await asyncio.Event().wait()
asyncio.run(main())
"""


async def test_a_node_that_dies_is_offline_by_its_last_will(
    tmp_path: Path, mosquitto: MosquittoProcess
) -> None:
    online = Status(node="pi4", state="online", role="spoke", at=NOW, version="0.1.0")
    offline = Status(node="pi4", state="offline", role="spoke", at=NOW, reason="will")
    async with collecting(tmp_path, mosquitto) as collector:
        node = await asyncio.create_subprocess_exec(
            sys.executable, "-c", WILL_CLIENT, str(mosquitto.port), topics.status("pi4"),
            encode(offline).decode(), encode(online).decode(), stdout=asyncio.subprocess.PIPE,
        )  # fmt: skip
        try:
            assert node.stdout is not None
            assert await asyncio.wait_for(node.stdout.readline(), 10) == b"online\n"
            await collector.wait_for(lambda h: [n.state for n in h.nodes()] == ["online"])
            status = collector.node_status("pi4")
            assert status is not None and (status.role, status.version) == ("spoke", "0.1.0")
            node.kill()  # no DISCONNECT: the broker publishes the will
            await collector.wait_for(lambda h: [n.state for n in h.nodes()] == ["offline"])
        finally:
            if node.returncode is None:
                node.kill()
            await node.wait()
        status = collector.node_status("pi4")
        assert status is not None and (status.reason, status.version) == ("will", "0.1.0")


async def test_a_node_silent_for_too_long_shows_offline(
    tmp_path: Path, mosquitto: MosquittoProcess
) -> None:
    async with collecting(tmp_path, mosquitto) as collector, spoke(mosquitto) as pi4:
        await pi4.publish(topics.readings("pi4"), batch([1]), qos=1)
        await collector.wait_for(stored("pi4", [1]))
        status = collector.node_status("pi4")
        assert status is not None and status.state == "online"
        later = collector.node_status("pi4", now=time.time() + collector.silent_after_s + 1)
        assert later is not None and (later.state, later.reason) == ("offline", "silent")


@pytest.fixture
def persistent_mosquitto(tmp_path: Path) -> Iterator[MosquittoProcess]:
    """Like the `mosquitto` fixture, but able to save its database when run as root:
    mosquitto started as root drops to the user `mosquitto`, which may not write to
    tmp_path; `user` keeps the current one (ignored when not root)."""
    workdir, port = tmp_path / "persistent", free_port()
    conf = (
        f"listener {port} 127.0.0.1\nallow_anonymous true\npersistence true\n"
        f"persistence_location {workdir}/\nuser {getpass.getuser()}\n"
    )
    with MosquittoProcess(workdir, port=port, conf=conf) as broker:
        yield broker


async def test_the_broker_keeps_messages_for_the_collector_while_the_hub_is_down(
    tmp_path: Path, persistent_mosquitto: MosquittoProcess
) -> None:
    mosquitto = persistent_mosquitto
    async with collecting(tmp_path, mosquitto):
        pass  # the session (and its subscriptions) now exists on the broker
    async with spoke(mosquitto) as pi4:
        for seq in range(1, 11):
            await pi4.publish(topics.readings("pi4"), batch([seq]), qos=1)
        hello = LogItem(
            seq=11, at=NOW, plugin="", level=LogLevel.INFO, origin="host", message="hello"
        )
        lines = LogBatch(node="pi4", items=(hello,))
        await pi4.publish(topics.log("pi4"), encode(lines), qos=1)
    mosquitto.stop()  # and the broker restarts in between: its persistence keeps them
    mosquitto.start()
    async with collecting(tmp_path, mosquitto) as collector:
        await collector.wait_for(stored("pi4", list(range(1, 12))))
        assert [r.message for r in collector.history.logs("pi4")] == ["hello"]


async def test_a_message_the_hub_could_not_store_is_not_acknowledged_and_comes_again(
    tmp_path: Path, mosquitto: MosquittoProcess
) -> None:
    other = sqlite3.connect(tmp_path / "history.db", isolation_level=None)
    try:
        async with collecting(tmp_path, mosquitto, busy_timeout_s=0.1) as collector:
            # Another writer holds the file: the collector cannot commit, so must not ack.
            other.execute("BEGIN IMMEDIATE")
            async with spoke(mosquitto) as pi4:
                await pi4.publish(topics.readings("pi4"), batch([1, 2]), qos=1)
            await collector.wait_for(lambda h: collector.stats()["ingest_store_errors_total"] > 0)
            assert collector.history.seqs("pi4") == []
        # The hub stopped as if it died mid-ingest, with nothing stored.
        other.execute("ROLLBACK")
    finally:
        other.close()
    async with collecting(tmp_path, mosquitto) as collector:  # the broker redelivers
        await collector.wait_for(stored("pi4", [1, 2]))
        assert collector.stats()["ingest_messages_total"] == 1


async def test_the_collector_runs_maintenance_on_its_interval(
    tmp_path: Path, mosquitto: MosquittoProcess
) -> None:
    fast = HistoryConfig(raw_window_s=60, maintenance_interval_s=1)
    async with (
        collecting(tmp_path, mosquitto, history_config=fast) as collector,
        spoke(mosquitto) as pi4,
    ):
        now = time.time()
        old = encode(ReadingsBatch(node="pi4", items=(ReadingsItem(
            seq=1, plugin="dht22", at=now - 3600,
            readings=(ReadingItem(metric="temperature", value=1.0, unit="°C"),)),)))  # fmt: skip
        await pi4.publish(topics.readings("pi4"), old, qos=1)
        await pi4.publish(topics.readings("pi4"), batch([2], at=now), qos=1)
        # The hour-old reading is folded into its minute; the fresh one stays raw.
        await collector.wait_for(
            lambda h: h.counts()["readings_minute"] == 1 and h.counts()["readings"] == 1
        )
        assert collector.stats()["history_maintenance_runs_total"] >= 1


async def test_the_collector_reconnects_by_itself_after_a_broker_restart(
    tmp_path: Path, persistent_mosquitto: MosquittoProcess
) -> None:
    mosquitto = persistent_mosquitto
    async with collecting(tmp_path, mosquitto) as collector:
        mosquitto.stop()
        mosquitto.start()  # the collector's session (kept on disk) waits for it
        async with spoke(mosquitto) as pi4:
            await pi4.publish(topics.readings("pi4"), batch([1]), qos=1)
        await collector.wait_for(stored("pi4", [1]))
        assert collector.stats()["mqtt_connected"] == 1
