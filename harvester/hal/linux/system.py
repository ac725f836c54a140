"""The node's own health: psutil for memory, CPU, uptime and disk; the SoC temperature
from the kernel's thermal zone /sys/class/thermal/thermal_zone*/temp (milli-°C) whose
`type` is cpu-thermal (the Pi's bcm2711/bcm2835 thermal driver)."""

from __future__ import annotations

import importlib
import time
from pathlib import Path
from types import ModuleType
from typing import Any, Final

from harvester.hal.capabilities import DiskUsage, MemoryUsage
from harvester.hal.errors import HalError
from harvester.hal.linux._library import Importer, require

CPU_ZONE_TYPE: Final = "cpu-thermal"
THERMAL: Final = Path("class/thermal")
MILLI: Final = 1000.0
ROOT_FS: Final = "/"


class LinuxSystemInfo:
    """The SystemInfo capability. `psutil_module` and `sysfs` are for tests."""

    def __init__(
        self,
        *,
        psutil_module: ModuleType | Any = None,
        importer: Importer = importlib.import_module,
        sysfs: Path = Path("/sys"),
    ) -> None:
        self._psutil = psutil_module or require("psutil", "system info", importer)
        self._thermal = sysfs / THERMAL
        # psutil's first cpu_percent(None) has nothing to compare with and says 0.0.
        self._call("cpu usage", lambda: self._psutil.cpu_percent(interval=None))

    def _call(self, what: str, fn: Any) -> Any:
        try:
            return fn()
        except (OSError, self._psutil.Error) as exc:
            raise HalError(f"system info: cannot read {what}: {exc}") from exc

    def memory_usage(self) -> MemoryUsage:
        """Used = total - available: what cannot be reclaimed (psutil's advice; `free`'s)."""
        mem = self._call("memory", self._psutil.virtual_memory)
        return MemoryUsage(int(mem.total), int(mem.total - mem.available))

    def cpu_usage_percent(self) -> float:
        """CPU use since the previous call (all cores), 0..100."""
        return float(self._call("cpu usage", lambda: self._psutil.cpu_percent(interval=None)))

    def uptime_s(self) -> int:
        boot = self._call("boot time", self._psutil.boot_time)
        return max(0, int(time.time() - boot))

    def disk_usage(self) -> DiskUsage:
        usage = self._call("disk usage", lambda: self._psutil.disk_usage(ROOT_FS))
        return DiskUsage(int(usage.total), int(usage.used))

    def _cpu_zone(self) -> Path:
        for zone in sorted(self._thermal.glob("thermal_zone*")):
            try:
                kind = (zone / "type").read_text(encoding="ascii").strip()
            except OSError:
                continue
            if kind == CPU_ZONE_TYPE:
                return zone
        raise HalError(f"no thermal zone of type {CPU_ZONE_TYPE} under {self._thermal}")

    def cpu_temp_c(self) -> float:
        """Raises HalError when the board has no cpu-thermal zone or it cannot be read."""
        zone = self._cpu_zone()
        try:
            return int((zone / "temp").read_text(encoding="ascii").strip()) / MILLI
        except (OSError, ValueError) as exc:
            raise HalError(f"cannot read {zone / 'temp'}: {exc}") from exc
