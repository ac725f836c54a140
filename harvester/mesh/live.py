"""The hub's live feed: what the collector has just committed to history, as numbered
events for the web's stream (GET /api/stream), with a ring of recent ones for catch-up.

Ids are `<boot>-<n>`: `boot` is random per hub start, `n` counts up from 1. A subscriber
that resumes from an id this feed still holds gets exactly what came after it; from an
id it no longer holds (or another boot's) it gets a `reset` first: refetch, then follow.

Threads: the collector's writer thread posts (`post`, never blocks: it hands the events to
the event loop); numbering, the ring and the subscribers live on the loop. A subscriber
has a bounded queue: one that falls behind (a slow browser) loses its backlog and is told
`reset`, so it can never hold up ingest or grow without limit.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import secrets
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Final

RING: Final = 4096  # events kept for catch-up
QUEUE: Final = 1024  # events a subscriber may fall behind before it is reset
_ID = re.compile(r"^([0-9a-f]{1,32})-([0-9]{1,19})$")


@dataclass(frozen=True)
class LiveEvent:
    """One message of the stream: `data` is one line of JSON."""

    id: str
    n: int
    type: str
    data: str


RESET: Final = "reset"


class Subscription:
    """What one stream reader receives, in order: `get()` returns the next event, or a
    `reset` event when the reader fell behind, or None once the feed is closed."""

    def __init__(self, feed: LiveFeed, backlog: list[LiveEvent], start_id: str) -> None:
        self._feed = feed
        # The id just before what this subscription delivers first: a reader that resumes
        # from it misses nothing (the stream's `hello` carries it).
        self.start_id = start_id
        self._queue: deque[LiveEvent | None] = deque(backlog)
        self._wake = asyncio.Event()
        if backlog:
            self._wake.set()

    def _push(self, event: LiveEvent | None) -> None:
        if event is not None and len(self._queue) >= QUEUE:
            self._queue.clear()  # too slow: what it missed is history's business now
            event = self._feed.reset_event()
        self._queue.append(event)
        self._wake.set()

    async def get(self, timeout: float | None = None) -> LiveEvent | None:
        """The next event; raises TimeoutError after `timeout` seconds without one."""
        async with asyncio.timeout(timeout):
            while not self._queue:
                self._wake.clear()
                await self._wake.wait()
        return self._queue.popleft()

    def ready(self, most: int = 256) -> list[LiveEvent | None]:
        """What is queued now (up to `most`), without waiting."""
        out: list[LiveEvent | None] = []
        while self._queue and len(out) < most:
            item = self._queue.popleft()
            out.append(item)
            if item is None:
                break
        return out

    def end(self) -> None:
        """Stop following: `get` returns None once the queue is read (a server stopping)."""
        self.close()
        self._push(None)

    def close(self) -> None:
        self._feed._subscribers.discard(self)


class LiveFeed:
    """Numbered events from the collector; `subscribe` to follow them."""

    def __init__(self, *, ring: int = RING) -> None:
        self.boot = secrets.token_hex(4)
        self._n = 0
        self._ring: deque[LiveEvent] = deque(maxlen=ring)
        self._subscribers: set[Subscription] = set()
        self._loop: asyncio.AbstractEventLoop | None = None
        self.closed = False
        self.posted = 0

    def bind(self, loop: asyncio.AbstractEventLoop) -> None:
        """The loop that owns the feed (posts from other threads are handed to it)."""
        self._loop = loop

    @property
    def n(self) -> int:
        """The newest event's number (0 before the first)."""
        return self._n

    @property
    def last_id(self) -> str:
        return f"{self.boot}-{self._n}"

    def reset_event(self) -> LiveEvent:
        return LiveEvent(self.last_id, self._n, RESET, "{}")

    # -- in: the collector ---------------------------------------------------------------

    def post(self, events: Iterable[tuple[str, dict[str, Any]]]) -> None:
        """(type, data) pairs, from any thread; numbered in the order posted."""
        encoded = [(kind, json.dumps(data, separators=(",", ":"))) for kind, data in events]
        if not encoded or self._loop is None or self._loop.is_closed():
            return
        with contextlib.suppress(RuntimeError):  # the loop is shutting down
            self._loop.call_soon_threadsafe(self._append, encoded)

    def _append(self, encoded: list[tuple[str, str]]) -> None:
        if self.closed:
            return
        for kind, data in encoded:
            self._n += 1
            event = LiveEvent(f"{self.boot}-{self._n}", self._n, kind, data)
            self._ring.append(event)
            self.posted += 1
            for subscriber in self._subscribers:
                subscriber._push(event)

    # -- out: the stream -----------------------------------------------------------------

    def subscribe(self, after: str | None) -> Subscription:
        """Follow from now, or from just after the event `after` (its backlog first, or a
        `reset` if this feed cannot say what came after it). Call on the loop."""
        backlog = [] if after is None else self.replay(after)
        if backlog is None:
            subscription = Subscription(self, [self.reset_event()], self.last_id)
        else:
            start = after if after is not None and backlog else self.last_id
            subscription = Subscription(self, backlog, start)
        if self.closed:
            subscription._push(None)
        else:
            self._subscribers.add(subscription)
        return subscription

    def replay(self, after: str) -> list[LiveEvent] | None:
        """The held events after id `after`, or None when they are not all held."""
        match = _ID.match(after)
        if match is None or match[1] != self.boot:
            return None
        n = int(match[2])
        if n > self._n:
            return None  # an id from the future: not this feed's
        oldest = self._ring[0].n if self._ring else self._n + 1
        if n < oldest - 1:
            return None  # what came right after it has left the ring
        return [event for event in self._ring if event.n > n]

    def close(self) -> None:
        """Every subscriber's `get` returns None (the server is stopping)."""
        self.closed = True
        for subscriber in list(self._subscribers):
            subscriber._push(None)
        self._subscribers.clear()

    def stats(self) -> dict[str, float]:
        return {
            "live_events_total": float(self.posted),
            "live_subscribers": float(len(self._subscribers)),
        }
