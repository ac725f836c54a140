"""The spoke's on-disk outbox: telemetry waits here until the broker has acknowledged it.

Every bus event (readings, log line, plugin state change) becomes one row, keyed by the
node's sequence number, holding the JSON of the payload item it travels as
(payloads.ReadingsItem / LogItem / EventItem). The uplink reads the oldest rows as a
ready-made batch, publishes it at QoS 1 and deletes exactly those rows after the PUBACK, so
a broker or network outage loses nothing (the hub de-duplicates what is sent twice).

SQLite in WAL mode with synchronous=NORMAL: a committed transaction survives a crash or
kill of this process (it is in the WAL file, in the OS's page cache); only a power loss or
OS crash may lose the last few transactions before a checkpoint, never corrupt the file.
For telemetry that is the right trade: an fsync per append would cap an SD card at a few
dozen appends per second.

Bounds (config.OutboxConfig): past `max_rows` rows or `max_age_s` seconds, the oldest rows
are dropped, counted (`dropped`, kept in the file) and logged once per drop episode.
"""

from __future__ import annotations

import json
import logging
import math
import sqlite3
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from harvester.config.mesh import OutboxConfig
from harvester.constants import LogLevel
from harvester.mesh.payloads import (
    BATCH_TARGET_BYTES,
    MAX_MESSAGE,
    VERSION,
    EventItem,
    LogItem,
    ReadingItem,
    ReadingsItem,
)
from harvester.node.events import Event, LogEvent, ReadingsEvent, StateEvent

log = logging.getLogger("harvester.mesh.outbox")

MAX_READINGS: Final = 64  # ReadingsItem's limit
# While the outbox keeps dropping (a long outage at its bound), one line per this long.
DROP_LOG_INTERVAL_S: Final = 60.0

_SCHEMA = """
CREATE TABLE IF NOT EXISTS outbox (
    seq  INTEGER PRIMARY KEY,
    kind TEXT NOT NULL CHECK (kind IN ('readings', 'log', 'events')),
    at   REAL NOT NULL,
    body TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS outbox_at ON outbox (at);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
"""


class OutboxError(RuntimeError):
    """The outbox file cannot be used (the message names it)."""


@dataclass(frozen=True)
class Batch:
    """The oldest pending rows of one kind, in seq order, as one encoded payload."""

    kind: str  # readings | log | events: also the topic kind
    seqs: tuple[int, ...]
    payload: bytes  # a ReadingsBatch / LogBatch / EventsBatch, JSON


def _item(event: Event) -> tuple[str, ReadingsItem | LogItem | EventItem]:
    """The payload item for `event`. A readings event with nothing sendable (every value
    non-finite) becomes a host log line, so its seq still reaches the hub (no gap)."""
    if isinstance(event, ReadingsEvent):
        good = [r for r in event.readings if math.isfinite(r.value)]
        if good:
            if len(good) > MAX_READINGS:
                log.warning(
                    "plugin %s gave %d readings in one poll; sending the first %d",
                    event.plugin, len(good), MAX_READINGS,
                )  # fmt: skip
            readings = tuple(
                ReadingItem(
                    metric=r.metric,
                    value=r.value,
                    unit=r.unit[:16],
                    device_class=r.device_class,
                    state_class=r.state_class,
                )
                for r in good[:MAX_READINGS]
            )
            return "readings", ReadingsItem(
                seq=event.seq, plugin=event.plugin, at=event.at, readings=readings
            )
        message = f"readings of {event.plugin} dropped: no finite value"
        return "log", LogItem(
            seq=event.seq, at=event.at, plugin=event.plugin, level=LogLevel.WARN,
            origin="host", message=message,
        )  # fmt: skip
    if isinstance(event, LogEvent):
        return "log", LogItem(
            seq=event.seq, at=event.at, plugin=event.plugin[:32], level=event.level,
            origin=event.origin, message=event.message[:MAX_MESSAGE],
        )  # fmt: skip
    if isinstance(event, StateEvent):
        return "events", EventItem(
            seq=event.seq, at=event.at, plugin=event.plugin, state=event.state,
            reason=event.reason[:MAX_MESSAGE],
        )  # fmt: skip
    raise TypeError(f"not a bus event: {event!r}")


