"""Hub ingest over MQTT, end to end: simulated spokes (the real Outbox and Uplink of a Node
with no plugins, fed readings events on its bus) → a real broker → the hub's Collector →
History (SQLite). On both brokers, in one run:

- realistic load: 3 spokes, each with 4 sensor plugins polled at 1 Hz (4 readings a poll),
  for --seconds; reading → history latency p50/p99 (the reading's time to the hub's
  receipt of the message that carried it, as stored in its de-duplication table);
- saturation: 3 spokes each emitting --events polls at once; readings/s until the
  hub's history holds them all, and the latency percentiles under that load;
- the baseline, measured in the same run: History.ingest of as many readings directly
  (no MQTT), so the ratio says what the mesh costs.

Aims (issue 7): ≥ 10,000 readings/s; p99 ≤ 250 ms at the realistic load.
Everything runs in this process but the broker; the machine's two cores are shared by
the broker, the spokes' uplinks and the collector, as on a hub that is also a spoke.
`python bench/bench_fleet.py [--seconds 20] [--events 20000]`
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path

from rich.console import Console

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from harvester.config import NodeConfig
from harvester.config.mesh import (
    BrokerAddress,
    EmbeddedBroker,
    HistoryConfig,
    HubConfig,
    MeshConfig,
)
from harvester.constants import DeviceClass
from harvester.mesh.broker.embedded import EmbeddedBrokerProcess
from harvester.mesh.collector import Collector
from harvester.mesh.history import History
from harvester.mesh.outbox import Outbox
from harvester.mesh.payloads import ReadingItem, ReadingsBatch, ReadingsItem
from harvester.mesh.uplink import Uplink
from harvester.node import Node, Reading, ReadingsEvent
from tests.mesh.brokers import MosquittoProcess, free_port

console = Console(highlight=False, soft_wrap=True)
SPOKES = 3
PLUGINS = ("bme680", "dht22", "oled", "pi4-monitor")
METRICS = ("temperature", "humidity", "pressure", "gas_resistance")
READINGS_PER_POLL = len(METRICS)


def poll(plugin: str, value: float) -> ReadingsEvent:
    return ReadingsEvent(
        plugin,
        tuple(Reading(m, value, "x", DeviceClass.NONE) for m in METRICS),
    )


@asynccontextmanager
async def broker(kind: str, tmp: Path) -> AsyncIterator[int]:
    port = free_port()
    if kind == "mosquitto":
        conf = (
            f"listener {port} 127.0.0.1\nallow_anonymous true\n"
            f"max_queued_messages 1000000\nuser {getpass.getuser()}\n"
        )
        with MosquittoProcess(tmp / "mosquitto", port=port, conf=conf):
            yield port
    else:
        hub = HubConfig(embedded=EmbeddedBroker(port=port))
        async with EmbeddedBrokerProcess(hub, tmp / "embedded"):
            yield port


@asynccontextmanager
async def hub(port: int, tmp: Path) -> AsyncIterator[tuple[Collector, History]]:
    config = NodeConfig(
        name="hub",
        role="hub",
        mesh=MeshConfig(broker=BrokerAddress(port=port)),
        hub=HubConfig(broker="external"),
    )
    history = History(tmp / "history.sqlite", HistoryConfig())
    try:
        async with Collector(config, history, credentials=None) as collector:
            await asyncio.wait_for(collector.subscribed.wait(), 10)
            yield collector, history
    finally:
        history.close()


@asynccontextmanager
async def spokes(port: int, tmp: Path) -> AsyncIterator[list[Node]]:
    async with AsyncExitStack() as stack:
        nodes = []
        for i in range(SPOKES):
            config = NodeConfig(
                name=f"spoke{i}",
                state_dir=tmp / "state",
                mesh=MeshConfig(broker=BrokerAddress(port=port), health_interval_s=3600),
            )
            assert config.mesh is not None
            outbox = Outbox(
                config.state_dir / config.name / "outbox.sqlite",
                config.mesh.outbox,
                node=config.name,
            )
            stack.callback(outbox.close)
            node = Node(config, first_seq=outbox.next_seq)
            await stack.enter_async_context(Uplink(node, outbox, credentials=None))
            await stack.enter_async_context(node)
            nodes.append(node)
        yield nodes


def readings_stored(collector: Collector, target: float, _history: History) -> bool:
    return collector.stats()["ingest_readings_total"] >= target


def latencies(path: Path) -> list[float]:
    """Per poll: the hub's receipt time minus the reading's time (one metric stands for
    the poll's readings, which travel together)."""
    with sqlite3.connect(path) as db:
        rows = db.execute(
            "SELECT s.received - r.at FROM readings r JOIN metrics m ON r.metric_id = m.id"
            " JOIN seen s ON s.node = m.node AND s.seq = r.seq WHERE m.metric = 'temperature'"
        ).fetchall()
    return [value for (value,) in rows]


def percentiles(values: list[float]) -> tuple[float, float]:
    q = statistics.quantiles(values, n=100)
    return q[49] * 1e3, q[98] * 1e3


async def realistic(kind: str, tmp: Path, seconds: float) -> tuple[float, float, int]:
    async with broker(kind, tmp) as port, hub(port, tmp) as (collector, history):
        async with spokes(port, tmp) as nodes:
            started = time.monotonic()
            tick = 0
            while time.monotonic() - started < seconds:
                for node in nodes:
                    for plugin in PLUGINS:
                        node.bus.publish(poll(plugin, tick))
                tick += 1
                # The load's pace: one poll per plugin per second.
                await asyncio.sleep(max(0.0, started + tick - time.monotonic()))
            target = tick * SPOKES * len(PLUGINS) * READINGS_PER_POLL
            await collector.wait_for(lambda h: readings_stored(collector, target, h), timeout=60)
        p50, p99 = percentiles(latencies(history.path))
        return p50, p99, target


async def saturation(kind: str, tmp: Path, events: int) -> tuple[float, float, float, int]:
    async with broker(kind, tmp) as port, hub(port, tmp) as (collector, history):
        async with spokes(port, tmp) as nodes:
            target = events * SPOKES * READINGS_PER_POLL
            started = time.perf_counter()
            for i in range(events):
                for node in nodes:
                    node.bus.publish(poll(PLUGINS[i % len(PLUGINS)], i))
                if i % 500 == 499:
                    await asyncio.sleep(0)  # let the uplinks take their share of the loop
            await collector.wait_for(lambda h: readings_stored(collector, target, h), timeout=600)
            took = time.perf_counter() - started
        p50, p99 = percentiles(latencies(history.path))
        return target / took, p50, p99, target


def baseline(tmp: Path, readings: int) -> float:
    """History.ingest directly: the same readings in the outbox's batches, no MQTT."""
    history = History(tmp / "baseline.sqlite", HistoryConfig())
    per_batch = 500
    now = time.time()
    batches = []
    seq = 1
    for _ in range(readings // (per_batch * READINGS_PER_POLL)):
        items = []
        for _ in range(per_batch):
            values = tuple(ReadingItem(metric=m, value=1.0, unit="x") for m in METRICS)
            items.append(ReadingsItem(seq=seq, plugin="bme680", at=now, readings=values))
            seq += 1
        batches.append(ReadingsBatch(node="spoke0", items=tuple(items)))
    started = time.perf_counter()
    for i in range(0, len(batches), 4):
        with history.transaction():
            for batch in batches[i : i + 4]:
                history.ingest("spoke0", batch)
    took = time.perf_counter() - started
    history.close()
    return (len(batches) * per_batch * READINGS_PER_POLL) / took


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=20.0, help="realistic load duration")
    parser.add_argument("--events", type=int, default=20_000, help="polls per spoke, saturated")
    args = parser.parse_args()
    console.print(f"[bold]bench_fleet[/]: {SPOKES} spokes → broker → collector → history")
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        base = baseline(tmp, args.events * SPOKES * READINGS_PER_POLL)
        console.print(f"baseline, History.ingest directly: {base:,.0f} readings/s")
        for kind in ("mosquitto", "embedded"):
            run = tmp / kind
            p50, p99, n = await realistic(kind, run / "real", args.seconds)
            verdict = "MET" if p99 <= 250 else "MISSED"
            console.print(
                f"{kind:>9}, realistic ({SPOKES} spokes × {len(PLUGINS)} plugins at 1 Hz,"
                f" {n:,} readings): latency p50 {p50:.1f} ms, p99 {p99:.1f} ms"
                f" (aim p99 ≤ 250 ms: {verdict})"
            )
            rate, p50, p99, n = await saturation(kind, run / "sat", args.events)
            verdict = "MET" if rate >= 10_000 else "MISSED"
            console.print(
                f"{kind:>9}, saturated ({n:,} readings): {rate:,.0f} readings/s"
                f" ({rate / base:.2f} × the baseline; aim ≥ 10,000: {verdict});"
                f" latency p50 {p50:.0f} ms, p99 {p99:.0f} ms"
            )


if __name__ == "__main__":
    asyncio.run(main())
