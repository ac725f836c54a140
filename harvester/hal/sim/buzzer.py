"""Buzzers that record what they played, timed on the sim clock.

A passive buzzer sounds the PWM frequency it is driven at; an active one has its own
oscillator and only switches on and off, so it records no frequency. A tone ends by itself
after its duration; a new tone or `off` cuts the sounding one short, and the record then
says how long it really sounded.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from enum import StrEnum
from typing import NamedTuple

from harvester.hal.errors import HalRequestError
from harvester.hal.sim.clock import SimClock
from harvester.hal.sim.wiring import Wiring


class BuzzerKind(StrEnum):
    PWM = "pwm"  # passive: the pin's PWM frequency is the pitch
    ACTIVE = "active"  # built-in oscillator: on/off only


class Tone(NamedTuple):
    frequency_hz: int | None  # None for an active buzzer
    duration_ms: int  # how long it sounded (less than requested if cut short)
    started_at_ms: int  # sim clock
    requested_ms: int

    @property
    def ends_at_ms(self) -> int:
        return self.started_at_ms + self.duration_ms


class BuzzerSim:
    def __init__(self, kind: BuzzerKind, clock: SimClock) -> None:
        self.kind = kind
        self._clock = clock
        self._played: list[Tone] = []

    @property
    def played(self) -> list[Tone]:
        """Every tone so far, oldest first (a copy)."""
        return list(self._played)

    def sounding(self) -> Tone | None:
        """The tone sounding now, if any."""
        last = self._played[-1] if self._played else None
        return last if last is not None and self._clock.now_ms() < last.ends_at_ms else None

    def tone(self, frequency_hz: int, duration_ms: int) -> None:
        now = self._cut(self._clock.now_ms())
        hz = frequency_hz if self.kind is BuzzerKind.PWM else None
        self._played.append(Tone(hz, duration_ms, now, duration_ms))

    def off(self) -> None:
        self._cut(self._clock.now_ms())

    def _cut(self, now: int) -> int:
        """Shorten the sounding tone to end at `now`; returns `now`."""
        if self._played and now < self._played[-1].ends_at_ms:
            last = self._played[-1]
            self._played[-1] = last._replace(duration_ms=now - last.started_at_ms)
        return now


class SimBuzzers(Wiring[BuzzerSim]):
    """The sim's Buzzers capability: buzzers by the pin each is on."""

    def __init__(self) -> None:
        super().__init__("gpio {} already has a buzzer")
        self._lock = threading.Lock()

    @property
    def buzzers(self) -> Mapping[int, BuzzerSim]:
        return self.parts

    def played(self, pin: int) -> list[Tone]:
        """What the buzzer on `pin` played. Raises HalRequestError when there is none."""
        return self._buzzer(pin).played

    def tone(self, pin: int, frequency_hz: int, duration_ms: int) -> None:
        """Raises HalRequestError for a pin with no buzzer or a duration below 1 ms."""
        buzzer = self._buzzer(pin)
        if duration_ms < 1:
            raise HalRequestError(f"buzzer on gpio {pin}: a tone of {duration_ms} ms")
        with self._lock:
            buzzer.tone(frequency_hz, duration_ms)

    def off(self, pin: int) -> None:
        """Raises HalRequestError for a pin with no buzzer."""
        buzzer = self._buzzer(pin)
        with self._lock:
            buzzer.off()

    def _buzzer(self, pin: int) -> BuzzerSim:
        found = self.find(pin)
        if found is None:
            raise HalRequestError(f"no buzzer on gpio {pin}")
        return found
