"""A DHT22 as its reads look to the host: noisy values, and sometimes a failed read.

The real sensor fails a read now and then (checksum or timing); drivers must cope.
"""

from __future__ import annotations

import random

from harvester.hal.backend import Dht22Reading
from harvester.hal.errors import HalTimeout


class Dht22Sim:
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
        if self._rng.random() < self._failure_rate:
            raise HalTimeout("dht22 did not answer (simulated read failure)")
        # The sensor reports in steps of 0.1.
        t = round(self.temperature_c + self._rng.gauss(0, self._noise), 1)
        h = round(min(100.0, max(0.0, self.humidity_rh + self._rng.gauss(0, self._noise))), 1)
        return Dht22Reading(t, h)
