"""One plugin's view of the hardware: every call checks the plugin's grant first.

This is the only road from a plugin to a backend. A refused call raises NotGranted
naming the resource and is reported through `on_refusal` (the plugin's log).
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from harvester.config import Grants
from harvester.constants import I2C_MAX_READ, I2C_MAX_WRITE, SLEEP_MAX_MS
from harvester.hal.backend import Backend, Dht22Reading, MemoryUsage
from harvester.hal.errors import HalRequestError, NotGranted


class PluginHal:
    def __init__(
        self,
        backend: Backend,
        grants: Grants,
        *,
        on_refusal: Callable[[str], None] = lambda resource: None,
    ) -> None:
        self._backend = backend
        self._grants = grants
        self._on_refusal = on_refusal

    def _refuse(self, resource: str) -> NotGranted:
        self._on_refusal(resource)
        return NotGranted(resource)

    def i2c_transfer(self, bus: int, address: int, data: bytes, read_len: int) -> bytes:
        if not self._grants.allows_i2c(bus, address):
            raise self._refuse(f"i2c bus {bus} address {address:#04x}")
        if read_len > I2C_MAX_READ:
            raise HalRequestError(f"read of {read_len} bytes exceeds the limit of {I2C_MAX_READ}")
        if len(data) > I2C_MAX_WRITE:
            raise HalRequestError(
                f"write of {len(data)} bytes exceeds the limit of {I2C_MAX_WRITE}"
            )
        return self._backend.i2c_transfer(bus, address, data, read_len)

    def read_dht22(self, pin: int) -> Dht22Reading:
        if pin not in self._grants.dht22:
            raise self._refuse(f"dht22 on gpio {pin}")
        return self._backend.read_dht22(pin)

    def read_pin(self, pin: int) -> bool:
        if pin not in self._grants.gpio:
            raise self._refuse(f"gpio {pin}")
        return self._backend.read_pin(pin)

    def write_pin(self, pin: int, high: bool) -> None:
        if pin not in self._grants.gpio:
            raise self._refuse(f"gpio {pin}")
        self._backend.write_pin(pin, high)

    # System info is read-only and node-wide: the world import is the grant.
    def memory_usage(self) -> MemoryUsage:
        return self._backend.memory_usage()

    def cpu_usage_percent(self) -> float:
        return self._backend.cpu_usage_percent()

    def uptime_s(self) -> int:
        return self._backend.uptime_s()

    def cpu_temp_c(self) -> float:
        return self._backend.cpu_temp_c()

    def now_ms(self) -> int:
        return self._backend.now_ms()

    def sleep_ms(self, ms: int, wake: threading.Event | None = None) -> None:
        self._backend.sleep_ms(min(ms, SLEEP_MAX_MS), wake)
