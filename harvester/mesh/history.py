"""The hub's history: every node's readings, logs, plugin events and health in one SQLite
file (WAL), with retention and down-sampling, and the queries the dashboard asks.

Exactly once: nodes deliver telemetry at least once (the outbox resends what the broker
did not acknowledge), so every item carries the node's sequence number and the `seen`
table (on disk, so it holds across restarts) keeps each (node, seq) once. `seen` is pruned
by the hub's receipt time, beyond the raw window: a resend comes minutes after the first
delivery, not days.

Down-sampling: raw readings older than `raw_window_s` are folded into per-minute
aggregates and deleted in the same transaction, so a minute is never counted twice, and a
reading is always in exactly one of the two tables; `series` reads both.

One writer (the collector's thread) and any number of readers (the web server): two
connections, each behind its own lock, so a query never sees a half-written transaction.
"""

from __future__ import annotations

import json
import math
import sqlite3
import threading
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, TypeVar

from harvester.config.mesh import HistoryConfig
from harvester.constants import LogLevel
from harvester.mesh.payloads import (
    EventItem,
    EventsBatch,
    Health,
    LogBatch,
    LogItem,
    Plugins,
    ReadingsBatch,
    Status,
)

MAX_POINTS: Final = 10_000  # buckets one `series` call may return
MINUTE: Final = 60
LEVELS: Final = {level.value: rank for rank, level in enumerate(LogLevel)}  # trace=0 .. error

SCHEMA = """
CREATE TABLE IF NOT EXISTS seen (
    node TEXT NOT NULL, seq INTEGER NOT NULL, received REAL NOT NULL,
    PRIMARY KEY (node, seq)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS metrics (
    id INTEGER PRIMARY KEY, node TEXT NOT NULL, plugin TEXT NOT NULL, metric TEXT NOT NULL,
    unit TEXT NOT NULL, device_class TEXT NOT NULL, state_class TEXT NOT NULL,
    last_at REAL, last_value REAL, UNIQUE (node, plugin, metric));
-- Raw readings, clustered by metric and time (what `series` reads). node/plugin/metric
-- are the metrics row's.
CREATE TABLE IF NOT EXISTS readings (
    metric_id INTEGER NOT NULL, at REAL NOT NULL, seq INTEGER NOT NULL, value REAL NOT NULL,
    PRIMARY KEY (metric_id, at, seq)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS readings_minute (
    metric_id INTEGER NOT NULL, minute INTEGER NOT NULL,
    n INTEGER NOT NULL, total REAL NOT NULL, lo REAL NOT NULL, hi REAL NOT NULL,
    PRIMARY KEY (metric_id, minute)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS logs (
    node TEXT NOT NULL, seq INTEGER NOT NULL, at REAL NOT NULL, plugin TEXT NOT NULL,
    level TEXT NOT NULL, rank INTEGER NOT NULL, origin TEXT NOT NULL, message TEXT NOT NULL,
    PRIMARY KEY (node, seq));
CREATE INDEX IF NOT EXISTS logs_at ON logs (at);
CREATE TABLE IF NOT EXISTS events (
    node TEXT NOT NULL, seq INTEGER NOT NULL, at REAL NOT NULL, plugin TEXT NOT NULL,
    state TEXT NOT NULL, reason TEXT NOT NULL, PRIMARY KEY (node, seq));
-- (node, at) is unique: a redelivered report (QoS 1, at least once) is stored once.
CREATE TABLE IF NOT EXISTS health (
    node TEXT NOT NULL, at REAL NOT NULL, metrics TEXT NOT NULL, PRIMARY KEY (node, at));
CREATE TABLE IF NOT EXISTS nodes (
    name TEXT PRIMARY KEY, role TEXT NOT NULL, state TEXT NOT NULL, last_seen REAL,
    since REAL, version TEXT NOT NULL, reason TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS plugins (node TEXT PRIMARY KEY, at REAL NOT NULL, payload TEXT NOT NULL);
"""

