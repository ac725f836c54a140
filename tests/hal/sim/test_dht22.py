"""Dht22Sim and SimDht22Sensors: noisy readings in 0.1 steps, failed reads, sensors by pin."""

from __future__ import annotations

import random

import pytest

from harvester.hal.errors import HalTimeout
from harvester.hal.sim.dht22 import Dht22Sim, SimDht22Sensors


def sensor(**kwargs: float) -> Dht22Sim:
    return Dht22Sim(random.Random(7), **kwargs)


def test_readings_stay_near_the_truth_in_tenths() -> None:
    dht = sensor(temperature_c=12.5, humidity_rh=71.0, failure_rate=0)
    readings = [dht.read() for _ in range(200)]
    assert all(abs(r.temperature_c - 12.5) <= 0.5 for r in readings)
    assert all(abs(r.humidity_rh - 71.0) <= 0.5 for r in readings)
    assert all(round(r.temperature_c, 1) == r.temperature_c for r in readings)
    assert len({r.temperature_c for r in readings}) > 1  # noisy


def test_humidity_stays_within_0_and_100() -> None:
    dht = sensor(humidity_rh=100.0, failure_rate=0, noise=5.0)
    assert max(dht.read().humidity_rh for _ in range(200)) == 100.0


def test_the_failure_rate_is_the_share_of_failed_reads() -> None:
    dht = sensor(failure_rate=0.5)
    failures = 0
    for _ in range(1000):
        try:
            dht.read()
        except HalTimeout:
            failures += 1
    assert 400 < failures < 600


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
