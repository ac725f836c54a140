"""A small Server-Sent Events reader for the tests (what a browser's EventSource does)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import aiohttp


@dataclass(frozen=True)
class Message:
    id: str | None
    event: str | None
    data: str | None
    retry: str | None

    @property
    def n(self) -> int:
        assert self.id is not None
        return int(self.id.rsplit("-", 1)[1])

    def json(self) -> Any:
        assert self.data is not None
        return json.loads(self.data)


async def next_message(reply: aiohttp.ClientResponse) -> Message | None:
    """The next message (comments skipped), or None at the end of the stream."""
    fields: dict[str, str] = {}
    while True:
        raw = await reply.content.readline()
        if not raw:
            return None
        line = raw.decode().rstrip("\n")
        if not line:
            if fields:
                return Message(
                    fields.get("id"), fields.get("event"), fields.get("data"), fields.get("retry")
                )
            continue
        if line.startswith(":"):
            continue
        key, _, value = line.partition(":")
        fields[key] = value.removeprefix(" ")


async def next_event(reply: aiohttp.ClientResponse) -> Message:
    """The next message that is an event (not the `retry:` one)."""
    while True:
        message = await next_message(reply)
        assert message is not None, "the stream ended"
        if message.event is not None:
            return message
