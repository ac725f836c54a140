"""The dht22 plugin, sandboxed, over the host's gpio-provider and the simulated sensor."""

from __future__ import annotations

import pytest

from harvester.config import SimConfig
from harvester.hal.sim.backend import SimBackend
from harvester.runtime.errors import PluginReportedError

pytestmark = pytest.mark.wasm

DHT_ON_4 = {"dht22": [4]}


def backend(**dht) -> SimBackend:
    return SimBackend(SimConfig(time_scale=0, dht22=[{"pin": 4, **dht}]))


def test_readings_follow_the_sensor(instantiate) -> None:
    plugin = instantiate(
        "dht22", backend(temperature_c=12.5, humidity_rh=71.0, failure_rate=0), DHT_ON_4
    )
    plugin.init({"pin": 4})
    for _ in range(20):
        values = {r.metric: r.value for r in plugin.poll()}
        assert abs(values["temperature"] - 12.5) <= 0.5
        assert abs(values["humidity"] - 71.0) <= 1.0


def test_a_failed_read_is_a_hardware_error_not_a_fault(instantiate) -> None:
    plugin = instantiate("dht22", backend(failure_rate=1.0), DHT_ON_4)
    plugin.init({"pin": 4})
    with pytest.raises(PluginReportedError) as err:
        plugin.poll()
    assert err.value.kind == "hal"
    assert "timeout" in str(err.value)


def test_an_ungranted_pin_is_refused_naming_it(instantiate) -> None:
    sim = SimBackend(SimConfig(time_scale=0, dht22=[{"pin": 4}, {"pin": 17}]))
    plugin = instantiate("dht22", sim, DHT_ON_4)
    plugin.init({"pin": 17})
    with pytest.raises(PluginReportedError, match="not-granted: dht22 on gpio 17"):
        plugin.poll()
