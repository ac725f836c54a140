"""The hub's history on a real SQLite file, without a broker."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from harvester.config.mesh import HistoryConfig
from harvester.constants import DeviceClass, LogLevel
from harvester.mesh.history import MAX_POINTS, History, Point
from harvester.mesh.payloads import (
    EventItem,
    EventsBatch,
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

T0 = 1_699_999_200.0  # a whole hour
HOUR = 3600.0
CONFIG = HistoryConfig(
    raw_window_s=HOUR, minute_window_s=3 * HOUR, log_window_s=2 * HOUR, health_window_s=2 * HOUR
)


def readings(
    seqs: list[int], *, at: float = T0, step: float = 10.0, plugin: str = "dht22"
) -> ReadingsBatch:
    items = tuple(
        ReadingsItem(
            seq=seq,
            plugin=plugin,
            at=at + i * step,
            readings=(
                ReadingItem(metric="temperature", value=float(seq), unit="°C",
                            device_class=DeviceClass.TEMPERATURE),
                ReadingItem(metric="humidity", value=50.0, unit="%",
                            device_class=DeviceClass.HUMIDITY),
            ),
        )
        for i, seq in enumerate(seqs)
    )  # fmt: skip
    return ReadingsBatch(node="pi4", items=items)


def logs(seqs: list[int], at: float = T0) -> LogBatch:
    levels = [LogLevel.DEBUG, LogLevel.INFO, LogLevel.WARN, LogLevel.ERROR]
    return LogBatch(
        node="pi4",
        items=tuple(
            LogItem(seq=s, at=at + s, plugin="dht22", level=levels[s % 4], origin="plugin",
                    message=f"line {s}")
            for s in seqs
        ),
    )  # fmt: skip


@pytest.fixture
def history(tmp_path: Path) -> History:
    return History(tmp_path / "history.db", CONFIG)


def test_an_item_is_stored_once_within_a_batch_across_batches_and_across_reopening(
    tmp_path: Path,
) -> None:
    history = History(tmp_path / "h.db", CONFIG)
    assert history.ingest("pi4", readings([1, 2, 2, 3])) == 3
    assert history.ingest("pi4", readings([3, 4])) == 1
    assert history.ingest("pi4", logs([4, 5])) == 1  # one sequence across kinds
    assert history.stats()["ingest_duplicates_total"] == 3
    history.close()

    with History(tmp_path / "h.db", CONFIG) as again:
        assert again.ingest("pi4", readings([1, 5, 6])) == 1
        assert again.ingest("pizero", readings([1]).model_copy(update={"node": "pizero"})) == 1
        assert again.seqs("pi4") == [1, 2, 3, 4, 5, 6]
        assert again.counts()["readings"] == 2 * 6  # two metrics per item, pizero's one too
    with sqlite3.connect(tmp_path / "h.db") as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_latest_holds_the_newest_value_with_unit_and_device_class(history: History) -> None:
    history.ingest("pi4", readings([5], at=T0 + 100))
    history.ingest("pi4", readings([4], at=T0))  # older, arriving later: not the latest
    latest = {(row.plugin, row.metric): row for row in history.latest("pi4")}
    temp = latest[("dht22", "temperature")]
    assert (temp.at, temp.value, temp.unit, temp.device_class) == (
        T0 + 100, 5.0, "°C", "temperature"
    )  # fmt: skip
    assert latest[("dht22", "humidity")].unit == "%"
    assert history.latest("nobody") == []
    assert len(history.latest()) == 2


def series_of(history: History, resolution: float) -> list[Point]:
    return history.series("pi4", "dht22", "temperature", T0, T0 + 2 * HOUR, resolution)


def test_series_is_the_same_across_the_raw_and_minute_boundary_after_downsampling(
    history: History,
) -> None:
    history.ingest("pi4", readings(list(range(1, 721))))  # every 10 s for two hours
    before = {res: series_of(history, res) for res in (60, 600)}
    assert [p.count for p in before[600]] == [60] * 12
    assert before[600][0] == Point(T0, 60, 30.5, 1.0, 60.0)

    history.maintain(now=T0 + 2 * HOUR)  # the first hour becomes minute aggregates
    counts = history.counts()
    assert counts["readings"] == 2 * 360 and counts["readings_minute"] == 2 * 60
    for res, points in before.items():
        assert series_of(history, res) == points
    # Finer than a minute: one bucket per raw reading, one per whole minute beyond.
    fine = series_of(history, 10)
    assert len(fine) == 60 + 360
    assert fine[0].count == 6 and fine[-1].count == 1
    assert sum(p.count for p in fine) == 720


def test_downsampling_is_idempotent_and_merges_a_late_reading(history: History) -> None:
    history.ingest("pi4", readings(list(range(1, 361))))  # the first hour
    history.maintain(now=T0 + 2 * HOUR)
    once = series_of(history, 60)
    history.maintain(now=T0 + 2 * HOUR)
    history.maintain(now=T0 + 2 * HOUR + 30)
    assert series_of(history, 60) == once
    assert sum(p.count for p in once) == 360

    # A reading for an already folded minute arrives late (a long outage): it joins it.
    history.ingest("pi4", readings([1000], at=T0 + 5))
    history.maintain(now=T0 + 2 * HOUR)
    first = series_of(history, 60)[0]
    assert (first.count, first.max) == (7, 1000.0)


def test_retention_drops_what_is_beyond_each_window(history: History) -> None:
    history.ingest("pi4", readings(list(range(1, 361))))
    history.ingest("pi4", logs([1000, 1001], at=T0))
    history.record_health(Health(node="pi4", at=T0, metrics={"cpu_usage": 3.0}))
    history.record_health(Health(node="pi4", at=T0 + 2.5 * HOUR, metrics={"cpu_usage": 4.0}))
    history.record_health(Health(node="pi4", at=T0 + 2.5 * HOUR, metrics={"cpu_usage": 4.0}))
    assert history.counts()["health"] == 2  # a redelivered report is stored once
    history.maintain(now=T0 + 2.5 * HOUR)  # logs and health (2 h) of T0 go
    assert history.logs("pi4") == []
    assert [h.metrics for h in history.health("pi4")] == [{"cpu_usage": 4.0}]
    assert history.counts()["readings_minute"] == 2 * 60
    history.maintain(now=T0 + 4.5 * HOUR)  # minute aggregates (3 h) go too
    assert history.counts()["readings_minute"] == 0
    assert history.series("pi4", "dht22", "temperature", T0, T0 + HOUR, 60) == []


def test_seen_is_pruned_by_receipt_time_beyond_the_raw_window(history: History) -> None:
    history.ingest("pi4", logs([1]), received=T0)
    history.ingest("pi4", logs([2]), received=T0 + HOUR)
    history.maintain(now=T0 + HOUR + 60)
    assert history.counts()["seen"] == 1
    assert history.ingest("pi4", logs([2])) == 0  # still known
    assert history.stats()["ingest_duplicates_total"] == 1


def test_logs_filter_by_level_and_page_newest_first(history: History) -> None:
    history.ingest("pi4", logs(list(range(1, 21))))
    first = history.logs("pi4", limit=5)
    assert [r.seq for r in first] == [20, 19, 18, 17, 16]
    second = history.logs("pi4", before=first[-1].seq, limit=5)
    assert [r.seq for r in second] == [15, 14, 13, 12, 11]
    warn = history.logs("pi4", min_level="warn")
    assert {r.level for r in warn} == {"warn", "error"} and len(warn) == 10
    errors = history.logs("pi4", min_level=LogLevel.ERROR, before=12)
    assert [r.seq for r in errors] == [11, 7, 3]
    assert errors[0].message == "line 11" and errors[0].origin == "plugin"


def test_series_refuses_a_too_fine_resolution_and_too_many_points(history: History) -> None:
    with pytest.raises(ValueError, match="at least 1 s"):
        history.series("pi4", "dht22", "temperature", T0, T0 + 10, 0.5)
    with pytest.raises(ValueError, match=f"limit is {MAX_POINTS}"):
        history.series("pi4", "dht22", "temperature", T0, T0 + 86_400, 1)


def test_status_touch_events_and_plugins(history: History) -> None:
    history.touch("pi4", T0 + 5)  # telemetry before the status: known, online
    history.record_status(Status(node="pi4", state="online", role="spoke", at=T0, version="0.1"))
    history.record_status(Status(node="pi4", state="online", role="spoke", at=T0 + 9))
    [row] = history.nodes()
    assert (row.state, row.role, row.version, row.since, row.last_seen) == (
        "online", "spoke", "0.1", T0 + 5, T0 + 5
    )  # fmt: skip
    history.record_status(
        Status(node="pi4", state="offline", role="spoke", at=T0 + 20, reason="will")
    )
    [row] = history.nodes()
    assert (row.state, row.since, row.reason) == ("offline", T0 + 20, "will")

    history.ingest("pi4", EventsBatch(node="pi4", items=(
        EventItem(seq=7, at=T0, plugin="dht22", state="starting"),
        EventItem(seq=8, at=T0 + 1, plugin="dht22", state="running"),
    )))  # fmt: skip
    assert [e.state for e in history.events("pi4")] == ["running", "starting"]
    assert [e.seq for e in history.events("pi4", before=8)] == [7]

    info = PluginInfo(name="dht22", version="abc", state="running", restarts=0, grants={})
    history.record_plugins(Plugins(node="pi4", at=T0 + 10, plugins=(info,)))
    history.record_plugins(Plugins(node="pi4", at=T0, plugins=()))  # older: ignored
    stored = history.plugins("pi4")
    assert stored is not None and stored.plugins == (info,)
    assert history.plugins("pizero") is None


def test_a_failed_transaction_stores_and_counts_nothing(tmp_path: Path) -> None:
    history = History(tmp_path / "h.db", CONFIG, busy_timeout_s=0.05)
    with sqlite3.connect(tmp_path / "h.db", isolation_level=None) as other:
        other.execute("BEGIN IMMEDIATE")  # another writer holds the file
        with pytest.raises(sqlite3.OperationalError, match="locked"):
            history.ingest("pi4", readings([1]))
        other.execute("ROLLBACK")
    with pytest.raises(RuntimeError), history.transaction():
        history.ingest("pi4", readings([1, 2]))
        raise RuntimeError("the hub died mid-ingest")
    assert history.counts()["readings"] == 0 and history.latest() == []
    assert history.stats()["ingest_readings_total"] == 0
    assert history.ingest("pi4", readings([1, 2])) == 2  # not taken for duplicates
    assert history.stats()["ingest_readings_total"] == 4
    assert history.stats()["history_readings_rows"] == 4


def test_latest_health_is_each_nodes_newest_report(history: History) -> None:
    for node in ("pi4", "pizero"):
        history.record_status(Status(node=node, state="online", role="spoke", at=T0))
    for at, cpu in ((T0 + 60, 2.0), (T0 + 30, 1.0), (T0 + 90, 3.0)):  # out of order
        history.record_health(Health(node="pi4", at=at, metrics={"cpu_usage": cpu}))
    history.record_health(Health(node="pizero", at=T0 + 10, metrics={"cpu_usage": 9.0}))
    latest = history.latest_health()
    assert {n: (r.at, r.metrics["cpu_usage"]) for n, r in latest.items()} == {
        "pi4": (T0 + 90, 3.0),
        "pizero": (T0 + 10, 9.0),
    }
