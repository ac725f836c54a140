"""The deploy API on the web tests' real hub and spoke: a bundle is taken (the write
token needed), held pending, and the spoke's answer recorded (this spoke runs no WASM
plugin, so it refuses, naming the plugin); bad uploads are 4xx, not 500s."""

from __future__ import annotations

import asyncio

import aiohttp
import pytest

from harvester.node.deploy import generate, sign
from tests.web.hubs import TOKEN, Fleet

pytestmark = pytest.mark.asyncio(loop_scope="session")

BUNDLE = sign(b"\0asm" + bytes(64 * 1024), generate(), plugin="bme680",
              component_name="bme680", world="bme680-plugin")  # fmt: skip


async def upload(url: str, raw: bytes, token: str | None = TOKEN) -> tuple[int, dict]:  # type: ignore[type-arg]
    headers = {"Content-Type": "application/octet-stream"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    async with aiohttp.ClientSession() as session:
        async with session.post(url, data=raw, headers=headers) as reply:
            return reply.status, await reply.json()


async def listed(hub_url: str) -> list[dict]:  # type: ignore[type-arg]
    async with aiohttp.ClientSession() as session:
        async with session.get(f"{hub_url}/api/deploys?node=pizero") as reply:
            assert reply.status == 200
            return (await reply.json())["deploys"]  # type: ignore[no-any-return]


async def test_a_deploy_is_held_then_answered_by_the_node(hub_url: str, web_fleet: Fleet) -> None:
    status, entry = await upload(f"{hub_url}/api/deploys?node=pizero", BUNDLE)
    assert status == 200, entry
    assert (entry["node"], entry["plugin"], entry["state"]) == ("pizero", "bme680", "pending")
    assert entry["bundle_bytes"] == len(BUNDLE)  # larger than the JSON body limit (16 KiB)
    desk = web_fleet.hub.deploy_desk
    assert desk is not None

    async def answered() -> None:
        async with desk.changed:
            await desk.changed.wait_for(lambda: desk.entries("pizero")[0].state != "pending")

    await asyncio.wait_for(answered(), 30)
    [first, *_] = await listed(hub_url)
    assert first["sequence"] == entry["sequence"] and first["state"] == "refused"
    assert "does not run plugin bme680" in first["detail"]


@pytest.mark.parametrize(
    ("query", "raw", "token", "status", "message"),
    [
        ("?node=pizero", BUNDLE, None, 401, ""),
        ("?node=pizero", BUNDLE, "wrong" * 8, 403, ""),
        ("?node=pizero", b"\0asm a bare component", TOKEN, 400, "bare WebAssembly component"),
        ("?node=pizero", b"HVDEPLOY\0", TOKEN, 400, "truncated"),
        ("", BUNDLE, TOKEN, 400, "node: required"),
        ("?node=nobody", BUNDLE, TOKEN, 404, "no node 'nobody'"),
    ],
    ids=["no-token", "wrong-token", "bare", "truncated", "no-node", "unknown-node"],
)
async def test_bad_uploads_are_refused(
    hub_url: str, query: str, raw: bytes, token: str | None, status: int, message: str
) -> None:
    got, body = await upload(f"{hub_url}/api/deploys{query}", raw, token)
    assert got == status, body
    assert message in body["error"]
