"""The hub API's requests/s for GET /api/series over a week of history.

A History file is filled with a week of the pi4's readings at its poll rates (bme680: 4
metrics every 5 s, dht22: 2 every 5 s, pi4-monitor: 5 every 30 s), then maintained as the
hub does (raw readings for the last 2 days, older ones folded into minute aggregates). A
real hub (embedded broker, collector, the aiohttp app) is started on that file in a child
process; this process queries it over loopback with concurrent clients for 1 h / 24 h / 7 d
ranges at 10 s / 60 s / 600 s. Baseline, measured in the same run: the bare
History.series call rate for the same queries (one thread, no HTTP, no JSON).
`python bench/bench_api.py [--seconds S] [--clients N]`."""

from __future__ import annotations

import argparse
import asyncio
import itertools
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import aiohttp

from harvester.config import NodeConfig
from harvester.config.mesh import EmbeddedBroker, HistoryConfig, HubConfig, MeshConfig, WebConfig
from harvester.mesh.history import History
from harvester.mesh.payloads import ReadingItem, ReadingsBatch, ReadingsItem

WEEK = 7 * 24 * 3600
# (plugin, metrics, poll interval s): examples/pi4.toml
PLUGINS = (
    ("bme680", ("temperature", "humidity", "pressure", "gas_resistance"), 5.0),
    ("dht22", ("temperature", "humidity"), 5.0),
    ("pi4-monitor", ("cpu_usage", "memory_used_percent", "soc_temperature", "uptime",
                     "disk_used_percent"), 30.0),
)  # fmt: skip
QUERIES = (("1 h", 3600, 10.0), ("24 h", 86400, 60.0), ("7 d", WEEK, 600.0))
NODE = "pi4"
Query = tuple[str, str, str, float, float, float]  # label, plugin, metric, start, end, res


def hub_config(state: Path, broker_port: int, web_port: int) -> NodeConfig:
    return NodeConfig(
        name="hub",
        role="hub",
        state_dir=state,
        mesh=MeshConfig(),
        hub=HubConfig(
            embedded=EmbeddedBroker(port=broker_port),
            web=WebConfig(port=web_port),
            home_assistant=False,
        ),
    )


def fill(path: Path, now: float) -> int:
    """A week of the pi4's readings into `path`, maintained; how many readings."""
    total, seq = 0, 1
    with History(path, HistoryConfig()) as history:
        for plugin, metrics, interval in PLUGINS:
            items: list[ReadingsItem] = []
            at = now - WEEK
            while at < now:
                readings = tuple(
                    ReadingItem(metric=m, value=20.0 + (seq % 100) * 0.1, unit="x") for m in metrics
                )
                items.append(ReadingsItem(seq=seq, plugin=plugin, at=at, readings=readings))
                seq, at, total = seq + 1, at + interval, total + len(metrics)
                if len(items) == 500:
                    history.ingest(NODE, ReadingsBatch(node=NODE, items=tuple(items)))
                    items = []
            if items:
                history.ingest(NODE, ReadingsBatch(node=NODE, items=tuple(items)))
        history.maintain(now)
        counts = history.counts()
    print(
        f"history: {total:,} readings over 7 days; {counts['readings']:,} raw rows (2 days),"
        f" {counts['readings_minute']:,} minute rows"
    )
    return total


def queries(now: float) -> list[Query]:
    """(label, plugin, metric, start, end, resolution), cycling over the metrics."""
    out = []
    for label, span, resolution in QUERIES:
        for plugin, metrics, _ in PLUGINS:
            for metric in metrics:
                out.append((label, plugin, metric, now - span, now, resolution))
    return out