class Outbox:
    """Pending telemetry of node `node` in the SQLite file `path` (made if missing)."""

    def __init__(self, path: Path, config: OutboxConfig, *, node: str) -> None:
        self.path = path
        self.config = config
        self.node = node
        self.persisted = 0  # rows appended by this process
        self._drop_pending: tuple[int, int, int] | None = None  # (count, first, last) unlogged
        self._drop_logged_at = -math.inf
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.executescript(_SCHEMA)
            self._next_seq = max(self._meta("next_seq", 1), self._max_seq() + 1)
            self.dropped = self._meta("dropped", 0)
            self._rows = int(self._db.execute("SELECT count(*) FROM outbox").fetchone()[0])
        except sqlite3.DatabaseError as exc:
            raise OutboxError(f"outbox {path}: cannot open it as SQLite: {exc}") from exc
        except OSError as exc:
            raise OutboxError(f"outbox {path}: {exc}") from exc

    # -- numbering ------------------------------------------------------------------------

    @property
    def next_seq(self) -> int:
        """The first seq the node should use (continues after deletes and restarts)."""
        return self._next_seq

    def _meta(self, key: str, default: int) -> int:
        row = self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return int(row[0]) if row else default

    def _max_seq(self) -> int:
        return int(self._db.execute("SELECT coalesce(max(seq), 0) FROM outbox").fetchone()[0])

    # -- writing --------------------------------------------------------------------------

    def append(self, events: Iterable[Event]) -> int:
        """Store `events` in one transaction (then apply the bounds). Returns how many."""
        rows = []
        for event in events:
            kind, item = _item(event)
            rows.append((event.seq, kind, event.at, item.model_dump_json()))
        if not rows:
            return 0
        top = max(r[0] for r in rows)
        with self._db:  # one transaction
            self._db.execute("BEGIN")
            # OR REPLACE: a seq stored twice (a bus restarted without first_seq) keeps the
            # newer event rather than failing the whole batch.
            cur = self._db.executemany(
                "INSERT OR REPLACE INTO outbox (seq, kind, at, body) VALUES (?, ?, ?, ?)", rows
            )
            self._next_seq = max(self._next_seq, top + 1)
            self._db.execute(
                "INSERT OR REPLACE INTO meta (key, value) VALUES ('next_seq', ?)",
                (self._next_seq,),
            )
        self._rows = int(self._db.execute("SELECT count(*) FROM outbox").fetchone()[0])
        self.persisted += max(cur.rowcount, 0)
        self._bound()
        return len(rows)

    def _bound(self) -> None:
        over = self._rows - self.config.max_rows
        cutoff = time.time() - self.config.max_age_s
        old = self._db.execute("SELECT count(*) FROM outbox WHERE at < ?", (cutoff,)).fetchone()[0]
        count = max(over, int(old))
        if count <= 0:
            return
        with self._db:
            self._db.execute("BEGIN")
            first, last = self._db.execute(
                "SELECT min(seq), max(seq) FROM (SELECT seq FROM outbox ORDER BY seq LIMIT ?)",
                (count,),
            ).fetchone()
            deleted = self._db.execute(
                "DELETE FROM outbox WHERE seq <= ? AND seq >= ?", (last, first)
            ).rowcount
            self.dropped += deleted
            self._db.execute(
                "INSERT OR REPLACE INTO meta (key, value) VALUES ('dropped', ?)", (self.dropped,)
            )
        self._rows -= deleted
        if self._drop_pending is None:
            self._drop_pending = (deleted, first, last)
        else:
            n, f, _ = self._drop_pending
            self._drop_pending = (n + deleted, f, last)
        self._log_drops()

    def _log_drops(self, *, force: bool = False) -> None:
        now = time.monotonic()
        if self._drop_pending is None:
            return
        if not force and now - self._drop_logged_at < DROP_LOG_INTERVAL_S:
            return  # still the same episode: summed into the next line
        n, first, last = self._drop_pending
        log.warning(
            "outbox %s of node %s is past its bounds (max_rows %d, max_age_s %g): dropped the "
            "%d oldest rows, seq %d..%d (%d dropped in all)",
            self.path, self.node, self.config.max_rows, self.config.max_age_s,
            n, first, last, self.dropped,
        )  # fmt: skip
        self._drop_pending = None
        self._drop_logged_at = now

    # -- reading and acknowledging ---------------------------------------------------------

    def next_batch(
        self, max_items: int, max_bytes: int = BATCH_TARGET_BYTES, *, after: int = 0
    ) -> Batch | None:
        """The oldest pending rows with seq > `after`, all of the first one's kind, as long
        as they run on without a row of another kind between (up to `max_items` rows and
        about `max_bytes` of JSON); None if nothing is pending."""
        cur = self._db.execute(
            "SELECT seq, kind, body FROM outbox WHERE seq > ? ORDER BY seq LIMIT ?",
            (after, max_items),
        )
        seqs: list[int] = []
        bodies: list[str] = []
        kind = ""
        size = 64  # the envelope
        for seq, row_kind, body in cur:
            if not kind:
                kind = row_kind
            elif row_kind != kind or size + len(body) + 1 > max_bytes:
                break
            seqs.append(seq)
            bodies.append(body)
            size += len(body) + 1
        if not seqs:
            return None
        # The bodies are already the items' JSON: the batch is assembled, not re-encoded.
        items = ",".join(bodies)
        payload = f'{{"v":{VERSION},"node":{json.dumps(self.node)},"items":[{items}]}}'
        return Batch(kind, tuple(seqs), payload.encode())

    def ack(self, seqs: Iterable[int]) -> int:
        """Delete exactly these rows (the broker has them). Returns how many were pending."""
        with self._db:
            self._db.execute("BEGIN")
            deleted = self._db.executemany(
                "DELETE FROM outbox WHERE seq = ?", [(s,) for s in seqs]
            ).rowcount
        self._rows -= max(deleted, 0)
        return max(deleted, 0)

    # -- state ----------------------------------------------------------------------------

    @property
    def rows(self) -> int:
        return self._rows

    def oldest_age_s(self) -> float:
        (at,) = self._db.execute("SELECT min(at) FROM outbox").fetchone()
        return 0.0 if at is None else max(0.0, time.time() - float(at))

    def stats(self) -> dict[str, float]:
        return {
            "outbox_rows": float(self._rows),
            "outbox_dropped_total": float(self.dropped),
            "outbox_oldest_age_s": self.oldest_age_s(),
        }

    def close(self) -> None:
        """Log what is still unlogged and close the file (the WAL is checkpointed)."""
        if getattr(self, "_db", None) is None:
            return
        self._log_drops(force=True)
        self._db.close()
        self._db = None  # type: ignore[assignment]
