"""GET /api/stream: the hub's live feed (harvester/mesh/live.py) as Server-Sent Events.

First `retry: 2000` and a `hello` (its id is where this stream starts: resuming from it
misses nothing, even if the connection drops during a replay), then the replay after
`Last-Event-ID` (or `?after=`) if the feed still holds it, else a `reset`, then every new
event as it comes. A comment line (`: ping`) every PING_S keeps proxies from closing an
idle stream. Each stream follows the feed through its own bounded queue: a reader that
does not keep up gets `reset`, never slows the hub. When the server stops, every open
stream ends (so the server stops promptly).
"""

from __future__ import annotations

import json
from typing import Final

from aiohttp import web

from harvester.mesh.live import LiveEvent, LiveFeed, Subscription
from harvester.mesh.service import MeshNode
from harvester.web.params import bad_request, one

PING_S: Final = 15.0
RETRY_MS: Final = 2000
FEED: web.AppKey[LiveFeed] = web.AppKey("live feed", LiveFeed)


class OpenStreams:
    """The streams being served, to end them when the server stops."""

    def __init__(self) -> None:
        self.all: set[Subscription] = set()


STREAMS: web.AppKey[OpenStreams] = web.AppKey("open streams", OpenStreams)
HUB: web.AppKey[str] = web.AppKey("hub name", str)


def frame(event: LiveEvent) -> bytes:
    return f"id: {event.id}\nevent: {event.type}\ndata: {event.data}\n\n".encode()


async def stream(request: web.Request) -> web.StreamResponse:
    feed = request.app[FEED]
    after = one(request, "after")
    if after is not None and len(after) > 64:
        raise bad_request("after: not an event id (<boot>-<n>)")
    resume = request.headers.get("Last-Event-ID") or after
    # Subscribed before anything is awaited: nothing posted meanwhile is missed.
    subscription = feed.subscribe(resume[:64] if resume else None)
    hello = LiveEvent(
        subscription.start_id,
        0,
        "hello",
        json.dumps({"hub": request.app[HUB], "boot": feed.boot}, separators=(",", ":")),
    )
    streams = request.app[STREAMS].all
    streams.add(subscription)
    response = web.StreamResponse(
        headers={
            "Content-Type": "text/event-stream",
            "Cache-Control": "no-store",
            "X-Accel-Buffering": "no",  # nginx: pass each event on at once
        }
    )
    try:
        await response.prepare(request)
        await response.write(f"retry: {RETRY_MS}\n\n".encode() + frame(hello))
        while True:
            try:
                event = await subscription.get(timeout=PING_S)
            except TimeoutError:
                await response.write(b": ping\n\n")
                continue
            if event is None:  # the server is stopping
                break
            batch = [event, *subscription.ready()]  # a burst goes out in one write
            await response.write(b"".join(frame(e) for e in batch if e is not None))
            if None in batch:  # the server is stopping
                break
    except (ConnectionResetError, ConnectionError):
        pass  # the browser went away
    finally:
        streams.discard(subscription)
        subscription.close()
    return response


async def _end_streams(app: web.Application) -> None:
    for subscription in list(app[STREAMS].all):
        subscription.end()


def install(app: web.Application, mesh: MeshNode) -> None:
    assert mesh.live is not None, "the live feed runs on the hub"
    app[FEED] = mesh.live
    app[HUB] = mesh.config.name
    app[STREAMS] = OpenStreams()
    app.on_shutdown.append(_end_streams)
    app.router.add_get("/api/stream", stream, allow_head=False)  # HEAD would never end
