"""The HAL facade for LED strips, buzzers and the node's readings: grants first."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest

from harvester.config import Grants
from harvester.hal import Backend, MissingCapability, NodeReading, NotGranted, PluginHal
from harvester.hal.errors import HalRequestError
from harvester.hal.sim.clock import SimClock


class Strips:
    def __init__(self, length: int) -> None:
        self.length = length
        self.shown: list[tuple[int, list[int]]] = []

    def pixel_count(self, strip: int) -> int:
        return self.length

    def show(self, strip: int, pixels: Sequence[int]) -> None:
        self.shown.append((strip, list(pixels)))


class Buzzers:
    def __init__(self) -> None:
        self.calls: list[tuple[Any, ...]] = []

    def tone(self, pin: int, frequency_hz: int, duration_ms: int) -> None:
        self.calls.append(("tone", pin, frequency_hz, duration_ms))

    def off(self, pin: int) -> None:
        self.calls.append(("off", pin))


class Readings:
    node_name = "pi4"

    def latest(self) -> list[NodeReading]:
        return [NodeReading("dht22", "temperature", 21.5, "°C", 120)]


def hal(
    refusals: list[str], *, strips: Strips | None = None, buzzers: Buzzers | None = None, **g: Any
) -> PluginHal:
    backend = Backend(name="t", clock=SimClock(time_scale=0), leds=strips, buzzer=buzzers)
    return PluginHal(
        backend, Grants.model_validate(g), on_refusal=refusals.append, readings=Readings()
    )


def test_led_grants_cover_a_strip_and_its_first_pixels() -> None:
    refusals: list[str] = []
    strips = Strips(length=8)
    h = hal(refusals, strips=strips, leds=[{"strip": 0, "pixels": 4}])
    assert h.led_pixel_count(0) == 4
    h.led_show(0, [0xFF0000, 0x1_00FF00])  # the top byte is not a colour: masked
    assert strips.shown == [(0, [0xFF0000, 0x00FF00])]
    with pytest.raises(NotGranted, match=r"led strip 0 pixels 4\.\.4"):
        h.led_show(0, [0] * 5)
    with pytest.raises(NotGranted, match="led strip 1"):
        h.led_pixel_count(1)
    assert refusals == ["led strip 0 pixels 4..4", "led strip 1"]
    assert len(strips.shown) == 1


def test_a_grant_longer_than_the_strip_is_capped_by_the_strip() -> None:
    h = hal([], strips=Strips(length=3), leds=[{"strip": 0, "pixels": 60}])
    assert h.led_pixel_count(0) == 3


def test_buzzer_grants_are_pins_and_tones_are_bounded() -> None:
    refusals: list[str] = []
    buzzers = Buzzers()
    h = hal(refusals, buzzers=buzzers, buzzer=[13])
    h.buzzer_tone(13, 440, 250)
    h.buzzer_off(13)
    with pytest.raises(NotGranted, match="buzzer on gpio 12"):
        h.buzzer_tone(12, 440, 250)
    with pytest.raises(HalRequestError, match=r"must be 1\.\.10000"):
        h.buzzer_tone(13, 440, 60_000)
    with pytest.raises(HalRequestError, match=r"must be 20\.\.20000"):
        h.buzzer_tone(13, 5, 100)
    assert buzzers.calls == [("tone", 13, 440, 250), ("off", 13)]
    assert refusals == ["buzzer on gpio 12"]


def test_granted_actuators_the_node_lacks_are_named() -> None:
    h = hal([], leds=[{"strip": 0, "pixels": 1}], buzzer=[13])
    with pytest.raises(MissingCapability, match="leds"):
        h.led_show(0, [1])
    with pytest.raises(MissingCapability, match="buzzer"):
        h.buzzer_off(13)
    assert {str(c) for c in h.missing_capabilities} == {"leds", "buzzer"}


def test_node_readings_need_their_grant() -> None:
    refusals: list[str] = []
    with pytest.raises(NotGranted, match="node readings"):
        hal(refusals).latest_readings()
    granted = hal(refusals, readings=True)
    assert granted.node_name() == "pi4"
    assert granted.latest_readings() == [NodeReading("dht22", "temperature", 21.5, "°C", 120)]
    assert refusals == ["node readings"]


@pytest.mark.parametrize(
    "grants,message",
    [
        ({"leds": [{"strip": 0, "pixels": 0}]}, "leds.0.pixels"),
        ({"leds": [{"strip": 9, "pixels": 1}]}, "leds.0.strip"),
        ({"leds": [{"strip": 0, "pixels": 1}, {"strip": 0, "pixels": 2}]}, "strip granted twice"),
        ({"buzzer": [99]}, "buzzer.0"),
    ],
)
def test_bad_actuator_grants_are_refused_naming_the_key(
    grants: dict[str, Any], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        Grants.model_validate(grants)