Batch = ReadingsBatch | LogBatch | EventsBatch
Item = TypeVar("Item", LogItem, EventItem)


def _first_of_each(items: Sequence[Item], fresh: set[int]) -> Iterator[Item]:
    """The items whose seq is in `fresh`, the first of each seq only (taken from `fresh`)."""
    for item in items:
        if item.seq in fresh:
            fresh.remove(item.seq)
            yield item


@dataclass(frozen=True)
class NodeRow:
    name: str
    role: str  # "hub", "spoke", or "" before its status arrived
    state: str  # "online" | "offline"
    last_seen: float | None  # the hub's clock when anything last came from the node
    since: float | None  # when `state` began
    version: str
    reason: str  # "will", "stop", "silent" (see Collector.nodes) or ""


@dataclass(frozen=True)
class Latest:
    node: str
    plugin: str
    metric: str
    at: float
    value: float
    unit: str
    device_class: str
    state_class: str


@dataclass(frozen=True)
class Point:
    """One bucket of a series: [at, at + resolution_s)."""

    at: float
    count: int
    mean: float
    min: float
    max: float


@dataclass(frozen=True)
class LogRow:
    node: str
    seq: int
    at: float
    plugin: str
    level: str
    origin: str
    message: str


@dataclass(frozen=True)
class EventRow:
    node: str
    seq: int
    at: float
    plugin: str
    state: str
    reason: str


@dataclass(frozen=True)
class HealthRow:
    node: str
    at: float
    metrics: dict[str, float]


