"""LinuxClock: the monotonic clock, and sleeps an Event cuts short."""

from __future__ import annotations

import threading

import pytest

from harvester.hal.errors import HalRequestError
from harvester.hal.linux import LinuxClock


def test_a_set_wake_returns_at_once_and_time_moves_forward() -> None:
    clock = LinuxClock()
    wake = threading.Event()
    wake.set()
    before = clock.now_ms()
    clock.sleep_ms(60_000, wake)  # would hang the test for a minute if the wake were ignored
    assert 0 <= clock.now_ms() - before < 60_000


def test_a_sleep_lasts_at_least_what_was_asked() -> None:
    clock = LinuxClock()
    before = clock.now_ms()
    clock.sleep_ms(20)
    assert clock.now_ms() - before >= 19  # whole ms on both ends


def test_a_negative_sleep_is_refused() -> None:
    with pytest.raises(HalRequestError, match="non-negative duration, got -1"):
        LinuxClock().sleep_ms(-1)
