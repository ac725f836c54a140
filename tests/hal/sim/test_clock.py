"""SimClock: virtual time that sleeps may skip, and a wake event that cuts a sleep short."""

from __future__ import annotations

import threading
import time

import pytest

from harvester.hal.errors import HalRequestError
from harvester.hal.sim.clock import SimClock

JOIN_TIMEOUT_S = 10  # only bounds a broken test; a passing one never waits for it


class FakeMonotonic:
    """Real time that moves only when the test says so (seconds, like time.monotonic)."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance_ms(self, ms: float) -> None:
        self.now += ms / 1000


class WatchedEvent(threading.Event):
    """An Event that says when someone has started waiting on it."""

    def __init__(self) -> None:
        super().__init__()
        self.waiting = threading.Event()

    def wait(self, timeout: float | None = None) -> bool:
        self.waiting.set()
        return super().wait(timeout)


def sleep_in_thread(clock: SimClock, ms: int, wake: threading.Event) -> threading.Thread:
    thread = threading.Thread(target=clock.sleep_ms, args=(ms, wake), daemon=True)
    thread.start()
    return thread


def test_time_scale_zero_skips_sleeps_but_keeps_virtual_time() -> None:
    clock = SimClock(time_scale=0)
    real_start, virtual_start = time.monotonic(), clock.now_ms()
    clock.sleep_ms(60_000)
    assert clock.now_ms() - virtual_start >= 60_000
    assert time.monotonic() - real_start < 5  # nowhere near the minute it pretended


def test_now_ms_is_whole_and_elapsed_ms_keeps_the_fraction() -> None:
    real = FakeMonotonic()
    clock = SimClock(time_scale=1, monotonic=real)
    real.advance_ms(2.75)
    assert clock.now_ms() == 2
    assert isinstance(clock.now_ms(), int)
    assert clock.elapsed_ms() == pytest.approx(2.75)


def test_a_negative_sleep_is_a_request_error() -> None:
    with pytest.raises(HalRequestError, match="non-negative"):
        SimClock(time_scale=0).sleep_ms(-1)


def test_a_negative_time_scale_is_refused() -> None:
    with pytest.raises(ValueError, match="time_scale"):
        SimClock(time_scale=-0.5)


def test_a_wake_cuts_a_scaled_sleep_short_and_credits_only_the_time_lived() -> None:
    real = FakeMonotonic()
    clock = SimClock(time_scale=0.5, monotonic=real)  # a 60 s sleep waits 30 s real
    wake = WatchedEvent()
    before = clock.elapsed_ms()
    sleeper = sleep_in_thread(clock, 60_000, wake)
    assert wake.waiting.wait(JOIN_TIMEOUT_S)  # the sleeper is inside its wait
    real.advance_ms(250)  # 250 ms real at half speed = 500 ms virtual
    wake.set()
    sleeper.join(JOIN_TIMEOUT_S)
    assert not sleeper.is_alive()  # it returned because of the wake, not a timeout
    assert clock.elapsed_ms() - before == pytest.approx(500)


def test_a_wake_never_credits_more_than_the_sleep_asked_for() -> None:
    real = FakeMonotonic()
    clock = SimClock(time_scale=0.5, monotonic=real)
    wake = WatchedEvent()
    sleeper = sleep_in_thread(clock, 100, wake)
    assert wake.waiting.wait(JOIN_TIMEOUT_S)
    real.advance_ms(400)  # the thread was late to notice: more real time than planned
    wake.set()
    sleeper.join(JOIN_TIMEOUT_S)
    assert not sleeper.is_alive()
    # 400 ms of real time passed and stays on the clock; nothing is skipped on top of it.
    assert clock.elapsed_ms() == pytest.approx(400)


def test_a_wake_set_beforehand_returns_at_once_crediting_nothing() -> None:
    real = FakeMonotonic()
    clock = SimClock(time_scale=0, monotonic=real)
    wake = threading.Event()
    wake.set()
    clock.sleep_ms(60_000, wake)
    assert clock.elapsed_ms() == 0


def test_an_unset_wake_at_time_scale_zero_credits_the_whole_sleep() -> None:
    real = FakeMonotonic()
    clock = SimClock(time_scale=0, monotonic=real)
    clock.sleep_ms(1500, threading.Event())
    assert clock.elapsed_ms() == 1500


def test_a_wake_on_a_real_time_clock_ends_a_real_sleep() -> None:
    clock = SimClock(time_scale=1)
    wake = WatchedEvent()
    started = time.monotonic()
    sleeper = sleep_in_thread(clock, 60_000, wake)
    assert wake.waiting.wait(JOIN_TIMEOUT_S)
    wake.set()
    sleeper.join(JOIN_TIMEOUT_S)
    assert not sleeper.is_alive()
    assert time.monotonic() - started < JOIN_TIMEOUT_S
    assert clock.now_ms() < 60_000  # real time only: nothing skipped at scale 1
