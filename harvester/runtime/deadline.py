"""The wall-clock deadline of the call a plugin instance is in, as its host functions see it.

wasmtime's epoch interruption stops a guest only while wasm code runs (wasmtime #9188):
a guest waiting inside a host call is out of its reach. So the host owns every wait a
guest can make. Host functions consult this object: a wait is cut to what is left of
the call's time and ends early when `wake` is set; a host call made after the deadline
(or after the instance was abandoned) is refused with a trap, so an instance past its
time cannot touch hardware again.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable

from wasmtime import WasmtimeError

# What a host function's trap says when the deadline passed; runtime/plugin.py reads it
# back to classify the fault as a timeout.
DEADLINE_TRAP = "call exceeded its deadline"


class CallDeadline:
    """Set around each guest call by the instance; read by its host functions.

    Thread safety: written by the instance's own thread (`begin`/`end`) and by the
    supervisor's (`cancel`); a float store is atomic under the GIL, and `wake` is an Event.
    """

    def __init__(self, timeout_ms: int, *, monotonic: Callable[[], float] = time.monotonic) -> None:
        self.timeout_s = timeout_ms / 1000
        self._now = monotonic
        self._end = math.inf
        self._cancelled = False
        # Set to end every wait of this instance now: at its deadline or when abandoned.
        self.wake = threading.Event()
        # The host call the guest is in, if it is in one of ours: a thread blocked there is
        # out of the epoch's reach, so the watchdog need not give the epoch a chance.
        self.host_call: str | None = None

    def begin(self) -> None:
        """A guest call starts now (a no-op on a cancelled instance: it stays expired)."""
        if not self._cancelled:
            self._end = self._now() + self.timeout_s

    def end(self) -> None:
        if not self._cancelled:
            self._end = math.inf

    def cancel(self) -> None:
        """The instance is being given up (abandoned, or the node stops): every wait ends
        and every later host call traps."""
        self._cancelled = True
        self._end = -math.inf
        self.wake.set()

    @property
    def cancelled(self) -> bool:
        return self._cancelled

    def remaining_ms(self) -> float:
        return max(0.0, (self._end - self._now()) * 1000)

    def check(self, what: str) -> None:
        """Raise a trap (WasmtimeError) if the call is past its deadline.

        `what` names the host call, for the fault's log line.
        """
        if self._now() >= self._end:
            raise WasmtimeError(f"{DEADLINE_TRAP} (in host call {what})")
