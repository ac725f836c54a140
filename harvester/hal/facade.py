"""One plugin's view of the hardware: every call checks the plugin's grant first.

This is the only road from a plugin to a backend. A refused call raises NotGranted
naming the resource and is reported through `on_refusal` (the plugin's log). A granted
call to hardware the node does not have raises MissingCapability naming the capability.
Otherwise each method raises what the backend's capability raises (capabilities.py).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import TypeVar

from harvester.config import Grants
from harvester.constants import (
    BUZZER_MAX_HZ,
    BUZZER_MAX_MS,
    BUZZER_MIN_HZ,
    I2C_MAX_READ,
    I2C_MAX_WRITE,
    SLEEP_MAX_MS,
)
from harvester.hal.backend import Backend
from harvester.hal.capabilities import (
    Buzzers,
    Capability,
    Dht22Reading,
    DiskUsage,
    MemoryUsage,
    NodeReading,
    NodeReadings,
)
from harvester.hal.errors import HalRequestError, MissingCapability, NotGranted

_Part = TypeVar("_Part")


def _present(part: _Part | None, capability: Capability) -> _Part:
    if part is None:
        raise MissingCapability(capability)
    return part


def needed_capabilities(grants: Grants) -> frozenset[Capability]:
    """The capabilities a plugin with these grants may use."""
    wanted = {
        Capability.I2C: bool(grants.i2c),
        Capability.GPIO: bool(grants.gpio),
        Capability.DHT22: bool(grants.dht22),
        Capability.SYSTEM_INFO: grants.system_info,
        Capability.LEDS: bool(grants.leds),
        Capability.BUZZER: bool(grants.buzzer),
    }
    return frozenset(c for c, granted in wanted.items() if granted)


class PluginHal:
    def __init__(
        self,
        backend: Backend,
        grants: Grants,
        *,
        on_refusal: Callable[[str], None] = lambda resource: None,
        readings: NodeReadings | None = None,
    ) -> None:
        self._backend = backend
        self._grants = grants
        self._on_refusal = on_refusal
        self._readings = readings

    @property
    def missing_capabilities(self) -> frozenset[Capability]:
        """What the plugin is granted but the node does not have (a config mistake worth
        reporting when the plugin starts; its calls there raise MissingCapability)."""
        return needed_capabilities(self._grants) - self._backend.capabilities

    def _refuse(self, resource: str) -> NotGranted:
        self._on_refusal(resource)
        return NotGranted(resource)

    def i2c_transfer(self, bus: int, address: int, data: bytes, read_len: int) -> bytes:
        """Raises NotGranted, MissingCapability, HalRequestError (a read or write over the
        host's limit), or what I2C.transfer raises."""
        if not self._grants.allows_i2c(bus, address):
            raise self._refuse(f"i2c bus {bus} address {address:#04x}")
        i2c = _present(self._backend.i2c, Capability.I2C)
        if read_len > I2C_MAX_READ:
            raise HalRequestError(f"read of {read_len} bytes exceeds the limit of {I2C_MAX_READ}")
        if len(data) > I2C_MAX_WRITE:
            raise HalRequestError(
                f"write of {len(data)} bytes exceeds the limit of {I2C_MAX_WRITE}"
            )
        return i2c.transfer(bus, address, data, read_len)

    def read_dht22(self, pin: int) -> Dht22Reading:
        """Raises NotGranted, MissingCapability, or what Dht22.read raises."""
        if pin not in self._grants.dht22:
            raise self._refuse(f"dht22 on gpio {pin}")
        return _present(self._backend.dht22, Capability.DHT22).read(pin)

    def read_pin(self, pin: int) -> bool:
        """Raises NotGranted, MissingCapability, or what Gpio.read raises."""
        if pin not in self._grants.gpio:
            raise self._refuse(f"gpio {pin}")
        return _present(self._backend.gpio, Capability.GPIO).read(pin)

    def write_pin(self, pin: int, high: bool) -> None:
        """Raises NotGranted, MissingCapability, or what Gpio.write raises."""
        if pin not in self._grants.gpio:
            raise self._refuse(f"gpio {pin}")
        _present(self._backend.gpio, Capability.GPIO).write(pin, high)

    def led_pixel_count(self, strip: int) -> int:
        """The granted pixels of `strip`, capped by the strip's length. Raises NotGranted,
        MissingCapability, or what LedStrips.pixel_count raises."""
        granted = self._grants.led_pixels(strip)
        if not granted:
            raise self._refuse(f"led strip {strip}")
        return min(granted, _present(self._backend.leds, Capability.LEDS).pixel_count(strip))

    def led_show(self, strip: int, pixels: Sequence[int]) -> None:
        """Raises NotGranted (the strip, or pixels past the grant), MissingCapability, or
        what LedStrips.show raises."""
        granted = self._grants.led_pixels(strip)
        if not granted:
            raise self._refuse(f"led strip {strip}")
        if len(pixels) > granted:
            raise self._refuse(f"led strip {strip} pixels {granted}..{len(pixels) - 1}")
        leds = _present(self._backend.leds, Capability.LEDS)
        leds.show(strip, [p & 0xFFFFFF for p in pixels])

    def buzzer_tone(self, pin: int, frequency_hz: int, duration_ms: int) -> None:
        """Raises NotGranted, MissingCapability, HalRequestError (duration or frequency out
        of range), or what Buzzers.tone raises."""
        buzzer = self._buzzer(pin)
        if not 0 < duration_ms <= BUZZER_MAX_MS:
            raise HalRequestError(f"tone of {duration_ms} ms: must be 1..{BUZZER_MAX_MS}")
        if not BUZZER_MIN_HZ <= frequency_hz <= BUZZER_MAX_HZ:
            raise HalRequestError(
                f"tone of {frequency_hz} Hz: must be {BUZZER_MIN_HZ}..{BUZZER_MAX_HZ}"
            )
        buzzer.tone(pin, frequency_hz, duration_ms)

    def buzzer_off(self, pin: int) -> None:
        """Raises NotGranted, MissingCapability, or what Buzzers.off raises."""
        self._buzzer(pin).off(pin)

    def _buzzer(self, pin: int) -> Buzzers:
        if pin not in self._grants.buzzer:
            raise self._refuse(f"buzzer on gpio {pin}")
        return _present(self._backend.buzzer, Capability.BUZZER)

    # The node's own readings: the world import plus `readings = true` is the grant.
    def node_name(self) -> str:
        """Raises NotGranted without the grant."""
        return self._node_readings().node_name

    def latest_readings(self) -> Sequence[NodeReading]:
        """Raises NotGranted without the grant."""
        return self._node_readings().latest()

    def _node_readings(self) -> NodeReadings:
        if not self._grants.readings or self._readings is None:
            raise self._refuse("node readings")
        return self._readings

    # System info is read-only and node-wide: the world import is the grant. Each call
    # raises MissingCapability on a node without it, or what SystemInfo raises.
    def memory_usage(self) -> MemoryUsage:
        return _present(self._backend.system, Capability.SYSTEM_INFO).memory_usage()

    def cpu_usage_percent(self) -> float:
        return _present(self._backend.system, Capability.SYSTEM_INFO).cpu_usage_percent()

    def uptime_s(self) -> int:
        return _present(self._backend.system, Capability.SYSTEM_INFO).uptime_s()

    def cpu_temp_c(self) -> float:
        return _present(self._backend.system, Capability.SYSTEM_INFO).cpu_temp_c()

    def disk_usage(self) -> DiskUsage:
        return _present(self._backend.system, Capability.SYSTEM_INFO).disk_usage()

    def now_ms(self) -> int:
        return self._backend.clock.now_ms()

    def sleep_ms(self, ms: int, wake: threading.Event | None = None) -> None:
        """Sleep at most SLEEP_MAX_MS; return early once `wake` is set (see Clock.sleep_ms).
        Raises HalRequestError for a negative `ms`."""
        self._backend.clock.sleep_ms(min(ms, SLEEP_MAX_MS), wake)
