"""`[[sim.gpio]]`: a plain pin wired as an input (with its level) or an output."""

from __future__ import annotations

from harvester.config import SimGpioPin
from harvester.hal.sim.gpio import PinMode, SimPin
from harvester.hal.sim.parts import SimParts
from harvester.hal.sim.registry import sim_device


@sim_device(SimGpioPin)
def gpio_pin(config: SimGpioPin, parts: SimParts) -> SimPin:
    """Raises ValueError if another device owns the pin (the config refuses that first)."""
    parts.gpio.configure(config.pin, PinMode(config.mode), config.level)
    return parts.gpio.pin(config.pin)
