"""SimLedStrips: the latched colours per strip, latches counted, bad requests refused."""

from __future__ import annotations

import pytest

from harvester.config import SimConfig
from harvester.hal.errors import HalRequestError
from harvester.hal.sim.backend import SimBackend


def backend() -> SimBackend:
    return SimBackend(
        SimConfig(
            time_scale=0, leds=[{"strip": 0, "pixels": 8}, {"strip": 2, "pixels": 3, "pin": 21}]
        )
    )


def test_strips_from_the_config_start_dark() -> None:
    leds = backend().leds
    assert leds.pixel_count(0) == 8 and leds.pixel_count(2) == 3
    assert leds.pixels(0) == [0] * 8
    assert leds.latches(0) == 0


def test_show_sets_the_first_pixels_and_keeps_the_rest() -> None:
    leds = backend().leds
    leds.show(0, [0xFF0000, 0x00FF00, 0x0000FF, 0xFFFFFF, 0x123456, 0, 0, 0x0A0B0C])
    leds.show(0, [0x00FFFF, 0xFF00FF])
    assert leds.pixels(0) == [0x00FFFF, 0xFF00FF, 0x0000FF, 0xFFFFFF, 0x123456, 0, 0, 0x0A0B0C]
    assert leds.latches(0) == 2
    assert leds.pixels(2) == [0, 0, 0] and leds.latches(2) == 0  # the other strip untouched


def test_unknown_strips_too_many_pixels_and_bad_colours_are_refused() -> None:
    leds = backend().leds
    with pytest.raises(HalRequestError, match="no led strip 1 on this node"):
        leds.show(1, [0])
    with pytest.raises(HalRequestError, match="no led strip 3"):
        leds.pixel_count(3)
    with pytest.raises(HalRequestError, match="led strip 2 has 3 pixels, not 4"):
        leds.show(2, [1, 2, 3, 4])
    with pytest.raises(HalRequestError, match="pixel 1: colour 0x1000000"):
        leds.show(2, [1, 0x1000000])
    assert leds.pixels(2) == [0, 0, 0] and leds.latches(2) == 0  # refused = nothing latched


def test_a_strip_owns_its_pin() -> None:
    sim = backend()
    with pytest.raises(HalRequestError, match="gpio 18 is used by the led strip 0"):
        sim.gpio.write(18, True)
