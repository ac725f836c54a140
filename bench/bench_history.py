"""Hub history ingest: readings/s stored by History.ingest directly (no MQTT), with the
payloads the outbox sends (ReadingsBatch of up to 500 items, 4 readings per item), a few
batches per transaction as the collector does; then the same through a real mosquitto and
the Collector (published by aiomqtt, timed until the last reading is committed), and the
latency of single small messages (one poll's readings) at a realistic rate.
`python bench/bench_history.py` (needs mosquitto for the second part)."""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from functools import partial
from pathlib import Path

import aiomqtt

from harvester.config import NodeConfig
from harvester.config.mesh import BrokerAddress, HistoryConfig, HubConfig, MeshConfig
from harvester.mesh import topics
from harvester.mesh.collector import Collector
from harvester.mesh.history import History
from harvester.mesh.payloads import ReadingItem, ReadingsBatch, ReadingsItem, encode

METRICS = ("temperature", "humidity", "pressure", "gas_resistance")


def batches(node: str, count: int, items: int, start_seq: int) -> list[ReadingsBatch]:
    seq, now, out = start_seq, time.time(), []
    for _ in range(count):
        rows = []
        for _ in range(items):
            readings = tuple(ReadingItem(metric=m, value=seq * 0.1, unit="x") for m in METRICS)
            rows.append(
                ReadingsItem(seq=seq, plugin="bme680", at=now + seq * 1e-3, readings=readings)
            )
            seq += 1
        out.append(ReadingsBatch(node=node, items=tuple(rows)))
    return out


def readings_at_least(collector: Collector, target: float, _history: History) -> bool:
    return collector.stats()["ingest_readings_total"] >= target


async def through_collector(
    tmp: Path, work: list[tuple[str, ReadingsBatch]], inflight: int
) -> None:
    from tests.mesh.brokers import MosquittoProcess, free_port  # the tests' broker runner

    readings = sum(len(b.items) * len(METRICS) for _, b in work)
    port = free_port()
    # As the hub's mosquitto must be configured: mosquitto's default max_queued_messages
    # (1000) DROPS QoS 1 messages for a collector that falls behind (or is down), which
    # breaks "nothing lost"; 0 = no limit. A wider in-flight window lets the collector
    # take more messages per transaction.
    conf = (
        f"listener {port} 127.0.0.1\nallow_anonymous true\nmax_queued_messages 0\n"
        f"max_inflight_messages {inflight}\n"
    )
    with MosquittoProcess(tmp / "mosquitto", port=port, conf=conf) as broker:
        config = NodeConfig(
            name="hub",
            role="hub",
            mesh=MeshConfig(broker=BrokerAddress(port=broker.port)),
            hub=HubConfig(broker="external"),
        )
        history = History(tmp / "collector.db", HistoryConfig())
        async with (
            Collector(config, history, credentials=None) as collector,
            aiomqtt.Client("127.0.0.1", broker.port, identifier="bench-spoke") as spoke,
        ):
            await asyncio.wait_for(collector.subscribed.wait(), 10)
            started = time.perf_counter()
            for node, batch in work:
                await spoke.publish(topics.readings(node), encode(batch), qos=1)
            published = time.perf_counter() - started
            await collector.wait_for(partial(readings_at_least, collector, readings), timeout=300)
            took = time.perf_counter() - started
            print(
                f"through mosquitto + collector: {readings} readings in {len(work)} messages,"
                f" {took:.2f} s: {readings / took:,.0f} readings/s (broker in-flight window"
                f" {inflight}; publishing took"
                f" {published:.2f} s)"
            )
            # Latency: one poll (4 readings) per message, 3 spokes at 10 Hz together.
            latencies: list[float] = []
            for i, batch in enumerate(batches("lat", 300, 1, 1)):
                target = collector.stats()["ingest_readings_total"] + len(METRICS)
                sent = time.perf_counter()
                await spoke.publish(topics.readings("lat"), encode(batch), qos=1)
                await collector.wait_for(partial(readings_at_least, collector, target))
                latencies.append(time.perf_counter() - sent)
                await asyncio.sleep(0.03 if i % 3 == 2 else 0)  # pacing, not synchronisation
            q = statistics.quantiles(latencies, n=100)
            print(
                f"publish -> committed, one message at a time: p50 {q[49] * 1e3:.1f} ms,"
                f" p99 {q[98] * 1e3:.1f} ms"
            )
        history.close()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--batches", type=int, default=200)
    parser.add_argument("--items", type=int, default=500)
    parser.add_argument("--per-transaction", type=int, default=4)
    parser.add_argument("--inflight", type=int, default=20, help="mosquitto's default: 20")
    parser.add_argument("--no-mqtt", action="store_true", help="only History directly")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        history = History(Path(tmp) / "history.db", HistoryConfig())
        work: list[tuple[str, ReadingsBatch]] = []
        for n in range(3):
            work += [
                (f"spoke{n}", b) for b in batches(f"spoke{n}", args.batches // 3, args.items, 1)
            ]
        readings = sum(len(b.items) * len(METRICS) for _, b in work)
        started = time.perf_counter()
        for i in range(0, len(work), args.per_transaction):
            with history.transaction():
                for node, batch in work[i : i + args.per_transaction]:
                    history.ingest(node, batch)
        took = time.perf_counter() - started
        print(f"{readings} readings in {took:.2f} s: {readings / took:,.0f} readings/s")
        started = time.perf_counter()
        for node, batch in work[: len(work) // 3]:
            history.ingest(node, batch)  # every item a duplicate, one transaction each
        took = time.perf_counter() - started
        dup = sum(len(b.items) * len(METRICS) for _, b in work[: len(work) // 3])
        print(f"{dup} duplicate readings rejected at {dup / took:,.0f} readings/s")
        print(history.stats())
        history.close()
        if not args.no_mqtt:
            asyncio.run(through_collector(Path(tmp), work, args.inflight))


if __name__ == "__main__":
    main()
