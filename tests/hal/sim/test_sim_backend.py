"""The sim backend built from a node config's [sim] section."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from harvester.config import SimConfig
from harvester.hal import BACKEND_SIM, BackendUnavailable, Capability
from harvester.hal.sim.backend import SimBackend
from harvester.hal.sim.bme680 import Bme680Sim
from harvester.hal.sim.clock import SimClock
from harvester.hal.sim.regdump import format_i2cdump

sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "plugins" / "bme680"))
from bme680_driver import Bme680  # guest code, run natively here


def driver(backend: SimBackend) -> Bme680:
    sensor = Bme680(lambda d, n: backend.i2c.transfer(1, 0x77, d, n), backend.clock.sleep_ms)
    sensor.begin()
    return sensor


@pytest.fixture
def dump_file(tmp_path: Path) -> Path:
    """A dump of a chip that last measured 18.3 °C."""
    clock = SimClock(time_scale=0)
    chip = Bme680Sim(clock, temperature_c=18.3)
    sensor = Bme680(lambda d, n: (chip.write(d) if d else None) or chip.read(n), clock.sleep_ms)
    sensor.begin()
    sensor.measure()
    path = tmp_path / "bme680.dump"
    path.write_text(format_i2cdump(chip.registers()))
    return path


def test_every_capability_is_simulated() -> None:
    backend = SimBackend(SimConfig(time_scale=0))
    assert backend.name == BACKEND_SIM
    assert backend.capabilities == set(Capability)


def test_configured_devices_are_on_their_bus_and_pin() -> None:
    config = SimConfig(
        time_scale=0,
        i2c=[{"device": "bme680", "bus": 0, "address": 0x76, "temperature_c": 30.0}],
        dht22=[{"pin": 17, "temperature_c": 5.0, "failure_rate": 0}],
    )
    backend = SimBackend(config)
    assert isinstance(backend.bus(0).devices[0x76], Bme680Sim)
    assert backend.dht22[17].temperature_c == 5.0
    assert backend.dht22.read(17).temperature_c == pytest.approx(5.0, abs=0.5)


def test_the_config_time_scale_drives_the_clock_devices_see() -> None:
    backend = SimBackend(SimConfig(time_scale=0, i2c=[{"device": "bme680"}]))
    before = backend.clock.now_ms()
    driver(backend).measure()  # waits for a ~190 ms conversion, in virtual time
    assert backend.clock.now_ms() - before >= 150


def test_the_seed_makes_noise_reproducible() -> None:
    def readings(seed: int) -> list[float]:
        config = SimConfig(time_scale=0, seed=seed, dht22=[{"pin": 4, "failure_rate": 0}])
        backend = SimBackend(config)
        values = []
        for _ in range(20):
            backend.clock.sleep_ms(2001)  # past the driver's 2 s cache
            values.append(backend.dht22.read(4).temperature_c)
        return values

    assert readings(1) == readings(1)
    assert readings(1) != readings(2)


def test_a_dump_without_stated_truth_replays_the_chips_readings(dump_file: Path) -> None:
    config = SimConfig(time_scale=0, i2c=[{"device": "bme680", "dump": dump_file}])
    assert driver(SimBackend(config)).measure().temperature_c == pytest.approx(18.3, abs=0.05)


def test_stated_truth_overrides_a_dumps_readings(dump_file: Path) -> None:
    config = SimConfig(
        time_scale=0, i2c=[{"device": "bme680", "dump": dump_file, "temperature_c": 30.0}]
    )
    assert driver(SimBackend(config)).measure().temperature_c == pytest.approx(30.0, abs=0.5)


@pytest.mark.parametrize(("content", "problem"), [(None, "cannot read dump"), ("zz", "bad dump")])
def test_a_bad_dump_file_names_the_device_and_file(
    tmp_path: Path, content: str | None, problem: str
) -> None:
    path = tmp_path / "bme680.dump"
    if content is not None:
        path.write_text(content)
    config = SimConfig(time_scale=0, i2c=[{"device": "bme680", "dump": path}])
    with pytest.raises(BackendUnavailable) as err:
        SimBackend(config)
    assert f"bme680 on i2c bus 1 address 0x77: {problem} {path}" in str(err.value)


def test_configured_noise_moves_readings_around_the_truth() -> None:
    config = SimConfig(time_scale=0, i2c=[{"device": "bme680", "temperature_c": 20.0, "noise": {}}])
    sensor = driver(SimBackend(config))
    temperatures = [sensor.measure().temperature_c for _ in range(50)]
    assert len(set(temperatures)) > 10  # it moves...
    assert abs(sum(temperatures) / 50 - 20.0) < 0.05  # ...around the truth
    assert max(abs(t - 20.0) for t in temperatures) < 0.2


def test_a_configured_drift_moves_the_dht22_truth_within_its_bounds() -> None:
    config = SimConfig(
        time_scale=0, dht22=[{"pin": 4, "temperature_c": 20.0, "drift": {"temperature_c": 1.0}}]
    )
    backend = SimBackend(config)
    truths = []
    for _ in range(200):
        backend.clock.sleep_ms(60_000)
        truths.append(backend.dht22[4].truth().temperature_c)
    assert len(set(truths)) > 100 and all(19.0 <= t <= 21.0 for t in truths)


def test_leds_buzzer_and_pins_come_from_the_config() -> None:
    config = SimConfig(
        time_scale=0,
        leds=[{"strip": 1, "pixels": 4}],
        buzzer=[{"pin": 13, "kind": "active"}],
        gpio=[{"pin": 17, "level": True}],
    )
    backend = SimBackend(config)
    assert backend.leds.pixel_count(1) == 4
    assert backend.buzzer[13].kind == "active"
    assert backend.gpio.read(17) is True
    assert dict(backend.gpio.owners) == {18: "led strip 1", 13: "buzzer"}
