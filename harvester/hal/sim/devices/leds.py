"""`[[sim.leds]]`: a WS2812B strip on a pin."""

from __future__ import annotations

from harvester.config import SimLedStrip
from harvester.hal.sim.leds import LedStripSim
from harvester.hal.sim.parts import SimParts
from harvester.hal.sim.registry import sim_device


@sim_device(SimLedStrip)
def led_strip(config: SimLedStrip, parts: SimParts) -> LedStripSim:
    """Raises ValueError if the strip or its pin is taken (the config refuses that first)."""
    sim = LedStripSim(config.pixels)
    parts.gpio.claim(config.pin, f"led strip {config.strip}")
    parts.leds.attach(config.strip, sim)
    return sim
