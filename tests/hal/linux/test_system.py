"""LinuxSystemInfo against a psutil double and a sysfs tree of thermal zones."""

from __future__ import annotations

import time
from collections import namedtuple
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from harvester.hal.capabilities import DiskUsage, MemoryUsage
from harvester.hal.errors import HalError
from harvester.hal.linux.system import LinuxSystemInfo

VirtualMemory = namedtuple("VirtualMemory", "total available percent used free")
Usage = namedtuple("Usage", "total used free percent")


class PsutilError(Exception):
    """psutil.Error's stand-in."""


def fake_psutil(**overrides: Any) -> SimpleNamespace:
    cpu = iter([0.0, 12.5, 80.0])  # psutil's first call has nothing to compare with
    asked: list[str] = []

    def disk_usage(path: str) -> Usage:
        asked.append(path)
        return Usage(32_000_000_000, 7_000_000_000, 25_000_000_000, 21.9)

    parts: dict[str, Any] = {
        "Error": PsutilError,
        "virtual_memory": lambda: VirtualMemory(4_000_000_000, 2_600_000_000, 35.0, 900, 5),
        "cpu_percent": lambda interval: next(cpu),
        "boot_time": lambda: time.time() - 3600,
        "disk_usage": disk_usage,
        "asked": asked,
    }
    return SimpleNamespace(**(parts | overrides))


def thermal(sysfs: Path, zones: dict[str, str]) -> None:
    for i, (kind, temp) in enumerate(zones.items()):
        zone = sysfs / "class/thermal" / f"thermal_zone{i}"
        zone.mkdir(parents=True)
        (zone / "type").write_text(kind + "\n")
        (zone / "temp").write_text(temp + "\n")


def test_what_psutil_says_in_our_units(tmp_path: Path) -> None:
    ps = fake_psutil()
    info = LinuxSystemInfo(psutil_module=ps, sysfs=tmp_path)
    assert info.memory_usage() == MemoryUsage(4_000_000_000, 1_400_000_000)  # total - available
    assert info.cpu_usage_percent() == 12.5  # not the priming call's 0.0
    assert 3599 <= info.uptime_s() <= 3601
    assert info.disk_usage() == DiskUsage(32_000_000_000, 7_000_000_000)
    assert ps.asked == ["/"]


def test_the_soc_temperature_is_the_cpu_thermal_zone(tmp_path: Path) -> None:
    thermal(tmp_path, {"acpitz": "30000", "cpu-thermal": "48312"})
    assert LinuxSystemInfo(psutil_module=fake_psutil(), sysfs=tmp_path).cpu_temp_c() == 48.312


def test_no_cpu_thermal_zone_is_a_hal_error(tmp_path: Path) -> None:
    thermal(tmp_path, {"acpitz": "30000"})
    info = LinuxSystemInfo(psutil_module=fake_psutil(), sysfs=tmp_path)
    with pytest.raises(HalError) as err:
        info.cpu_temp_c()
    assert str(err.value) == f"no thermal zone of type cpu-thermal under {tmp_path}/class/thermal"


def test_psutil_failures_become_hal_errors(tmp_path: Path) -> None:
    def broken() -> None:
        raise PsutilError("no /proc/meminfo")

    info = LinuxSystemInfo(psutil_module=fake_psutil(virtual_memory=broken), sysfs=tmp_path)
    with pytest.raises(HalError, match="system info: cannot read memory: no /proc/meminfo"):
        info.memory_usage()


def test_the_real_psutil_answers_here(tmp_path: Path) -> None:
    info = LinuxSystemInfo(sysfs=tmp_path)  # psutil is a dependency of harvester[linux]
    memory = info.memory_usage()
    assert 0 < memory.used_bytes < memory.total_bytes
    assert info.uptime_s() > 0
    assert 0.0 <= info.cpu_usage_percent() <= 100.0
