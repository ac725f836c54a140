"""Answers that cost a round trip to a node, shared while fresh.

GET /api/nodes/{node}/display.png asks the node with a command each time: with reads open
to the LAN, anyone could make the hub send commands as fast as they can ask. So callers
asking for the same key at once share one fetch, and its answer is reused for `fresh_s`
(a failure is not kept: the next caller tries again).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Hashable
from typing import Generic, TypeVar

T = TypeVar("T")


class Recent(Generic[T]):
    def __init__(self, *, fresh_s: float, clock: Callable[[], float] = time.monotonic) -> None:
        self._fresh_s = fresh_s
        self._clock = clock
        self._kept: dict[Hashable, tuple[float, T]] = {}
        self._pending: dict[Hashable, asyncio.Future[T]] = {}

    async def get(self, key: Hashable, fetch: Callable[[], Awaitable[T]]) -> T:
        """The answer for `key`: kept, being fetched by another caller, or fetched now.
        Raises what `fetch` raises (to every caller that shared that fetch)."""
        now = self._clock()
        kept = self._kept.get(key)
        if kept is not None and now - kept[0] < self._fresh_s:
            return kept[1]
        pending = self._pending.get(key)
        if pending is not None:
            return await asyncio.shield(pending)  # one caller going away cancels no one
        future: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        self._pending[key] = future
        try:
            value = await fetch()
        except BaseException as exc:
            if not future.done():
                future.set_exception(exc)
                future.exception()  # retrieved: no "never retrieved" warning without waiters
            raise
        finally:
            self._pending.pop(key, None)
        self._kept = {k: v for k, v in self._kept.items() if now - v[0] < self._fresh_s}
        self._kept[key] = (self._clock(), value)
        future.set_result(value)
        return value
