"""The sim's I2C capability: simulated buses by number, made when first asked for."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from harvester.hal.errors import NackSource, NoAcknowledge
from harvester.hal.sim.i2c_bus import SimI2CBus


class SimI2C:
    def __init__(self) -> None:
        self._buses: dict[int, SimI2CBus] = {}

    @property
    def buses(self) -> Mapping[int, SimI2CBus]:
        """The buses made so far, by number (read-only)."""
        return MappingProxyType(self._buses)

    def bus(self, number: int) -> SimI2CBus:
        """Bus `number`, made empty if it does not exist yet (to attach devices to)."""
        return self._buses.setdefault(number, SimI2CBus(number))

    def transfer(self, bus: int, address: int, data: bytes, read_len: int) -> bytes:
        """Raises NoAcknowledge(ADDRESS) for a bus that does not exist or an address nothing
        answers, or what the device raises."""
        found = self._buses.get(bus)
        if found is None:
            raise NoAcknowledge(NackSource.ADDRESS, f"i2c bus {bus} does not exist")
        return found.transfer(address, data, read_len)
