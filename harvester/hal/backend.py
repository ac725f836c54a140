"""What a hardware backend provides. `sim` simulates devices; `linux` (later) drives real ones.

Backends know nothing of plugins or grants: the facade (facade.py) checks those first.
Every method raises a HalError subclass on failure and nothing else.
"""

from __future__ import annotations

import threading
from typing import NamedTuple, Protocol


class Dht22Reading(NamedTuple):
    temperature_c: float
    humidity_rh: float


class MemoryUsage(NamedTuple):
    total_bytes: int
    used_bytes: int


class Backend(Protocol):
    name: str

    def i2c_transfer(self, bus: int, address: int, data: bytes, read_len: int) -> bytes:
        """Write `data` (if any), then read `read_len` bytes (if any) with a repeated start."""
        ...

    def read_dht22(self, pin: int) -> Dht22Reading: ...

    def read_pin(self, pin: int) -> bool: ...

    def write_pin(self, pin: int, high: bool) -> None: ...

    def memory_usage(self) -> MemoryUsage: ...

    def cpu_usage_percent(self) -> float: ...

    def uptime_s(self) -> int: ...

    def cpu_temp_c(self) -> float: ...

    def now_ms(self) -> int: ...

    def sleep_ms(self, ms: int, wake: threading.Event | None = None) -> None: ...