class History:
    """The history file at `path` (created with its folder if missing)."""

    def __init__(self, path: Path, config: HistoryConfig, *, busy_timeout_s: float = 5.0) -> None:
        self.path = path
        self.config = config
        self._busy_timeout_ms = int(busy_timeout_s * 1000)
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = self._connect()
        self._db.executescript(SCHEMA)
        self._reader = self._connect()
        self._write_lock = threading.RLock()
        self._read_lock = threading.Lock()
        self._depth = 0  # nesting of `transaction()`
        self._metric_ids: dict[tuple[str, str, str], tuple[int, str, str, str]] = {}
        self._load_metric_ids()
        self._counters: dict[str, float] = {
            "ingest_readings_total": 0,
            "ingest_logs_total": 0,
            "ingest_events_total": 0,
            "ingest_duplicates_total": 0,
            "history_maintenance_runs_total": 0,
            "history_maintenance_seconds": 0.0,
            "history_readings_rows": self._db.execute("SELECT count(*) FROM readings").fetchone()[
                0
            ],
        }
        # Counted inside the open transaction; they count only once it commits.
        self._pending: Counter[str] = Counter()

    def _load_metric_ids(self) -> None:
        self._metric_ids = {
            (node, plugin, metric): (mid, unit, dc, sc)
            for mid, node, plugin, metric, unit, dc, sc in self._db.execute(
                "SELECT id, node, plugin, metric, unit, device_class, state_class FROM metrics"
            )
        }

    def _connect(self) -> sqlite3.Connection:
        # Autocommit mode: transactions are begun and ended explicitly (`transaction`).
        db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        db.execute("PRAGMA journal_mode=WAL")
        # FULL, not WAL's usual NORMAL: the collector acknowledges a message to the broker
        # once it is committed, and then no one else holds it; a power cut must not lose
        # it. The fsync is per transaction, and a transaction carries many messages.
        db.execute("PRAGMA synchronous=FULL")
        # How long a write waits for another writer (`harvester` tools on the same file).
        db.execute(f"PRAGMA busy_timeout={self._busy_timeout_ms}")
        return db

    def close(self) -> None:
        with self._write_lock, self._read_lock:
            self._db.close()
            self._reader.close()

    def __enter__(self) -> History:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- writing -------------------------------------------------------------------------

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """Group many writes into one commit (nesting joins the outer one). On an
        exception everything since the outermost BEGIN is rolled back."""
        with self._write_lock:
            if self._depth:
                self._depth += 1
                try:
                    yield
                finally:
                    self._depth -= 1
                return
            self._db.execute("BEGIN IMMEDIATE")  # raises (and holds nothing) if locked
            self._depth = 1
            try:
                yield
                self._db.execute("COMMIT")
            except BaseException:
                if self._db.in_transaction:
                    self._db.execute("ROLLBACK")
                # What the transaction counted or cached did not happen.
                self._pending.clear()
                self._load_metric_ids()
                raise
            else:
                for name, value in self._pending.items():
                    self._counters[name] += value
                self._pending.clear()
            finally:
                self._depth = 0

    def ingest(self, node: str, batch: Batch, *, received: float | None = None) -> int:
        """Store a batch's items that are new; returns how many. An item whose (node, seq)
        is already stored is skipped and counted in `ingest_duplicates_total`."""
        return len(self.ingest_fresh(node, batch, received=received))

    def ingest_fresh(
        self, node: str, batch: Batch, *, received: float | None = None
    ) -> frozenset[int]:
        """As `ingest`, returning the seqs stored now (what the hub's live feed may show:
        a redelivered item is not news)."""
        received = time.time() if received is None else received
        with self.transaction():
            fresh = self._claim(node, [item.seq for item in batch.items], received)
            stored = frozenset(fresh)
            # Each store takes an item only if its seq is still in `fresh`, and removes
            # it: a seq repeated inside the batch is stored once.
            if isinstance(batch, ReadingsBatch):
                self._store_readings(node, batch, fresh)
            elif isinstance(batch, LogBatch):
                self._store_logs(node, batch, fresh)
            else:
                self._store_events(node, batch, fresh)
        return stored

    def _claim(self, node: str, seqs: Sequence[int], received: float) -> set[int]:
        """The seqs not seen before (duplicates inside `seqs` too), now marked seen."""
        known = {
            seq
            for (seq,) in self._db.execute(
                "SELECT seq FROM seen WHERE node = ? AND seq IN (SELECT value FROM json_each(?))",
                (node, json.dumps(list(seqs))),
            )
        }
        fresh: set[int] = set()
        for seq in seqs:
            if seq not in known and seq not in fresh:
                fresh.add(seq)
        self._pending["ingest_duplicates_total"] += len(seqs) - len(fresh)
        self._db.executemany(
            "INSERT INTO seen (node, seq, received) VALUES (?, ?, ?)",
            [(node, seq, received) for seq in fresh],
        )
        return fresh

    def _metric_id(self, node: str, plugin: str, metric: str, unit: str, dc: str, sc: str) -> int:
        key = (node, plugin, metric)
        known = self._metric_ids.get(key)
        if known is not None and known[1:] == (unit, dc, sc):
            return known[0]
        # New, or the plugin now describes it differently (a new version): keep the newest.
        mid = self._db.execute(
            "INSERT INTO metrics (node, plugin, metric, unit, device_class, state_class)"
            " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (node, plugin, metric) DO UPDATE SET"
            " unit = excluded.unit, device_class = excluded.device_class,"
            " state_class = excluded.state_class RETURNING id",
            (node, plugin, metric, unit, dc, sc),
        ).fetchone()[0]
        self._metric_ids[key] = (mid, unit, dc, sc)
        return int(mid)

    def _store_readings(self, node: str, batch: ReadingsBatch, fresh: set[int]) -> None:
        rows: list[tuple[int, float, int, float]] = []
        newest: dict[int, tuple[float, float]] = {}
        for item in batch.items:
            if item.seq not in fresh:
                continue
            fresh.remove(item.seq)
            for r in item.readings:
                mid = self._metric_id(
                    node, item.plugin, r.metric, r.unit, r.device_class.value, r.state_class.value
                )
                rows.append((mid, item.at, item.seq, r.value))
                if mid not in newest or item.at >= newest[mid][0]:
                    newest[mid] = (item.at, r.value)
        self._db.executemany(
            "INSERT INTO readings (metric_id, at, seq, value) VALUES (?, ?, ?, ?)", rows
        )
        self._db.executemany(
            "UPDATE metrics SET last_at = ?, last_value = ? WHERE id = ?"
            " AND (last_at IS NULL OR last_at <= ?)",
            [(at, value, mid, at) for mid, (at, value) in newest.items()],
        )
        self._pending["history_readings_rows"] += len(rows)
        self._pending["ingest_readings_total"] += len(rows)

    def _store_logs(self, node: str, batch: LogBatch, fresh: set[int]) -> None:
        rows = [
            (node, i.seq, i.at, i.plugin, i.level.value, LEVELS[i.level.value], i.origin, i.message)
            for i in _first_of_each(batch.items, fresh)
        ]
        self._db.executemany("INSERT INTO logs VALUES (?, ?, ?, ?, ?, ?, ?, ?)", rows)
        self._pending["ingest_logs_total"] += len(rows)

    def _store_events(self, node: str, batch: EventsBatch, fresh: set[int]) -> None:
        rows = [
            (node, i.seq, i.at, i.plugin, i.state, i.reason)
            for i in _first_of_each(batch.items, fresh)
        ]
        self._db.executemany("INSERT INTO events VALUES (?, ?, ?, ?, ?, ?)", rows)
        self._pending["ingest_events_total"] += len(rows)

    def record_status(self, status: Status) -> None:
        """The node's retained status: `since` moves only when the state changes."""
        with self.transaction():
            self._db.execute(
                "INSERT INTO nodes (name, role, state, last_seen, since, version, reason)"
                " VALUES (?, ?, ?, NULL, ?, ?, ?) ON CONFLICT (name) DO UPDATE SET"
                " role = excluded.role, reason = excluded.reason,"
                " version = CASE WHEN excluded.version = '' THEN version ELSE excluded.version END,"
                " since = CASE WHEN state = excluded.state THEN since ELSE excluded.since END,"
                " state = excluded.state",
                (status.node, status.role, status.state, status.at, status.version, status.reason),
            )

    def touch(self, node: str, at: float) -> None:
        """Something came from `node` at `at` (the hub's clock)."""
        with self.transaction():
            self._db.execute(
                "INSERT INTO nodes (name, role, state, last_seen, since, version, reason)"
                " VALUES (?, '', 'online', ?, ?, '', '') ON CONFLICT (name) DO UPDATE SET"
                " last_seen = max(coalesce(last_seen, 0), excluded.last_seen)",
                (node, at, at),
            )

    def record_health(self, health: Health) -> bool:
        """True if the report is new (a redelivered one is stored once)."""
        with self.transaction():
            return (
                self._db.execute(
                    "INSERT OR IGNORE INTO health (node, at, metrics) VALUES (?, ?, ?)",
                    (health.node, health.at, json.dumps(health.metrics)),
                ).rowcount
                > 0
            )

    def record_plugins(self, plugins: Plugins) -> bool:
        """Keeps the newest Plugins payload of each node (by its `at`); True if this one is
        now the newest."""
        with self.transaction():
            return (
                self._db.execute(
                    "INSERT INTO plugins (node, at, payload) VALUES (?, ?, ?) ON CONFLICT (node)"
                    " DO UPDATE SET at = excluded.at, payload = excluded.payload"
                    " WHERE excluded.at >= plugins.at",
                    (plugins.node, plugins.at, plugins.model_dump_json()),
                ).rowcount
                > 0
            )

    # -- maintenance ---------------------------------------------------------------------

    def maintain(self, now: float | None = None) -> None:
        """Fold raw readings older than the raw window into minute aggregates (whole
        minutes only; the folded rows are deleted in the same transaction, so running it
        again never counts a minute twice), then apply every retention window."""
        now = time.time() if now is None else now
        cfg = self.config
        started = time.perf_counter()
        raw_cutoff = math.floor((now - cfg.raw_window_s) / MINUTE) * MINUTE
        with self.transaction():
            for mid, *_ in list(self._metric_ids.values()):
                self._db.execute(
                    "INSERT INTO readings_minute (metric_id, minute, n, total, lo, hi)"
                    " SELECT metric_id, CAST(at / 60 AS INTEGER) * 60, count(*), sum(value),"
                    " min(value), max(value) FROM readings WHERE metric_id = ? AND at < ?"
                    " GROUP BY 2 ON CONFLICT (metric_id, minute) DO UPDATE SET"
                    " n = n + excluded.n, total = total + excluded.total,"
                    " lo = min(lo, excluded.lo), hi = max(hi, excluded.hi)",
                    (mid, raw_cutoff),
                )
                gone = self._db.execute(
                    "DELETE FROM readings WHERE metric_id = ? AND at < ?", (mid, raw_cutoff)
                ).rowcount
                self._pending["history_readings_rows"] -= gone
            self._db.execute(
                "DELETE FROM readings_minute WHERE minute < ?", (now - cfg.minute_window_s,)
            )
            self._db.execute("DELETE FROM logs WHERE at < ?", (now - cfg.log_window_s,))
            self._db.execute("DELETE FROM health WHERE at < ?", (now - cfg.health_window_s,))
            self._db.execute("DELETE FROM seen WHERE received < ?", (now - cfg.raw_window_s,))
        self._counters["history_maintenance_runs_total"] += 1
        self._counters["history_maintenance_seconds"] += time.perf_counter() - started

    # -- queries -------------------------------------------------------------------------

    def _query(self, sql: str, params: Sequence[object] = ()) -> list[Any]:
        with self._read_lock:
            return self._reader.execute(sql, params).fetchall()

    def nodes(self) -> list[NodeRow]:
        rows = self._query(
            "SELECT name, role, state, last_seen, since, version, reason FROM nodes ORDER BY name"
        )
        return [NodeRow(*row) for row in rows]

    def latest(self, node: str | None = None) -> list[Latest]:
        """The newest value of every metric (of one node, or of all)."""
        rows = self._query(
            "SELECT node, plugin, metric, last_at, last_value, unit, device_class, state_class"
            " FROM metrics WHERE last_at IS NOT NULL AND (? IS NULL OR node = ?)"
            " ORDER BY node, plugin, metric",
            (node, node),
        )
        return [Latest(*row) for row in rows]

    def series(
        self, node: str, plugin: str, metric: str, start: float, end: float, resolution_s: float
    ) -> list[Point]:
        """Buckets of `resolution_s` (aligned to multiples of it since the epoch) over
        [start, end), only those holding data. Raw readings and minute aggregates are both
        read: each reading is in exactly one of them. Beyond the raw window a bucket is made
        of whole minutes (a minute counts where it starts). Raises ValueError for a
        resolution under 1 s or more than MAX_POINTS buckets."""
        if not resolution_s >= 1:
            raise ValueError(f"series: resolution_s must be at least 1 s, not {resolution_s}")
        if end <= start:
            return []
        buckets = math.floor(end / resolution_s) - math.floor(start / resolution_s) + 1
        if buckets > MAX_POINTS:
            raise ValueError(
                f"series: {buckets} points asked for (range {end - start:.0f} s at"
                f" {resolution_s} s); the limit is {MAX_POINTS}: choose a coarser resolution"
            )
        key = self._metric_ids.get((node, plugin, metric))
        if key is None:
            return []
        mid, res = key[0], resolution_s
        rows = self._query(
            "SELECT CAST(at / ? AS INTEGER) AS b, count(*), sum(value), min(value), max(value)"
            " FROM readings WHERE metric_id = ? AND at >= ? AND at < ? GROUP BY b"
            " UNION ALL "
            "SELECT CAST(minute / ? AS INTEGER) AS b, sum(n), sum(total), min(lo), max(hi)"
            " FROM readings_minute WHERE metric_id = ? AND minute >= ? AND minute < ? GROUP BY b",
            (res, mid, start, end, res, mid, start, end),
        )
        merged: dict[int, list[float]] = {}
        for b, n, total, lo, hi in rows:
            acc = merged.get(b)
            if acc is None:
                merged[b] = [n, total, lo, hi]
            else:
                acc[0] += n
                acc[1] += total
                acc[2] = min(acc[2], lo)
                acc[3] = max(acc[3], hi)
        return [
            Point(b * res, int(n), total / n, lo, hi)
            for b, (n, total, lo, hi) in sorted(merged.items())
        ]

    def logs(
        self,
        node: str,
        *,
        min_level: LogLevel | str | None = None,
        before: int | None = None,
        limit: int = 100,
    ) -> list[LogRow]:
        """Newest first. Page on with `before=` the last row's seq."""
        rank = LEVELS[LogLevel(min_level).value] if min_level is not None else 0
        rows = self._query(
            "SELECT node, seq, at, plugin, level, origin, message FROM logs"
            " WHERE node = ? AND seq < ? AND rank >= ? ORDER BY seq DESC LIMIT ?",
            (node, 2**63 - 1 if before is None else before, rank, limit),
        )
        return [LogRow(*row) for row in rows]

    def events(
        self, node: str, *, plugin: str | None = None, before: int | None = None, limit: int = 100
    ) -> list[EventRow]:
        """A node's plugin state changes, newest first (page with `before=`)."""
        rows = self._query(
            "SELECT node, seq, at, plugin, state, reason FROM events WHERE node = ?"
            " AND seq < ? AND (? IS NULL OR plugin = ?) ORDER BY seq DESC LIMIT ?",
            (node, 2**63 - 1 if before is None else before, plugin, plugin, limit),
        )
        return [EventRow(*row) for row in rows]

    def health(self, node: str, *, since: float | None = None, limit: int = 100) -> list[HealthRow]:
        """A node's health reports, newest first."""
        rows = self._query(
            "SELECT node, at, metrics FROM health WHERE node = ? AND at >= ?"
            " ORDER BY at DESC LIMIT ?",
            (node, since or 0.0, limit),
        )
        return [HealthRow(n, at, json.loads(metrics)) for n, at, metrics in rows]

    def latest_health(self) -> dict[str, HealthRow]:
        """Every known node's newest health report, by node."""
        # One index seek per node: a GROUP BY over the health table would read a month
        # of reports on every /api/nodes (~130 ms for three nodes at 30 s intervals).
        rows = self._query(
            "SELECT h.node, h.at, h.metrics FROM nodes AS n JOIN health AS h ON h.rowid ="
            " (SELECT rowid FROM health WHERE node = n.name ORDER BY at DESC LIMIT 1)"
        )
        return {n: HealthRow(n, at, json.loads(metrics)) for n, at, metrics in rows}

    def plugins(self, node: str) -> Plugins | None:
        rows = self._query("SELECT payload FROM plugins WHERE node = ?", (node,))
        return Plugins.model_validate_json(rows[0][0]) if rows else None

    def seqs(self, node: str) -> list[int]:
        """Every seq stored for `node` (raw readings, logs, events), ascending: for the
        exactly-once checks. Readings folded into minutes have no seq any more."""
        rows = self._query(
            "SELECT r.seq FROM readings r JOIN metrics m ON m.id = r.metric_id WHERE m.node = ?"
            " UNION SELECT seq FROM logs WHERE node = ? UNION SELECT seq FROM events"
            " WHERE node = ? ORDER BY 1",
            (node, node, node),
        )
        return [seq for (seq,) in rows]

    def counts(self) -> dict[str, int]:
        """Rows per table (exact; a full count, for tests and the CLI, not for /metrics)."""
        tables = ("readings", "readings_minute", "logs", "events", "health", "nodes", "seen")
        return {t: self._query(f"SELECT count(*) FROM {t}")[0][0] for t in tables}

    def stats(self) -> dict[str, float]:
        size = sum(
            p.stat().st_size
            for p in (self.path, self.path.with_name(self.path.name + "-wal"))
            if p.exists()
        )
        return {
            **{name: float(value) for name, value in self._counters.items()},
            "history_metrics": float(len(self._metric_ids)),
            "history_db_bytes": float(size),
        }
