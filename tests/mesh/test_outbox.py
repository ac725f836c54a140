"""The outbox: a real SQLite file; numbering, batches of one kind, acks, bounds, errors."""

from __future__ import annotations

import logging
import math
import time
from pathlib import Path

import pytest

from harvester.config.mesh import OutboxConfig
from harvester.constants import LogLevel
from harvester.mesh.outbox import Outbox, OutboxError
from harvester.mesh.payloads import EventsBatch, LogBatch, ReadingsBatch, decode
from harvester.node.events import Event, LogEvent, Reading, ReadingsEvent, StateEvent

NODE = "pi4"


def readings(seq: int, *, at: float | None = None, value: float = 21.5) -> ReadingsEvent:
    return ReadingsEvent(
        "dht22", (Reading("temperature", value, "°C"),), at=at or time.time(), node=NODE, seq=seq
    )


def line(seq: int) -> LogEvent:
    return LogEvent("dht22", LogLevel.INFO, f"line {seq}", "plugin", node=NODE, seq=seq)


def state(seq: int) -> StateEvent:
    return StateEvent("dht22", "running", node=NODE, seq=seq)


def open_outbox(tmp_path: Path, **config: float) -> Outbox:
    return Outbox(tmp_path / "outbox.sqlite", OutboxConfig(**config), node=NODE)  # type: ignore[arg-type]


def test_batches_are_runs_of_one_kind_in_seq_order_and_ack_deletes_exactly(
    tmp_path: Path,
) -> None:
    outbox = open_outbox(tmp_path)
    events: list[Event] = [readings(1), readings(2), line(3), readings(4), state(5), state(6)]
    assert outbox.append(events) == 6
    assert outbox.rows == 6 and outbox.next_seq == 7

    first = outbox.next_batch(100)
    assert first is not None and first.kind == "readings" and first.seqs == (1, 2)
    batch = decode(ReadingsBatch, first.payload)
    assert batch.node == NODE and [i.seq for i in batch.items] == [1, 2]
    assert batch.items[0].readings[0].metric == "temperature"
    # Past what is in flight: the next run, of another kind.
    second = outbox.next_batch(100, after=2)
    assert second is not None and second.kind == "log" and second.seqs == (3,)
    assert decode(LogBatch, second.payload).items[0].message == "line 3"

    assert outbox.ack(first.seqs) == 2
    assert outbox.ack([3, 99]) == 1  # only what was pending counts
    third = outbox.next_batch(1)
    assert third is not None and third.seqs == (4,)  # max_items
    outbox.ack(third.seqs)
    last = outbox.next_batch(100)
    assert last is not None and last.kind == "events" and last.seqs == (5, 6)
    assert decode(EventsBatch, last.payload).items[1].state == "running"
    outbox.ack(last.seqs)
    assert outbox.next_batch(100) is None
    assert outbox.stats() == {
        "outbox_rows": 0.0,
        "outbox_dropped_total": 0.0,
        "outbox_oldest_age_s": 0.0,
    }
    outbox.close()


def test_numbering_continues_after_deletes_and_a_reopen(tmp_path: Path) -> None:
    outbox = open_outbox(tmp_path)
    outbox.append([readings(s) for s in range(1, 11)])
    batch = outbox.next_batch(100)
    assert batch is not None
    outbox.ack(batch.seqs)  # all gone: the numbering must not restart at 1
    outbox.close()
    outbox.close()  # idempotent: the composition and the uplink may both close it

    again = open_outbox(tmp_path)
    assert (again.rows, again.next_seq) == (0, 11)
    again.close()


def test_batches_stay_under_the_byte_target(tmp_path: Path) -> None:
    outbox = open_outbox(tmp_path)
    outbox.append([line(s) for s in range(1, 201)])
    batch = outbox.next_batch(500, max_bytes=4096)
    assert batch is not None
    assert len(batch.payload) <= 4096
    assert 10 < len(batch.seqs) < 200
    assert batch.seqs == tuple(range(1, len(batch.seqs) + 1))
    outbox.close()


def test_a_reading_with_no_finite_value_keeps_its_seq_as_a_host_log_line(tmp_path: Path) -> None:
    outbox = open_outbox(tmp_path)
    outbox.append([readings(1, value=math.nan)])
    batch = outbox.next_batch(10)
    assert batch is not None and batch.kind == "log"
    item = decode(LogBatch, batch.payload).items[0]
    assert (item.seq, item.origin, item.level) == (1, "host", LogLevel.WARN)
    outbox.close()


def test_past_max_rows_the_oldest_are_dropped_logged_and_counted(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="harvester.mesh.outbox")
    outbox = open_outbox(tmp_path, max_rows=100)
    outbox.append([readings(s) for s in range(1, 151)])
    assert outbox.rows == 100 and outbox.dropped == 50
    first = outbox.next_batch(500)
    assert first is not None and first.seqs[0] == 51
    drops = [r.getMessage() for r in caplog.records if "dropped the" in r.getMessage()]
    assert len(drops) == 1
    assert "50 oldest rows, seq 1..50" in drops[0] and str(outbox.path) in drops[0]
    # More drops soon after are the same episode: counted now, summed into one later line.
    outbox.append([readings(s) for s in range(151, 161)])
    assert outbox.dropped == 60
    assert len([r for r in caplog.records if "dropped the" in r.getMessage()]) == 1
    assert outbox.stats()["outbox_dropped_total"] == 60.0
    outbox.close()  # says what it has not said yet
    drops = [r.getMessage() for r in caplog.records if "dropped the" in r.getMessage()]
    assert len(drops) == 2 and "10 oldest rows, seq 51..60 (60 dropped in all)" in drops[1]
    # The counter is kept in the file.
    again = open_outbox(tmp_path, max_rows=100)
    assert again.dropped == 60
    again.close()


def test_rows_older_than_max_age_are_dropped(tmp_path: Path) -> None:
    outbox = open_outbox(tmp_path, max_age_s=60)
    old = time.time() - 120
    outbox.append([readings(1, at=old), readings(2, at=old), readings(3)])
    assert outbox.dropped == 2
    batch = outbox.next_batch(10)
    assert batch is not None and batch.seqs == (3,)
    assert outbox.stats()["outbox_oldest_age_s"] < 60
    outbox.close()


def test_a_corrupt_file_is_a_clear_error_naming_it(tmp_path: Path) -> None:
    path = tmp_path / "outbox.sqlite"
    path.write_bytes(b"this is not a database, " * 100)
    with pytest.raises(OutboxError, match=str(path)):
        Outbox(path, OutboxConfig(), node=NODE)
