"""The real clock of a linux node: time.monotonic, and sleeps an Event can cut short."""

from __future__ import annotations

import threading
import time

from harvester.hal.errors import HalRequestError

MS_PER_S = 1000


class LinuxClock:
    """Milliseconds on the monotonic clock since this object was made."""

    def __init__(self) -> None:
        self._start = time.monotonic()

    def now_ms(self) -> int:
        return int((time.monotonic() - self._start) * MS_PER_S)

    def sleep_ms(self, ms: int, wake: threading.Event | None = None) -> None:
        """Raises HalRequestError for a negative `ms`."""
        if ms < 0:
            raise HalRequestError(f"sleep_ms needs a non-negative duration, got {ms}")
        if wake is None:
            time.sleep(ms / MS_PER_S)
        else:
            wake.wait(ms / MS_PER_S)
