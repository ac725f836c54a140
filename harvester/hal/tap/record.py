"""Recording: every call a plugin makes into its hardware, written down as it happens."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from typing import Any

from harvester.hal.capabilities import Clock
from harvester.hal.errors import HalError
from harvester.hal.tap.format import (
    Call,
    ErrorRecord,
    RecordingWriter,
    Transaction,
    encode_result,
)


class Recorder:
    """A hook (wrap.Hook) that proceeds and writes the call, its answer or error, its time
    on the backend's clock (ms since the first call) and how long it took."""

    def __init__(self, writer: RecordingWriter, clock: Clock) -> None:
        self._writer = writer
        self._clock = clock
        # Time counts from the first transaction, not from when the node made the
        # recorder: a first start may spend a minute compiling the plugin before it.
        self._t0: int | None = None

    def __call__(self, call: Call, proceed: Callable[[], Any]) -> Any:
        now = self._clock.now_ms()
        if self._t0 is None:
            self._t0 = now
        t_ms = now - self._t0
        started = time.perf_counter()
        try:
            result = proceed()
        except HalError as exc:
            self._write(Transaction(t_ms, call, error=ErrorRecord.of(exc)), started)
            raise
        self._write(Transaction(t_ms, call, result=encode_result(call, result)), started)
        return result

    def _write(self, transaction: Transaction, started: float) -> None:
        ms = round((time.perf_counter() - started) * 1000, 3)
        self._writer.write(dataclasses.replace(transaction, duration_ms=ms))
