"""One open-read hub with a spoke (an SSD1306 on its simulated I2C bus) for the web tests
that do not need a hub of their own."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from harvester.config import SimConfig
from tests.web.hubs import Fleet, fleet

SPOKE_SIM = SimConfig.model_validate(
    {"i2c": [{"device": "ssd1306", "bus": 1, "address": 0x3C}], "time_scale": 0}
)


@pytest.fixture(scope="package")
async def web_fleet(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Fleet]:
    async with fleet(tmp_path_factory.mktemp("web"), spoke_sim=SPOKE_SIM) as running:
        yield running


@pytest.fixture(scope="package")
def hub_url(web_fleet: Fleet) -> str:
    return web_fleet.url
