"""CallDeadline: what host functions consult about the call their guest is in."""

from __future__ import annotations

import pytest
from wasmtime import WasmtimeError

from harvester.runtime.deadline import DEADLINE_TRAP, CallDeadline


def test_outside_a_call_nothing_is_due() -> None:
    deadline = CallDeadline(50)
    deadline.check("x#y")  # no call: no deadline
    assert deadline.remaining_ms() == float("inf")


def test_a_call_has_its_timeout_then_traps() -> None:
    now = [100.0]
    deadline = CallDeadline(250, monotonic=lambda: now[0])
    deadline.begin()
    assert deadline.remaining_ms() == 250
    now[0] += 0.2
    deadline.check("x#y")  # 50 ms left
    now[0] += 0.05
    with pytest.raises(WasmtimeError, match=rf"{DEADLINE_TRAP} \(in host call x#y\)"):
        deadline.check("x#y")
    deadline.end()
    deadline.check("x#y")


def test_a_cancelled_deadline_stays_expired_and_wakes_waiters() -> None:
    deadline = CallDeadline(60_000)
    deadline.begin()
    deadline.cancel()
    assert deadline.wake.is_set() and deadline.cancelled
    deadline.end()
    deadline.begin()  # a cancelled instance gets no new time
    assert deadline.remaining_ms() == 0
    with pytest.raises(WasmtimeError):
        deadline.check("x#y")
