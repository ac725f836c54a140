"""WS2812B strips as the host sees them: a pixel buffer per strip that `show` latches.

A WS2812B chain has no read-back; what it shows is the last frame clocked in and latched
(the >50 us low after the data). So the model is the latched colours and a count of the
latches, which is all a test can observe on real hardware with a camera.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence

from harvester.hal.errors import HalRequestError
from harvester.hal.sim.wiring import Wiring

RGB_MAX = 0xFFFFFF


class LedStripSim:
    """One strip of `length` pixels, all off (0x000000) until shown."""

    def __init__(self, length: int) -> None:
        self.length = length
        self._pixels = [0] * length
        self.latches = 0  # show() calls that reached the strip

    @property
    def pixels(self) -> list[int]:
        """The latched colours, 0xRRGGBB each (a copy)."""
        return list(self._pixels)

    def show(self, pixels: Sequence[int]) -> None:
        self._pixels[: len(pixels)] = pixels
        self.latches += 1


class SimLedStrips(Wiring[LedStripSim]):
    """The sim's LedStrips capability: strips by the number the config gives each."""

    def __init__(self) -> None:
        super().__init__("led strip {} already exists")
        self._lock = threading.Lock()

    @property
    def strips(self) -> Mapping[int, LedStripSim]:
        return self.parts

    def pixels(self, strip: int) -> list[int]:
        """The colours strip `strip` shows. Raises HalRequestError for an unknown strip."""
        return self._strip(strip).pixels

    def latches(self, strip: int) -> int:
        """How many frames were latched onto `strip`. Raises HalRequestError as `pixels`."""
        return self._strip(strip).latches

    def pixel_count(self, strip: int) -> int:
        """Raises HalRequestError for an unknown strip."""
        return self._strip(strip).length

    def show(self, strip: int, pixels: Sequence[int]) -> None:
        """Raises HalRequestError for an unknown strip, more pixels than it has, or a
        colour outside 0..0xFFFFFF."""
        sim = self._strip(strip)
        if len(pixels) > sim.length:
            raise HalRequestError(f"led strip {strip} has {sim.length} pixels, not {len(pixels)}")
        for i, colour in enumerate(pixels):
            if not 0 <= colour <= RGB_MAX:
                raise HalRequestError(
                    f"led strip {strip} pixel {i}: colour {colour:#x} is not 0xRRGGBB"
                )
        with self._lock:
            sim.show(pixels)

    def _strip(self, strip: int) -> LedStripSim:
        found = self.find(strip)
        if found is None:
            raise HalRequestError(f"no led strip {strip} on this node")
        return found
