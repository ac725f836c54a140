"""The dev bench: the simulated hardware and grants a plugin is tried against
(`harvester plugin test`, the scaffold's generated test).

A plugin's `plugin.toml` may say it in a `[dev]` table; without one, a plugin built for a
world of the contract gets the reference bench, the seed's Pi 4 wiring simulated (a BME680
at 0x77 and an SSD1306 at 0x3C on i2c-1, a DHT22 on GPIO 4, 8 WS2812B pixels, a PWM
buzzer on GPIO 13), and the grants its world's imports need and nothing more.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field

from harvester.build.worlds import World
from harvester.config.base import Frozen
from harvester.config.model import Grants, Limits, SettingValue
from harvester.config.sim import SimConfig

# The grant (as the node config writes it) each import of the contract needs on the bench.
_GRANT_FOR_IMPORT: dict[str, dict[str, Any]] = {
    "i2c": {"i2c": [{"bus": 1, "addresses": [0x3C, 0x77]}]},
    "gpio-provider": {"dht22": [4]},
    "system-info": {"system_info": True},
    "leds": {"leds": [{"strip": 0, "pixels": 8}]},
    "buzzer": {"buzzer": [13]},
    "node-readings": {"readings": True},
    "hub-data": {"hub_data": True},
}
# Instant device timing (conversion waits return at once) and reads that do not fail at
# random, so a trial's verdict is the plugin's, not the dice's.
REFERENCE_SIM: dict[str, Any] = {
    "time_scale": 0,
    "i2c": [
        {"device": "bme680", "bus": 1, "address": 0x77},
        {"device": "ssd1306", "bus": 1, "address": 0x3C},
    ],
    "dht22": [{"pin": 4, "failure_rate": 0.0}],
    "leds": [{"strip": 0, "pixels": 8, "pin": 18}],
    "buzzer": [{"pin": 13, "kind": "pwm"}],
}


class DevTable(Frozen):
    """`[dev]` in plugin.toml: how the plugin is tried on the bench. Keys as in a node
    config: a `[[plugins]]` entry's grants, settings, limits and poll interval, and the
    node's `[sim]` table."""

    poll_interval_s: float = Field(default=0.1, ge=0.01, le=3600)
    grants: Grants = Grants()
    settings: dict[str, SettingValue] = Field(default_factory=dict)
    limits: Limits = Limits()
    sim: SimConfig = SimConfig(time_scale=0)


def grants_for(world: World) -> dict[str, Any]:
    """The grants (as TOML-ready data) that link every import of `world` on the bench."""
    granted: dict[str, Any] = {}
    for name in sorted(world.imports):
        granted.update(_GRANT_FOR_IMPORT.get(name, {}))
    return granted


def reference_bench(world: World) -> DevTable:
    """The bench for a plugin of `world` without a `[dev]` table."""
    return DevTable.model_validate({"grants": grants_for(world), "sim": REFERENCE_SIM})
