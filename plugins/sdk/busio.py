"""CircuitPython's `busio.I2C` over the host's WIT `i2c.transfer`.

What lets an unchanged pure-Python CircuitPython driver (adafruit_ssd1306,
adafruit_bme680, anything built on adafruit_bus_device) run in the sandbox. Each call
is one host transfer, checked against the plugin's grant like any other:

- `writeto` is a write, `readfrom_into` a read, `writeto_then_readfrom` a write and a
  read with a repeated start (one transaction, as CircuitPython does it);
- a failed transfer raises `HalOSError`, an OSError with the matching errno that carries
  the `hal-error` (see harvester_sdk/hal.py), so drivers' `except OSError` works and
  `guard` still reports a `hal` error;
- the lock is honoured as in CircuitPython (a transfer without it is a RuntimeError),
  though the host serialises each bus itself;
- `frequency` is kept but has no effect: the bus speed is the kernel's (the device tree).

Importing this module routes `time.sleep` through the host's clock (harvester_sdk.clock):
the sandbox traps on WASI waits, and every driver sleeps.
"""

from componentize_py_types import Err
from harvester_sdk.clock import route_time_sleep
from harvester_sdk.hal import HalOSError
from wit_world.imports import i2c as _wit

route_time_sleep()

DEFAULT_BUS = 1
# i2cdetect's default range: 0x00-0x07 and 0x78-0x7f are reserved addresses.
SCAN_RANGE = range(0x08, 0x78)


def _span(buffer, start: int, end) -> tuple[int, int]:
    end = len(buffer) if end is None else end
    if not 0 <= start <= end <= len(buffer):
        raise ValueError(f"start {start} / end {end} outside a buffer of {len(buffer)} bytes")
    return start, end


class I2C:
    """`busio.I2C(scl, sda, *, frequency=100000)`, plus `bus=` (the host's bus number,
    from the plugin's settings; the pins are placeholders)."""

    def __init__(self, scl=None, sda=None, *, frequency: int = 100_000, bus: int = DEFAULT_BUS):
        self.bus = bus
        self.frequency = frequency
        self._locked = False
        self._closed = False

    # -- locking, as CircuitPython requires it -------------------------------------------
    def try_lock(self) -> bool:
        if self._locked:
            return False
        self._locked = True
        return True

    def unlock(self) -> None:
        self._locked = False

    def deinit(self) -> None:
        self._closed = True
        self._locked = False

    def __enter__(self) -> "I2C":
        return self

    def __exit__(self, *exc) -> None:
        self.deinit()

    # -- transfers -----------------------------------------------------------------------
    def _transfer(self, address: int, data: bytes, read_len: int) -> bytes:
        if self._closed:
            raise ValueError("Object has been deinitialized and can no longer be used.")
        if not self._locked:
            raise RuntimeError("Function requires lock")
        try:
            return _wit.transfer(self.bus, address, data, read_len)
        except Err as err:
            where = f"i2c bus {self.bus} address {address:#04x}"
            raise HalOSError(err.value, where) from None

    def writeto(self, address: int, buffer, *, start: int = 0, end=None) -> None:
        start, end = _span(buffer, start, end)
        self._transfer(address, bytes(buffer[start:end]), 0)

    def readfrom_into(self, address: int, buffer, *, start: int = 0, end=None) -> None:
        start, end = _span(buffer, start, end)
        if end > start:
            buffer[start:end] = self._transfer(address, b"", end - start)

    def writeto_then_readfrom(
        self,
        address: int,
        buffer_out,
        buffer_in,
        *,
        out_start: int = 0,
        out_end=None,
        in_start: int = 0,
        in_end=None,
    ) -> None:
        out_start, out_end = _span(buffer_out, out_start, out_end)
        in_start, in_end = _span(buffer_in, in_start, in_end)
        data = self._transfer(address, bytes(buffer_out[out_start:out_end]), in_end - in_start)
        buffer_in[in_start:in_end] = data

    def scan(self) -> list[int]:
        """Addresses that acknowledge a 1-byte read (a read changes no device's state).
        Addresses the plugin is not granted answer `not-granted` and count as absent."""
        found = []
        for address in SCAN_RANGE:
            try:
                self._transfer(address, b"", 1)
            except OSError:
                continue
            found.append(address)
        return found
