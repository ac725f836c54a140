"""What hardware can do, one small Protocol per capability.

A backend (backend.py) is a bundle of these; a node without some hardware leaves that
capability out, and the facade (facade.py) answers a plugin with MissingCapability. Every
method raises only HalError subclasses (harvester.hal.errors), and says which.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from enum import StrEnum
from typing import NamedTuple, Protocol


class Capability(StrEnum):
    """The optional capabilities of a backend; the value is how messages name it."""

    I2C = "i2c"
    GPIO = "gpio"
    DHT22 = "dht22"
    SYSTEM_INFO = "system info"
    LEDS = "leds"
    BUZZER = "buzzer"


class Dht22Reading(NamedTuple):
    temperature_c: float
    humidity_rh: float


class MemoryUsage(NamedTuple):
    total_bytes: int
    used_bytes: int


class DiskUsage(NamedTuple):
    total_bytes: int
    used_bytes: int


class I2C(Protocol):
    """I2C controllers, by bus number (/dev/i2c-N on Linux)."""

    def transfer(self, bus: int, address: int, data: bytes, read_len: int) -> bytes:
        """Write `data` (if any), then read `read_len` bytes (if any) after a repeated start,
        as one transaction. Returns exactly `read_len` bytes.

        Raises NoAcknowledge (ADDRESS when nothing answers the address or the bus does not
        exist, DATA when a written byte is refused), BusError, ArbitrationLoss, Overrun or
        HalTimeout as the controller reports them.
        """
        ...


class Gpio(Protocol):
    """Plain digital pins, by BCM number."""

    def read(self, pin: int) -> bool:
        """The pin's level (True = high). Raises HalError if the pin cannot be read."""
        ...

    def write(self, pin: int, high: bool) -> None:
        """Drive the pin high or low. Raises HalError if the pin cannot be driven."""
        ...


class Dht22(Protocol):
    """DHT22 (AM2302) sensors, by the BCM pin their data line is on."""

    def read(self, pin: int) -> Dht22Reading:
        """One reading. Raises HalTimeout when the sensor does not answer or the read fails
        its checksum, as a real DHT22 does now and then: callers retry later."""
        ...


class SystemInfo(Protocol):
    """The node's own health, read-only."""

    def memory_usage(self) -> MemoryUsage:
        """Total and used RAM in bytes. Raises HalError if it cannot be read."""
        ...

    def cpu_usage_percent(self) -> float:
        """CPU use over the recent past, 0..100. Raises HalError if it cannot be read."""
        ...

    def uptime_s(self) -> int:
        """Seconds since the node booted. Raises HalError if it cannot be read."""
        ...

    def cpu_temp_c(self) -> float:
        """SoC temperature in °C. Raises HalError when the board has no sensor."""
        ...

    def disk_usage(self) -> DiskUsage:
        """Size and use of the root file system in bytes. Raises HalError if unreadable."""
        ...


class LedStrips(Protocol):
    """WS2812B strips, by the strip number the node config gives each."""

    def pixel_count(self, strip: int) -> int:
        """How many pixels the strip has. Raises HalRequestError for an unknown strip."""
        ...

    def show(self, strip: int, pixels: Sequence[int]) -> None:
        """Set the first `len(pixels)` pixels (0xRRGGBB each) and latch them onto the strip;
        the others keep their colour. Raises HalRequestError for an unknown strip or more
        pixels than it has, HalError if the strip cannot be driven."""
        ...


class Buzzers(Protocol):
    """Buzzers, by the BCM pin each is on (active: on/off; passive: PWM tone)."""

    def tone(self, pin: int, frequency_hz: int, duration_ms: int) -> None:
        """Start sounding for `duration_ms` and return at once; it stops by itself, and a
        new tone replaces the one sounding. An active buzzer ignores the frequency.
        Raises HalRequestError for a pin with no buzzer, HalError if it cannot be driven."""
        ...

    def off(self, pin: int) -> None:
        """Silence it now. Raises as `tone` does."""
        ...


class NodeReading(NamedTuple):
    """One metric's latest value on this node, as a display shows it."""

    plugin: str
    metric: str
    value: float
    unit: str
    age_ms: int


class NodeReadings(Protocol):
    """What the node read lately (the node implements it; read-only for plugins)."""

    @property
    def node_name(self) -> str: ...

    def latest(self) -> Sequence[NodeReading]:
        """The latest reading of every metric of every plugin. Raises nothing."""
        ...


class Clock(Protocol):
    """Time as plugins and devices see it: real on Linux, virtual (scalable) in the sim."""

    def now_ms(self) -> int:
        """Milliseconds on a monotonic clock (the epoch is arbitrary). Raises nothing."""
        ...

    def sleep_ms(self, ms: int, wake: threading.Event | None = None) -> None:
        """Wait `ms` milliseconds, or less: return as soon as `wake` is set (at once if it
        already is). Afterwards `now_ms()` has moved on by the time that passed, which for
        an early wake-up is only the part before the wake.

        Raises HalRequestError for a negative `ms`.
        """
        ...
