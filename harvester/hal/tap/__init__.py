"""Record, replay and fault injection at a plugin's HAL boundary (docs/recording.md).

`for_plugin` is the one entry: a plugin's view of the node's backend, recorded, replayed or
faulted as its config asks; the backend itself when it asks for none of them.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from harvester.config import PluginConfig
from harvester.hal.backend import Backend
from harvester.hal.tap.faults import FaultInjector
from harvester.hal.tap.format import (
    FORMAT,
    FORMAT_VERSION,
    Call,
    Header,
    Recording,
    RecordingError,
    RecordingWriter,
    Transaction,
    read_recording,
)
from harvester.hal.tap.record import Recorder
from harvester.hal.tap.replay import REPLAY_BACKEND, Replayer, ReplayMiss, replay_backend
from harvester.hal.tap.wrap import TappedBackend, tap

__all__ = [
    "FORMAT",
    "FORMAT_VERSION",
    "REPLAY_BACKEND",
    "Call",
    "FaultInjector",
    "Header",
    "Recorder",
    "Recording",
    "RecordingError",
    "RecordingWriter",
    "ReplayMiss",
    "Replayer",
    "TappedBackend",
    "Transaction",
    "close",
    "for_plugin",
    "read_recording",
    "replay_backend",
    "tap",
]


def for_plugin(
    backend: Backend,
    config: PluginConfig,
    *,
    node: str = "",
    report: Callable[[str], None] = lambda line: None,
) -> Backend:
    """The backend as `config`'s plugin should see it: answered from `config.replay`
    instead of the hardware, with `config.faults` injected, recorded to `config.record`
    (in that order: a recording holds the faults the plugin saw). `backend` itself when
    the config asks for none of these. `report` gets the lines worth the plugin's log:
    each fault injected, a recording cut short.

    Raises RecordingError (a BackendUnavailable) naming the file when the recording to
    replay cannot be read or the one to record cannot be created.
    """
    if not config.tapped:
        return backend
    seen = backend
    if config.replay is not None:
        recording = read_recording(config.replay)
        if recording.problem:
            report(f"replay: {recording.problem}")
        seen, _ = replay_backend(recording)
    if config.faults:
        seen = tap(seen, FaultInjector(config.faults, report))
    if config.record is not None:
        started = datetime.now(UTC).isoformat(timespec="milliseconds")
        header = Header(node=node, plugin=config.name, backend=seen.name, started=started)
        writer = RecordingWriter(config.record, header, on_error=report)
        seen = tap(seen, Recorder(writer, seen.clock), closers=(writer.close,))
    return seen


def close(backend: Backend) -> None:
    """End what a tapped backend holds open (fsync and close its recording); nothing for
    any other backend."""
    if isinstance(backend, TappedBackend):
        backend.close()
