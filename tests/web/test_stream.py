"""GET /api/stream on the package's hub: live events from a spoke, catch-up after a
reconnect, `reset` for an id the hub does not hold, and a server that stops promptly
with streams open."""

from __future__ import annotations

import asyncio

import aiohttp
import pytest

from harvester.mesh.live import LiveFeed
from harvester.web.api import hub_app
from harvester.web.server import serve
from tests.mesh.brokers import free_port
from tests.web.hubs import Fleet
from tests.web.sse import Message, next_event, next_message

pytestmark = pytest.mark.asyncio(loop_scope="session")


def feed_of(fleet: Fleet) -> LiveFeed:
    assert fleet.hub.live is not None
    return fleet.hub.live


async def wait_for_events(fleet: Fleet, n: int) -> None:
    """Until the hub's feed has numbered event `n` (it does so right after a commit)."""
    assert fleet.hub.collector is not None
    feed = feed_of(fleet)
    await fleet.hub.collector.wait_for(lambda _h: feed.n >= n, timeout=20)


async def test_a_stream_starts_with_retry_and_hello_then_a_spokes_readings(
    web_fleet: Fleet,
) -> None:
    async with (
        aiohttp.ClientSession() as session,
        session.get(f"{web_fleet.url}/api/stream") as reply,
    ):
        assert reply.headers["Content-Type"] == "text/event-stream"
        assert reply.headers["Cache-Control"] == "no-store"
        first = await next_message(reply)
        assert first is not None and first.retry == "2000"
        hello = await next_event(reply)
        assert hello.event == "hello"
        assert hello.json() == {"hub": "revpi", "boot": feed_of(web_fleet).boot}
        while True:
            message = await asyncio.wait_for(next_event(reply), 10)
            if message.event == "readings" and message.json()["node"] == "pizero":
                break
        data = message.json()
        assert set(data) == {"node", "seq", "plugin", "at", "readings"}
        assert data["plugin"] == "pizero-monitor" and data["seq"] >= 1
        assert {"metric", "value", "unit"} == set(data["readings"][0])
        assert message.id is not None and message.id.startswith(feed_of(web_fleet).boot + "-")


async def read_events(reply: aiohttp.ClientResponse, count: int) -> list[Message]:
    return [await asyncio.wait_for(next_event(reply), 10) for _ in range(count)]


async def test_a_reconnect_gets_exactly_the_missed_events(web_fleet: Fleet) -> None:
    url = f"{web_fleet.url}/api/stream"
    async with aiohttp.ClientSession() as session:
        async with session.get(url) as reply:
            await next_event(reply)  # hello
            seen = await read_events(reply, 4)
        resume = seen[0]
        target = seen[-1].n + 5  # events that happen while no one listens
        await wait_for_events(web_fleet, target)
        async with session.get(url, headers={"Last-Event-ID": str(resume.id)}) as reply:
            hello = await next_event(reply)
            assert hello.event == "hello" and hello.id == resume.id  # where the replay starts
            replayed = await read_events(reply, target - resume.n)
    # The three seen after `resume` come again, identical, then the ones missed; no gap,
    # no repeat.
    assert [m.n for m in replayed] == list(range(resume.n + 1, target + 1))
    assert replayed[:3] == seen[1:]
    assert all(m.event != "reset" for m in replayed)


async def test_resuming_by_query_from_the_newest_id_replays_nothing(web_fleet: Fleet) -> None:
    async with aiohttp.ClientSession() as session:
        newest = feed_of(web_fleet).last_id
        async with session.get(f"{web_fleet.url}/api/stream", params={"after": newest}) as reply:
            await next_event(reply)  # hello
            following = await asyncio.wait_for(next_event(reply), 10)
    assert following.event != "reset"
    assert following.n == int(newest.rsplit("-", 1)[1]) + 1


@pytest.mark.parametrize("stale", ["deadbeef-3", "{boot}-999999999", "garbage"])
async def test_an_id_the_hub_does_not_hold_gets_a_reset(web_fleet: Fleet, stale: str) -> None:
    last_event_id = stale.format(boot=feed_of(web_fleet).boot)
    async with (
        aiohttp.ClientSession() as session,
        session.get(
            f"{web_fleet.url}/api/stream", headers={"Last-Event-ID": last_event_id}
        ) as reply,
    ):
        await next_event(reply)  # hello
        reset = await next_event(reply)
    assert reset.event == "reset" and reset.json() == {}


async def test_the_server_stops_promptly_with_streams_open(web_fleet: Fleet) -> None:
    """aiohttp waits up to a minute for handlers on shutdown; open streams must end."""
    loop = asyncio.get_running_loop()
    async with aiohttp.ClientSession() as session:
        server = serve(hub_app(web_fleet.hub), "127.0.0.1", free_port())
        base = await server.__aenter__()
        replies = [await session.get(f"{base}/api/stream") for _ in range(3)]
        for reply in replies:
            assert (await next_event(reply)).event == "hello"
        started = loop.time()
        await server.__aexit__(None, None, None)
        assert loop.time() - started < 5
        for reply in replies:
            async with asyncio.timeout(5):
                while await next_message(reply) is not None:
                    pass  # what was in flight, then the end
            reply.release()
