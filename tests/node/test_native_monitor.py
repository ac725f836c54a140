"""pizero-monitor, the native health service: the sim's values on the node's bus, in
exactly pi4-monitor's shape."""

from __future__ import annotations

import asyncio
import random
import time
from pathlib import Path
from types import SimpleNamespace
from typing import TypeVar

import pytest

from harvester.config import NodeConfig
from harvester.constants import NATIVE_MONITOR
from harvester.hal import HalError
from harvester.hal.capabilities import MemoryUsage
from harvester.hal.linux.system import LinuxSystemInfo
from harvester.hal.sim.system import SIM_DISK_TOTAL, SIM_DISK_USED, SimSystemInfo
from harvester.node.events import Event, EventBus, LogEvent, ReadingsEvent, StateEvent
from harvester.node.native_monitor import NativeMonitor, read_health
from harvester.node.node import run_node

SOC_TEMP_C = 51.0


class Remembered(SimSystemInfo):
    """The sim, keeping its last memory answer for the test to compare with."""

    def memory_usage(self) -> MemoryUsage:
        self.last_memory = super().memory_usage()
        return self.last_memory


class NoSocSensor(SimSystemInfo):
    def cpu_temp_c(self) -> float:
        raise HalError("no thermal zone")


S = TypeVar("S", bound=SimSystemInfo)


def sim(now: list[float], cls: type[S] = SimSystemInfo) -> S:  # type: ignore[assignment]
    return cls(random.Random(3), cpu_temp_c=SOC_TEMP_C, monotonic=lambda: now[0])


def test_reads_what_the_system_reports() -> None:
    now = [10.0]
    system = sim(now, Remembered)
    now[0] += 120
    values = {r.metric: r for r in read_health(system, lambda what, exc: None)}
    assert values["uptime"].value == 120
    assert values["disk_used"].value == SIM_DISK_USED
    assert values["disk_used_percent"].value == pytest.approx(100 * SIM_DISK_USED / SIM_DISK_TOTAL)
    memory = system.last_memory
    assert values["memory_used"].value == memory.used_bytes
    assert values["memory_used_percent"].value == pytest.approx(
        100 * memory.used_bytes / memory.total_bytes
    )
    assert abs(values["soc_temperature"].value - SOC_TEMP_C) < 3.0
    assert values["soc_temperature"].unit == "°C"
    assert values["disk_used"].device_class == "data-size"
    assert values["uptime"].state_class == "total-increasing"


def test_a_missing_soc_sensor_leaves_only_it_out() -> None:
    missing: list[str] = []
    readings = read_health(sim([0.0], NoSocSensor), lambda what, exc: missing.append(what))
    names = {r.metric for r in readings}
    assert "soc_temperature" not in names
    assert names == {m.name for m in NativeMonitor.describe()} - {"soc_temperature"}
    assert missing == ["the SoC temperature"]


class FakePsutil:
    """psutil's interface as LinuxSystemInfo uses it, answering fixed figures."""

    Error = OSError
    TOTAL, AVAILABLE = 512 * 1024**2, 300 * 1024**2  # a Pi Zero 2 W
    DISK = SimpleNamespace(total=16 * 1000**3, used=3 * 1000**3)

    def cpu_percent(self, interval: float | None = None) -> float:
        return 12.5

    def virtual_memory(self) -> SimpleNamespace:
        return SimpleNamespace(total=self.TOTAL, available=self.AVAILABLE)

    def boot_time(self) -> float:
        return time.time() - 7200

    def disk_usage(self, path: str) -> SimpleNamespace:
        return self.DISK


