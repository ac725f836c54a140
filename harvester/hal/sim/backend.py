"""The simulated backend: every capability simulated, devices from the config's [sim] section.

Each device the config lists is built by the factory registered for its schema's type
(registry.py); this module knows no device by name.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from harvester.config import SimConfig
from harvester.hal.backend import BACKEND_SIM, Backend
from harvester.hal.sim import devices as _builtin_devices  # noqa: F401  (registers them)
from harvester.hal.sim.buzzer import SimBuzzers
from harvester.hal.sim.clock import SimClock
from harvester.hal.sim.dht22 import SimDht22Sensors
from harvester.hal.sim.gpio import SimGpio
from harvester.hal.sim.i2c import SimI2C
from harvester.hal.sim.i2c_bus import SimI2CBus
from harvester.hal.sim.leds import SimLedStrips
from harvester.hal.sim.parts import SimParts
from harvester.hal.sim.registry import SIM_DEVICES, SimDeviceRegistry
from harvester.hal.sim.system import SimSystemInfo


@dataclass(frozen=True, eq=False, init=False)
class SimBackend(Backend):
    """A Backend whose parts are all simulators, typed as such for tests and benchmarks:
    `backend.bus(1).attach(0x50, device)`, `backend.dht22[4]`, `backend.clock.sleep_ms(5)`,
    `backend.leds.pixels(0)`, `backend.buzzer.played(13)`, `backend.gpio.set_input(17, True)`.
    """

    clock: SimClock
    i2c: SimI2C
    gpio: SimGpio
    dht22: SimDht22Sensors
    system: SimSystemInfo
    leds: SimLedStrips
    buzzer: SimBuzzers

    def __init__(self, config: SimConfig, *, registry: SimDeviceRegistry = SIM_DEVICES) -> None:
        """Build the sim and every device `config` lists, in order.

        Raises BackendUnavailable when a listed device type has no simulator in `registry`
        or a device cannot be built from its config (e.g. an unreadable register dump).
        """
        seeds = random.Random(config.seed)
        parts = SimParts(clock=SimClock(time_scale=config.time_scale), seeds=seeds)
        system = SimSystemInfo(random.Random(parts.seed()), cpu_temp_c=config.cpu_temp_c)
        super().__init__(
            name=BACKEND_SIM,
            clock=parts.clock,
            i2c=parts.i2c,
            gpio=parts.gpio,
            dht22=parts.dht22,
            system=system,
            leds=parts.leds,
            buzzer=parts.buzzer,
        )
        for device in config.devices():
            registry.build(device, parts)

    def bus(self, number: int) -> SimI2CBus:
        """I2C bus `number` (made if new), to attach devices to or look them up on."""
        return self.i2c.bus(number)
