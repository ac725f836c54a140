"""DHT22 sensors through the kernel's dht11 IIO driver (it serves the DHT22 too).

Declared with `dtoverlay=dht11,gpiopin=N` (NixOS: hardware.deviceTree.overlays), a sensor
appears as /sys/bus/iio/devices/iio:deviceK with a `name` holding "dht11" (the device's
name, "dht11@N": the overlay sets the unit address to the pin) and `of_node`, the device-tree
node, whose `gpios` property is <&gpio N flags>: three big-endian cells, the pin second.
The pin is taken from `gpios`, else from the unit address; [linux] dht22 entries may name
the device instead. Values: in_temp_input (milli-°C), in_humidityrelative_input (milli-%RH).

The driver answers EIO (bad edge count or checksum) or ETIMEDOUT (no answer) now and then;
that is normal for the sensor. A read retries, attempts starting RETRY_GAP_MS apart, as
long as the next starts within RETRY_BUDGET_MS of the call, then raises HalTimeout: with the
driver's own wait (up to 1 s before ETIMEDOUT) a call stays below a plugin's default 2 s
deadline. A good
reading is kept for MIN_INTERVAL_MS, the sensor's sampling period (the driver keeps it as
long), so polls faster than that never wake the sensor.
"""

from __future__ import annotations

import errno
import struct
import threading
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Final

from harvester.config import LinuxDht22
from harvester.hal.capabilities import Clock, Dht22Reading
from harvester.hal.errors import HalError, HalTimeout

MIN_INTERVAL_MS: Final = 2000
RETRY_GAP_MS: Final = 500
RETRY_BUDGET_MS: Final = 500  # so at most two attempts per call
DRIVER_NAME: Final = "dht11"
IIO_DEVICES: Final = Path("bus/iio/devices")
MILLI: Final = 1000.0
GPIOS_CELLS: Final = 3  # <&gpio pin flags>
TRANSIENT: Final = (errno.EIO, errno.ETIMEDOUT)

ReadAttr = Callable[[Path], str]


def _read_text(path: Path) -> str:
    return path.read_text(encoding="ascii")


def declared_pin(device: Path) -> int | None:
    """The GPIO a dht11 IIO device was declared on, from its device-tree node."""
    for of_node in (device / "of_node", device.resolve().parent / "of_node"):
        try:
            cells = (of_node / "gpios").read_bytes()
        except OSError:
            continue
        if len(cells) == 4 * GPIOS_CELLS:
            return int(struct.unpack(">3I", cells)[1])
    for name in (device / "of_node", device.resolve().parent):
        _, at, unit = name.resolve().name.partition("@")
        if at and unit.isdigit():
            return int(unit)
    return None


class LinuxDht22Sensors:
    """The Dht22 capability. `sysfs` is /sys (tests pass a tree of their own), `read_attr`
    reads one attribute (tests pass one that fails as the driver does)."""

    def __init__(
        self,
        clock: Clock,
        sensors: Iterable[LinuxDht22] = (),
        *,
        sysfs: Path = Path("/sys"),
        read_attr: ReadAttr = _read_text,
    ) -> None:
        self._clock = clock
        self._explicit = {s.pin: s.iio_device for s in sensors}
        self._devices = sysfs / IIO_DEVICES
        self._read = read_attr
        self._last: dict[int, tuple[int, Dht22Reading]] = {}  # pin -> (when, reading)
        self._tried: dict[int, int] = {}  # pin -> when the sensor was last woken
        self._locks: dict[int, threading.Lock] = {}
        self._locks_lock = threading.Lock()

    def device_for(self, pin: int) -> Path:
        """The IIO device of the DHT22 on `pin`. Raises HalError saying how to declare it."""
        named = self._explicit.get(pin)
        if named is not None:
            device = self._devices / named
            if not (device / "name").exists():
                raise HalError(f"dht22 on gpio {pin}: {device} does not exist")
            return device
        for device in sorted(self._devices.glob("iio:device*")):
            try:
                name = self._read(device / "name").strip()
            except OSError:
                continue
            if DRIVER_NAME in name and declared_pin(device) == pin:
                return device
        raise HalError(
            f"dht22 on gpio {pin}: no dht11 IIO device under {self._devices}"
            f" (config.txt: dtoverlay=dht11,gpiopin={pin}; NixOS: hardware.deviceTree.overlays)"
        )

    def _lock(self, pin: int) -> threading.Lock:
        with self._locks_lock:
            return self._locks.setdefault(pin, threading.Lock())

    def read(self, pin: int) -> Dht22Reading:
        """One reading. Raises HalTimeout when every attempt in the budget failed, HalError
        when there is no such sensor or the driver fails otherwise."""
        with self._lock(pin):
            now = self._clock.now_ms()
            last = self._last.get(pin)
            if last is not None and now - last[0] < MIN_INTERVAL_MS:
                return last[1]
            device = self.device_for(pin)
            started = now
            failures: list[str] = []
            while True:
                self._wait_gap(pin)
                tried = self._tried[pin] = self._clock.now_ms()
                try:
                    reading = self._attempt(device)
                except OSError as exc:
                    if exc.errno not in TRANSIENT:
                        raise HalError(
                            f"dht22 on gpio {pin} ({device.name}): {exc.strerror or exc}"
                        ) from exc
                    failures.append(errno.errorcode[exc.errno])
                else:
                    self._last[pin] = (tried, reading)
                    return reading
                # Another attempt only if it starts within the budget: with the driver's
                # own 1 s wait for an answer, a call then stays below 2 s.
                if max(self._clock.now_ms(), tried + RETRY_GAP_MS) - started > RETRY_BUDGET_MS:
                    raise HalTimeout(
                        f"dht22 on gpio {pin} ({device.name}): no valid reading"
                        f" ({', '.join(failures)})"
                    )

    def _wait_gap(self, pin: int) -> None:
        """Never wake the sensor sooner than RETRY_GAP_MS after the previous attempt."""
        tried = self._tried.get(pin)
        if tried is not None:
            since = self._clock.now_ms() - tried
            if since < RETRY_GAP_MS:
                self._clock.sleep_ms(RETRY_GAP_MS - since)

    def _attempt(self, device: Path) -> Dht22Reading:
        try:
            temp = int(self._read(device / "in_temp_input").strip())
            humidity = int(self._read(device / "in_humidityrelative_input").strip())
        except ValueError as exc:  # not what the driver writes; name it, don't crash
            raise OSError(errno.EPROTO, f"unreadable value: {exc}") from exc
        return Dht22Reading(temp / MILLI, humidity / MILLI)
