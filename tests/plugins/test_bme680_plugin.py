"""The bme680 plugin, built by componentize-py, run sandboxed against the register simulator."""

from __future__ import annotations

import itertools
import sys
from pathlib import Path

import pytest

from harvester.config import SimConfig
from harvester.hal.sim.backend import SimBackend
from harvester.hal.sim.bme680 import Bme680Sim
from harvester.hal.sim.regdump import format_i2cdump
from harvester.runtime.errors import PluginReportedError

pytestmark = pytest.mark.wasm

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "plugins" / "bme680"))
from bme680_driver import Bme680  # noqa: E402  (the same driver, run natively for reference)

TEMPERATURES = (-20.0, 0.0, 21.5, 40.0, 60.0)
PRESSURES = (300.0, 700.0, 1013.25, 1100.0)
HUMIDITIES = (10.0, 45.0, 90.0)


def sim_backend() -> SimBackend:
    return SimBackend(SimConfig(time_scale=0))


def attach(backend: SimBackend, sim: Bme680Sim | None = None) -> Bme680Sim:
    sim = sim or Bme680Sim(backend.clock)
    backend.bus(1).attach(0x77, sim)
    return sim


def by_metric(readings) -> dict[str, float]:
    return {r.metric: r.value for r in readings}


def test_readings_match_the_simulated_truth_across_conditions(instantiate) -> None:
    backend = sim_backend()
    sim = attach(backend)
    plugin = instantiate("bme680", backend)
    plugin.init({"bus": 1, "address": 0x77})
    assert [m.name for m in plugin.describe()] == [
        "temperature", "pressure", "humidity", "gas_resistance",
    ]  # fmt: skip
    for t, p, h in itertools.product(TEMPERATURES, PRESSURES, HUMIDITIES):
        sim.set_conditions(temperature_c=t, pressure_hpa=p, humidity_rh=h, gas_ohm=120_000)
        got = by_metric(plugin.poll())
        assert abs(got["temperature"] - t) <= 0.5, (t, p, h, got)
        assert abs(got["pressure"] - p) <= 1.0, (t, p, h, got)
        assert abs(got["humidity"] - h) <= 3.0, (t, p, h, got)
        assert abs(got["gas_resistance"] - 120_000) / 120_000 <= 0.05, (t, p, h, got)


def test_a_real_chips_dump_gives_the_same_readings_sandboxed_and_native(instantiate) -> None:
    # A dump in i2cdump's format, from a chip that measured 18.3 °C / 995 hPa / 61 %RH.
    source = SimBackend(SimConfig(time_scale=0))
    chip = attach(source)
    chip.set_conditions(temperature_c=18.3, pressure_hpa=995.0, humidity_rh=61.0)
    capture = Bme680(lambda d, n: source.i2c.transfer(1, 0x77, d, n), source.clock.sleep_ms)
    capture.begin()
    capture.measure()  # leaves a finished measurement in the field registers
    dump = format_i2cdump(chip.registers())

    sandboxed = sim_backend()
    attach(sandboxed, Bme680Sim.from_dump(dump, sandboxed.clock))
    plugin = instantiate("bme680", sandboxed)
    plugin.init({})
    got = by_metric(plugin.poll())

    native = sim_backend()
    attach(native, Bme680Sim.from_dump(dump, native.clock))
    driver = Bme680(lambda d, n: native.i2c.transfer(1, 0x77, d, n), native.clock.sleep_ms)
    driver.begin()
    want = driver.measure()
    assert got["temperature"] == pytest.approx(want.temperature_c, abs=1e-9)
    assert got["pressure"] == pytest.approx(want.pressure_hpa, abs=1e-9)
    assert got["humidity"] == pytest.approx(want.humidity_rh, abs=1e-9)
    assert abs(got["temperature"] - 18.3) <= 0.5


def test_wrong_chip_is_reported_as_no_device_naming_the_id(instantiate) -> None:
    backend = sim_backend()
    attach(backend, Bme680Sim(backend.clock, chip_id=0x60))  # a BME280 answers 0x60
    plugin = instantiate("bme680", backend)
    with pytest.raises(PluginReportedError) as err:
        plugin.init({})
    assert err.value.kind == "no-device"
    assert "0x60" in str(err.value)


def test_absent_sensor_is_a_hardware_error(instantiate) -> None:
    backend = sim_backend()  # nothing on the bus
    plugin = instantiate("bme680", backend)
    with pytest.raises(PluginReportedError) as err:
        plugin.init({})
    assert err.value.kind == "hal"
    assert "no-acknowledge: address" in str(err.value)


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"address": "0x99"}, "address = '0x99': must be between 118 and 119"),
        ({"bus": "one"}, "bus = 'one': not an integer"),
    ],
)
def test_bad_settings_are_refused_naming_key_and_value(instantiate, settings, message) -> None:
    backend = sim_backend()
    attach(backend)
    plugin = instantiate("bme680", backend)
    with pytest.raises(PluginReportedError) as err:
        plugin.init(settings)
    assert err.value.kind == "bad-setting"
    assert message in str(err.value)


def test_an_address_outside_the_grant_is_refused(instantiate) -> None:
    backend = sim_backend()
    attach(backend)
    backend.bus(1).attach(0x76, Bme680Sim(backend.clock))
    plugin = instantiate("bme680", backend)  # granted 0x77 only
    with pytest.raises(PluginReportedError) as err:
        plugin.init({"address": "0x76"})
    assert "not-granted: i2c bus 1 address 0x76" in str(err.value)


def test_a_memory_limit_below_the_start_size_is_a_load_error(instantiate) -> None:
    from harvester.runtime.errors import PluginLoadError

    with pytest.raises(PluginLoadError, match=r"needs 12\.4 MB of linear memory to start"):
        instantiate("bme680", sim_backend(), memory_mb=8)
