"""`[[sim.i2c]] device = "ssd1306"`: a 128x64 OLED controller (docs/ssd1306-sim.md)."""

from __future__ import annotations

from harvester.config import SimSsd1306
from harvester.hal.sim.parts import SimParts
from harvester.hal.sim.registry import sim_device
from harvester.hal.sim.ssd1306 import Ssd1306Sim


@sim_device(SimSsd1306)
def ssd1306(config: SimSsd1306, parts: SimParts) -> Ssd1306Sim:
    """Raises ValueError if the address is taken (the config refuses that first)."""
    sim = Ssd1306Sim(external_vcc=config.external_vcc)
    parts.i2c.bus(config.bus).attach(config.address, sim)
    return sim
