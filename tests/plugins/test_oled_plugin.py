"""The oled plugin: Adafruit's SSD1306 driver, bundled and unchanged, sandboxed over the
SDK's busio shim; the simulated panel is read back as text with the plugin's own font."""

from __future__ import annotations

from pathlib import Path

import pytest

from harvester.config import SimConfig
from harvester.hal import NodeReading
from harvester.hal.sim.backend import SimBackend
from harvester.hal.sim.ssd1306 import Ssd1306Sim
from harvester.node.events import LogEvent
from harvester.runtime.errors import PluginReportedError
from tests.conftest import make_node, running
from tests.plugins.oled_screen import UNKNOWN, screen_lines

pytestmark = pytest.mark.wasm

OLED_GRANTS = {"i2c": [{"bus": 1, "addresses": [0x3C]}], "readings": True}


class GivenReadings:
    """The node's latest readings as a test sets them (what the node would have read)."""

    def __init__(self, name: str, readings: list[NodeReading]) -> None:
        self.node_name = name
        self.readings = readings

    def latest(self) -> list[NodeReading]:
        return list(self.readings)


def with_display() -> tuple[SimBackend, Ssd1306Sim]:
    backend = SimBackend(SimConfig(time_scale=0))
    display = Ssd1306Sim()
    backend.bus(1).attach(0x3C, display)
    return backend, display


def test_shows_the_node_name_and_each_reading(instantiate) -> None:
    backend, display = with_display()
    readings = GivenReadings(
        "pi4",
        [
            NodeReading("dht22", "temperature", 12.5, "°C", 120),
            NodeReading("dht22", "humidity", 71.0, "%", 120),
        ],
    )
    plugin = instantiate("oled", backend, OLED_GRANTS, readings=readings)
    plugin.init({"bus": 1, "address": 0x3C})
    assert plugin.describe() == ()
    assert plugin.poll() == ()
    assert display.lit  # the driver turned the charge pump and the display on
    assert screen_lines(display) == [
        "pi4",
        "dht22:",
        " temperature    12.5C",
        " humidity       71.0%",
        "", "", "", "",
    ]  # fmt: skip


def test_readings_that_do_not_fit_are_paged(instantiate) -> None:
    backend, display = with_display()
    many = [NodeReading("bme680", f"metric_{n}", float(n), "hPa", 0) for n in range(10)]
    plugin = instantiate("oled", backend, OLED_GRANTS, readings=GivenReadings("pi4", many))
    plugin.init({})
    seen = []
    for _ in range(3):
        plugin.poll()
        seen.append(screen_lines(display))
    first, second, third = seen
    assert first[0] == "pi4" + " " * 15 + "1/2"
    assert first[1:] == ["bme680:"] + [f" metric_{n}".ljust(15) + f"{n}.0hPa" for n in range(6)]
    assert second[0].endswith("2/2")
    assert second[1] == "bme680:"  # the plugin's name again on the page that continues it
    assert second[2:6] == [f" metric_{n}".ljust(15) + f"{n}.0hPa" for n in range(6, 10)]
    assert third == first  # and round again
    assert not any(UNKNOWN in line for page in seen for line in page)


def test_no_display_is_a_hal_error_naming_the_address(instantiate) -> None:
    backend = SimBackend(SimConfig(time_scale=0))
    plugin = instantiate("oled", backend, OLED_GRANTS, readings=GivenReadings("pi4", []))
    with pytest.raises(PluginReportedError) as err:
        plugin.init({})
    assert err.value.kind == "hal" and "no-acknowledge" in str(err.value)


async def test_a_node_shows_what_its_dht22_read(plugin_dir: Path, tmp_path: Path) -> None:
    config = make_node(
        plugin_dir,
        [
            {
                "name": "dht22",
                "poll_interval_s": 0.05,
                "grants": {"dht22": [4]},
                "settings": {"pin": 4},
            },
            {"name": "oled", "poll_interval_s": 0.05, "grants": OLED_GRANTS},
        ],
        sim={
            "time_scale": 0,
            "i2c": [{"device": "ssd1306", "bus": 1, "address": 0x3C}],
            "dht22": [{"pin": 4, "temperature_c": 12.5, "humidity_rh": 71.0, "failure_rate": 0}],
        },
    )
    async with running(config) as node:
        await node.wait_for(
            lambda e: (
                isinstance(e, LogEvent)
                and e.plugin == "oled"
                and "showing 2 readings of 1 plugins" in e.message
            )
        )
        lines = screen_lines(node.backend.bus(1).devices[0x3C])
        png = node.backend.bus(1).devices[0x3C].to_png(4)
    (tmp_path / "oled.png").write_bytes(png)  # for a person to look at, when it fails
    assert lines[0] == "test-node"
    assert lines[1] == "dht22:"
    name, value = lines[2].split()
    assert name == "temperature" and value.endswith("C")
    assert abs(float(value[:-1]) - 12.5) <= 0.5  # the DHT22's own accuracy, as in its test
    name, value = lines[3].split()
    assert name == "humidity" and value.endswith("%")
    assert abs(float(value[:-1]) - 71.0) <= 1.0
