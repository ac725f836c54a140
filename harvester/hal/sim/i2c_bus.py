"""A simulated I2C bus: devices at addresses, answering write and read messages."""

from __future__ import annotations

import threading
from collections.abc import Mapping
from types import MappingProxyType
from typing import Protocol

from harvester.hal.errors import NackSource, NoAcknowledge


class I2CDevice(Protocol):
    """The device side of the bus: what a simulated chip implements."""

    def write(self, data: bytes) -> None:
        """One write message, after the device acknowledged its address."""
        ...

    def read(self, length: int) -> bytes:
        """One read message of `length` bytes."""
        ...


class SimI2CBus:
    def __init__(self, number: int) -> None:
        self.number = number
        self._devices: dict[int, I2CDevice] = {}
        # A real bus carries one transaction at a time; so does this one.
        self._lock = threading.Lock()
        self.transactions = 0

    @property
    def devices(self) -> Mapping[int, I2CDevice]:
        """The attached devices by address (read-only)."""
        return MappingProxyType(self._devices)

    def attach(self, address: int, device: I2CDevice) -> None:
        """Put `device` on the bus at `address`. Raises ValueError if the address is taken."""
        if address in self._devices:
            raise ValueError(f"bus {self.number}: address {address:#04x} is taken")
        self._devices[address] = device

    def transfer(self, address: int, data: bytes, read_len: int) -> bytes:
        """One transaction. Raises NoAcknowledge(ADDRESS) when nothing is at `address`,
        or what the device raises."""
        device = self._devices.get(address)
        if device is None:
            raise NoAcknowledge(
                NackSource.ADDRESS, f"no device at {address:#04x} on i2c bus {self.number}"
            )
        with self._lock:
            self.transactions += 1
            if data:
                device.write(data)
            return device.read(read_len) if read_len else b""
