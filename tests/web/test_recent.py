"""Recent: callers asking for the same key share one fetch, and a fresh answer is reused."""

from __future__ import annotations

import asyncio

import pytest

from harvester.web.recent import Recent


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


async def test_callers_at_once_share_one_fetch_and_a_fresh_answer_is_reused() -> None:
    clock, calls, release = Clock(), [], asyncio.Event()
    recent: Recent[int] = Recent(fresh_s=1.0, clock=clock)

    async def fetch() -> int:
        calls.append(clock.now)
        await release.wait()
        return len(calls)

    waiting = [asyncio.ensure_future(recent.get("pi4", fetch)) for _ in range(5)]
    await asyncio.sleep(0)  # let them all ask (no time passes: the clock is ours)
    release.set()
    assert await asyncio.gather(*waiting) == [1] * 5 and len(calls) == 1
    clock.now += 0.9
    assert await recent.get("pi4", fetch) == 1  # still fresh
    assert await recent.get("pizero", fetch) == 2  # another key fetches its own
    clock.now += 0.2
    assert await recent.get("pi4", fetch) == 3  # stale: fetched again


async def test_a_failure_reaches_every_sharer_and_is_not_kept() -> None:
    recent: Recent[int] = Recent(fresh_s=60.0)
    release = asyncio.Event()

    async def failing() -> int:
        await release.wait()
        raise RuntimeError("node went away")

    waiting = [asyncio.ensure_future(recent.get("pi4", failing)) for _ in range(3)]
    await asyncio.sleep(0)
    release.set()
    for outcome in await asyncio.gather(*waiting, return_exceptions=True):
        assert isinstance(outcome, RuntimeError)

    async def works() -> int:
        return 7

    assert await recent.get("pi4", works) == 7


async def test_a_sharer_that_goes_away_does_not_cancel_the_others() -> None:
    recent: Recent[int] = Recent(fresh_s=1.0)
    release = asyncio.Event()

    async def fetch() -> int:
        await release.wait()
        return 5

    first = asyncio.ensure_future(recent.get("pi4", fetch))
    await asyncio.sleep(0)
    second = asyncio.ensure_future(recent.get("pi4", fetch))
    await asyncio.sleep(0)
    second.cancel()
    release.set()
    assert await first == 5
    with pytest.raises(asyncio.CancelledError):
        await second
