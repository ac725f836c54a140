"""DHT22 sensors as the kernel's dht11 IIO driver presents them to the host.

The value is the truth (which may drift slowly, as a room does) plus noise, in the sensor's
0.1 steps; a read fails now and then (checksum or timing), and drivers must cope. The
sensor needs 2 s between conversions, so the kernel driver (drivers/iio/humidity/dht11.c)
keeps the last good reading for DHT11_DATA_VALID_TIME (2 s) and answers from it without
touching the line; only a successful read restarts those 2 s, so a failed read is retried
at once. This sim does the same on the sim clock.
"""

from __future__ import annotations

import math
import random
from collections.abc import Mapping
from dataclasses import dataclass

from harvester.hal.capabilities import Dht22Reading
from harvester.hal.errors import HalTimeout
from harvester.hal.sim.clock import SimClock
from harvester.hal.sim.wiring import Wiring

DHT22_RESOLUTION_DIGITS = 1  # the sensor reports in steps of 0.1
HUMIDITY_RANGE_RH = (0.0, 100.0)
DATA_VALID_MS = 2000  # dht11.c: DHT11_DATA_VALID_TIME
# The drift's random walk spreads over its whole bound in about this long (sim time).
DRIFT_TIMESCALE_S = 600.0
MS_PER_S = 1000.0


@dataclass(frozen=True)
class Dht22Drift:
    """Bounds of the truth's slow random walk around the configured values."""

    temperature_c: float = 0.5
    humidity_rh: float = 2.0


def _fold(value: float, bound: float) -> float:
    """`value` reflected back into [-bound, bound], as a walk bouncing off its limits."""
    if bound <= 0:
        return 0.0
    period = 4 * bound
    x = (value + bound) % period
    return (x if x <= 2 * bound else period - x) - bound


class Dht22Sim:
    """One sensor. `temperature_c` and `humidity_rh` are the truth the drift moves around;
    change them at will."""

    def __init__(
        self,
        rng: random.Random,
        clock: SimClock,
        *,
        temperature_c: float = 21.0,
        humidity_rh: float = 50.0,
        noise: float = 0.1,
        failure_rate: float = 0.05,
        drift: Dht22Drift | None = None,
    ) -> None:
        self._rng = rng
        self._clock = clock
        self.temperature_c = temperature_c
        self.humidity_rh = humidity_rh
        self._noise = noise
        self._failure_rate = failure_rate
        self._drift = drift
        self._offset = (0.0, 0.0)  # the drift's current (temperature, humidity) offset
        self._drifted_at_ms = clock.elapsed_ms()
        self._last: Dht22Reading | None = None
        self._last_at_ms = 0.0
        self.conversions = 0  # reads that reached the sensor (not served from the cache)

    def truth(self) -> Dht22Reading:
        """The conditions now, drift included (unrounded, without noise)."""
        self._walk(self._clock.elapsed_ms())
        low, high = HUMIDITY_RANGE_RH
        humidity = min(high, max(low, self.humidity_rh + self._offset[1]))
        return Dht22Reading(self.temperature_c + self._offset[0], humidity)

    def read(self) -> Dht22Reading:
        """The last good reading if it is under 2 s old (sim clock), else a new one.
        Raises HalTimeout for a simulated failed read (a `failure_rate` share of those)."""
        now = self._clock.elapsed_ms()
        if self._last is not None and now <= self._last_at_ms + DATA_VALID_MS:
            return self._last
        self.conversions += 1
        if self._rng.random() < self._failure_rate:
            raise HalTimeout("dht22 did not answer (simulated read failure)")
        truth = self.truth()
        low, high = HUMIDITY_RANGE_RH
        t = truth.temperature_c + self._rng.gauss(0, self._noise)
        h = min(high, max(low, truth.humidity_rh + self._rng.gauss(0, self._noise)))
        self._last = Dht22Reading(
            round(t, DHT22_RESOLUTION_DIGITS), round(h, DHT22_RESOLUTION_DIGITS)
        )
        self._last_at_ms = now
        return self._last

    def _walk(self, now_ms: float) -> None:
        """Move the drift on by the sim time since the last move: a Gaussian step whose
        spread grows with the square root of the time, folded back inside the bounds."""
        elapsed_s = (now_ms - self._drifted_at_ms) / MS_PER_S
        self._drifted_at_ms = now_ms
        if self._drift is None or elapsed_s <= 0:
            return
        spread = math.sqrt(elapsed_s / DRIFT_TIMESCALE_S)
        t_bound, h_bound = self._drift.temperature_c, self._drift.humidity_rh
        self._offset = (
            _fold(self._offset[0] + self._rng.gauss(0, t_bound * spread), t_bound),
            _fold(self._offset[1] + self._rng.gauss(0, h_bound * spread), h_bound),
        )


class SimDht22Sensors(Wiring[Dht22Sim]):
    """The sim's DHT22 capability: sensors by the pin their data line is on."""

    def __init__(self) -> None:
        super().__init__("gpio {} already has a dht22")

    @property
    def sensors(self) -> Mapping[int, Dht22Sim]:
        """Every sensor by pin (read-only)."""
        return self.parts

    def read(self, pin: int) -> Dht22Reading:
        """Raises HalTimeout when no sensor is on `pin` or the sensor's read fails."""
        sensor = self.find(pin)
        if sensor is None:
            raise HalTimeout(f"no dht22 answers on gpio {pin}")
        return sensor.read()
