"""SimSystemInfo: a 4 GB Pi 4 with plausible, moving numbers."""

from __future__ import annotations

import random

import pytest

from harvester.hal.sim.system import SIM_MEMORY_TOTAL, SimSystemInfo


class FakeMonotonic:
    def __init__(self) -> None:
        self.now = 50.0

    def __call__(self) -> float:
        return self.now


def test_numbers_are_plausible_and_move() -> None:
    system = SimSystemInfo(random.Random(1), cpu_temp_c=48.0)
    memory = [system.memory_usage() for _ in range(50)]
    assert all(m.total_bytes == SIM_MEMORY_TOTAL for m in memory)
    assert all(0.3 * SIM_MEMORY_TOTAL <= m.used_bytes <= 0.35 * SIM_MEMORY_TOTAL for m in memory)
    assert len({m.used_bytes for m in memory}) > 1
    cpu = [system.cpu_usage_percent() for _ in range(50)]
    assert all(5.0 <= c <= 25.0 for c in cpu)
    temps = [system.cpu_temp_c() for _ in range(50)]
    assert sum(temps) / len(temps) == pytest.approx(48.0, abs=0.3)


def test_uptime_counts_seconds_since_start() -> None:
    real = FakeMonotonic()
    system = SimSystemInfo(random.Random(1), cpu_temp_c=48.0, monotonic=real)
    assert system.uptime_s() == 0
    real.now += 90.7
    assert system.uptime_s() == 90
