"""Virtual clock for simulated devices.

Device timing (e.g. a BME680 conversion) is measured on this clock rather than on the
wall clock, so tests can run with ``time_scale=0``: every sleep returns at once, yet the
time a device sees still advances by exactly the requested amount.
"""

from __future__ import annotations

import threading
import time


class SimClock:
    """Monotonic virtual clock: real elapsed time plus the part of every sleep that was skipped.

    ``time_scale`` in [0, 1) shortens real sleeps; 1 is real time. A value above 1 only makes
    sleeps longer in real time (no negative offset, so the clock never runs backwards).
    """

    def __init__(self, time_scale: float = 1.0) -> None:
        if time_scale < 0:
            raise ValueError(f"time_scale must be >= 0, got {time_scale}")
        self._time_scale = time_scale
        self._start = time.monotonic()
        self._skipped_ms = 0.0
        self._lock = threading.Lock()

    @property
    def time_scale(self) -> float:
        return self._time_scale

    def now_ms(self) -> float:
        real_ms = (time.monotonic() - self._start) * 1000.0
        with self._lock:
            return real_ms + self._skipped_ms

    def sleep_ms(self, ms: int, wake: threading.Event | None = None) -> None:
        if ms < 0:
            raise ValueError(f"sleep_ms needs a non-negative duration, got {ms}")
        real_ms = ms * self._time_scale
        if real_ms >= ms:  # time_scale >= 1: a plain sleep, nothing is skipped
            _wait(real_ms, wake)
            return
        # Credit the skipped part before sleeping, so a reader on another thread never
        # sees less virtual time than the sleeper was promised once it returns.
        with self._lock:
            self._skipped_ms += ms - real_ms
        if real_ms > 0:
            _wait(real_ms, wake)


def _wait(ms: float, wake: threading.Event | None) -> None:
    if wake is None:
        time.sleep(ms / 1000.0)
    else:
        wake.wait(ms / 1000.0)
