"""The sim's system info: a 4 GB Pi 4 with plausible, slightly moving numbers."""

from __future__ import annotations

import random
import time
from collections.abc import Callable

from harvester.hal.capabilities import DiskUsage, MemoryUsage

SIM_MEMORY_TOTAL = 4 * 1024**3  # a 4 GB Pi 4
MEMORY_USED_SHARE = (0.30, 0.35)  # used RAM moves within this share of the total
CPU_USAGE_PERCENT = (5.0, 25.0)
SIM_DISK_TOTAL = 32 * 1000**3  # a 32 GB SD card
SIM_DISK_USED = 7 * 1000**3
CPU_TEMP_NOISE_C = 0.3  # standard deviation around the configured temperature
ROUND_DIGITS = 1


class SimSystemInfo:
    """Every method raises nothing. Uptime counts real seconds since this object was made."""

    def __init__(
        self,
        rng: random.Random,
        *,
        cpu_temp_c: float,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._rng = rng
        self._cpu_temp_c = cpu_temp_c
        self._monotonic = monotonic
        self._started = monotonic()

    def memory_usage(self) -> MemoryUsage:
        used = int(SIM_MEMORY_TOTAL * self._rng.uniform(*MEMORY_USED_SHARE))
        return MemoryUsage(SIM_MEMORY_TOTAL, used)

    def cpu_usage_percent(self) -> float:
        return round(self._rng.uniform(*CPU_USAGE_PERCENT), ROUND_DIGITS)

    def uptime_s(self) -> int:
        return int(self._monotonic() - self._started)

    def cpu_temp_c(self) -> float:
        return round(self._cpu_temp_c + self._rng.gauss(0, CPU_TEMP_NOISE_C), ROUND_DIGITS)

    def disk_usage(self) -> DiskUsage:
        return DiskUsage(SIM_DISK_TOTAL, SIM_DISK_USED)
