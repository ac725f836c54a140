"""I2C through the kernel's i2c-dev (/dev/i2c-N) with smbus2's `i2c_rdwr`.

A transfer is ONE I2C_RDWR ioctl: the write and the read go out as one combined
transaction with a repeated start, so no other master or plugin gets between the register
address and its data. Each bus is opened once, on first use, shared by every plugin, and
serialised by a lock of its own: two plugins never interleave a transaction.

The errno the adapter driver returns is mapped to the WIT `hal-error` case, following the
kernel's Documentation/i2c/fault-codes.rst and what i2c-bcm2835 (the Pi's controller)
returns: ENXIO (address not acknowledged) and EREMOTEIO (i2c-bcm2835, when the
controller's ERR flag is set: by the BCM2835 datasheet, the slave did not acknowledge its
address) → NoAcknowledge(ADDRESS); ETIMEDOUT → HalTimeout; EAGAIN (lost arbitration) →
ArbitrationLoss; EIO (i2c-bcm2835: a clock-stretch timeout, CLKT, or another fault) and
EBUSY (bus busy too long) → BusError. No I2C errno means an overrun: Overrun is never
raised.
"""

from __future__ import annotations

import errno
import importlib
import logging
import threading
from collections.abc import Callable
from typing import Any, Final, Protocol

from harvester.hal.errors import (
    ArbitrationLoss,
    BusError,
    HalError,
    HalTimeout,
    NackSource,
    NoAcknowledge,
)
from harvester.hal.linux._library import Importer, require

log = logging.getLogger(__name__)

I2C_DEV_HINT: Final = (
    'enable it (config.txt: dtparam=i2c_arm=on; NixOS: hardware.raspberry-pi."4".i2c1.enable)'
    " and load i2c-dev"
)


class SMBusLike(Protocol):
    """What we use of smbus2.SMBus."""

    def i2c_rdwr(self, *msgs: Any) -> None: ...

    def close(self) -> None: ...


OpenBus = Callable[[int], SMBusLike]


def _where(bus: int, address: int) -> str:
    return f"i2c-{bus} address {address:#04x}"


def hal_error(exc: OSError, bus: int, address: int) -> HalError:
    """The HalError an I2C_RDWR failure with `exc.errno` stands for."""
    code = exc.errno or 0
    name = errno.errorcode.get(code, f"errno {code}")
    where = _where(bus, address)
    if code in (errno.ENXIO, errno.EREMOTEIO):
        return NoAcknowledge(NackSource.ADDRESS, f"{where}: no acknowledge ({name})")
    if code == errno.ETIMEDOUT:
        return HalTimeout(f"{where}: timed out ({name})")
    if code == errno.EAGAIN:
        return ArbitrationLoss(f"{where}: arbitration lost ({name})")
    if code in (errno.EIO, errno.EBUSY):
        return BusError(f"{where}: bus error ({name})")
    return HalError(f"{where}: {exc.strerror or 'failed'} ({name})")


def _open_error(exc: OSError, bus: int, address: int) -> HalError:
    path = f"/dev/i2c-{bus}"
    if exc.errno == errno.ENOENT:
        # The capability's contract: a bus that does not exist answers no address.
        return NoAcknowledge(NackSource.ADDRESS, f"{path} does not exist: {I2C_DEV_HINT}")
    if exc.errno == errno.EACCES:
        return HalError(f"permission denied on {path}: add the node's user to group i2c")
    return hal_error(exc, bus, address)


class LinuxI2C:
    """The I2C capability. `open_bus(n)` opens /dev/i2c-n (smbus2.SMBus by default) and
    `i2c_msg` builds messages (smbus2.i2c_msg); tests pass their own."""

    def __init__(
        self,
        *,
        open_bus: OpenBus | None = None,
        i2c_msg: Any = None,
        importer: Importer = importlib.import_module,
    ) -> None:
        if open_bus is None or i2c_msg is None:
            smbus2 = require("smbus2", "i2c", importer)
            open_bus = open_bus or smbus2.SMBus
            i2c_msg = i2c_msg or smbus2.i2c_msg
        self._open_bus = open_bus
        self._msg = i2c_msg
        self._buses: dict[int, SMBusLike] = {}
        self._told: dict[int, str] = {}  # bus -> the open failure last logged
        self._locks: dict[int, threading.Lock] = {}
        self._locks_lock = threading.Lock()

    def _lock(self, bus: int) -> threading.Lock:
        with self._locks_lock:
            return self._locks.setdefault(bus, threading.Lock())

    def transfer(self, bus: int, address: int, data: bytes, read_len: int) -> bytes:
        """See capabilities.I2C.transfer. With neither data nor a read, a zero-length write
        (i2cdetect's quick probe). Raises as the module docstring maps."""
        msgs = []
        if data or not read_len:
            msgs.append(self._msg.write(address, bytes(data)))
        read = self._msg.read(address, read_len) if read_len else None
        if read is not None:
            msgs.append(read)
        with self._lock(bus):
            handle = self._buses.get(bus)
            if handle is None:
                try:
                    handle = self._open_bus(bus)
                except OSError as exc:
                    error = _open_error(exc, bus, address)
                    # A plugin sees only `no-acknowledge(address)`; the node's log says
                    # why, once per bus and reason, not at every poll.
                    if self._told.get(bus) != str(error):
                        self._told[bus] = str(error)
                        log.warning("%s", error)
                    raise error from exc
                self._buses[bus] = handle
            try:
                handle.i2c_rdwr(*msgs)
            except OSError as exc:
                raise hal_error(exc, bus, address) from exc
        return bytes(read) if read is not None else b""

    def close(self) -> None:
        """Close every open bus (waiting for a transfer in progress on it)."""
        for bus in list(self._buses):
            with self._lock(bus):
                handle = self._buses.pop(bus, None)
                if handle is not None:
                    handle.close()
