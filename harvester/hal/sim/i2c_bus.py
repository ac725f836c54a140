"""A simulated I2C bus: devices at addresses, answering write and read messages."""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Protocol

from harvester.hal.errors import NackSource, NoAcknowledge
from harvester.hal.sim.wiring import Wiring


class I2CDevice(Protocol):
    """The device side of the bus: what a simulated chip implements."""

    def write(self, data: bytes) -> None:
        """One write message, after the device acknowledged its address."""
        ...

    def read(self, length: int) -> bytes:
        """One read message of `length` bytes."""
        ...


class SimI2CBus(Wiring[I2CDevice]):
    def __init__(self, number: int) -> None:
        super().__init__(f"bus {number}: address {{:#04x}} is taken")
        self.number = number
        # A real bus carries one transaction at a time; so does this one.
        self._lock = threading.Lock()
        self.transactions = 0

    @property
    def devices(self) -> Mapping[int, I2CDevice]:
        """The attached devices by address (read-only); `attach` puts one on the bus."""
        return self.parts

    def transfer(self, address: int, data: bytes, read_len: int) -> bytes:
        """One transaction. Raises NoAcknowledge(ADDRESS) when nothing is at `address`,
        or what the device raises."""
        device = self.find(address)
        if device is None:
            raise NoAcknowledge(
                NackSource.ADDRESS, f"no device at {address:#04x} on i2c bus {self.number}"
            )
        with self._lock:
            self.transactions += 1
            if data:
                device.write(data)
            return device.read(read_len) if read_len else b""
