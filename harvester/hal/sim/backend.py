"""The simulated backend: devices from the node config's [sim] section."""

from __future__ import annotations

import random
import threading
import time
from pathlib import Path

from harvester.config import SimBme680, SimConfig
from harvester.hal.backend import Dht22Reading, MemoryUsage
from harvester.hal.errors import HalTimeout, NackSource, NoAcknowledge
from harvester.hal.sim.bme680 import Bme680Noise, Bme680Sim
from harvester.hal.sim.clock import SimClock
from harvester.hal.sim.dht22 import Dht22Sim
from harvester.hal.sim.i2c_bus import SimI2CBus

SIM_MEMORY_TOTAL = 4 * 1024**3  # a 4 GB Pi 4
TRUTH_KEYS = ("temperature_c", "pressure_hpa", "humidity_rh", "gas_ohm")


class SimBackend:
    name = "sim"

    def __init__(self, config: SimConfig) -> None:
        self.clock = SimClock(time_scale=config.time_scale)
        self._rng = random.Random(config.seed)
        self._started = time.monotonic()
        self._cpu_temp_c = config.cpu_temp_c
        self.buses: dict[int, SimI2CBus] = {}
        self.devices: dict[tuple[int, int], Bme680Sim] = {}
        self.pins: dict[int, bool] = {}
        self.dht22: dict[int, Dht22Sim] = {}
        for dev in config.i2c:
            self.add_bme680(dev)
        for dht in config.dht22:
            self.add_dht22(
                dht.pin,
                temperature_c=dht.temperature_c,
                humidity_rh=dht.humidity_rh,
                failure_rate=dht.failure_rate,
            )

    def add_bme680(self, dev: SimBme680) -> Bme680Sim:
        noise = None
        if dev.noise is not None:
            noise = Bme680Noise(**dev.noise.model_dump(), seed=self._rng.randrange(2**32))
        if dev.dump is None:
            sim = Bme680Sim(
                self.clock,
                temperature_c=dev.temperature_c,
                pressure_hpa=dev.pressure_hpa,
                humidity_rh=dev.humidity_rh,
                gas_ohm=dev.gas_ohm,
                noise=noise,
            )
        else:
            # With a dump, only truth the config states outright replaces the readings the
            # real chip recorded; with none stated, the sim replays them (docs/bme680-sim.md).
            truth = {k: getattr(dev, k) for k in TRUTH_KEYS if k in dev.model_fields_set}
            sim = Bme680Sim.from_dump(
                Path(dev.dump).read_text(), self.clock, noise=noise, truth=truth
            )
        self.bus(dev.bus).attach(dev.address, sim)
        self.devices[(dev.bus, dev.address)] = sim
        return sim

    def add_dht22(self, pin: int, **kwargs: float) -> Dht22Sim:
        sim = Dht22Sim(self._rng, **kwargs)
        self.dht22[pin] = sim
        return sim

    def bus(self, number: int) -> SimI2CBus:
        return self.buses.setdefault(number, SimI2CBus(number))

    def i2c_transfer(self, bus: int, address: int, data: bytes, read_len: int) -> bytes:
        if bus not in self.buses:
            raise NoAcknowledge(NackSource.ADDRESS, f"i2c bus {bus} does not exist")
        return self.buses[bus].transfer(address, data, read_len)

    def read_dht22(self, pin: int) -> Dht22Reading:
        sim = self.dht22.get(pin)
        if sim is None:
            raise HalTimeout(f"no dht22 answers on gpio {pin}")
        return sim.read()

    def read_pin(self, pin: int) -> bool:
        return self.pins.get(pin, False)

    def write_pin(self, pin: int, high: bool) -> None:
        self.pins[pin] = high

    def memory_usage(self) -> MemoryUsage:
        used = int(SIM_MEMORY_TOTAL * (0.3 + 0.05 * self._rng.random()))
        return MemoryUsage(SIM_MEMORY_TOTAL, used)

    def cpu_usage_percent(self) -> float:
        return round(5 + 20 * self._rng.random(), 1)

    def uptime_s(self) -> int:
        return int(time.monotonic() - self._started)

    def cpu_temp_c(self) -> float:
        return round(self._cpu_temp_c + self._rng.gauss(0, 0.3), 1)

    def now_ms(self) -> int:
        return int(self.clock.now_ms())

    def sleep_ms(self, ms: int, wake: threading.Event | None = None) -> None:
        self.clock.sleep_ms(ms, wake)