def baseline(path: Path, now: float, seconds: float) -> dict[str, float]:
    """History.series calls/s per range, one thread, the same file."""
    rates: dict[str, float] = {}
    with History(path, HistoryConfig()) as history:
        for label, *_ in QUERIES:
            work = itertools.cycle([q for q in queries(now) if q[0] == label])
            calls, started = 0, time.perf_counter()
            while time.perf_counter() - started < seconds:
                _, plugin, metric, start, end, res = next(work)
                history.series(NODE, plugin, metric, start, end, res)
                calls += 1
            rates[label] = calls / (time.perf_counter() - started)
    return rates


async def hammer(
    session: aiohttp.ClientSession, url: str, work: list[Query], seconds: float, clients: int
) -> tuple[float, int]:
    """`clients` connections asking `work` round robin for `seconds`: (requests/s, median
    points per answer)."""
    cycle = itertools.cycle(work)
    points: list[int] = []
    deadline = time.perf_counter() + seconds

    async def client() -> None:
        while time.perf_counter() < deadline:
            _, plugin, metric, start, end, res = next(cycle)
            params = {
                "node": NODE, "plugin": plugin, "metric": metric,
                "start": str(start), "end": str(end), "resolution": str(res),
            }  # fmt: skip
            async with session.get(f"{url}/api/series", params=params) as reply:
                body = await reply.json()
                assert reply.status == 200, body
            points.append(len(body["points"]))

    started = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(clients)))
    return len(points) / (time.perf_counter() - started), sorted(points)[len(points) // 2]


async def load(url: str, now: float, seconds: float, clients: int) -> dict[str, tuple[float, int]]:
    """(requests/s, median points per answer) per range."""
    connector = aiohttp.TCPConnector(limit=clients)
    async with aiohttp.ClientSession(connector=connector) as session:
        return {
            label: await hammer(
                session, url, [q for q in queries(now) if q[0] == label], seconds, clients
            )
            for label, *_ in QUERIES
        }


async def serve(state: Path) -> None:
    """The child: a hub on the filled history until stdin closes."""
    from harvester.mesh.service import MeshNode
    from harvester.web.server import node_web
    from tests.mesh.brokers import free_port

    config = hub_config(state, free_port(), free_port())
    async with MeshNode(config) as mesh, node_web(mesh) as urls:
        print(urls["web API"].removesuffix("/api/nodes"), flush=True)
        await asyncio.to_thread(sys.stdin.read)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=5.0, help="per range")
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--serve", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve is not None:
        asyncio.run(serve(args.serve))
        return
    root = Path(__file__).resolve().parents[1]
    with tempfile.TemporaryDirectory() as tmp:
        state = Path(tmp) / "state"
        path = state / "hub" / "history.sqlite"
        now = time.time()
        started = time.perf_counter()
        fill(path, now)
        print(f"filled in {time.perf_counter() - started:.1f} s")
        bare = baseline(path, now, args.seconds)
        env = {**os.environ, "PYTHONPATH": f"{root}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
        child = subprocess.Popen(
            [sys.executable, __file__, "--serve", str(state)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env,
        )  # fmt: skip
        try:
            assert child.stdout is not None
            url = child.stdout.readline().strip()
            assert url.startswith("http://127.0.0.1:"), url
            api = asyncio.run(load(url, now, args.seconds, args.clients))
        finally:
            assert child.stdin is not None
            child.stdin.close()
            child.wait(timeout=30)
    print(f"\nGET /api/series over loopback, {args.clients} clients, {args.seconds:g} s per range"
          f" (hub in a child process; {os.cpu_count()} cores):")  # fmt: skip
    print(f"{'range':>6} {'resolution':>10} {'points':>7} {'API req/s':>10}"
          f" {'History.series/s':>17} {'ratio':>6}")  # fmt: skip
    for label, _span, resolution in QUERIES:
        rate, points = api[label]
        print(f"{label:>6} {resolution:>9g}s {points:>7} {rate:>10,.0f} {bare[label]:>17,.0f}"
              f" {rate / bare[label]:>6.2f}")  # fmt: skip


if __name__ == "__main__":
    main()
