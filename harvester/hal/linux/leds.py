"""WS2812B strips through rpi-ws281x (`from rpi_ws281x import PixelStrip`).

One PixelStrip per [linux] leds entry, started (`begin()`) when the backend is built, so a
strip that cannot be driven (not root for /dev/mem, SPI not enabled) stops the node with
one line. rpi-ws281x takes 0xRRGGBB (its `Color(r, g, b)`) and orders the bytes for the
strip type itself (GRB for WS2812B).
"""

from __future__ import annotations

import importlib
import threading
from collections.abc import Iterable, Sequence
from types import ModuleType
from typing import Any, Final

from harvester.config import LinuxLedStrip
from harvester.hal.errors import BackendUnavailable, HalError, HalRequestError
from harvester.hal.linux._library import Importer, require

RGB_MASK: Final = 0xFFFFFF


class LinuxLedStrips:
    """The LedStrips capability. `ws281x_module` is for tests (has `PixelStrip`)."""

    def __init__(
        self,
        strips: Iterable[LinuxLedStrip],
        *,
        ws281x_module: ModuleType | Any = None,
        importer: Importer = importlib.import_module,
    ) -> None:
        ws = ws281x_module or require("rpi_ws281x", "leds", importer)
        self._strips: dict[int, tuple[LinuxLedStrip, Any]] = {}
        self._lock = threading.Lock()
        for cfg in strips:
            pixels = ws.PixelStrip(
                cfg.pixels,
                cfg.gpio,
                cfg.frequency_hz,
                cfg.dma,
                cfg.invert,
                cfg.brightness,
                cfg.channel,
            )
            try:
                pixels.begin()
            except RuntimeError as exc:  # rpi-ws281x's way of saying ws2811_init failed
                raise BackendUnavailable(
                    f"leds strip {cfg.strip} on gpio {cfg.gpio}: {exc}"
                    " (PWM/PCM need root for /dev/mem; SPI (gpio 10) needs /dev/spidev0.0)"
                ) from exc
            self._strips[cfg.strip] = (cfg, pixels)

    def _strip(self, strip: int) -> tuple[LinuxLedStrip, Any]:
        found = self._strips.get(strip)
        if found is None:
            raise HalRequestError(f"no led strip {strip} in [linux] leds")
        return found

    def pixel_count(self, strip: int) -> int:
        return self._strip(strip)[0].pixels

    def show(self, strip: int, pixels: Sequence[int]) -> None:
        """See capabilities.LedStrips.show."""
        cfg, driver = self._strip(strip)
        if len(pixels) > cfg.pixels:
            raise HalRequestError(
                f"led strip {strip} has {cfg.pixels} pixels, {len(pixels)} were sent"
            )
        with self._lock:
            try:
                for i, rgb in enumerate(pixels):
                    driver.setPixelColor(i, rgb & RGB_MASK)
                driver.show()
            except RuntimeError as exc:
                raise HalError(f"led strip {strip} on gpio {cfg.gpio}: {exc}") from exc

    def close(self) -> None:
        """Dark strips when the node stops: a stopped node shows nothing stale."""
        with self._lock:
            for cfg, driver in self._strips.values():
                for i in range(cfg.pixels):
                    driver.setPixelColor(i, 0)
                try:
                    driver.show()
                except RuntimeError:
                    pass  # shutting down: nothing left to tell
