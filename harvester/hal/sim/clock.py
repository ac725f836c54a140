"""Virtual clock for simulated devices.

Device timing (e.g. a BME680 conversion) is measured on this clock rather than on the
wall clock, so tests can run with ``time_scale=0``: every sleep returns at once, yet the
time a device sees still advances by exactly the requested amount.

Waking a sleep early (``sleep_ms(ms, wake)``): the virtual clock moves on only by the
virtual time that had passed when the wake came. With ``time_scale`` s in (0, 1), a
sleep woken after r real milliseconds credits r / s (never more than ``ms``), the same
rate at which the sleep was running. With ``time_scale=0`` a sleep has no real part to cut
short, so it credits all of ``ms`` unless ``wake`` was already set when it began; then it
returns at once and credits nothing. The skipped part is credited when the sleep ends, just
before it returns, so no thread ever sees virtual time the sleeper has not yet lived
through, and the clock never runs backwards.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from harvester.hal.errors import HalRequestError

MS_PER_S = 1000.0


class SimClock:
    """Monotonic virtual clock: real elapsed time plus the part of every sleep that was skipped.

    ``time_scale`` in [0, 1) shortens real sleeps; 1 is real time. A value above 1 only makes
    sleeps longer in real time (no negative offset, so the clock never runs backwards).
    ``monotonic`` is the real time source in seconds (tests may pass a controllable one).
    Raises ValueError for a negative ``time_scale``.
    """

    def __init__(
        self, time_scale: float = 1.0, *, monotonic: Callable[[], float] = time.monotonic
    ) -> None:
        if time_scale < 0:
            raise ValueError(f"time_scale must be >= 0, got {time_scale}")
        self._time_scale = time_scale
        self._monotonic = monotonic
        self._start = monotonic()
        self._skipped_ms = 0.0
        self._lock = threading.Lock()

    @property
    def time_scale(self) -> float:
        return self._time_scale

    def elapsed_ms(self) -> float:
        """Virtual milliseconds since the clock was made, with the fraction (for devices)."""
        real_ms = (self._monotonic() - self._start) * MS_PER_S
        with self._lock:
            return real_ms + self._skipped_ms

    def now_ms(self) -> int:
        """Virtual milliseconds since the clock was made, whole (the Clock capability)."""
        return int(self.elapsed_ms())

    def sleep_ms(self, ms: int, wake: threading.Event | None = None) -> None:
        """Sleep ``ms`` virtual milliseconds; ``ms * time_scale`` of them in real time.

        Returns as soon as ``wake`` is set, crediting only the virtual time that had
        passed (see the module docstring). Raises HalRequestError for a negative ``ms``.
        """
        if ms < 0:
            raise HalRequestError(f"sleep_ms needs a non-negative duration, got {ms}")
        if wake is not None and wake.is_set():
            return
        real_ms = ms * self._time_scale
        started = self._monotonic()
        woken = False
        if real_ms > 0:
            if wake is None:
                time.sleep(real_ms / MS_PER_S)
            else:
                woken = wake.wait(real_ms / MS_PER_S)
        slept_ms = (self._monotonic() - started) * MS_PER_S
        lived_ms: float = ms
        if woken:
            lived_ms = min(ms, slept_ms / self._time_scale)
        with self._lock:
            self._skipped_ms += max(0.0, lived_ms - slept_ms)
