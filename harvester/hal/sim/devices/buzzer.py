"""`[[sim.buzzer]]`: a passive (pwm) or active buzzer on a pin."""

from __future__ import annotations

from harvester.config import SimBuzzer
from harvester.hal.sim.buzzer import BuzzerKind, BuzzerSim
from harvester.hal.sim.parts import SimParts
from harvester.hal.sim.registry import sim_device


@sim_device(SimBuzzer)
def buzzer(config: SimBuzzer, parts: SimParts) -> BuzzerSim:
    """Raises ValueError if the pin is taken (the config refuses that first)."""
    sim = BuzzerSim(BuzzerKind(config.kind), parts.clock)
    parts.gpio.claim(config.pin, "buzzer")
    parts.buzzer.attach(config.pin, sim)
    return sim
