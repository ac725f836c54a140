"""The one wasmtime Engine of a process, and the epoch ticker that drives call deadlines."""

from __future__ import annotations

import hashlib
import json
import platform
import threading
import time
from importlib.metadata import version
from types import TracebackType

import wasmtime

from harvester.constants import EPOCH_TICK_MS, MAX_CALL_TIMEOUT_MS

# Every setting that changes compiled code. Artifacts are keyed by these, because
# wasmtime refuses to load code compiled under different settings.
ENGINE_SETTINGS: dict[str, object] = {
    "epoch_interruption": True,
    "cranelift_opt_level": "speed",
}


def make_config() -> wasmtime.Config:
    config = wasmtime.Config()
    config.epoch_interruption = bool(ENGINE_SETTINGS["epoch_interruption"])
    config.cranelift_opt_level = str(ENGINE_SETTINGS["cranelift_opt_level"])
    return config


def make_engine() -> wasmtime.Engine:
    """A new Engine with the project's settings. Make one per process and share it."""
    return wasmtime.Engine(make_config())


def engine_fingerprint() -> str:
    """Identifies compiled code: wasmtime version, settings and the machine it runs on."""
    blob = json.dumps(
        {
            "wasmtime": version("wasmtime"),
            "settings": ENGINE_SETTINGS,
            "machine": platform.machine(),
        },
        sort_keys=True,
    )
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


class EpochTicker:
    """Advances the engine's epoch every EPOCH_TICK_MS so deadlines can fire.

    A context manager: the thread runs between __enter__ and __exit__.
    """

    def __init__(self, engine: wasmtime.Engine, *, tick_ms: int = EPOCH_TICK_MS) -> None:
        self._engine = engine
        self._interval = tick_ms / 1000
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="epoch-ticker", daemon=True)

    def _run(self) -> None:
        # The epoch follows the wall clock: a tick that comes late (a busy machine, the
        # GIL) is caught up at once, so lateness never accumulates into later deadlines.
        started, ticks = time.monotonic(), 0
        while not self._stop.wait(self._interval):
            due = int((time.monotonic() - started) / self._interval)
            while ticks < due:
                self._engine.increment_epoch()
                ticks += 1

    def expire_all(self) -> None:
        """Put every deadline set so far in the past, so all wasm running on this engine is
        interrupted at its next epoch check (a node stopping does this once)."""
        for _ in range(deadline_ticks(MAX_CALL_TIMEOUT_MS) + 1):
            self._engine.increment_epoch()

    def __enter__(self) -> EpochTicker:
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._stop.set()
        self._thread.join()


def deadline_ticks(timeout_ms: int) -> int:
    """Epoch ticks for a wall-clock timeout, rounded up, plus one for the partial tick."""
    return -(-timeout_ms // EPOCH_TICK_MS) + 1
