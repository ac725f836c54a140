"""Simulated parts of one kind, by where each is wired: a pin, a strip number, an address.

The sim's DHT22s, LED strips, buzzers and each I2C bus's devices are all such a table:
attached once while the backend is built, then looked up on every call.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Generic, TypeVar

T = TypeVar("T")


class Wiring(Generic[T]):
    """`taken` is the ValueError message for a second part at one place, with `{}` for it
    (e.g. "gpio {} already has a buzzer")."""

    def __init__(self, taken: str) -> None:
        self._parts: dict[int, T] = {}
        self._taken = taken

    def __getitem__(self, where: int) -> T:
        """Raises KeyError when nothing is wired there."""
        return self._parts[where]

    @property
    def parts(self) -> Mapping[int, T]:
        """Every part by where it is wired (read-only)."""
        return MappingProxyType(self._parts)

    def attach(self, where: int, part: T) -> None:
        """Raises ValueError if something is already wired at `where`."""
        if where in self._parts:
            raise ValueError(self._taken.format(where))
        self._parts[where] = part

    def find(self, where: int) -> T | None:
        return self._parts.get(where)
