"""Fault injection: the config's `faults` rules, applied to a plugin's hardware calls.

Each rule counts the calls it applies to and fires on the `nth`, on `every` n-th, or with
a `probability` (from its own seeded random generator, so a run is reproducible). Each
fault injected is reported (the plugin's log) so a reader sees why a call failed.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Callable, Sequence
from typing import Any

from harvester.config import FaultRule
from harvester.hal.capabilities import Capability
from harvester.hal.errors import BusError, HalError, HalTimeout, NackSource, NoAcknowledge
from harvester.hal.tap.format import Call


class _RuleState:
    """One rule and what it has seen: calls counted, faults fired, a stuck bus's state."""

    def __init__(self, rule: FaultRule) -> None:
        self.rule = rule
        self.calls = 0
        self.fired = 0
        self.stuck_left: int | None = 0  # calls a stuck bus still fails; None: for good
        self.rng = random.Random(rule.seed)

    def applies_to(self, call: Call) -> bool:
        rule = self.rule
        if call.capability != rule.on:
            return False
        if call.capability == Capability.I2C:
            if rule.address is not None and call.args["address"] != rule.address:
                return False
            if rule.kind == "corrupt" and not call.args["read"]:
                return False  # nothing read, nothing to corrupt: not one of its calls
        return True

    def _triggered(self) -> bool:
        rule = self.rule
        if rule.nth is not None:
            return self.calls == rule.nth
        if rule.every is not None:
            return self.calls % rule.every == 0
        assert rule.probability is not None  # the config allows exactly one trigger
        return self.rng.random() < rule.probability

    def fires(self) -> bool:
        """Count this call; whether the rule's fault happens to it."""
        self.calls += 1
        triggered = self._triggered()  # always drawn, so the sequence depends on calls only
        if self.rule.kind == "stuck-bus":
            if self.stuck_left != 0:
                self._stuck_call()
                return True
            if triggered:
                self.stuck_left = self.rule.count  # None: stuck until the end
                self.fired += 1
                self._stuck_call()
                return True
            return False
        if triggered and (self.rule.count is None or self.fired < self.rule.count):
            self.fired += 1
            return True
        return False

    def _stuck_call(self) -> None:
        if self.stuck_left is not None:
            self.stuck_left -= 1


class FaultInjector:
    """A hook (wrap.Hook) that applies `rules` in order; the first that fires wins.

    `report` gets one line per fault injected. `injected` counts them.
    """

    def __init__(self, rules: Sequence[FaultRule], report: Callable[[str], None]) -> None:
        self._states = [_RuleState(rule) for rule in rules]
        self._report = report
        self._lock = threading.Lock()
        self.injected = 0

    def __call__(self, call: Call, proceed: Callable[[], Any]) -> Any:
        with self._lock:
            # Every rule counts the call (a list, not a short-circuit), so each rule's `nth`
            # means the same whatever the rules before it did.
            fired = [s for s in self._states if s.applies_to(call) and s.fires()]
            state = fired[0] if fired else None
            if state is not None:
                self.injected += 1
        if state is None:
            return proceed()
        rule = state.rule
        where = f"{rule.kind} on {call.describe()} (call {state.calls} of rule {rule.trigger})"
        if rule.kind == "corrupt":
            answer = proceed()
            with self._lock:
                corrupted, flipped = _flip_a_bit(answer, state.rng)
            self._report(f"injected fault: {where}: {flipped}")
            return corrupted
        self._report(f"injected fault: {where}")
        raise _error(rule, call, f"injected fault: {where}")


def _error(rule: FaultRule, call: Call, message: str) -> HalError:
    if rule.kind == "no-acknowledge":
        return NoAcknowledge(NackSource.ADDRESS, message)
    if rule.kind == "stuck-bus" and call.capability == Capability.I2C:
        return BusError(message)  # SDA or SCL held: the controller reports a bus error
    return HalTimeout(message)


def _flip_a_bit(answer: bytes, rng: random.Random) -> tuple[bytes, str]:
    """`answer` with one bit flipped, chosen by `rng`; and which, for the log."""
    index = rng.randrange(len(answer))
    bit = rng.randrange(8)
    garbled = bytearray(answer)
    garbled[index] ^= 1 << bit
    return (
        bytes(garbled),
        f"byte {index} bit {bit} flipped ({answer[index]:02x} -> {garbled[index]:02x})",
    )
