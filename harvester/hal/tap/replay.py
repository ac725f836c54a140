"""Replay: a recording plays the hardware. Each call is answered by the next recorded answer
to the same call (same capability, operation and arguments: for I2C the bus, address, bytes
written and length read), so calls to other devices or registers may interleave
differently than when recorded, and a driver polling a status register takes the recorded
answers for that register in turn. A call the recording has no (more) answers for fails.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable
from typing import Any

from harvester.hal.backend import Backend
from harvester.hal.capabilities import Capability
from harvester.hal.errors import HalError
from harvester.hal.tap.format import Call, Recording, Transaction, decode_result
from harvester.hal.tap.wrap import TappedBackend, tap

REPLAY_BACKEND = "replay"


class ReplayMiss(HalError):
    """A call the recording has no answer for (WIT case `other`, the message as payload)."""


class Replayer:
    """A hook (wrap.Hook) that never proceeds: it answers from the recording.

    `misses` lists every call it could not answer, in order, as its error message said;
    `on_miss` is told of each as it happens (from the plugin's thread).
    """

    def __init__(
        self, recording: Recording, *, on_miss: Callable[[str], None] = lambda message: None
    ) -> None:
        self.recording = recording
        self.on_miss = on_miss
        self.calls = 0
        self.misses: list[str] = []
        self._answers: dict[str, deque[Transaction]] = {}
        for t in recording.transactions:
            self._answers.setdefault(t.call.key(), deque()).append(t)
        self._lock = threading.Lock()

    @property
    def unused(self) -> int:
        """Recorded answers no call has taken (yet)."""
        with self._lock:
            return sum(len(q) for q in self._answers.values())

    def __call__(self, call: Call, proceed: Callable[[], Any]) -> Any:
        with self._lock:
            self.calls += 1
            answers = self._answers.get(call.key())
            if not answers:
                message = f"replay: no recorded answer for {call.describe()} (call {self.calls})"
                self.misses.append(message)
                self.on_miss(message)
                raise ReplayMiss(message)
            answer = answers.popleft()
        if answer.error is not None:
            raise answer.error.exception()
        try:
            result = decode_result(call, answer.result)
            if call.capability == Capability.I2C and len(result) != call.args["read"]:
                raise ValueError(f"{len(result)} bytes recorded")
        except (ValueError, TypeError, KeyError) as exc:
            raise ReplayMiss(
                f"replay: the recorded answer for {call.describe()} is not valid: {exc}"
            ) from exc
        return result


class _NoHardware:
    """What stands behind a replay: nothing. The replayer never proceeds to it; every
    attribute is a method that says so, in case one ever does."""

    def __getattr__(self, name: str) -> Callable[..., Any]:
        def absent(*args: object) -> Any:
            raise HalError(f"replay: no hardware behind a replay ({name})")

        return absent


def replay_backend(
    recording: Recording, *, on_miss: Callable[[str], None] = lambda message: None
) -> tuple[TappedBackend, Replayer]:
    """A backend with every capability, answered from `recording`; its clock is virtual,
    so sleeps return at once and time still moves on by what was slept. `on_miss` is told
    of each call the recording has no answer for."""
    from harvester.hal.sim.clock import SimClock  # the sim loads only when used

    replayer = Replayer(recording, on_miss=on_miss)
    nothing = _NoHardware()
    base = Backend(
        name=REPLAY_BACKEND,
        clock=SimClock(time_scale=0),
        i2c=nothing,
        gpio=nothing,
        dht22=nothing,
        system=nothing,
        leds=nothing,
        buzzer=nothing,
    )
    return tap(base, replayer), replayer
