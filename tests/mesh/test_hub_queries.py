"""HubQueries (the hub's read questions) and the hub-data provider over it: answers, the
errors that name the culprit, and calls from many threads at once while ingest writes."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from harvester.config.mesh import HistoryConfig
from harvester.mesh.history import History
from harvester.mesh.hub_data import HubDataProvider
from harvester.mesh.hub_queries import BadArgument, HubQueries, NotFound
from harvester.mesh.payloads import (
    Health,
    LogBatch,
    LogItem,
    PluginInfo,
    Plugins,
    ReadingItem,
    ReadingsBatch,
    ReadingsItem,
    Status,
)
from harvester.runtime.hub_data import HubDataError

T0 = 1_760_000_000.0


@pytest.fixture
def history(tmp_path: Path) -> Iterator[History]:
    with History(tmp_path / "h.sqlite", HistoryConfig()) as h:
        h.record_status(Status(node="pi4", state="online", role="spoke", at=T0, version="1"))
        h.record_health(Health(node="pi4", at=T0, metrics={"cpu_usage": 3.0}))
        h.record_health(Health(node="pi4", at=T0 + 30, metrics={"cpu_usage": 4.0}))
        plugin = PluginInfo(name="dht22", version="abc", state="running", restarts=1,
                            grants={"dht22": [4]})  # fmt: skip
        h.record_plugins(Plugins(node="pi4", at=T0, plugins=(plugin,)))
        reading = ReadingItem(metric="temperature", value=20.0, unit="°C")
        h.ingest("pi4", ReadingsBatch(node="pi4", items=tuple(
            ReadingsItem(seq=s, plugin="dht22", at=T0 + s, readings=(reading,))
            for s in range(1, 11)
        )))  # fmt: skip
        h.ingest("pi4", LogBatch(node="pi4", items=tuple(
            LogItem(seq=100 + s, at=T0 + s, plugin="dht22", level=("info", "warn")[s % 2],
                    origin="plugin", message=f"line {s}")
            for s in range(6)
        )))  # fmt: skip
        yield h


@pytest.fixture
def queries(history: History) -> HubQueries:
    return HubQueries(history, history.nodes)


def test_nodes_carry_the_newest_health(queries: HubQueries) -> None:
    (pi4,) = queries.nodes()["nodes"]
    assert pi4["name"] == "pi4" and pi4["health"] == {"cpu_usage": 4.0}
    assert pi4["health_at"] == T0 + 30
    detail = queries.node("pi4")
    assert detail["node"] == pi4 and detail["plugins"][0].grants == {"dht22": [4]}


def test_logs_filter_by_level_and_page(queries: HubQueries) -> None:
    page = queries.logs("pi4", min_level="warn", limit=2)
    assert [r.message for r in page["logs"]] == ["line 5", "line 3"]
    assert page["next_before"] == 103
    rest = queries.logs("pi4", min_level="warn", before=page["next_before"], limit=2)
    assert [r.message for r in rest["logs"]] == ["line 1"] and rest["next_before"] is None


@pytest.mark.parametrize(
    "ask,error,words",
    [
        (lambda q: q.latest("attic"), NotFound, "node: no node 'attic'"),
        (lambda q: q.latest("Bad!"), BadArgument, "node: 'Bad!'"),
        (lambda q: q.logs("pi4", min_level="loud"), BadArgument, "level: 'loud'"),
        (lambda q: q.logs("pi4", limit=0), BadArgument, "limit: 0"),
        (lambda q: q.events("pi4", before=0), BadArgument, "before: 0"),
        (lambda q: q.series("pi4", "dht22", "t", 0, 1e9, 1), BadArgument, "resolution:"),
        (lambda q: q.series("pi4", "dht22", "t", 5, 1, 1), BadArgument, "start: must be"),
        (lambda q: q.series("pi4", "dht22", "t", float("nan"), 1, 1), BadArgument, "start:"),
        (lambda q: q.series("pi4", "dht22", "T!", 0, 1, 1), BadArgument, "metric:"),
    ],
)
def test_errors_name_the_culprit(queries: HubQueries, ask, error, words) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(error) as caught:
        ask(queries)
    assert words in caught.value.message


def test_hub_data_answers_json_and_maps_errors(queries: HubQueries, history: History) -> None:
    provider = HubDataProvider(queries)
    assert json.loads(provider.nodes())["nodes"][0]["name"] == "pi4"
    assert json.loads(provider.node("pi4"))["plugins"][0]["name"] == "dht22"
    assert json.loads(provider.latest("pi4"))["latest"][0]["value"] == 20.0
    logs = json.loads(provider.logs("pi4", "", 3))
    assert len(logs["logs"]) == 3 and logs["next_before"] == 103
    series = json.loads(provider.series("pi4", "dht22", "temperature", T0, T0 + 20, 5))
    assert sum(p["count"] for p in series["points"]) == 10
    for call, case in [
        (lambda: provider.node("attic"), "not-found"),
        (lambda: provider.logs("pi4", "", 0), "bad-argument"),
        (lambda: provider.logs("pi4", "loud", 5), "bad-argument"),
        (lambda: provider.series("pi4", "dht22", "temperature", 1, 0, 1), "bad-argument"),
    ]:
        with pytest.raises(HubDataError) as caught:
            call()
        assert caught.value.case == case
    history.close()
    with pytest.raises(HubDataError) as caught:
        provider.latest("pi4")
    assert caught.value.case == "unavailable"


def test_many_threads_read_while_ingest_writes(queries: HubQueries, history: History) -> None:
    """As plugin instance threads call hub-data while the collector's thread stores."""
    provider = HubDataProvider(queries)
    stop = threading.Event()
    reading = ReadingItem(metric="temperature", value=1.0, unit="°C")

    def write() -> None:
        seq = 1000
        while not stop.is_set():
            history.ingest("pi4", ReadingsBatch(node="pi4", items=(
                ReadingsItem(seq=seq, plugin="dht22", at=T0 + seq, readings=(reading,)),
            )))  # fmt: skip
            seq += 1

    def read(_: int) -> int:
        counts = 0
        for _ in range(50):
            json.loads(provider.nodes())
            points = json.loads(provider.series("pi4", "dht22", "temperature", T0, T0 + 9000, 60))
            counts = sum(p["count"] for p in points["points"])
        return counts

    writer = threading.Thread(target=write)
    writer.start()
    try:
        with ThreadPoolExecutor(4) as pool:
            assert all(n >= 10 for n in pool.map(read, range(8)))
    finally:
        stop.set()
        writer.join()
