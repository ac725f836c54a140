"""GET /api/nodes/{node}/display.png: the hub asks the node (the built-in sim.display
command) for what its simulated SSD1306 shows."""

from __future__ import annotations

import asyncio

import aiohttp
import png
import pytest

from harvester.hal.sim.ssd1306 import Ssd1306Sim
from harvester.web.api import DISPLAY_FRESH_S
from tests.web.hubs import Fleet

pytestmark = pytest.mark.asyncio(loop_scope="session")


async def fetch(url: str) -> tuple[int, dict[str, str], bytes]:
    async with aiohttp.ClientSession() as session, session.get(url) as reply:
        return reply.status, dict(reply.headers), await reply.read()


async def test_the_panel_as_a_png_matches_the_simulator(web_fleet: Fleet) -> None:
    assert web_fleet.spoke_backend is not None
    bus = web_fleet.spoke_backend.bus(1)
    chip = bus.devices[0x3C]
    assert isinstance(chip, Ssd1306Sim)
    # Charge pump and display on, then 16 columns of page 0 lit: not symmetric, so a turned
    # or mirrored picture would not match.
    bus.transfer(0x3C, bytes([0x00, 0x8D, 0x14, 0xAF]), 0)
    bus.transfer(0x3C, bytes([0x40, *[0xFF] * 16]), 0)
    status, headers, body = await fetch(f"{web_fleet.url}/api/nodes/pizero/display.png")
    assert status == 200, body
    assert headers["Content-Type"] == "image/png" and headers["Cache-Control"] == "no-store"
    width, height, rows, _ = png.Reader(bytes=body).read()
    assert (width, height) == (128, 64)
    shown = [[bool(p) for p in row] for row in rows]
    assert shown == chip.visible()
    assert sum(map(sum, shown)) == 16 * 8
    status, _, body = await fetch(f"{web_fleet.url}/api/nodes/pizero/display.png?scale=3")
    width, height, rows, _ = png.Reader(bytes=body).read()
    assert (width, height) == (384, 192)
    big = [[bool(p) for p in row] for row in rows]
    assert all(big[y][x] == shown[y // 3][x // 3] for y in range(192) for x in range(384))


async def test_a_node_without_a_simulated_display_is_a_404(web_fleet: Fleet) -> None:
    assert web_fleet.hub.collector is not None
    await web_fleet.hub.collector.wait_for(
        lambda h: any(n.name == "revpi" and n.state == "online" for n in h.nodes())
    )
    status, _, body = await fetch(f"{web_fleet.url}/api/nodes/revpi/display.png")
    assert status == 404 and b"no simulated" in body
    status, _, body = await fetch(f"{web_fleet.url}/api/nodes/attic/display.png")
    assert status == 404 and b"attic" in body


async def test_viewers_at_once_cost_the_node_one_command(web_fleet: Fleet) -> None:
    assert web_fleet.spoke is not None and web_fleet.spoke.executor is not None
    executor = web_fleet.spoke.executor
    url = f"{web_fleet.url}/api/nodes/pizero/display.png?scale=2"
    # Past the freshness of any earlier test's answer: this burst must send a command.
    await asyncio.sleep(DISPLAY_FRESH_S)  # the cache's own clock: nothing to await instead
    before = executor.executed
    answers = await asyncio.gather(*(fetch(url) for _ in range(8)))
    assert [status for status, _, _ in answers] == [200] * 8
    assert len({body for _, _, body in answers}) == 1
    assert executor.executed == before + 1
