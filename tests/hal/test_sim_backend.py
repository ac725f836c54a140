"""The sim backend built from a node config's [sim] section."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from harvester.config import SimConfig
from harvester.hal.sim.backend import SimBackend
from harvester.hal.sim.bme680 import Bme680Sim
from harvester.hal.sim.clock import SimClock
from harvester.hal.sim.regdump import format_i2cdump

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "plugins" / "bme680"))
from bme680_driver import Bme680


def measure(backend: SimBackend) -> float:
    driver = Bme680(lambda d, n: backend.i2c_transfer(1, 0x77, d, n), backend.sleep_ms)
    driver.begin()
    return driver.measure().temperature_c


@pytest.fixture
def dump_file(tmp_path: Path) -> Path:
    """A dump of a chip that last measured 18.3 °C."""
    clock = SimClock(time_scale=0)
    chip = Bme680Sim(clock, temperature_c=18.3)
    driver = Bme680(lambda d, n: (chip.write(d) if d else None) or chip.read(n), clock.sleep_ms)
    driver.begin()
    driver.measure()
    path = tmp_path / "bme680.dump"
    path.write_text(format_i2cdump(chip.registers()))
    return path


def test_a_dump_without_stated_truth_replays_the_chips_readings(dump_file: Path) -> None:
    config = SimConfig(time_scale=0, i2c=[{"device": "bme680", "dump": dump_file}])
    assert measure(SimBackend(config)) == pytest.approx(18.3, abs=0.05)


def test_stated_truth_overrides_a_dumps_readings(dump_file: Path) -> None:
    config = SimConfig(
        time_scale=0, i2c=[{"device": "bme680", "dump": dump_file, "temperature_c": 30.0}]
    )
    assert measure(SimBackend(config)) == pytest.approx(30.0, abs=0.5)


def test_configured_noise_moves_readings_around_the_truth() -> None:
    config = SimConfig(time_scale=0, i2c=[{"device": "bme680", "temperature_c": 20.0, "noise": {}}])
    backend = SimBackend(config)
    driver = Bme680(lambda d, n: backend.i2c_transfer(1, 0x77, d, n), backend.sleep_ms)
    driver.begin()
    temperatures = [driver.measure().temperature_c for _ in range(50)]
    assert len(set(temperatures)) > 10  # it moves...
    assert abs(sum(temperatures) / 50 - 20.0) < 0.05  # ...around the truth
    assert max(abs(t - 20.0) for t in temperatures) < 0.2
