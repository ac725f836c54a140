"""Hub history ingest: readings/s stored by History.ingest directly (no MQTT), with the
payloads the outbox sends (ReadingsBatch of up to 500 items, 4 readings per item), a few
batches per transaction as the collector does. `python bench/bench_history.py`."""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from harvester.config.mesh import HistoryConfig
from harvester.mesh.history import History
from harvester.mesh.payloads import ReadingItem, ReadingsBatch, ReadingsItem

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


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--batches", type=int, default=200)
    parser.add_argument("--items", type=int, default=500)
    parser.add_argument("--per-transaction", type=int, default=4)
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


if __name__ == "__main__":
    main()