@pytest.mark.parametrize("thermal_zone", [True, False])
def test_the_linux_backend_serves_it_too(tmp_path: Path, thermal_zone: bool) -> None:
    if thermal_zone:  # the kernel's bcm2835 thermal driver, as sysfs shows it
        zone = tmp_path / "class" / "thermal" / "thermal_zone0"
        zone.mkdir(parents=True)
        (zone / "type").write_text("cpu-thermal\n")
        (zone / "temp").write_text("47234\n")
    system = LinuxSystemInfo(psutil_module=FakePsutil(), sysfs=tmp_path)
    missing: list[str] = []
    values = {r.metric: r.value for r in read_health(system, lambda w, e: missing.append(w))}
    used = FakePsutil.TOTAL - FakePsutil.AVAILABLE
    assert values["memory_used"] == used
    assert values["memory_used_percent"] == pytest.approx(100 * used / FakePsutil.TOTAL)
    assert values["disk_used"] == FakePsutil.DISK.used
    assert values["cpu_usage"] == 12.5
    assert 7199 <= values["uptime"] <= 7201
    if thermal_zone:
        assert values["soc_temperature"] == pytest.approx(47.234)
        assert missing == []
    else:
        assert "soc_temperature" not in values and missing == ["the SoC temperature"]


async def test_publishes_at_once_then_every_interval_and_says_when_it_stops() -> None:
    bus = EventBus("zero")
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)
        await asyncio.sleep(0)

    events: list[Event] = []
    async with bus.subscribe() as sub:
        async with NativeMonitor(sim([0.0], NoSocSensor), bus, interval_s=7.5, sleep=sleep):
            async with asyncio.timeout(10):
                while len([e for e in events if isinstance(e, ReadingsEvent)]) < 3:
                    events.append(await sub.get())
        async with asyncio.timeout(10):
            while not (isinstance(events[-1], StateEvent) and events[-1].state == "stopped"):
                events.append(await sub.get())

    assert {e.plugin for e in events} == {NATIVE_MONITOR}
    assert isinstance(events[0], StateEvent) and events[0].state == "running"
    assert set(slept) == {7.5} and len(slept) >= 2
    warnings = [e for e in events if isinstance(e, LogEvent)]
    assert len(warnings) == 1 and "SoC temperature" in warnings[0].message  # said once
    assert all(e.node == "zero" for e in events)


async def test_a_backend_without_system_info_is_one_clear_line() -> None:
    bus = EventBus("zero")
    async with bus.subscribe() as sub:
        async with NativeMonitor(None, bus, interval_s=1):
            pass
        event = sub.get_nowait()
    assert isinstance(event, LogEvent) and "no system info" in event.message
    assert sub.empty()


def test_the_config_enables_it_and_keeps_its_name_free() -> None:
    config = NodeConfig.model_validate(
        {"name": "zero", "native": {"monitor": True, "monitor_interval_s": 5}}
    )
    assert config.native.monitor and config.native.monitor_interval_s == 5
    assert not NodeConfig.model_validate({"name": "zero"}).native.monitor
    with pytest.raises(ValueError, match="pizero-monitor"):
        NodeConfig.model_validate(
            {"name": "zero", "native": {"monitor": True}, "plugins": [{"name": NATIVE_MONITOR}]}
        )


async def test_run_node_runs_it_when_the_config_says_so(tmp_path: Path) -> None:
    config = NodeConfig.model_validate(
        {"name": "zero", "plugin_dir": tmp_path, "native": {"monitor": True}}
    )
    seen: list[Event] = []
    stop = asyncio.Event()

    def on_event(event: Event) -> None:
        seen.append(event)
        if isinstance(event, ReadingsEvent):
            stop.set()

    await asyncio.wait_for(run_node(config, stop=stop, on_event=on_event), 30)
    readings = [e for e in seen if isinstance(e, ReadingsEvent)]
    assert readings[0].plugin == NATIVE_MONITOR
    assert {r.metric for r in readings[0].readings} == {m.name for m in NativeMonitor.describe()}
    assert [e.state for e in seen if isinstance(e, StateEvent)][-1] == "stopped"


def test_its_shape_is_pi4_monitors(instantiate) -> None:
    """The native twin must not drift from the plugin: same names, units and classes, in
    the same order."""
    from harvester.config import SimConfig
    from harvester.hal.sim.backend import SimBackend

    plugin = instantiate("pi4-monitor", SimBackend(SimConfig(time_scale=0)), {"system_info": True})
    plugin.init({})
    assert plugin.describe() == NativeMonitor.describe()
