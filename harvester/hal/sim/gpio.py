"""The sim's GPIO capability: a pin model of the Pi's header.

A pin is free, an input wired to something (a button: its level is what the outside world
drives, and tests change it with `set_input`), an output (its level and every change
recorded on the sim clock), or owned by another device (a DHT22's data line, a buzzer, a
LED strip), which the GPIO capability refuses as the kernel refuses a line another driver
has requested. A free pin reads low (the Pi's default pull-down on most pins) and becomes
an output when first written.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from types import MappingProxyType
from typing import NamedTuple

from harvester.hal.errors import HalRequestError
from harvester.hal.sim.clock import SimClock


class PinMode(StrEnum):
    INPUT = "input"
    OUTPUT = "output"


class LevelChange(NamedTuple):
    at_ms: int  # sim clock
    high: bool


@dataclass
class SimPin:
    mode: PinMode
    level: bool = False
    changes: list[LevelChange] = field(default_factory=list)


class SimGpio:
    def __init__(self, clock: SimClock | None = None) -> None:
        self._clock = clock or SimClock(time_scale=0)
        self._pins: dict[int, SimPin] = {}
        self._owners: dict[int, str] = {}
        self._lock = threading.Lock()

    @property
    def levels(self) -> Mapping[int, bool]:
        """The level of every input and output pin so far (read-only copy)."""
        with self._lock:
            return MappingProxyType({n: p.level for n, p in self._pins.items()})

    @property
    def owners(self) -> Mapping[int, str]:
        """Pins other devices own, with what owns each (read-only)."""
        return MappingProxyType(self._owners)

    def pin(self, number: int) -> SimPin:
        """The model of an input or output pin. Raises KeyError for a free or owned pin."""
        return self._pins[number]

    def claim(self, number: int, owner: str) -> None:
        """Give `number` to a device (e.g. "dht22"). Raises ValueError if it is taken."""
        with self._lock:
            taken = self._owners.get(number) or ("gpio" if number in self._pins else None)
            if taken is not None:
                raise ValueError(f"gpio {number} is already used by the {taken}")
            self._owners[number] = owner

    def configure(self, number: int, mode: PinMode, level: bool = False) -> None:
        """Wire `number` as an input reading `level` or an output starting at `level`.
        Raises ValueError if another device owns it."""
        with self._lock:
            if number in self._owners:
                raise ValueError(f"gpio {number} is already used by the {self._owners[number]}")
            self._pins[number] = SimPin(mode, level)

    def set_input(self, number: int, high: bool) -> None:
        """What the outside world drives onto input `number` (for tests). Raises ValueError
        if `number` is not a configured input."""
        with self._lock:
            pin = self._pins.get(number)
            if pin is None or pin.mode is not PinMode.INPUT:
                raise ValueError(f"gpio {number} is not an input")
            if pin.level != high:
                pin.level = high
                pin.changes.append(LevelChange(self._clock.now_ms(), high))

    def read(self, number: int) -> bool:
        """An input's level, an output's driven level, low for a free pin.
        Raises HalRequestError for a pin another device owns."""
        with self._lock:
            self._refuse_owned(number)
            pin = self._pins.get(number)
            return pin.level if pin is not None else False

    def write(self, number: int, high: bool) -> None:
        """Drive an output (a free pin becomes one). Raises HalRequestError for an input
        (it would fight what drives it) or a pin another device owns."""
        with self._lock:
            self._refuse_owned(number)
            pin = self._pins.setdefault(number, SimPin(PinMode.OUTPUT))
            if pin.mode is PinMode.INPUT:
                raise HalRequestError(f"gpio {number} is an input; it cannot be driven")
            if pin.level != high or not pin.changes:
                pin.changes.append(LevelChange(self._clock.now_ms(), high))
            pin.level = high

    def _refuse_owned(self, number: int) -> None:
        owner = self._owners.get(number)
        if owner is not None:
            raise HalRequestError(f"gpio {number} is used by the {owner}, not a free pin")
