"""The sim's GPIO capability: pins that remember the level last written (low until then)."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType


class SimGpio:
    def __init__(self) -> None:
        self._levels: dict[int, bool] = {}

    @property
    def levels(self) -> Mapping[int, bool]:
        """The pins written so far and their levels (read-only)."""
        return MappingProxyType(self._levels)

    def read(self, pin: int) -> bool:
        """The level last written to `pin`; low if never written. Raises nothing."""
        return self._levels.get(pin, False)

    def write(self, pin: int, high: bool) -> None:
        """Raises nothing."""
        self._levels[pin] = high
