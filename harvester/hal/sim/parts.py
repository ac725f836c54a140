"""The simulated hardware a device factory attaches its device to."""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from harvester.hal.sim.clock import SimClock
from harvester.hal.sim.dht22 import SimDht22Sensors
from harvester.hal.sim.gpio import SimGpio
from harvester.hal.sim.i2c import SimI2C

SEED_BITS = 32


@dataclass(frozen=True, kw_only=True)
class SimParts:
    """The sim backend's capabilities, plus where devices get their randomness.

    `seeds` is drawn from in config order, so each device's noise is reproducible from
    the config's `seed` and independent of how often other devices are read.
    """

    clock: SimClock
    i2c: SimI2C = field(default_factory=SimI2C)
    gpio: SimGpio = field(default_factory=SimGpio)
    dht22: SimDht22Sensors = field(default_factory=SimDht22Sensors)
    seeds: random.Random = field(default_factory=random.Random)

    def seed(self) -> int:
        """A seed of its own for one device."""
        return self.seeds.getrandbits(SEED_BITS)

    def rng(self) -> random.Random:
        """A random generator of its own for one device."""
        return random.Random(self.seed())
