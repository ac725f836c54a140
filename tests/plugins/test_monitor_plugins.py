"""pi4-monitor and revpi-monitor, sandboxed, over the host's system-info and the sim's."""

from __future__ import annotations

import random

import pytest

from harvester.constants import DeviceClass, StateClass
from harvester.hal import Backend, HalError
from harvester.hal.capabilities import DiskUsage, MemoryUsage
from harvester.hal.sim.clock import SimClock
from harvester.hal.sim.system import (
    CPU_USAGE_PERCENT,
    MEMORY_USED_SHARE,
    SIM_DISK_TOTAL,
    SIM_DISK_USED,
    SIM_MEMORY_TOTAL,
    SimSystemInfo,
)

pytestmark = pytest.mark.wasm

MONITORS = ["pi4-monitor", "revpi-monitor"]
GRANTS = {"system_info": True}
SOC_TEMP_C = 55.0

# The contract the dashboards and the native twin (pizero-monitor) build on.
EXPECTED = [
    ("cpu_usage", "%", DeviceClass.NONE, StateClass.MEASUREMENT),
    ("memory_used_percent", "%", DeviceClass.NONE, StateClass.MEASUREMENT),
    ("memory_used", "B", DeviceClass.DATA_SIZE, StateClass.MEASUREMENT),
    ("soc_temperature", "°C", DeviceClass.TEMPERATURE, StateClass.MEASUREMENT),
    ("uptime", "s", DeviceClass.DURATION, StateClass.TOTAL_INCREASING),
    ("disk_used_percent", "%", DeviceClass.NONE, StateClass.MEASUREMENT),
    ("disk_used", "B", DeviceClass.DATA_SIZE, StateClass.MEASUREMENT),
]


class Seen:
    """The sim's system info, remembering the last answer of each call so a test can hold
    the plugin's readings to exactly what the host gave it."""

    def __init__(self, inner: SimSystemInfo, *, no_soc_sensor: bool = False) -> None:
        self.inner = inner
        self.no_soc_sensor = no_soc_sensor
        self.last: dict[str, object] = {}

    def _keep(self, name: str, value):
        self.last[name] = value
        return value

    def memory_usage(self) -> MemoryUsage:
        return self._keep("memory", self.inner.memory_usage())

    def cpu_usage_percent(self) -> float:
        return self._keep("cpu", self.inner.cpu_usage_percent())

    def uptime_s(self) -> int:
        return self._keep("uptime", self.inner.uptime_s())

    def cpu_temp_c(self) -> float:
        if self.no_soc_sensor:
            raise HalError("no thermal zone (a board without a SoC sensor)")
        return self._keep("temp", self.inner.cpu_temp_c())

    def disk_usage(self) -> DiskUsage:
        return self._keep("disk", self.inner.disk_usage())


def node(now: list[float], **kw) -> tuple[Backend, Seen]:
    system = Seen(
        SimSystemInfo(random.Random(7), cpu_temp_c=SOC_TEMP_C, monotonic=lambda: now[0]), **kw
    )
    return Backend(name="sim", clock=SimClock(time_scale=0), system=system), system


@pytest.mark.parametrize("monitor", MONITORS)
def test_describes_every_health_metric_with_units_and_classes(instantiate, monitor) -> None:
    backend, _ = node([0.0])
    plugin = instantiate(monitor, backend, GRANTS)
    plugin.init({})
    got = [(m.name, m.unit, m.device_class, m.state_class) for m in plugin.describe()]
    assert got == EXPECTED


@pytest.mark.parametrize("monitor", MONITORS)
def test_readings_are_what_the_node_reports(instantiate, monitor) -> None:
    now = [1000.0]
    backend, seen = node(now)
    plugin = instantiate(monitor, backend, GRANTS)
    plugin.init({})
    now[0] += 3600.0  # an hour after the sim's boot
    values = {r.metric: r.value for r in plugin.poll()}

    assert set(values) == {name for name, *_ in EXPECTED}
    memory = seen.last["memory"]
    assert values["memory_used"] == memory.used_bytes
    assert values["memory_used_percent"] == pytest.approx(
        100 * memory.used_bytes / SIM_MEMORY_TOTAL
    )
    low, high = (100 * share for share in MEMORY_USED_SHARE)
    assert low <= values["memory_used_percent"] <= high
    assert values["disk_used"] == SIM_DISK_USED
    assert values["disk_used_percent"] == pytest.approx(100 * SIM_DISK_USED / SIM_DISK_TOTAL)
    assert values["uptime"] == 3600
    assert values["cpu_usage"] == pytest.approx(seen.last["cpu"], abs=1e-4)  # f32 on the wire
    assert CPU_USAGE_PERCENT[0] <= values["cpu_usage"] <= CPU_USAGE_PERCENT[1]
    assert values["soc_temperature"] == pytest.approx(seen.last["temp"], abs=1e-4)
    assert abs(values["soc_temperature"] - SOC_TEMP_C) < 3.0

    now[0] += 10.0
    assert {r.metric: r.value for r in plugin.poll()}["uptime"] == 3610


@pytest.mark.parametrize("monitor", MONITORS)
def test_a_board_without_a_soc_sensor_still_reports_the_rest(instantiate, monitor) -> None:
    backend, seen = node([50.0], no_soc_sensor=True)
    plugin = instantiate(monitor, backend, GRANTS)
    plugin.init({})
    for _ in range(2):  # and again: the missing sensor is no error on a later poll either
        values = {r.metric: r.value for r in plugin.poll()}
        assert set(values) == {name for name, *_ in EXPECTED} - {"soc_temperature"}
        assert values["disk_used"] == SIM_DISK_USED
        assert values["memory_used"] == seen.last["memory"].used_bytes
        assert values["uptime"] == 0


def test_without_the_grant_the_plugin_does_not_link(instantiate) -> None:
    from harvester.runtime.errors import PluginError

    backend, _ = node([0.0])
    with pytest.raises(PluginError, match="system-info"):
        instantiate("pi4-monitor", backend, {})
