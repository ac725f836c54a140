"""The simulated hardware a device factory attaches its device to."""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from harvester.hal.sim.buzzer import SimBuzzers
from harvester.hal.sim.clock import SimClock
from harvester.hal.sim.dht22 import SimDht22Sensors
from harvester.hal.sim.gpio import SimGpio
from harvester.hal.sim.i2c import SimI2C
from harvester.hal.sim.leds import SimLedStrips

SEED_BITS = 32


@dataclass(frozen=True, kw_only=True)
class SimParts:
    """The sim backend's capabilities, plus where devices get their randomness.

    `seeds` is drawn from in config order, so each device's noise is reproducible from
    the config's `seed` and independent of how often other devices are read.
    """

    clock: SimClock
    i2c: SimI2C = field(default_factory=SimI2C)
    gpio: SimGpio = field(init=False)
    dht22: SimDht22Sensors = field(default_factory=SimDht22Sensors)
    leds: SimLedStrips = field(default_factory=SimLedStrips)
    buzzer: SimBuzzers = field(default_factory=SimBuzzers)
    seeds: random.Random = field(default_factory=random.Random)

    def __post_init__(self) -> None:
        # The pins record level changes on the same clock the devices see.
        object.__setattr__(self, "gpio", SimGpio(self.clock))

    def seed(self) -> int:
        """A seed of its own for one device."""
        return self.seeds.getrandbits(SEED_BITS)

    def rng(self) -> random.Random:
        """A random generator of its own for one device."""
        return random.Random(self.seed())
