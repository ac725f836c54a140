"""Dht22Sim and SimDht22Sensors: noisy readings in 0.1 steps, failed reads, the kernel
driver's 2 s cache, a bounded drift of the truth, sensors by pin."""

from __future__ import annotations

import itertools
import random

import pytest

from harvester.hal.errors import HalTimeout
from harvester.hal.sim.clock import SimClock
from harvester.hal.sim.dht22 import DATA_VALID_MS, Dht22Drift, Dht22Sim, SimDht22Sensors

APART_MS = DATA_VALID_MS + 1  # the kernel serves a new conversion only after 2 s


def frozen() -> SimClock:
    """A sim clock that moves only by sleeps, so "exactly 2 s later" is exact."""
    return SimClock(time_scale=0, monotonic=lambda: 0.0)


def sensor(clock: SimClock | None = None, **kwargs: object) -> Dht22Sim:
    return Dht22Sim(random.Random(7), clock or frozen(), **kwargs)  # type: ignore[arg-type]


def readings(dht: Dht22Sim, clock: SimClock, n: int) -> list:
    out = []
    for _ in range(n):
        clock.sleep_ms(APART_MS)
        out.append(dht.read())
    return out


def test_readings_stay_near_the_truth_in_tenths() -> None:
    clock = frozen()
    dht = sensor(clock, temperature_c=12.5, humidity_rh=71.0, failure_rate=0)
    got = readings(dht, clock, 200)
    assert all(abs(r.temperature_c - 12.5) <= 0.5 for r in got)
    assert all(abs(r.humidity_rh - 71.0) <= 0.5 for r in got)
    assert all(round(r.temperature_c, 1) == r.temperature_c for r in got)
    assert len({r.temperature_c for r in got}) > 1  # noisy


def test_humidity_stays_within_0_and_100() -> None:
    clock = frozen()
    dht = sensor(clock, humidity_rh=100.0, failure_rate=0, noise=5.0)
    assert max(r.humidity_rh for r in readings(dht, clock, 200)) == 100.0


def test_the_failure_rate_is_the_share_of_failed_reads() -> None:
    clock = frozen()
    dht = sensor(clock, failure_rate=0.5)
    failures = 0
    for _ in range(1000):
        clock.sleep_ms(APART_MS)
        try:
            dht.read()
        except HalTimeout:
            failures += 1
    assert 400 < failures < 600


def test_a_read_within_2_s_of_a_good_one_is_served_from_the_drivers_cache() -> None:
    clock = frozen()
    dht = sensor(clock, failure_rate=0, noise=1.0)
    first = dht.read()
    clock.sleep_ms(DATA_VALID_MS)  # exactly 2 s: dht11.c still serves the cache
    dht.temperature_c = 40.0
    assert dht.read() == first and dht.conversions == 1
    clock.sleep_ms(1)
    assert dht.read().temperature_c > 35 and dht.conversions == 2


def test_a_failed_read_does_not_start_the_2_s() -> None:
    clock = frozen()
    dht = sensor(clock, failure_rate=1.0)
    with pytest.raises(HalTimeout):
        dht.read()
    with pytest.raises(HalTimeout):
        dht.read()  # tried again at once, not answered from a cache
    assert dht.conversions == 2


def test_drift_wanders_slowly_and_stays_within_its_bounds() -> None:
    clock = frozen()
    dht = sensor(
        clock,
        temperature_c=20.0,
        humidity_rh=50.0,
        failure_rate=0,
        drift=Dht22Drift(temperature_c=0.5, humidity_rh=2.0),
    )
    truths = []
    for _ in range(2000):
        clock.sleep_ms(30_000)
        truths.append(dht.truth())
    temperatures = [t.temperature_c for t in truths]
    humidities = [t.humidity_rh for t in truths]
    assert all(19.5 <= t <= 20.5 for t in temperatures)
    assert all(48.0 <= h <= 52.0 for h in humidities)
    assert max(temperatures) - min(temperatures) > 0.5  # it does wander across the range
    steps = [abs(b - a) for a, b in itertools.pairwise(temperatures)]
    assert max(steps) < 0.5  # ...slowly: 30 s moves it a little, not across the range


def test_without_drift_the_truth_is_what_was_configured() -> None:
    clock = frozen()
    dht = sensor(clock, temperature_c=20.0)
    clock.sleep_ms(3_600_000)
    assert dht.truth() == (20.0, 50.0)


def test_sensors_answer_on_their_pin_only() -> None:
    sensors = SimDht22Sensors()
    on_4 = sensor(temperature_c=30.0, failure_rate=0)
    sensors.attach(4, on_4)
    assert sensors[4] is on_4
    assert sensors.read(4).temperature_c == pytest.approx(30.0, abs=0.5)
    with pytest.raises(HalTimeout, match="no dht22 answers on gpio 17"):
        sensors.read(17)
    with pytest.raises(ValueError, match="gpio 4 already has a dht22"):
        sensors.attach(4, sensor())
    assert dict(sensors.sensors) == {4: on_4}
