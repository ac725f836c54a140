"""What the kernel and the hardware libraries would show, for the linux backend's tests:
a clock that only moves when slept on, a sysfs-shaped tree, and doubles with the interfaces
of smbus2's SMBus, gpiod's line requests, psutil and rpi-ws281x's PixelStrip."""

from __future__ import annotations

import ctypes
import struct
import threading
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from harvester.hal.errors import HalRequestError


class FakeClock:
    """Virtual milliseconds: `sleep_ms` moves time on at once and is recorded."""

    def __init__(self) -> None:
        self.now = 10_000
        self.sleeps: list[int] = []

    def now_ms(self) -> int:
        return self.now

    def sleep_ms(self, ms: int, wake: threading.Event | None = None) -> None:
        if ms < 0:
            raise HalRequestError(f"negative sleep {ms}")
        self.sleeps.append(ms)
        self.now += ms


class FakeSMBus:
    """smbus2.SMBus as far as we use it: `i2c_rdwr(*msgs)` records (flags, addr, bytes)
    of each real smbus2.i2c_msg, fills reads from `answer`, raises `fail` if set."""

    def __init__(self, bus: int, answer: bytes = b"", fail: OSError | None = None) -> None:
        self.bus = bus
        self.answer = answer
        self.fail = fail
        self.transactions: list[list[tuple[int, int, bytes]]] = []
        self.closed = False
        self.hold: Callable[[], None] = lambda: None  # runs inside the transaction

    def i2c_rdwr(self, *msgs: Any) -> None:
        assert not self.closed, "transfer on a closed bus"
        if self.fail is not None:
            raise self.fail
        self.hold()
        for msg in msgs:
            if msg.flags & 1:  # I2C_M_RD: the kernel fills the buffer
                ctypes.memmove(msg.buf, self.answer[: msg.len].ljust(msg.len, b"\0"), msg.len)
        self.transactions.append([(m.flags, m.addr, bytes(m)) for m in msgs])

    def close(self) -> None:
        self.closed = True


class FakeLineRequest:
    """A gpiod v2 LineRequest: values per offset; records set_value calls."""

    def __init__(self, config: dict[int, Any], levels: dict[int, Any], log: list[str]) -> None:
        self.config = config
        self.levels = levels
        self.log = log
        self.released = False

    def get_value(self, line: int) -> Any:
        assert not self.released
        return self.levels[line]

    def set_value(self, line: int, value: Any) -> None:
        assert not self.released
        self.log.append(f"set {line} {value.name}")
        self.levels[line] = value

    def release(self) -> None:
        self.log.append(f"release {sorted(self.config)}")
        self.released = True


def fake_gpiod(
    labels: dict[str, str] | None = None, busy: frozenset[int] = frozenset()
) -> SimpleNamespace:
    """gpiod's API with the real LineSettings/Direction/Value and a fake kernel behind
    `request_lines` and `Chip` (chips by path -> label; `busy` lines answer EBUSY)."""
    import errno

    import gpiod  # the real bindings: their types, not their ioctls

    levels: dict[int, Any] = {}
    requests: list[tuple[str, dict[int, Any], FakeLineRequest]] = []
    log: list[str] = []

    def request_lines(path: str, config: dict[int, Any], consumer: str = "") -> FakeLineRequest:
        (pin,) = config
        if pin in busy:
            raise OSError(errno.EBUSY, "Device or resource busy")
        settings = config[pin]
        log.append(f"request {pin} {settings.direction.name}")
        if settings.direction == gpiod.line.Direction.OUTPUT:
            levels[pin] = settings.output_value
        else:
            levels.setdefault(pin, gpiod.line.Value.INACTIVE)
        request = FakeLineRequest(config, levels, log)
        requests.append((path, config, request))
        return request

    class Chip:
        def __init__(self, path: str) -> None:
            self.label = (labels or {})[Path(path).name]

        def __enter__(self) -> Chip:
            return self

        def __exit__(self, *exc: object) -> None:
            return None

        def get_info(self) -> SimpleNamespace:
            return SimpleNamespace(label=self.label)

    return SimpleNamespace(
        line=gpiod.line,
        LineSettings=gpiod.LineSettings,
        request_lines=request_lines,
        Chip=Chip,
        levels=levels,
        requests=requests,
        log=log,
    )


def make_dht11_device(
    sysfs: Path,
    index: int,
    pin: int,
    *,
    temp_milli: int = 21_300,
    humidity_milli: int = 48_700,
    gpios: bool = True,
    name: str | None = None,
) -> Path:
    """An iio:deviceN as the dht11 overlay leaves it: /sys/devices/platform/dht11@PIN/
    iio:deviceN, linked from /sys/bus/iio/devices, with of_node pointing at the device-tree
    node, whose `gpios` is <&gpio PIN 0> (three big-endian cells)."""
    node = sysfs / "firmware/devicetree/base" / f"dht11@{pin}"
    node.mkdir(parents=True)
    if gpios:
        (node / "gpios").write_bytes(struct.pack(">3I", 0x15, pin, 0))
    device = sysfs / "devices/platform" / f"dht11@{pin}" / f"iio:device{index}"
    device.mkdir(parents=True)
    (device / "name").write_text(f"{name or f'dht11@{pin}'}\n")
    (device / "in_temp_input").write_text(f"{temp_milli}\n")
    (device / "in_humidityrelative_input").write_text(f"{humidity_milli}\n")
    (device / "of_node").symlink_to(node)
    link = sysfs / "bus/iio/devices" / f"iio:device{index}"
    link.parent.mkdir(parents=True, exist_ok=True)
    link.symlink_to(device)
    return link
