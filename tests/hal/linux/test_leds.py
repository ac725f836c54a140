"""LinuxLedStrips against a double with rpi-ws281x's PixelStrip interface."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any, ClassVar

import pytest

from harvester.config import LinuxLedStrip
from harvester.hal.errors import BackendUnavailable, HalRequestError
from harvester.hal.linux.leds import LinuxLedStrips


class PixelStrip:
    """rpi_ws281x.PixelStrip's constructor and the methods we use; `fail` makes begin()
    raise as ws2811_init does without /dev/mem."""

    made: ClassVar[list[PixelStrip]] = []
    fail: ClassVar[str | None] = None

    def __init__(self, num: int, pin: int, freq_hz: int, dma: int, invert: bool,
                 brightness: int, channel: int) -> None:  # fmt: skip
        self.args = (num, pin, freq_hz, dma, invert, brightness, channel)
        self.pixels = [0] * num
        self.shown: list[list[int]] = []
        PixelStrip.made.append(self)

    def begin(self) -> None:
        if PixelStrip.fail:
            raise RuntimeError(PixelStrip.fail)

    def setPixelColor(self, n: int, color: int) -> None:
        self.pixels[n] = color

    def show(self) -> None:
        self.shown.append(list(self.pixels))


@pytest.fixture
def ws() -> Any:
    PixelStrip.made = []
    PixelStrip.fail = None
    return SimpleNamespace(PixelStrip=PixelStrip)


def test_each_strip_is_made_from_its_config(ws: Any) -> None:
    LinuxLedStrips(
        [LinuxLedStrip(strip=0, gpio=18, pixels=8, brightness=64),
         LinuxLedStrip(strip=1, gpio=13, pixels=3)],
        ws281x_module=ws,
    )  # fmt: skip
    assert [s.args for s in ws.PixelStrip.made] == [
        (8, 18, 800_000, 10, False, 64, 0),
        (3, 13, 800_000, 10, False, 255, 1),  # gpio 13 is PWM1: channel 1
    ]


def test_show_sets_the_first_pixels_and_latches_them(ws: Any) -> None:
    leds = LinuxLedStrips([LinuxLedStrip(strip=0, pixels=4)], ws281x_module=ws)
    leds.show(0, [0xFF0000, 0x00FF00])
    leds.show(0, [0x0000FF])
    (strip,) = ws.PixelStrip.made
    assert strip.shown == [[0xFF0000, 0x00FF00, 0, 0], [0x0000FF, 0x00FF00, 0, 0]]
    assert leds.pixel_count(0) == 4


def test_unknown_strip_and_too_many_pixels_are_request_errors(ws: Any) -> None:
    leds = LinuxLedStrips([LinuxLedStrip(strip=0, pixels=2)], ws281x_module=ws)
    with pytest.raises(HalRequestError, match=r"no led strip 1 in \[linux\] leds"):
        leds.show(1, [0])
    with pytest.raises(HalRequestError, match="led strip 0 has 2 pixels, 3 were sent"):
        leds.show(0, [1, 2, 3])


def test_a_strip_that_cannot_start_is_one_line(ws: Any) -> None:
    ws.PixelStrip.fail = "ws2811_init failed with code -5 (mmap() failed)"
    with pytest.raises(BackendUnavailable) as err:
        LinuxLedStrips([LinuxLedStrip(strip=0, gpio=18, pixels=2)], ws281x_module=ws)
    assert str(err.value).startswith(
        "leds strip 0 on gpio 18: ws2811_init failed with code -5 (mmap() failed)"
    )


def test_close_darkens_every_strip(ws: Any) -> None:
    leds = LinuxLedStrips([LinuxLedStrip(strip=0, pixels=2)], ws281x_module=ws)
    leds.show(0, [0xFFFFFF, 0xFFFFFF])
    leds.close()
    assert ws.PixelStrip.made[0].shown[-1] == [0, 0]
