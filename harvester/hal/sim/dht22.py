"""DHT22 sensors as their reads look to the host: noisy values, and sometimes a failed read.

The real sensor fails a read now and then (checksum or timing); drivers must cope.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from types import MappingProxyType

from harvester.hal.capabilities import Dht22Reading
from harvester.hal.errors import HalTimeout

DHT22_RESOLUTION_DIGITS = 1  # the sensor reports in steps of 0.1
HUMIDITY_RANGE_RH = (0.0, 100.0)


class Dht22Sim:
    """One sensor. `temperature_c` and `humidity_rh` are the truth; change them at will."""

    def __init__(
        self,
        rng: random.Random,
        *,
        temperature_c: float = 21.0,
        humidity_rh: float = 50.0,
        noise: float = 0.1,
        failure_rate: float = 0.05,
    ) -> None:
        self._rng = rng
        self.temperature_c = temperature_c
        self.humidity_rh = humidity_rh
        self._noise = noise
        self._failure_rate = failure_rate

    def read(self) -> Dht22Reading:
        """Raises HalTimeout for a simulated failed read (a `failure_rate` share of reads)."""
        if self._rng.random() < self._failure_rate:
            raise HalTimeout("dht22 did not answer (simulated read failure)")
        low, high = HUMIDITY_RANGE_RH
        t = self.temperature_c + self._rng.gauss(0, self._noise)
        h = min(high, max(low, self.humidity_rh + self._rng.gauss(0, self._noise)))
        return Dht22Reading(round(t, DHT22_RESOLUTION_DIGITS), round(h, DHT22_RESOLUTION_DIGITS))


class SimDht22Sensors:
    """The sim's DHT22 capability: sensors by the pin their data line is on."""

    def __init__(self) -> None:
        self._sensors: dict[int, Dht22Sim] = {}

    def __getitem__(self, pin: int) -> Dht22Sim:
        """The sensor on `pin`. Raises KeyError if there is none."""
        return self._sensors[pin]

    @property
    def sensors(self) -> Mapping[int, Dht22Sim]:
        """Every sensor by pin (read-only)."""
        return MappingProxyType(self._sensors)

    def attach(self, pin: int, sensor: Dht22Sim) -> None:
        """Raises ValueError if `pin` already has a sensor."""
        if pin in self._sensors:
            raise ValueError(f"gpio {pin} already has a dht22")
        self._sensors[pin] = sensor

    def read(self, pin: int) -> Dht22Reading:
        """Raises HalTimeout when no sensor is on `pin` or the sensor's read fails."""
        sensor = self._sensors.get(pin)
        if sensor is None:
            raise HalTimeout(f"no dht22 answers on gpio {pin}")
        return sensor.read()
