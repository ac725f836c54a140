"""The node's latest readings, as a display plugin reads them."""

from __future__ import annotations

from harvester.constants import DeviceClass, StateClass
from harvester.hal import NodeReading
from harvester.node.events import Reading
from harvester.node.latest import LatestReadings


def reading(metric: str, value: float, unit: str = "°C") -> Reading:
    return Reading(metric, value, unit, DeviceClass.TEMPERATURE, StateClass.MEASUREMENT)


def test_latest_keeps_the_newest_value_per_metric_with_its_age() -> None:
    now = [100.0]
    latest = LatestReadings("pi4", monotonic=lambda: now[0])
    latest.update("dht22", [reading("temperature", 20.0), reading("humidity", 40.0, "%")])
    now[0] = 101.0
    latest.update("bme680", [reading("temperature", 22.5)])
    latest.update("dht22", [reading("temperature", 20.5)])
    now[0] = 101.25
    assert latest.node_name == "pi4"
    assert latest.latest() == [
        NodeReading("dht22", "temperature", 20.5, "°C", 250),
        NodeReading("dht22", "humidity", 40.0, "%", 1250),
        NodeReading("bme680", "temperature", 22.5, "°C", 250),
    ]


def test_a_forgotten_plugin_no_longer_shows() -> None:
    latest = LatestReadings("pi4")
    latest.update("dht22", [reading("temperature", 20.0)])
    latest.update("bme680", [reading("temperature", 22.5)])
    latest.forget("dht22")
    assert [r.plugin for r in latest.latest()] == ["bme680"]
