"""Capabilities seen through a hook: every call is described as a `Call` and handed to the
hook with a way to `proceed` to the real capability. A recorder proceeds and writes down
what happened; a fault injector sometimes raises instead; a replayer answers from a file.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, cast

from harvester.hal.backend import Backend
from harvester.hal.capabilities import (
    I2C,
    Buzzers,
    Capability,
    Dht22,
    Dht22Reading,
    DiskUsage,
    Gpio,
    LedStrips,
    MemoryUsage,
    SystemInfo,
)
from harvester.hal.tap.format import Call


class Hook(Protocol):
    def __call__(self, call: Call, proceed: Callable[[], Any]) -> Any:
        """What `call` returns: `proceed()`'s answer, changed or not, or one of its own.
        Raises HalError (the capability's, or one of its own)."""
        ...


@dataclass(frozen=True, kw_only=True, eq=False)
class TappedBackend(Backend):
    """A backend seen through hooks. `close()` ends what the hooks hold open (a recording)."""

    closers: tuple[Callable[[], None], ...] = field(default=())

    def close(self) -> None:
        for close in self.closers:
            close()


class _Tapped:
    capability: Capability

    def __init__(self, hook: Hook, inner: Any) -> None:
        self._hook = hook
        self._inner = inner

    def _through(self, op: str, args: dict[str, Any], proceed: Callable[[], Any]) -> Any:
        return self._hook(Call(self.capability, op, args), proceed)


class TappedI2C(_Tapped):
    capability = Capability.I2C

    def transfer(self, bus: int, address: int, data: bytes, read_len: int) -> bytes:
        args = {"bus": bus, "address": address, "write": data.hex(), "read": read_len}
        return cast(
            bytes,
            self._through(
                "transfer", args, lambda: self._inner.transfer(bus, address, data, read_len)
            ),
        )


class TappedGpio(_Tapped):
    capability = Capability.GPIO

    def read(self, pin: int) -> bool:
        return cast(bool, self._through("read", {"pin": pin}, lambda: self._inner.read(pin)))

    def write(self, pin: int, high: bool) -> None:
        self._through("write", {"pin": pin, "high": high}, lambda: self._inner.write(pin, high))


class TappedDht22(_Tapped):
    capability = Capability.DHT22

    def read(self, pin: int) -> Dht22Reading:
        return cast(
            Dht22Reading, self._through("read", {"pin": pin}, lambda: self._inner.read(pin))
        )


class TappedSystemInfo(_Tapped):
    capability = Capability.SYSTEM_INFO

    def memory_usage(self) -> MemoryUsage:
        return cast(MemoryUsage, self._through("memory_usage", {}, self._inner.memory_usage))

    def cpu_usage_percent(self) -> float:
        return cast(float, self._through("cpu_usage_percent", {}, self._inner.cpu_usage_percent))

    def uptime_s(self) -> int:
        return cast(int, self._through("uptime_s", {}, self._inner.uptime_s))

    def cpu_temp_c(self) -> float:
        return cast(float, self._through("cpu_temp_c", {}, self._inner.cpu_temp_c))

    def disk_usage(self) -> DiskUsage:
        return cast(DiskUsage, self._through("disk_usage", {}, self._inner.disk_usage))


class TappedLeds(_Tapped):
    capability = Capability.LEDS

    def pixel_count(self, strip: int) -> int:
        return cast(
            int,
            self._through("pixel_count", {"strip": strip}, lambda: self._inner.pixel_count(strip)),
        )

    def show(self, strip: int, pixels: Sequence[int]) -> None:
        args = {"strip": strip, "pixels": [f"{p:06x}" for p in pixels]}
        self._through("show", args, lambda: self._inner.show(strip, pixels))


class TappedBuzzers(_Tapped):
    capability = Capability.BUZZER

    def tone(self, pin: int, frequency_hz: int, duration_ms: int) -> None:
        args = {"pin": pin, "frequency_hz": frequency_hz, "duration_ms": duration_ms}
        self._through("tone", args, lambda: self._inner.tone(pin, frequency_hz, duration_ms))

    def off(self, pin: int) -> None:
        self._through("off", {"pin": pin}, lambda: self._inner.off(pin))


def tap(
    backend: Backend,
    hook: Hook,
    *,
    closers: tuple[Callable[[], None], ...] = (),
) -> TappedBackend:
    """`backend` with every capability it has seen through `hook` (the clock is not: time
    is no transaction). Keeps the closers of a backend that is itself tapped."""

    def wrapped(part: object, kind: type[_Tapped]) -> Any:
        return None if part is None else kind(hook, part)

    inner_closers = backend.closers if isinstance(backend, TappedBackend) else ()
    return TappedBackend(
        name=backend.name,
        clock=backend.clock,
        i2c=cast(I2C | None, wrapped(backend.i2c, TappedI2C)),
        gpio=cast(Gpio | None, wrapped(backend.gpio, TappedGpio)),
        dht22=cast(Dht22 | None, wrapped(backend.dht22, TappedDht22)),
        system=cast(SystemInfo | None, wrapped(backend.system, TappedSystemInfo)),
        leds=cast(LedStrips | None, wrapped(backend.leds, TappedLeds)),
        buzzer=cast(Buzzers | None, wrapped(backend.buzzer, TappedBuzzers)),
        closers=closers + inner_closers,
    )
