"""Waiting, the only way the sandbox allows: the host's `clock.sleep-ms`.

The sandbox traps on WASI's own waits (what CPython's `time.sleep` uses; see
docs/sandbox.md), so a third-party driver that calls `time.sleep` would kill its plugin.
`route_time_sleep()` replaces `time.sleep` in the guest with `sleep` below; the busio
shim calls it when it is imported, so every CircuitPython driver gets it.
"""

import math
import time

from wit_world.imports import clock

# The host caps one sleep-ms at 1000 ms: longer waits are made of several.
_MAX_MS = 1000


def sleep(seconds: float) -> None:
    """Sleep `seconds` (rounded up to whole milliseconds) through the host's clock."""
    if seconds < 0:
        raise ValueError("sleep length must be non-negative")
    left = math.ceil(seconds * 1000)
    while left > 0:
        step = min(left, _MAX_MS)
        clock.sleep_ms(step)
        left -= step


def route_time_sleep() -> None:
    """Make `time.sleep` wait through the host (idempotent)."""
    time.sleep = sleep
