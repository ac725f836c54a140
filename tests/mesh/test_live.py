"""The hub's live feed: numbering, catch-up from the ring, `reset`, slow readers, and only
fresh items from history (a redelivery is not news)."""

from __future__ import annotations

import asyncio
import threading
import time
from pathlib import Path

import pytest

from harvester.config.mesh import HistoryConfig
from harvester.mesh.collector import live_items
from harvester.mesh.history import History
from harvester.mesh.live import QUEUE, RESET, LiveFeed
from harvester.mesh.payloads import LogBatch, LogItem, ReadingItem, ReadingsBatch, ReadingsItem

pytestmark = pytest.mark.asyncio(loop_scope="session")


async def posted(feed: LiveFeed, count: int, kind: str = "log") -> None:
    """Post `count` events and wait until the loop has numbered them (a watcher sees the
    last one)."""
    target = feed.n + count
    watcher = feed.subscribe(None)
    feed.post([(kind, {"i": i}) for i in range(count)])
    while True:
        event = await watcher.get(timeout=5)
        if event is not None and event.type != RESET and event.n == target:
            break
    watcher.close()


async def test_events_are_numbered_under_the_boot_and_replayed_after_an_id() -> None:
    feed = LiveFeed(ring=10)
    feed.bind(asyncio.get_running_loop())
    await posted(feed, 5)
    assert feed.last_id == f"{feed.boot}-5"
    replay = feed.replay(f"{feed.boot}-2")
    assert replay is not None and [e.n for e in replay] == [3, 4, 5]
    assert [e.data for e in replay] == ['{"i":2}', '{"i":3}', '{"i":4}']
    assert feed.replay(feed.last_id) == []


@pytest.mark.parametrize("stale", ["other-1", "{boot}-99", "{boot}", "{boot}-1"])
async def test_what_the_ring_no_longer_holds_is_none(stale: str) -> None:
    feed = LiveFeed(ring=10)
    feed.bind(asyncio.get_running_loop())
    await posted(feed, 20)  # 11..20 held: after 10 is fine, after 1 is not
    assert feed.replay(stale.format(boot=feed.boot)) is None
    replay = feed.replay(f"{feed.boot}-10")
    assert replay is not None and len(replay) == 10


async def test_a_subscriber_gets_backlog_then_live_and_a_stale_one_a_reset() -> None:
    feed = LiveFeed()
    feed.bind(asyncio.get_running_loop())
    await posted(feed, 3)
    sub = feed.subscribe(f"{feed.boot}-1")
    stale = feed.subscribe("feedface-1")
    await posted(feed, 1)
    assert sub.start_id == f"{feed.boot}-1" and stale.start_id == f"{feed.boot}-3"
    got = [await sub.get(timeout=1) for _ in range(3)]
    assert [e.n for e in got if e] == [2, 3, 4]
    first = await stale.get(timeout=1)
    assert first is not None and first.type == RESET
    following = await stale.get(timeout=1)
    assert following is not None and following.n == 4


async def test_a_slow_subscriber_is_reset_not_grown_and_ingest_never_waits() -> None:
    feed = LiveFeed(ring=QUEUE * 4)
    feed.bind(asyncio.get_running_loop())
    slow = feed.subscribe(None)
    started = time.perf_counter()
    await posted(feed, QUEUE * 3)
    assert time.perf_counter() - started < 5
    assert len(slow._queue) <= QUEUE
    got = [await slow.get(timeout=1) for _ in range(len(slow._queue))]
    assert got[0] is not None and got[0].type == RESET
    assert [e.n for e in got[1:] if e] == list(range(got[1].n, feed.n + 1))  # type: ignore[union-attr]


async def test_posts_from_threads_keep_their_order() -> None:
    feed = LiveFeed()
    feed.bind(asyncio.get_running_loop())
    sub = feed.subscribe(None)

    def writer() -> None:
        for i in range(100):
            feed.post([("log", {"i": i})])

    thread = threading.Thread(target=writer)
    thread.start()
    await asyncio.to_thread(thread.join)
    got = [await sub.get(timeout=2) for _ in range(100)]
    assert [e.data for e in got if e] == [f'{{"i":{i}}}' for i in range(100)]


async def test_ending_a_subscription_wakes_its_reader() -> None:
    feed = LiveFeed()
    feed.bind(asyncio.get_running_loop())
    sub = feed.subscribe(None)
    waiting = asyncio.create_task(sub.get(timeout=5))
    sub.end()
    assert await waiting is None


async def test_only_fresh_items_become_live_events(tmp_path: Path) -> None:
    """A redelivered batch (the outbox resends what the broker did not acknowledge) stores
    nothing new, so the stream shows nothing twice."""
    at = time.time()
    one = ReadingItem(metric="temperature", value=21.5, unit="°C")

    def readings(seqs: list[int]) -> ReadingsBatch:
        items = tuple(ReadingsItem(seq=s, plugin="dht22", at=at, readings=(one,)) for s in seqs)
        return ReadingsBatch(node="pi4", items=items)

    with History(tmp_path / "h.sqlite", HistoryConfig()) as history:
        first = readings([1, 2])
        assert [d["seq"] for _, d in live_items(first, history.ingest_fresh("pi4", first))] == [
            1,
            2,
        ]
        again = readings([2, 3, 3])
        events = live_items(again, history.ingest_fresh("pi4", again))
        assert events == [
            ("readings", {"node": "pi4", "seq": 3, "plugin": "dht22", "at": at,
                          "readings": [{"metric": "temperature", "value": 21.5, "unit": "°C"}]}),
        ]  # fmt: skip
        log = LogBatch(
            node="pi4",
            items=(LogItem(seq=4, at=at, plugin="", level="warn", origin="host", message="hm"),),
        )
        assert live_items(log, history.ingest_fresh("pi4", log)) == [
            ("log", {"node": "pi4", "seq": 4, "plugin": "", "level": "warn", "message": "hm",
                     "at": at}),
        ]  # fmt: skip
        assert live_items(log, history.ingest_fresh("pi4", log)) == []
