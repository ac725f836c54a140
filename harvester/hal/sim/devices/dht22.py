"""`[[sim.dht22]]`: a DHT22 on a GPIO pin."""

from __future__ import annotations

from harvester.config import SimDht22
from harvester.hal.sim.dht22 import Dht22Drift, Dht22Sim
from harvester.hal.sim.parts import SimParts
from harvester.hal.sim.registry import sim_device


@sim_device(SimDht22)
def dht22(config: SimDht22, parts: SimParts) -> Dht22Sim:
    """Raises ValueError if the pin already has a sensor (the config refuses that first)."""
    drift = None if config.drift is None else Dht22Drift(**config.drift.model_dump())
    sensor = Dht22Sim(
        parts.rng(),
        parts.clock,
        temperature_c=config.temperature_c,
        humidity_rh=config.humidity_rh,
        failure_rate=config.failure_rate,
        drift=drift,
    )
    parts.gpio.claim(config.pin, "dht22")
    parts.dht22.attach(config.pin, sensor)
    return sensor
